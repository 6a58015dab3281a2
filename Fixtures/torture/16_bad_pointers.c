/* Paths that end exactly at a page boundary, a bad pointer, and a PATH_MAX-1 long path. */
#include "fixture.h"
#include <sys/mman.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    long pg = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + pg, pg);  /* the next page faults */
    const char *target = P("page-edge");
    size_t n = strlen(target) + 1;
    char *s = two + pg - n;  /* the NUL is the last byte of the mapped page */
    memcpy(s, target, n);
    int fd = open(s, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) FAIL("page-edge: %s", strerror(errno)); else close(fd);
    EXPECT("create", target);

    fd = open((const char *)(two + pg), O_WRONLY | O_CREAT, 0644);  /* unmapped: EFAULT */
    if (fd >= 0 || errno != EFAULT) FAIL("bad pointer should fail with EFAULT");
    EXPECT_BLIND("unresolved-path");

    /* A relative name that makes the full path PATH_MAX-1 bytes long. */
    if (chdir(DIR_) != 0) return 1;
    mkdir("long", 0755);
    static char rel[PATH_MAX];
    size_t base = strlen(DIR_) + 1 + 5;  /* "DIR/long/" minus the name */
    char *p = rel;
    size_t want = PATH_MAX - 1 - base - 1;
    p += sprintf(p, "long/");
    while (want > 0) {
        size_t seg = want > 200 ? 200 : want;
        if (want - seg == 1) seg--;  /* never leave a 1-byte tail that needs a separator only */
        memset(p, 'n', seg); p += seg; want -= seg;
        if (want > 0) { *p = 0; mkdir(rel, 0755); *p++ = '/'; want--; }
    }
    *p = 0;
    fd = open(rel, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) FAIL("long path (%zu bytes): %s", strlen(DIR_) + 1 + strlen(rel), strerror(errno));
    else { close(fd); printf("EXPECT create %s/%s\n", DIR_, rel); }
    return 0;
}
