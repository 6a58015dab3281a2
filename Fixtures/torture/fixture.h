/* Torture fixture helpers. Each fixture gets a scratch directory as argv[1], performs its
 * syscalls, and prints on stdout the records it expects roprof to have made:
 *   EXPECT op path                 a successful op on path
 *   EXPECT-FAIL op path ERRNO      a failed op with that errno
 *   EXPECT-COUNT op path N         exactly N calls
 *   EXPECT-ROOT op path root       recorded as the tracee saw it, with its root
 *   EXPECT-UNRESOLVED-OR op path   that record, or an op marked unresolved
 *   EXPECT-BLIND kind              a blind spot of that kind
 *   EXPECT-ABSENT-PREFIX prefix    no recorded path starts with prefix
 *   FAIL message                   the fixture saw something wrong itself
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char DIR_[PATH_MAX];

static void fixture_init(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]); exit(2); }
    if (!realpath(argv[1], DIR_)) { perror("realpath"); exit(2); }
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static __thread char PBUF[8][PATH_MAX + 64];  /* per thread: a shared buffer races with the kernel's copy */
static __thread int PIDX;
#include <stdarg.h>
/* A path under the scratch directory (rotating static buffers). */
static const char *P(const char *fmt, ...) {
    char rel[PATH_MAX];
    va_list ap; va_start(ap, fmt); vsnprintf(rel, sizeof rel, fmt, ap); va_end(ap);
    char *b = PBUF[PIDX++ % 8];
    snprintf(b, PATH_MAX + 64, "%s/%s", DIR_, rel);
    return b;
}

#define EXPECT(op, path) printf("EXPECT %s %s\n", op, path)
#define EXPECT_FAIL(op, path, err) printf("EXPECT-FAIL %s %s %s\n", op, path, err)
#define EXPECT_COUNT(op, path, n) printf("EXPECT-COUNT %s %s %d\n", op, path, n)
#define EXPECT_BLIND(kind) printf("EXPECT-BLIND %s\n", kind)
#define FAIL(...) do { printf("FAIL "); printf(__VA_ARGS__); printf("\n"); } while (0)

static void touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { FAIL("open %s: %s", path, strerror(errno)); return; }
    if (write(fd, "x", 1) != 1) FAIL("write %s", path);
    close(fd);
}
