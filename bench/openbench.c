/* Per-event cost: N opens of one file, then close. Usage: openbench ro|create N PATH */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int create = strcmp(argv[1], "create") == 0;
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++) {
        int fd = open(argv[3], create ? O_WRONLY | O_CREAT : O_RDONLY, 0644);
        if (fd < 0) return 1;
        close(fd);
    }
    return 0;
}
