/* The app installs its own seccomp filter (mkdir → ERRNO, getppid → TRAP). The kernel gives
 * ERRNO/TRAP precedence over roprof's TRACE, so those calls are invisible: roprof must say so
 * (blind spot), keep tracing everything else, and stay unshaken. */
#include "fixture.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
static volatile int trapped;
static void on_sys(int s) { (void)s; trapped = 1; }
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    signal(SIGSYS, on_sys);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdir, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) { FAIL("seccomp: %s", strerror(errno)); return 1; }
    if (syscall(SYS_mkdir, P("denied-dir"), 0755) == 0 || errno != EACCES) FAIL("mkdir should fail with EACCES");
    syscall(SYS_getppid);
    if (!trapped) FAIL("SIGSYS did not arrive");
    touch(P("after-filter"));
    EXPECT("create", P("after-filter"));
    EXPECT_BLIND("app-seccomp");
    return 0;
}
