/* The kernel types the probe reads, declared with only the fields it uses. CO-RE: every access is
 * relocated against the running kernel's BTF at load time, so these need not match any one kernel's
 * layout (no vmlinux.h is generated or committed). */
#pragma once

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __s8 s8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

enum bpf_map_type {
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_CGROUP_ARRAY = 8,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
    BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0, BPF_NOEXIST = 1 };
enum { BPF_F_NO_PREALLOC = 1 };
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

struct bpf_raw_tracepoint_args { __u64 args[0]; };

#define __pra __attribute__((preserve_access_index))

struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __pra;

typedef struct { int counter; } atomic_t;
struct qstr { union { struct { u32 hash; u32 len; }; u64 hash_len; }; const unsigned char *name; } __pra;
struct inode { unsigned short i_mode; long long i_size; } __pra;
struct hlist_bl_node { struct hlist_bl_node *next, **pprev; } __pra;
struct dentry {
    struct hlist_bl_node d_hash;
    struct dentry *d_parent;
    struct qstr d_name;
    struct inode *d_inode;
} __pra;
struct vfsmount { struct dentry *mnt_root; } __pra;
struct mount { struct mount *mnt_parent; struct dentry *mnt_mountpoint; struct vfsmount mnt; } __pra;
struct path { struct vfsmount *mnt; struct dentry *dentry; } __pra;
struct file { struct path f_path; struct inode *f_inode; unsigned int f_flags; unsigned int f_mode; } __pra;
struct fdtable { unsigned int max_fds; struct file **fd; } __pra;
struct files_struct { struct fdtable *fdt; } __pra;
struct fs_struct { struct path root; struct path pwd; } __pra;
struct signal_struct { atomic_t live; } __pra;
struct mm_struct { unsigned long arg_start; unsigned long arg_end; } __pra;
struct kuid_t_ { u32 val; };
typedef struct { u32 val; } kuid_t;
typedef struct { u32 val; } kgid_t;
struct cred { kuid_t euid; kgid_t egid; kuid_t fsuid; } __pra;
struct ns_common { unsigned int inum; } __pra;
struct mnt_namespace { struct ns_common ns; } __pra;
struct nsproxy { struct mnt_namespace *mnt_ns; } __pra;
struct thread_info { u32 status; } __pra;
struct task_struct {
    struct thread_info thread_info;
    int pid;
    int tgid;
    int exit_code;
    struct task_struct *real_parent;
    struct fs_struct *fs;
    struct files_struct *files;
    struct signal_struct *signal;
    struct mm_struct *mm;
    struct cred *cred;
    struct nsproxy *nsproxy;
} __pra;
struct linux_binprm { struct file *file; const char *filename; } __pra;
