// CPtrace: what Swift cannot do itself — variadic ptrace, wait-status macros, struct layouts,
// and everything between fork and exec. No decisions are made here: Swift computes every plan.
#ifndef ROPROF_CPTRACE_H
#define ROPROF_CPTRACE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/// ptrace(2) without varargs.
long roprof_ptrace(int request, pid_t pid, void *addr, void *data);

/// The <sys/wait.h> status macros.
int roprof_wifexited(int status);
int roprof_wexitstatus(int status);
int roprof_wifsignaled(int status);
int roprof_wtermsig(int status);
int roprof_wcoredump(int status);
int roprof_wifstopped(int status);
int roprof_wstopsig(int status);

/// glibc declares this only under _GNU_SOURCE.
int pipe2(int pipefd[2], int flags);

/// Raw syscalls glibc does not wrap in this release.
long roprof_mount_setattr(int dirfd, const char *path, unsigned int flags,
                          uint64_t attr_set, uint64_t attr_clr);

enum {
    ROPROF_PTRACE_GET_SYSCALL_INFO = 0x420e,
    ROPROF_PTRACE_SYSCALL_INFO_NONE = 0,
    ROPROF_PTRACE_SYSCALL_INFO_ENTRY = 1,
    ROPROF_PTRACE_SYSCALL_INFO_EXIT = 2,
    ROPROF_PTRACE_SYSCALL_INFO_SECCOMP = 3,
    ROPROF_MOUNT_ATTR_RDONLY = 0x00000001,
    ROPROF_MOUNT_ATTR_NOSUID = 0x00000002,
    ROPROF_MOUNT_ATTR_NODEV = 0x00000004,
    ROPROF_AT_RECURSIVE = 0x8000,
};

/// One step of a mount plan, executed in order in the child before exec.
/// kind 0: mount(source, target, fstype, flags, data); kind 1: mount_setattr(target, recursive, set, clr);
/// kind 2: mkdir(target) ignoring EEXIST (for mount points inside a fresh tmpfs);
/// kind 3: an empty file at target (a bind target); kind 4: symlink(source, target).
struct roprof_mount_step {
    int kind;
    const char *source;
    const char *target;
    const char *fstype;
    unsigned long flags;
    const char *data;
    int recursive;
    uint64_t attr_set;
    uint64_t attr_clr;
};

/// What the child does between fork and exec.
struct roprof_spawn_config {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;                       // NULL: inherit
    int new_mount_namespace;               // unshare(CLONE_NEWNS) + make / private
    const struct roprof_mount_step *steps; // run in order after the unshare
    int step_count;
    int stop_for_seize;                    // raise(SIGSTOP) so the parent can PTRACE_SEIZE
    const void *filter;                    // struct sock_filter[], installed last; NULL: none
    unsigned short filter_len;
    int force_no_new_privs;                // set no_new_privs even when not needed
    int error_fd;                          // CLOEXEC pipe: child writes {stage, errno} on failure
    int parent_death_signal;               // 0: none; else PR_SET_PDEATHSIG (dies with the spawning thread)
    int run_as_uid;                        // -1: keep; else setgroups({gid}), setresgid, setresuid before exec
    int run_as_gid;
    int close_inherited;                   // 1: no fd above 2 survives the exec (close_range CLOEXEC)
    int new_namespaces;                    // 0, or CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC to start in (clone, not fork)
    int go_fd;                             // -1; else (PID 1 cannot stop itself) wait here until the parent,
                                           // having stopped and seized the child, writes a byte or closes it
    int cgroup_fd;                         // -1; else a cgroup directory to start the child in (clone3)
    int cap_last;                          // -1: keep the capabilities; else drop from the bounding set every
    uint64_t keep_caps;                    //   capability 0...cap_last not in keep_caps (a root app then has just those)
};

/// Stage codes written to error_fd as two ints {stage, errno} (stage ≥ 100 + i: mount step i).
enum {
    ROPROF_STAGE_UNSHARE = 1,
    ROPROF_STAGE_PRIVATE = 2,
    ROPROF_STAGE_CHDIR = 3,
    ROPROF_STAGE_SECCOMP = 4,
    ROPROF_STAGE_EXEC = 5,
    ROPROF_STAGE_USER = 6,
    ROPROF_STAGE_CAPS = 7,
    ROPROF_STAGE_MOUNT_BASE = 100,
};

/// fork() (or clone() into new namespaces); the child follows the config and execs. Returns the pid, or -1 with errno.
pid_t roprof_spawn(const struct roprof_spawn_config *config);

/// Signal-handler helper: a C handler that sets bit `sig` in a mask Swift polls.
void roprof_install_flag_handler(int sig, int restart);
/// The signals received since the last call, as a bit mask (bit N = signal N).
unsigned long roprof_take_signals(void);

/// process_vm_readv(2) for one local and one remote range.
long roprof_read_remote(pid_t pid, void *local, size_t len, uint64_t remote);
/// Sets the syscall number at a syscall-entry or seccomp stop (-1 skips the call), x86_64 and aarch64.
long roprof_set_syscall_nr(pid_t pid, long nr);
/// Sets syscall argument `index` (0-5) at a syscall-entry or seccomp stop.
long roprof_set_arg(pid_t pid, int index, unsigned long value);
/// Sets the return value at a syscall-exit stop.
long roprof_set_return(pid_t pid, long value);

#endif
