/* O_TMPFILE then linkat, both forms: the final name is the one written. */
#include "fixture.h"
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    int fd = open(DIR_, O_TMPFILE | O_WRONLY, 0644);
    if (fd < 0) { FAIL("O_TMPFILE: %s", strerror(errno)); return 1; }
    if (write(fd, "hello", 5) != 5) FAIL("write");
    if (linkat(fd, "", AT_FDCWD, P("linked-empty-path"), AT_EMPTY_PATH) != 0) FAIL("linkat AT_EMPTY_PATH: %s", strerror(errno));
    close(fd);
    fd = open(DIR_, O_TMPFILE | O_WRONLY, 0644);
    char proc[64]; snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, P("linked-proc"), AT_SYMLINK_FOLLOW) != 0) FAIL("linkat /proc/self/fd: %s", strerror(errno));
    close(fd);
    printf("EXPECT tmpfile %s\n", DIR_);
    EXPECT("create", P("linked-empty-path"));
    EXPECT("create", P("linked-proc"));
    return 0;
}
