/* The floor for a seccomp+ptrace design: the same ptrace work per event as `roprof record
 * --mode writes` (RET_TRACE on the same write-flagged opens and mutating calls, read the path
 * with process_vm_readv, step to the syscall exit, waitpid) and nothing else: no decoding,
 * no path resolution, no aggregation. It waits the way roprof does: a short adaptive poll with
 * WNOHANG before blocking (MINTRACE_NO_SPIN=1: block at once). Usage: mintrace CMD [ARG...] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The same adaptive polling window as roprof's waitForStop: doubles on a hit, halves on a miss. */
static unsigned long long spin_ns = 50000;
static unsigned long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}
static pid_t wait_stop(int *st) {
    if (spin_ns) {
        unsigned long long start = now_ns();
        for (int polls = 1;; polls++) {
            pid_t p = waitpid(-1, st, __WALL | WNOHANG);
            if (p != 0) {
                if (p > 0) spin_ns = spin_ns * 2 > 400000 ? 400000 : spin_ns * 2;
                return p;
            }
            if ((polls & 7) == 0 && now_ns() - start > spin_ns) break;
        }
        spin_ns = spin_ns / 2 < 10000 ? 10000 : spin_ns / 2;
    }
    return waitpid(-1, st, __WALL);
}
#include <unistd.h>

static const char *mutating[] = { "creat", "openat2", "mkdir", "mkdirat", "mknod", "mknodat", "rename", "renameat",
    "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rmdir", "truncate", "ftruncate", "chmod",
    "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "utimensat", "bind", "io_uring_setup", NULL };

static void read_path(pid_t pid, uint64_t addr, char *out, size_t max) {
    size_t got = 0;
    while (got < max - 1) {
        size_t to_page = 4096 - ((addr + got) & 4095), want = to_page < max - 1 - got ? to_page : max - 1 - got;
        struct iovec l = { out + got, want }, r = { (void *)(uintptr_t)(addr + got), want };
        ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
        if (n <= 0) break;
        if (memchr(out + got, 0, n)) return;
        got += n;
    }
    out[got] = 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: mintrace CMD [ARG...]\n"); return 2; }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_arch_add(ctx, SCMP_ARCH_X86);
    uint64_t bits[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, 020000000 };
    for (int i = 0; i < 5; i++) {
        seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
        seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
    }
    for (int i = 0; mutating[i]; i++) {
        int nr = seccomp_syscall_resolve_name(mutating[i]);
        if (nr != __NR_SCMP_ERROR) seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 0);
    }
    FILE *mem = tmpfile();
    seccomp_export_bpf(ctx, fileno(mem));
    long size = ftell(mem);
    rewind(mem);
    struct sock_filter *prog = malloc(size);
    if (fread(prog, 1, size, mem) != (size_t)size) return 2;

    pid_t child = fork();
    if (child == 0) {
        raise(SIGSTOP);
        struct sock_fprog fp = { size / sizeof *prog, prog };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0) { perror("seccomp"); _exit(126); }
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int st;
    waitpid(child, &st, WSTOPPED);
    ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
           PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL);
    kill(child, SIGCONT);
    if (getenv("MINTRACE_NO_SPIN") || sysconf(_SC_NPROCESSORS_ONLN) < 2) spin_ns = 0;
    long events = 0;
    int status = 0;
    char path[4096];
    struct __ptrace_syscall_info info;
    for (;;) {
        pid_t pid = wait_stop(&st);
        if (pid < 0) break;
        if (WIFEXITED(st) || WIFSIGNALED(st)) { if (pid == child) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); continue; }
        int sig = WSTOPSIG(st), ev = st >> 16;
        if (ev == PTRACE_EVENT_SECCOMP) {
            ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info);
            int idx = (info.seccomp.nr == SYS_openat || info.seccomp.nr == SYS_mkdirat || info.seccomp.nr == SYS_unlinkat) ? 1 : 0;
            read_path(pid, info.seccomp.args[idx], path, sizeof path);
            events++;
            ptrace(PTRACE_SYSCALL, pid, 0, 0);
        } else if (sig == (SIGTRAP | 0x80)) {
            ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info);
            ptrace(PTRACE_CONT, pid, 0, 0);
        } else if (ev == PTRACE_EVENT_STOP) {
            if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) ptrace(PTRACE_LISTEN, pid, 0, 0);
            else ptrace(PTRACE_CONT, pid, 0, 0);
        } else if (ev) {
            ptrace(PTRACE_CONT, pid, 0, 0);
        } else {
            ptrace(PTRACE_CONT, pid, 0, sig == SIGSTOP && pid != child ? 0 : sig);
        }
    }
    fprintf(stderr, "mintrace: %ld events\n", events);
    return status;
}
