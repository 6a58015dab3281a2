/* chroot into SCRATCH/root and create /file: recorded as /file with root SCRATCH/root. Then, in a
 * child, unshare(CLONE_NEWNS) and create a file: recorded, with a namespace-change blind spot. */
#include "fixture.h"
#include <sched.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    mkdir(P("root"), 0755);
    const char *root = P("root");
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0) _exit(1);
        touch(P("after-unshare"));
        _exit(0);
    }
    int st; waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("unshare child failed");
    EXPECT("create", P("after-unshare"));
    EXPECT_BLIND("namespace-change");
    printf("EXPECT-ROOT create /file %s\n", root);
    printf("EXPECT-ROOT mkdir /dir %s\n", root);
    fflush(stdout);
    if (chroot(root) != 0 || chdir("/") != 0) { FAIL("chroot: %s", strerror(errno)); return 1; }
    touch("/file");
    mkdir("dir", 0755);
    return 0;
}
