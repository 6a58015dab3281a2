/* The app runs a tracer itself (PTRACE_TRACEME fails: one tracer per process), and spawns a
 * CLONE_UNTRACED child: roprof clears the flag so the child is still followed, not escaped. */
#include "fixture.h"
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    pid_t pid = fork();
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) == 0) _exit(3);
        _exit(errno == EPERM ? 0 : 4);
    }
    int st; waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("PTRACE_TRACEME under roprof: status %d", st);
    pid = (pid_t)syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) { touch(P("escaped")); _exit(0); }
    waitpid(pid, &st, 0);
    EXPECT_BLIND("nested-tracer");
    EXPECT("create", P("escaped"));  /* CLONE_UNTRACED is cleared: the child stays followed */
    return 0;
}
