/* SIGSTOP / SIGTSTP / SIGCONT mid-run: the child really stops (its parent sees it stopped)
 * and resumes. */
#include "fixture.h"
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    int sigs[2] = { SIGSTOP, SIGTSTP };
    for (int k = 0; k < 2; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (sigs[k] == SIGTSTP) signal(SIGTSTP, SIG_DFL);
            raise(sigs[k]);
            touch(P("resumed-%d", k));
            _exit(0);
        }
        int st;
        if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) != sigs[k]) FAIL("child %d did not stop (status %#x)", k, st);
        usleep(50000);
        struct stat sb;
        if (stat(P("resumed-%d", k), &sb) == 0) FAIL("child %d ran while it should be stopped", k);
        kill(pid, SIGCONT);
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) FAIL("child %d did not finish", k);
        EXPECT("create", P("resumed-%d", k));
    }
    return 0;
}
