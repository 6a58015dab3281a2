/* The records the eBPF probe (Sources/Probe/bpf/probe.bpf.c) writes to its ring buffer and the
 * tables user space fills, shared by the probe and Swift. Layout only; no logic. */
#pragma once
#ifndef __bpf__
#include <linux/types.h>
#endif

#define ROPROF_SLOT 4096          /* one string: a user path, or a path the kernel resolved */
#define ROPROF_DATA 16384         /* strings start below this offset of a record's string area (a power of two: offsets are masked) */
#define ROPROF_NCALLS 1024        /* syscall numbers per architecture */
#define ROPROF_NARCH 2            /* 0: the native architecture, 1: its 32-bit compat one */
#define ROPROF_RUNS 4             /* runs one pinned probe serves at once (a slot each; its links carry slot + 1 as cookie); a fifth loads its own. Per-CPU counters: RUNS × NARCH × NCALLS × 8 bytes a CPU stay pinned */
#define ROPROF_RING_BYTES (16 << 20) /* each run's ring buffer */

enum roprof_event_type {
    ROPROF_EV_CALL = 1,    /* a mutating syscall returned: arguments, result, strings */
    ROPROF_EV_FORK = 3,    /* a new process in the traced tree */
    ROPROF_EV_EXEC = 4,    /* a traced process ran a program */
    ROPROF_EV_EXIT = 5,    /* the last thread of a traced process ended */
    ROPROF_EV_SEEN = 6,    /* a process first seen in the watched cgroup / mount namespace */
};

/* Flags of a resolved path (a walk of dentries and mounts). */
enum roprof_walk_flags {
    ROPROF_WALK_TRUNCATED = 1,  /* deeper or longer than the probe walks */
    ROPROF_WALK_DETACHED = 2,   /* not under the process's root: a pipe, socket, memfd or another namespace */
    ROPROF_WALK_UNLINKED = 4,   /* the file is deleted */
    ROPROF_WALK_PRESENT = 8,    /* this slot holds a walk */
    ROPROF_RAW_UNREADABLE = 16, /* a raw slot: the pointer could not be read (EFAULT) */
    ROPROF_RAW_TOO_LONG = 32,   /* a raw slot: no NUL within PATH_MAX */
};

struct roprof_ev {
    __u32 type;
    __u32 size;   /* bytes of the whole record */
    __u32 tid;
    __u32 tgid;
};

/* Strings follow in `data`, in slot order, each len[i] bytes (no NUL). Slots 0 and 1 are the raw
 * path arguments; 2 and 3 the resolved directory each is relative to (or, for an fd operation, slot
 * 2 is the fd's file). A resolved path is its components leaf first, each ending in NUL. */
struct roprof_ev_call {
    struct roprof_ev h;
    __s64 ret;
    __u64 args[6];
    __u32 nr;
    __u32 arch;
    __u32 aux;       /* openat2: how.flags */
    __u32 fd_mode;   /* fd operations: the inode mode of slot 2's file; a successful open: the file's f_mode */
    __u16 len[4];
    __u16 walk[4];
    __u32 fsuid;     /* the caller's filesystem uid at the call (a daemon that dropped root by itself) */
    __u32 reserved;
};

struct roprof_ev_fork {
    struct roprof_ev h;
    __u32 ppid;
};

struct roprof_ev_exec {
    struct roprof_ev h;
    __u32 old_pid;
    __u32 uid;
    __u32 gid;
    __u16 exe_len;   /* the executable, resolved (leaf first); then argv, NUL-separated */
    __u16 exe_walk;
    __u16 argv_len;
    __u16 pad;
};

struct roprof_ev_exit {
    struct roprof_ev h;
    __s32 code;      /* the task's exit_code: (status << 8) | signal */
    __u32 pad;
};

/* How the probe treats one syscall number (a table user space fills from the Swift catalog). */
enum roprof_desc_flags {
    ROPROF_D_TRACE = 1,     /* a mutating call: report it with its result */
    ROPROF_D_DANGER = 2,    /* report who calls it (once per process) */
    ROPROF_D_REGULAR = 4,   /* report it only when the fd is a regular file (sendfile to a socket is not) */
};
enum roprof_special {
    ROPROF_SP_NONE = 0,
    ROPROF_SP_OPENAT2 = 1,    /* flags are in struct open_how at args[2] */
    ROPROF_SP_MMAP = 2,       /* only PROT_WRITE with MAP_SHARED, fd in args[4] */
    ROPROF_SP_BIND = 3,       /* slot 0: the sockaddr; slot 2: the cwd */
    ROPROF_SP_UTIMENSAT = 4,  /* a NULL path means the fd itself */
    ROPROF_SP_PRCTL = 5,      /* only PR_SET_SECCOMP */
    ROPROF_SP_RAW = 6,        /* slot 0 is a name, not a path (mq_open): no directory */
    ROPROF_SP_OPEN = 7,       /* on success slot 2 is the opened file and fd_mode its f_mode */
};
struct roprof_desc {
    __u8 flags;
    __u8 special;
    __s8 path[2];       /* argument index of a path string, -1 none */
    __s8 dirfd[2];      /* argument index of its dirfd, -1: the working directory */
    __s8 fd;            /* argument index of an fd whose file is wanted, -1 none */
    __s8 filter_arg;    /* -1: always; else only when args[filter_arg] & filter_mask */
    __u32 filter_mask;
};

/* Per-run tables are indexed slot * COUNT + key (stats, config) or slot * NARCH * NCALLS + call
 * (counts); the tracked map's values are FOLLOW_* | slot << 8. */
enum roprof_config_keys {
    ROPROF_CFG_FILTER = 0,   /* 0: the tracked tgids only; 1: also a mount namespace; 2: also a cgroup */
    ROPROF_CFG_MNTNS = 1,    /* the mount namespace inode for filter 1 */
    ROPROF_CFG_SELF = 2,     /* roprof's own tgid: never traced */
    ROPROF_CFG_HOSTNS = 3,   /* roprof's mount namespace: start mode records from the first exec outside it */
    ROPROF_CFG_COUNT = 4,
};

enum roprof_stat_keys {
    ROPROF_STAT_DROPPED = 0,      /* records the ring buffer had no room for */
    ROPROF_STAT_INFLIGHT_FULL = 1,/* calls not followed: too many in flight */
    ROPROF_STAT_TRACKED_FULL = 2, /* processes not followed: the table was full */
    ROPROF_STAT_COUNT = 3,
};
