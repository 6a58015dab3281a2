/* renameat2: NOREPLACE failure, EXCHANGE (both paths), WHITEOUT. */
#include "fixture.h"
#include <linux/fs.h>
#include <sys/syscall.h>
static long r2(const char *a, const char *b, unsigned f) { return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, f); }
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    touch(P("a")); touch(P("b"));
    if (r2(P("a"), P("b"), RENAME_NOREPLACE) == 0 || errno != EEXIST) FAIL("NOREPLACE should fail with EEXIST");
    EXPECT_FAIL("rename-to", P("b"), "EEXIST");
    if (r2(P("a"), P("b"), RENAME_EXCHANGE) != 0) FAIL("EXCHANGE: %s", strerror(errno));
    EXPECT("exchange", P("a"));
    EXPECT("exchange", P("b"));
    touch(P("w"));
    if (r2(P("w"), P("w2"), RENAME_WHITEOUT) == 0) {
        EXPECT("whiteout", P("w"));
        EXPECT("rename-to", P("w2"));
    } else {
        EXPECT_FAIL("whiteout", P("w"), errno == EINVAL ? "EINVAL" : errno == EPERM ? "EPERM" : "EOPNOTSUPP");
    }
    return 0;
}
