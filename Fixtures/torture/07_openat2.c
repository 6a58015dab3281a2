/* openat2 with RESOLVE_IN_ROOT and RESOLVE_BENEATH (flags live in struct open_how in memory). */
#include "fixture.h"
#include <linux/openat2.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    int dfd = open(DIR_, O_DIRECTORY | O_RDONLY);
    struct open_how how = { .flags = O_WRONLY | O_CREAT, .mode = 0644, .resolve = RESOLVE_IN_ROOT };
    long fd = syscall(SYS_openat2, dfd, "/in-root", &how, sizeof how);
    if (fd < 0) FAIL("openat2 in-root: %s", strerror(errno)); else close((int)fd);
    how.resolve = RESOLVE_BENEATH;
    fd = syscall(SYS_openat2, dfd, "beneath", &how, sizeof how);
    if (fd < 0) FAIL("openat2 beneath: %s", strerror(errno)); else close((int)fd);
    how.flags = O_RDONLY; how.mode = 0;
    fd = syscall(SYS_openat2, dfd, "beneath", &how, sizeof how);
    if (fd >= 0) close((int)fd);
    EXPECT("create", P("in-root"));
    EXPECT("create", P("beneath"));
    EXPECT_COUNT("create", P("beneath"), 1);
    return 0;
}
