/* Writes its pid to SCRATCH/pid, then lives for a minute: the test kills roprof with SIGKILL and
 * checks that this process died too (PTRACE_O_EXITKILL in launch mode). */
#include "fixture.h"
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    char buf[32]; int n = snprintf(buf, sizeof buf, "%d\n", getpid());
    int fd = open(P("pid.tmp"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (write(fd, buf, n) != n) return 1;
    close(fd);
    rename(P("pid.tmp"), P("pid"));
    for (int i = 0; i < 600; i++) usleep(100000);
    return 0;
}
