// SPDX-License-Identifier: GPL-2.0
/* roprof's eBPF probe: follows a process tree (or a container) in the kernel, counts every syscall
 * per architecture, and reports each file mutation with its result and its paths, resolved in the
 * kernel by a bounded walk of dentries and mounts. Nothing is ever stopped. Records go through the
 * run's ring buffer; a record without room is counted, never silently lost.
 *
 * Loaded once and pinned (pinned_mode), it serves up to ROPROF_RUNS runs at once: each run attaches
 * its own links with its slot + 1 as the BPF cookie, and every table a run owns is indexed by its
 * slot, so an invocation through one run's link touches only that run's processes. Loaded per run
 * (kernels before 6.10, no cookie for raw tracepoints), everything is slot 0.
 *
 * Built by the BPFProbe build plugin with the toolchain's clang (-target bpf), CO-RE: the kernel
 * types in kernel_types.h are relocated against the running kernel's BTF when loaded. */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "roprof_probe.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_DEPTH 256
#define NAME_MAX_Z 256
#define AT_FDCWD -100
#define TS_COMPAT 0x0002
#define FMODE_CREATED (1u << 20)
#define O_TMPFILE_BIT 020000000
#define O_WRITE_MASK (01 | 02 | 0100 | 01000 | 020000000)
#define PROT_WRITE 0x2
#define MAP_SHARED 0x1

/* Each run's ring buffer, at its slot (user space makes the ring and puts it here). */
struct ring { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, ROPROF_RING_BYTES); };
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, ROPROF_RUNS); __type(key, u32); __array(values, struct ring); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 65536); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, u32); __type(value, u32); } tracked SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, ROPROF_NARCH * ROPROF_NCALLS); __type(key, u32); __type(value, struct roprof_desc); } descs SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, ROPROF_RUNS * ROPROF_NARCH * ROPROF_NCALLS); __type(key, u32); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, ROPROF_RUNS * ROPROF_STAT_COUNT); __type(key, u32); __type(value, u64); } stats SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, ROPROF_RUNS * ROPROF_CFG_COUNT); __type(key, u32); __type(value, u64); } config SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_CGROUP_ARRAY); __uint(max_entries, ROPROF_RUNS); __type(key, u32); __type(value, u32); } cgroup SEC(".maps");

/* Set before loading: 1 when the probe is pinned and runs are told apart by their links' cookies. */
const volatile u32 pinned_mode = 0;

struct inflight { u64 args[6]; u32 slot; u32 aux; u32 run; u32 pad; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16384); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, u32); __type(value, struct inflight); } calls SEC(".maps");
/* (tgid << 32 | arch << 16 | nr) of dangerous calls already reported */
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 4096); __type(key, u64); __type(value, u8); } dangers SEC(".maps");

struct scratch { struct roprof_ev_call hdr; char data[ROPROF_DATA + ROPROF_SLOT + NAME_MAX_Z]; };
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 2); __type(key, u32); __type(value, struct scratch); } scratch SEC(".maps");

/* The run this invocation serves: its link's cookie less one (pinned), or 0 (loaded per run).
 * ROPROF_RUNS when the cookie is not a run's: the invocation does nothing. */
static __always_inline u32 run_of(void *ctx) {
    if (!pinned_mode) return 0;
    u64 c = bpf_get_attach_cookie(ctx);
    return c >= 1 && c <= ROPROF_RUNS ? (u32)(c - 1) : ROPROF_RUNS;
}

static __always_inline void bump(u32 run, u32 key) {
    u32 k = run * ROPROF_STAT_COUNT + key;
    u64 *v = bpf_map_lookup_elem(&stats, &k);
    if (v) *v += 1;
}

static __always_inline u64 cfg(u32 run, u32 key) {
    u32 k = run * ROPROF_CFG_COUNT + key;
    u64 *v = bpf_map_lookup_elem(&config, &k);
    return v ? *v : 0;
}

/* Writes a record to the run's ring buffer. */
static __always_inline void output(u32 run, void *rec, u64 size, u64 flags) {
    void *ring = bpf_map_lookup_elem(&events, &run);
    if (!ring || bpf_ringbuf_output(ring, rec, size, flags) != 0) bump(run, ROPROF_STAT_DROPPED);
}

static __always_inline void emit(u32 run, void *rec, u64 size) {
    if (size > sizeof(struct scratch)) size = sizeof(struct scratch);
    if (size < sizeof(struct roprof_ev)) return;
    ((struct roprof_ev *)rec)->size = size;
    void *ring = bpf_map_lookup_elem(&events, &run);
    if (!ring) { bump(run, ROPROF_STAT_DROPPED); return; }
    /* No wake-up per record (an interrupt and a context switch each): roprof drains every few
     * milliseconds by itself, and is woken early only when a quarter of the ring is filled. */
    u64 flags = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) > (ROPROF_RING_BYTES / 4) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_output(ring, rec, size, flags) != 0) bump(run, ROPROF_STAT_DROPPED);
}

/* Values of the tracked map: a state | the run's slot << 8. */
#define FOLLOW_LINEAGE 1   /* in the tree, not recorded yet (start mode: the engine, before the container's first exec) */
#define FOLLOW_RECORD 2    /* recorded */
#define STATE(v) ((v) & 0xff)
#define RUN(v) ((v) >> 8)

/* Whether this process is recorded by this run. In container mode a process of the watched mount
 * namespace or cgroup joins the tracked set on first sight, and user space hears of it. */
static __always_inline bool followed(u32 run, u32 tgid) {
    u32 *v = bpf_map_lookup_elem(&tracked, &tgid);
    if (v) return RUN(*v) == run && STATE(*v) == FOLLOW_RECORD;
    u64 filter = cfg(run, ROPROF_CFG_FILTER);
    if (filter == 0) return false;
    if (tgid == (u32)cfg(run, ROPROF_CFG_SELF)) return false;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    if (filter == 1) {
        if (BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) != (u32)cfg(run, ROPROF_CFG_MNTNS)) return false;
    } else if (bpf_current_task_under_cgroup(&cgroup, run) != 1) {
        return false;
    }
    u32 mine = FOLLOW_RECORD | run << 8;
    if (bpf_map_update_elem(&tracked, &tgid, &mine, BPF_NOEXIST) != 0) {
        u32 *now = bpf_map_lookup_elem(&tracked, &tgid);
        if (!now) { bump(run, ROPROF_STAT_TRACKED_FULL); return true; }
        return *now == mine;
    }
    struct roprof_ev_fork ev = {};
    ev.h.type = ROPROF_EV_SEEN;
    ev.h.tid = (u32)bpf_get_current_pid_tgid();
    ev.h.tgid = tgid;
    ev.ppid = BPF_CORE_READ(task, real_parent, tgid);
    ev.h.size = sizeof(ev);
    output(run, &ev, sizeof(ev), 0);
    return true;
}

/* One walk in progress (bpf_loop verifies the step once, whatever the depth). */
struct walk_state {
    u32 key;        /* the scratch slot written to */
    u32 cur;        /* where the path starts in its data */
    u32 off;        /* bytes written so far */
    u32 limit;      /* at most this many */
    u16 flags;
    u64 mnt_off;
    struct dentry *d;
    struct vfsmount *vm;
    struct mount *m;
    struct dentry *root_d;
    struct vfsmount *root_m;
};

static long walk_step(u32 i, struct walk_state *w) {
    struct dentry *d = w->d;
    struct vfsmount *vm = w->vm;
    struct mount *m = w->m;
    if (d == w->root_d && vm == w->root_m) return 1;
    struct dentry *mnt_root = BPF_CORE_READ(vm, mnt_root);
    struct dentry *parent = BPF_CORE_READ(d, d_parent);
    if (d == mnt_root || d == parent) {
        struct mount *mp = BPF_CORE_READ(m, mnt_parent);
        if (mp == m || (d == parent && d != mnt_root)) { w->flags |= ROPROF_WALK_DETACHED; return 1; }
        w->d = BPF_CORE_READ(m, mnt_mountpoint);
        w->m = mp;
        w->vm = (struct vfsmount *)((char *)mp + w->mnt_off);
        return 0;
    }
    u32 at = w->cur + w->off;
    if (w->off > w->limit || at > ROPROF_DATA - NAME_MAX_Z) { w->flags |= ROPROF_WALK_TRUNCATED; return 1; }
    struct scratch *s = bpf_map_lookup_elem(&scratch, &w->key);
    if (!s) return 1;
    const unsigned char *name = BPF_CORE_READ(d, d_name.name);
    long n = bpf_probe_read_kernel_str(s->data + (at & (ROPROF_DATA - 1)), NAME_MAX_Z, name);
    if (n <= 0) { w->flags |= ROPROF_WALK_TRUNCATED; return 1; }
    w->off += n;
    w->d = parent;
    if (i == MAX_DEPTH - 1) w->flags |= ROPROF_WALK_TRUNCATED;
    return 0;
}

/* Writes the path of (dentry, vfsmount) into scratch slot `key` at data[cur...] as components, leaf
 * first, each ending in NUL, up to the current task's root. Returns the bytes written | ROPROF_WALK_*
 * << 16. A global function: the verifier checks it once, not at every call site. */
__noinline u32 walk_path(u32 key, u32 cur, u64 dentry, u64 vfsmnt, u32 limit) {
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct dentry *d = (struct dentry *)dentry;
    struct vfsmount *vm = (struct vfsmount *)vfsmnt;
    struct walk_state w = {};
    w.key = key;
    w.cur = cur;
    w.limit = limit;
    w.flags = ROPROF_WALK_PRESENT;
    w.mnt_off = bpf_core_field_offset(struct mount, mnt);
    w.d = d;
    w.vm = vm;
    w.m = (struct mount *)((char *)vm - w.mnt_off);
    w.root_d = BPF_CORE_READ(task, fs, root.dentry);
    w.root_m = BPF_CORE_READ(task, fs, root.mnt);
    if (BPF_CORE_READ(d, d_hash.pprev) == 0 && BPF_CORE_READ(d, d_parent) != d) w.flags |= ROPROF_WALK_UNLINKED;
    bpf_loop(MAX_DEPTH, walk_step, &w, 0);
    return (w.off & 0xffff) | ((u32)w.flags << 16);
}

static __always_inline u32 walk_long(u32 key, u32 cur, struct dentry *d, struct vfsmount *vm, u16 *flags, u32 limit) {
    u32 r = walk_path(key, cur, (u64)d, (u64)vm, limit);
    *flags = r >> 16;
    return r & 0xffff;
}

/* A walk that shares the record with other strings: one slot's worth. */
static __always_inline u32 walk_in(u32 key, u32 cur, struct dentry *d, struct vfsmount *vm, u16 *flags) {
    return walk_long(key, cur, d, vm, flags, ROPROF_SLOT - NAME_MAX_Z);
}


static __always_inline struct file *fd_file(struct task_struct *task, long fd) {
    if (fd < 0) return NULL;
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    unsigned int max = BPF_CORE_READ(fdt, max_fds);
    if (fd >= max) return NULL;
    struct file **arr = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
    return f;
}

/* The walk of the directory a relative path starts from: dirfd, or the working directory. */
static __always_inline u32 walk_base(struct scratch *s, u32 cur, struct task_struct *task, long dirfd, int slot) {
    u16 flags = 0;
    u32 n = 0;
    if (dirfd == AT_FDCWD) {
        n = walk_in(0, cur, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), &flags);
    } else {
        struct file *f = fd_file(task, dirfd);
        if (!f) return 0;
        n = walk_in(0, cur, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), &flags);
    }
    s->hdr.len[slot & 3] = n;
    s->hdr.walk[slot & 3] = flags;
    return n;
}

static __always_inline void read_args(struct pt_regs *regs, bool compat, u64 *a) {
    if (compat) {
        a[0] = (u32)BPF_CORE_READ(regs, bx); a[1] = (u32)BPF_CORE_READ(regs, cx); a[2] = (u32)BPF_CORE_READ(regs, dx);
        a[3] = (u32)BPF_CORE_READ(regs, si); a[4] = (u32)BPF_CORE_READ(regs, di); a[5] = (u32)BPF_CORE_READ(regs, bp);
    } else {
        a[0] = BPF_CORE_READ(regs, di); a[1] = BPF_CORE_READ(regs, si); a[2] = BPF_CORE_READ(regs, dx);
        a[3] = BPF_CORE_READ(regs, r10); a[4] = BPF_CORE_READ(regs, r8); a[5] = BPF_CORE_READ(regs, r9);
    }
}

/* BTF-typed raw tracepoints (tp_btf): a link of their own per run, with a cookie. */
SEC("tp_btf/sys_enter")
int on_sys_enter(u64 *ctx) {
    u32 run = run_of(ctx);
    if (run >= ROPROF_RUNS) return 0;
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32, tid = (u32)id;
    if (!followed(run, tgid)) return 0;
    long nr = (long)ctx[1];
    if (nr < 0 || nr >= ROPROF_NCALLS) return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    bool compat = (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) != 0;
    u32 slot = (compat ? ROPROF_NCALLS : 0) + (u32)nr;
    u32 counted = run * ROPROF_NARCH * ROPROF_NCALLS + slot;
    u64 *count = bpf_map_lookup_elem(&counts, &counted);
    if (count) *count += 1;
    struct roprof_desc *d = bpf_map_lookup_elem(&descs, &slot);
    if (!d || d->flags == 0) return 0;

    struct inflight f = {};
    read_args((struct pt_regs *)ctx[0], compat, f.args);
    f.slot = slot;
    f.run = run;
    if (d->flags & ROPROF_D_DANGER) {
        u64 key = (u64)tgid << 32 | (u64)slot;
        u8 one = 1;
        if (bpf_map_update_elem(&dangers, &key, &one, BPF_NOEXIST) == 0) {
            struct roprof_ev_call ev = {};
            ev.h.type = ROPROF_EV_CALL;
            ev.h.tid = tid; ev.h.tgid = tgid;
            ev.nr = nr; ev.arch = compat; ev.aux = 0xffffffff;  /* a sighting, not a result */
            ev.h.size = sizeof(ev);
            output(run, &ev, sizeof(ev), 0);
        }
    }
    if (!(d->flags & ROPROF_D_TRACE)) return 0;
    if (d->filter_arg >= 0 && d->filter_arg < 6 && !(f.args[d->filter_arg & 7] & d->filter_mask)) return 0;
    switch (d->special) {
    case ROPROF_SP_OPENAT2: {
        u64 how = 0;
        bpf_probe_read_user(&how, sizeof(how), (void *)f.args[2]);
        if (!(how & O_WRITE_MASK)) return 0;
        f.aux = (u32)how;
        break;
    }
    case ROPROF_SP_MMAP:
        if (!(f.args[2] & PROT_WRITE) || !(f.args[3] & MAP_SHARED) || (long)f.args[4] < 0) return 0;
        break;
    case ROPROF_SP_PRCTL:
        if (f.args[0] != 22 /* PR_SET_SECCOMP */) return 0;
        break;
    }
    if (bpf_map_update_elem(&calls, &tid, &f, BPF_ANY) != 0) bump(run, ROPROF_STAT_INFLIGHT_FULL);
    return 0;
}

SEC("tp_btf/sys_exit")
int on_sys_exit(u64 *ctx) {
    u32 run = run_of(ctx);
    if (run >= ROPROF_RUNS) return 0;
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct inflight *f = bpf_map_lookup_elem(&calls, &tid);
    if (!f || f->run != run) return 0;
    u32 key = 0;
    struct scratch *s = bpf_map_lookup_elem(&scratch, &key);
    struct roprof_desc *d = bpf_map_lookup_elem(&descs, &f->slot);
    if (!s || !d) { bpf_map_delete_elem(&calls, &tid); return 0; }
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    __builtin_memset(&s->hdr, 0, sizeof(s->hdr));
    s->hdr.h.type = ROPROF_EV_CALL;
    s->hdr.h.tid = tid;
    s->hdr.h.tgid = id >> 32;
    s->hdr.ret = (long)ctx[1];
    s->hdr.nr = f->slot % ROPROF_NCALLS;
    s->hdr.arch = f->slot / ROPROF_NCALLS;
    s->hdr.aux = f->aux;
    s->hdr.fsuid = BPF_CORE_READ(task, cred, fsuid.val);
    for (int i = 0; i < 6; i++) s->hdr.args[i] = f->args[i];
    u32 cur = 0;
    long first[2] = {0, 0};
    /* A successful open: the file the kernel opened, symlinks followed (as /proc/PID/fd shows it),
     * and whether this open created it. An O_TMPFILE has no name yet: its directory is used. */
    if ((d->special == ROPROF_SP_OPEN || d->special == ROPROF_SP_OPENAT2) && s->hdr.ret >= 0) {
        struct file *file = fd_file(task, s->hdr.ret);
        if (file && !(BPF_CORE_READ(file, f_flags) & O_TMPFILE_BIT)) {
            u16 flags = 0;
            u32 n = walk_long(0, 0, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), &flags, ROPROF_DATA - 2 * NAME_MAX_Z);
            s->hdr.len[2] = n;
            s->hdr.walk[2] = flags;
            s->hdr.fd_mode = BPF_CORE_READ(file, f_mode);
            bpf_map_delete_elem(&calls, &tid);
            emit(run, s, sizeof(struct roprof_ev_call) + (u64)n);
            return 0;
        }
    }
    /* Slots 0 and 1: the raw path arguments (or a sockaddr / a queue name). */
    for (int i = 0; i < 2; i++) {
        int arg = d->path[i];
        if (arg < 0 || arg > 5) continue;
        u64 ptr = s->hdr.args[arg & 7];
        if (d->special == ROPROF_SP_UTIMENSAT && ptr == 0) continue;
        long n;
        if (d->special == ROPROF_SP_BIND) {
            u64 len = s->hdr.args[2];
            if (len > 110) len = 110;
            if (len < 3) continue;
            n = bpf_probe_read_user(s->data, len & 127, (void *)ptr) == 0 ? (long)(len & 127) : 0;
            first[i] = s->data[2];
        } else {
            n = bpf_probe_read_user_str(s->data + (cur & (ROPROF_DATA - 1)), ROPROF_SLOT, (void *)ptr);
            if (n >= ROPROF_SLOT) s->hdr.walk[i & 1] = ROPROF_RAW_TOO_LONG;
            if (n > 0) { first[i] = s->data[cur & (ROPROF_DATA - 1)]; n -= 1; }
            else { n = 0; first[i] = -1; s->hdr.walk[i & 1] = ROPROF_RAW_UNREADABLE; }
        }
        s->hdr.len[i & 1] = n;
        cur += n;
        if (cur > ROPROF_DATA - ROPROF_SLOT) cur = ROPROF_DATA - ROPROF_SLOT;
    }
    /* Slots 2 and 3: where a relative path starts, or the file of an fd operation. */
    if (d->special != ROPROF_SP_RAW) {
        for (int i = 0; i < 2; i++) {
            int arg = d->path[i];
            if (arg < 0 || arg > 5) continue;
            if (d->special == ROPROF_SP_UTIMENSAT && s->hdr.args[1] == 0) continue;
            if (first[i] == '/' || first[i] == -1) continue;
            long dirfd = AT_FDCWD;
            if (d->special != ROPROF_SP_BIND && d->dirfd[i] >= 0 && d->dirfd[i] < 6) dirfd = (int)s->hdr.args[d->dirfd[i] & 7];
            cur += walk_base(s, cur, task, dirfd, 2 + i);
            if (cur > ROPROF_DATA - ROPROF_SLOT) cur = ROPROF_DATA - ROPROF_SLOT;
        }
    }
    long fdarg = -1;
    if (d->fd >= 0 && d->fd < 6) fdarg = d->fd;
    if (d->special == ROPROF_SP_UTIMENSAT && s->hdr.args[1] == 0) fdarg = 0;
    if (fdarg >= 0) {
        struct file *file = fd_file(task, (int)s->hdr.args[fdarg & 7]);
        unsigned short mode = file ? BPF_CORE_READ(file, f_inode, i_mode) : 0;
        if ((d->flags & ROPROF_D_REGULAR) && (mode & 0170000) != 0100000) { bpf_map_delete_elem(&calls, &tid); return 0; }
        if (file) {
            u16 flags = 0;
            u32 n = walk_in(0, cur, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), &flags);
            s->hdr.len[2] = n;
            s->hdr.walk[2] = flags;
            s->hdr.fd_mode = mode;
            cur += n;
        }
    }
    bpf_map_delete_elem(&calls, &tid);
    emit(run, s, sizeof(struct roprof_ev_call) + (u64)cur);
    return 0;
}

SEC("tp_btf/sched_process_fork")
int on_fork(u64 *ctx) {
    u32 run = run_of(ctx);
    if (run >= ROPROF_RUNS) return 0;
    struct task_struct *parent = (struct task_struct *)ctx[0];
    struct task_struct *child = (struct task_struct *)ctx[1];
    u32 ptgid = BPF_CORE_READ(parent, tgid);
    u32 *pv = bpf_map_lookup_elem(&tracked, &ptgid);
    if (!pv || RUN(*pv) != run) return 0;
    u32 state = *pv;
    u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);
    if (pid != tgid) return 0;  /* a thread: its process is already followed */
    if (bpf_map_update_elem(&tracked, &tgid, &state, BPF_ANY) != 0) { bump(run, ROPROF_STAT_TRACKED_FULL); return 0; }
    if (STATE(state) != FOLLOW_RECORD) return 0;
    struct roprof_ev_fork ev = {};
    ev.h.type = ROPROF_EV_FORK;
    ev.h.size = sizeof(ev);
    ev.h.tid = pid;
    ev.h.tgid = tgid;
    ev.ppid = BPF_CORE_READ(child, real_parent, tgid);
    output(run, &ev, sizeof(ev), 0);
    return 0;
}

SEC("tp_btf/sched_process_exec")
int on_exec(u64 *ctx) {
    u32 run = run_of(ctx);
    if (run >= ROPROF_RUNS) return 0;
    struct task_struct *task = (struct task_struct *)ctx[0];
    u32 tgid = BPF_CORE_READ(task, tgid);
    u32 *v = bpf_map_lookup_elem(&tracked, &tgid);
    if (!v || RUN(*v) != run) return 0;
    if (STATE(*v) != FOLLOW_RECORD) {
        /* A process followed but not yet recorded starts being recorded at its exec: the launched
         * command at its own program (not roprof's launcher before it), and in start mode the
         * container's first program (an exec in another mount namespace than roprof's, HOSTNS). */
        u64 hostns = cfg(run, ROPROF_CFG_HOSTNS);
        if (hostns != 0 && BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == (u32)hostns) return 0;
        *v = FOLLOW_RECORD | run << 8;
    }
    struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
    u32 key = 1;
    struct scratch *s = bpf_map_lookup_elem(&scratch, &key);
    if (!s) return 0;
    struct roprof_ev_exec *ev = (struct roprof_ev_exec *)&s->hdr;
    ev->h.type = ROPROF_EV_EXEC;
    ev->h.tid = BPF_CORE_READ(task, pid);
    ev->h.tgid = tgid;
    ev->old_pid = (u32)ctx[1];
    ev->uid = BPF_CORE_READ(task, cred, euid.val);
    ev->gid = BPF_CORE_READ(task, cred, egid.val);
    u16 flags = 0;
    struct file *file = BPF_CORE_READ(bprm, file);
    u32 n = walk_in(1, 0, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), &flags);
    ev->exe_len = n;
    ev->exe_walk = flags;
    unsigned long start = BPF_CORE_READ(task, mm, arg_start), end = BPF_CORE_READ(task, mm, arg_end);
    u64 len = end > start ? end - start : 0;
    if (len > ROPROF_SLOT - 1) len = ROPROF_SLOT - 1;
    n &= ROPROF_SLOT - 1;
    if (len > 0 && bpf_probe_read_user(s->data + n, len & (ROPROF_SLOT - 1), (void *)start) == 0) ev->argv_len = len;
    else ev->argv_len = 0;
    emit(run, s, sizeof(struct roprof_ev_call) + n + (ev->argv_len & (ROPROF_SLOT - 1)));
    return 0;
}

SEC("tp_btf/sched_process_exit")
int on_exit(u64 *ctx) {
    u32 run = run_of(ctx);
    if (run >= ROPROF_RUNS) return 0;
    struct task_struct *task = (struct task_struct *)ctx[0];
    u32 tgid = BPF_CORE_READ(task, tgid), tid = BPF_CORE_READ(task, pid);
    u32 *v = bpf_map_lookup_elem(&tracked, &tgid);
    if (!v || RUN(*v) != run) return 0;
    bpf_map_delete_elem(&calls, &tid);
    if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;  /* other threads live on */
    u32 state = *v;
    bpf_map_delete_elem(&tracked, &tgid);
    if (STATE(state) != FOLLOW_RECORD) return 0;
    struct roprof_ev_exit ev = {};
    ev.h.type = ROPROF_EV_EXIT;
    ev.h.size = sizeof(ev);
    ev.h.tid = tid;
    ev.h.tgid = tgid;
    ev.code = BPF_CORE_READ(task, exit_code);
    output(run, &ev, sizeof(ev), 0);
    return 0;
}
