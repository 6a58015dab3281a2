/* A 10 kHz SIGUSR1 storm during opens and renames: each mutation recorded exactly once. */
#include "fixture.h"
#include <time.h>
static volatile sig_atomic_t hits;
static void on_usr1(int s) { (void)s; hits++; }
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    struct sigaction sa = { .sa_handler = on_usr1 };  /* no SA_RESTART: calls may see EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = { 0, 100000 };
        for (;;) { if (kill(parent, SIGUSR1) != 0) _exit(0); nanosleep(&ts, NULL); }
    }
    for (int i = 0; i < 200; i++) {
        int fd;
        do fd = open(P("s%03d", i), O_WRONLY | O_CREAT | O_EXCL, 0644); while (fd < 0 && errno == EINTR);
        if (fd < 0) FAIL("open s%03d: %s", i, strerror(errno)); else close(fd);
        int rc;
        do rc = rename(P("s%03d", i), P("m%03d", i)); while (rc != 0 && errno == EINTR);
        if (rc != 0) FAIL("rename %d: %s", i, strerror(errno));
        EXPECT_COUNT("create", P("s%03d", i), 1);
        EXPECT_COUNT("rename-to", P("m%03d", i), 1);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (hits < 10) FAIL("only %d signals arrived", (int)hits);
    return 0;
}
