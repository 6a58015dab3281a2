#define _GNU_SOURCE
#include "cptrace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/uio.h>
#include <grp.h>
#include <elf.h>

long roprof_ptrace(int request, pid_t pid, void *addr, void *data) {
    return ptrace((enum __ptrace_request)request, pid, addr, data);
}

int roprof_wifexited(int s) { return WIFEXITED(s); }
int roprof_wexitstatus(int s) { return WEXITSTATUS(s); }
int roprof_wifsignaled(int s) { return WIFSIGNALED(s); }
int roprof_wtermsig(int s) { return WTERMSIG(s); }
int roprof_wcoredump(int s) { return WCOREDUMP(s); }
int roprof_wifstopped(int s) { return WIFSTOPPED(s); }
int roprof_wstopsig(int s) { return WSTOPSIG(s); }

struct roprof_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

long roprof_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t set, uint64_t clr) {
    struct roprof_mount_attr attr = { set, clr, 0, 0 };
    return syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof attr);
}

// struct clone_args of <linux/sched.h> (v2, with cgroup), without that header's clashes with <sched.h>.
struct roprof_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define ROPROF_CLONE_INTO_CGROUP 0x200000000ULL

static void report(int fd, int stage, int err) {
    int msg[2] = { stage, err };
    if (fd >= 0) { ssize_t n = write(fd, msg, sizeof msg); (void)n; }
}

pid_t roprof_spawn(const struct roprof_spawn_config *c) {
    // clone() without CLONE_VM is fork() into new namespaces. The child then runs only raw system calls
    // (glibc's per-thread state is the parent's there) until it execs.
    // clone3(CLONE_INTO_CGROUP) starts it in its cgroup: no migration afterwards (which waits for an
    // RCU grace period, ~15 ms here). -1 with errno when the kernel cannot; the caller falls back.
    pid_t pid;
    if (c->cgroup_fd >= 0) {
        struct roprof_clone_args args = { 0 };
        args.flags = ROPROF_CLONE_INTO_CGROUP | (uint64_t)(unsigned)c->new_namespaces;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)c->cgroup_fd;
        pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    } else {
        pid = c->new_namespaces ? (pid_t)syscall(SYS_clone, (unsigned long)(SIGCHLD | c->new_namespaces), NULL, NULL, NULL, NULL)
                                : fork();
    }
    if (pid != 0) return pid;
    if (c->parent_death_signal) prctl(PR_SET_PDEATHSIG, c->parent_death_signal);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++) if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);

    if (c->new_mount_namespace) {
        if (unshare(CLONE_NEWNS) != 0) { report(c->error_fd, ROPROF_STAGE_UNSHARE, errno); _exit(126); }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
            report(c->error_fd, ROPROF_STAGE_PRIVATE, errno); _exit(126);
        }
    }
    for (int i = 0; i < c->step_count; i++) {
        const struct roprof_mount_step *s = &c->steps[i];
        long rc = 0;
        if (s->kind == 0) rc = mount(s->source, s->target, s->fstype, s->flags, s->data);
        else if (s->kind == 1)
            rc = roprof_mount_setattr(AT_FDCWD, s->target, s->recursive ? ROPROF_AT_RECURSIVE : 0,
                                      s->attr_set, s->attr_clr);
        else if (s->kind == 2) { rc = mkdir(s->target, 0755); if (rc != 0 && errno == EEXIST) rc = 0; }
        else if (s->kind == 3) { int fd = open(s->target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644); rc = fd < 0 ? -1 : close(fd); }
        else if (s->kind == 4) rc = symlink(s->source, s->target);
        if (rc != 0) { report(c->error_fd, ROPROF_STAGE_MOUNT_BASE + i, errno); _exit(126); }
    }
    if (c->cwd && chdir(c->cwd) != 0) { report(c->error_fd, ROPROF_STAGE_CHDIR, errno); _exit(126); }
    // A container's capability set (--cap-drop=ALL --cap-add=…): after exec, root's permitted and
    // effective sets are the bounding set.
    for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
        if (c->keep_caps & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) { report(c->error_fd, ROPROF_STAGE_CAPS, errno); _exit(126); }
    }
    if (c->run_as_uid >= 0) {
        gid_t g = (gid_t)c->run_as_gid;
        // Raw calls: glibc's wrappers would try to change every thread of the parent it remembers.
        uid_t u = (uid_t)c->run_as_uid;
        if (syscall(SYS_setgroups, 1, &g) != 0 || syscall(SYS_setresgid, g, g, g) != 0 || syscall(SYS_setresuid, u, u, u) != 0) {
            report(c->error_fd, ROPROF_STAGE_USER, errno); _exit(126);
        }
    }
    if (c->close_inherited) syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    if (c->stop_for_seize) {
        if (c->go_fd >= 0) { char b; while (read(c->go_fd, &b, 1) < 0 && errno == EINTR) {} }
        else syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
    }
    if (c->filter) {
        struct sock_fprog prog = { c->filter_len, (struct sock_filter *)c->filter };
        if (c->force_no_new_privs) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
            if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
                syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
                report(c->error_fd, ROPROF_STAGE_SECCOMP, errno); _exit(126);
            }
        }
    }
    execve(c->path, c->argv, c->envp);
    report(c->error_fd, ROPROF_STAGE_EXEC, errno);
    _exit(errno == ENOENT ? 127 : 126);
}

static atomic_ulong pending_signals;
static void flag_handler(int sig) { atomic_fetch_or(&pending_signals, 1UL << sig); }

void roprof_install_flag_handler(int sig, int restart) {
    struct sigaction sa = {0};
    sa.sa_handler = flag_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(sig, &sa, NULL);
}

unsigned long roprof_take_signals(void) { return atomic_exchange(&pending_signals, 0); }

long roprof_read_remote(pid_t pid, void *local, size_t len, uint64_t remote) {
    struct iovec l = { local, len };
    struct iovec r = { (void *)(uintptr_t)remote, len };
    return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

#if defined(__x86_64__)
long roprof_set_syscall_nr(pid_t pid, long nr) {
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) return -1;
    regs.orig_rax = (unsigned long long)nr;
    return ptrace(PTRACE_SETREGS, pid, 0, &regs);
}
long roprof_set_return(pid_t pid, long value) {
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) return -1;
    regs.rax = (unsigned long long)value;
    return ptrace(PTRACE_SETREGS, pid, 0, &regs);
}
long roprof_set_arg(pid_t pid, int index, unsigned long value) {
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) return -1;
    unsigned long long *slot[6] = { &regs.rdi, &regs.rsi, &regs.rdx, &regs.r10, &regs.r8, &regs.r9 };
    if (index < 0 || index > 5) { errno = EINVAL; return -1; }
    *slot[index] = value;
    return ptrace(PTRACE_SETREGS, pid, 0, &regs);
}
#elif defined(__aarch64__)
long roprof_set_syscall_nr(pid_t pid, long nr) {
    int n = (int)nr;
    struct iovec io = { &n, sizeof n };
    return ptrace(PTRACE_SETREGSET, pid, (void *)NT_ARM_SYSTEM_CALL, &io);
}
long roprof_set_return(pid_t pid, long value) {
    struct user_regs_struct regs;
    struct iovec io = { &regs, sizeof regs };
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &io) != 0) return -1;
    regs.regs[0] = (unsigned long long)value;
    return ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &io);
}
long roprof_set_arg(pid_t pid, int index, unsigned long value) {
    struct user_regs_struct regs;
    struct iovec io = { &regs, sizeof regs };
    if (index < 0 || index > 5) { errno = EINVAL; return -1; }
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &io) != 0) return -1;
    regs.regs[index] = value;
    return ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &io);
}
#else
long roprof_set_arg(pid_t pid, int index, unsigned long value) { (void)pid; (void)index; (void)value; errno = ENOSYS; return -1; }
long roprof_set_syscall_nr(pid_t pid, long nr) { (void)pid; (void)nr; errno = ENOSYS; return -1; }
long roprof_set_return(pid_t pid, long value) { (void)pid; (void)value; errno = ENOSYS; return -1; }
#endif
