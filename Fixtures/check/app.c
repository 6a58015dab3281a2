/* A tiny app for `roprof check` tests: writes a scratch file in its directory; with
 * --extra-write PATH it also writes PATH; with --extra-syscall it also calls getcpu(2). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: app DIR [--extra-write PATH] [--extra-syscall]\n"); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/scratch.txt", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "ok\n", 3) != 3) return 1;
    close(fd);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--extra-write") == 0 && i + 1 < argc) {
            fd = open(argv[++i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) return 1;
            close(fd);
        } else if (strcmp(argv[i], "--extra-syscall") == 0) {
            unsigned cpu, node;
            syscall(SYS_getcpu, &cpu, &node, NULL);
        }
    }
    return 0;
}
