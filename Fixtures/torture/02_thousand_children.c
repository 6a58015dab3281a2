/* 1000 children via fork, vfork, clone(CLONE_VM) and posix_spawn, each creating a file. */
#include "fixture.h"
#include <sched.h>
#include <spawn.h>
extern char **environ;
static char stack[64 * 1024] __attribute__((aligned(16)));
static const char *clone_path;
static int clone_child(void *arg) { (void)arg; int fd = open(clone_path, O_WRONLY | O_CREAT, 0644); if (fd >= 0) close(fd); return 0; }
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    for (int i = 0; i < 1000; i++) {
        const char *path = P("c%04d", i);
        pid_t pid = -1;
        switch (i % 4) {
        case 0: pid = fork(); if (pid == 0) { int fd = open(path, O_WRONLY | O_CREAT, 0644); _exit(fd < 0); } break;
        case 1: pid = vfork(); if (pid == 0) { int fd = open(path, O_WRONLY | O_CREAT, 0644); _exit(fd < 0); } break;
        case 2: clone_path = path; pid = clone(clone_child, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL); break;
        case 3: {
            char *args[] = { "touch", (char *)path, NULL };
            if (posix_spawn(&pid, "/usr/bin/touch", NULL, NULL, args, environ) != 0) pid = -1;
            break;
        }
        }
        if (pid < 0) { FAIL("child %d: %s", i, strerror(errno)); continue; }
        int st; waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("child %d failed", i);
        EXPECT("create", path);
    }
    return 0;
}
