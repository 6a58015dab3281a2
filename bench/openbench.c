/* Per-event cost and distinct-path load.
 * Usage: openbench ro|create N PATH    N opens of one file, then close
 *        openbench distinct N DIR      N distinct files, 1000 a directory (DIR/dK/fI), each written */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    long n = atol(argv[2]);
    if (strcmp(argv[1], "distinct") == 0) {
        char path[4096];
        for (long i = 0; i < n; i++) {
            if (i % 1000 == 0) {
                snprintf(path, sizeof path, "%s/d%ld", argv[3], i / 1000);
                if (mkdir(path, 0755) != 0) return 1;
            }
            snprintf(path, sizeof path, "%s/d%ld/file-%07ld.dat", argv[3], i / 1000, i);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write(fd, "x", 1) != 1) return 1;
            close(fd);
        }
        return 0;
    }
    int create = strcmp(argv[1], "create") == 0;
    for (long i = 0; i < n; i++) {
        int fd = open(argv[3], create ? O_WRONLY | O_CREAT : O_RDONLY, 0644);
        if (fd < 0) return 1;
        close(fd);
    }
    return 0;
}
