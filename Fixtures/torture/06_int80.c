/* int $0x80 open(O_CREAT) and creat from a 64-bit binary: must be decoded with the i386 table
 * (i386 open is 5, which is fstat on x86_64). Build with -no-pie so the path is below 4 GiB. */
#include "fixture.h"
static char path1[PATH_MAX], path2[PATH_MAX];
static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    strcpy(path1, P("int80-open"));
    strcpy(path2, P("int80-creat"));
    long fd = int80(5 /* i386 open */, (long)(unsigned long)path1, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) FAIL("int80 open: %ld", fd); else close((int)fd);
    fd = int80(8 /* i386 creat */, (long)(unsigned long)path2, 0644, 0);
    if (fd < 0) FAIL("int80 creat: %ld", fd); else close((int)fd);
    EXPECT("create", path1);
    EXPECT("create", path2);
    EXPECT_BLIND("compat-32bit");
    return 0;
}
