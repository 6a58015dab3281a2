/* io_uring_setup and io_setup are denied with ENOSYS while recording; the app falls back to
 * plain syscalls, which are recorded. */
#include "fixture.h"
#include <linux/io_uring.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    struct io_uring_params p; memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 8, &p);
    if (fd >= 0) FAIL("io_uring_setup succeeded under roprof (fd %ld): writes through it would be invisible", fd);
    else if (errno != ENOSYS) FAIL("io_uring_setup: expected ENOSYS, got %s", strerror(errno));
    unsigned long ctx = 0;
    if (syscall(SYS_io_setup, 8, &ctx) == 0) FAIL("io_setup succeeded under roprof");
    touch(P("fallback-write"));
    EXPECT("create", P("fallback-write"));
    EXPECT_BLIND("io_uring");
    EXPECT_BLIND("aio");
    return 0;
}
