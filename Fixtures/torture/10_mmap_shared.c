/* A shared writable mapping written after close: the file is marked modified at mmap time. */
#include "fixture.h"
#include <sys/mman.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    touch(P("mapped"));
    int fd = open(P("mapped"), O_RDWR);
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) { FAIL("mmap: %s", strerror(errno)); return 1; }
    m[0] = 'y';
    munmap(m, 4096);
    EXPECT("mmap-write", P("mapped"));
    EXPECT_BLIND("shared-writable-mmap");
    return 0;
}
