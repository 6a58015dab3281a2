/* A vfork child creates a file, then execs /bin/true: no deadlock. */
#include "fixture.h"
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    const char *path = P("vforked");
    pid_t pid = vfork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0) close(fd);
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int st; waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("vfork child status %d", st);
    EXPECT("create", path);
    return 0;
}
