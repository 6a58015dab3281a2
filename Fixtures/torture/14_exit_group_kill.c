/* A sibling thread calls exit_group while another renames in a loop; and a child is SIGKILLed
 * from outside mid-rename. No hang; the outcome of an interrupted call is "unknown", not lost. */
#include "fixture.h"
#include <pthread.h>
static void *renamer(void *arg) {
    (void)arg;
    for (long i = 0;; i++) rename(P("e%ld", i % 2), P("e%ld", (i + 1) % 2));
    return NULL;
}
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    touch(P("e0"));
    touch(P("k0"));
    pid_t pid = fork();
    if (pid == 0) {
        for (long i = 0;; i++) rename(P("k%ld", i % 2), P("k%ld", (i + 1) % 2));
    }
    usleep(100000);
    kill(pid, SIGKILL);
    int st; waitpid(pid, &st, 0);
    if (!WIFSIGNALED(st)) FAIL("child was not killed");
    EXPECT("create", P("e0"));
    pthread_t t;
    pthread_create(&t, NULL, renamer, NULL);
    usleep(100000);
    fflush(stdout);
    _exit(0);  /* exit_group while the sibling is mid-rename */
}
