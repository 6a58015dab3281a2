import Seccomp
import TraceModel

/// How to decode a syscall that can change the filesystem (or what paths mean). Argument indexes
/// by name; numbers come from libseccomp per architecture.
enum MutatingCall {
    /// open / openat / creat: `flags` nil means creat's O_CREAT|O_WRONLY|O_TRUNC.
    case open(dirfd: Int?, path: Int, flags: Int?)
    case openat2
    case openByHandle
    /// A path operation with an optional dirfd; `atFlags` is the index of an AT_* flags argument.
    case pathOp(FileOperation, dirfd: Int?, path: Int, atFlags: Int?)
    case unlinkat
    case rename(oldDirfd: Int?, old: Int, newDirfd: Int?, new: Int, flags: Int?)
    case link(oldDirfd: Int?, old: Int, newDirfd: Int?, new: Int, flags: Int?)
    /// An operation on an open fd.
    case fdOp(FileOperation, fd: Int)
    /// A copy into an fd (copy_file_range, sendfile, splice): recorded only when it is a regular file.
    case copyInto(fd: Int)
    case utimensat
    case bind
    case mqOpen
    case mqUnlink
    case ioctlClone
    case mmap
    /// io_uring_setup / io_setup: denied with ENOSYS so the app falls back to plain syscalls.
    case denyAsync(BlindSpot.Kind)
    case clone
    case clone3
    case ptrace
    /// seccomp(SET_MODE_FILTER) / prctl(PR_SET_SECCOMP): the app's own filter outranks roprof's.
    case appSeccomp
    /// chroot, pivot_root, mount-family, unshare, setns: the meaning of paths may change.
    case namespace(pathArg: Int?)

    /// Whether the tracer needs the syscall-exit stop (the result) for this call.
    var needsResult: Bool {
        switch self {
        case .clone, .clone3: return false
        default: return true
        }
    }

    static let catalog: [String: MutatingCall] = [
        "open": .open(dirfd: nil, path: 0, flags: 1),
        "openat": .open(dirfd: 0, path: 1, flags: 2),
        "creat": .open(dirfd: nil, path: 0, flags: nil),
        "openat2": .openat2,
        "open_by_handle_at": .openByHandle,
        "mkdir": .pathOp(.mkdir, dirfd: nil, path: 0, atFlags: nil),
        "mkdirat": .pathOp(.mkdir, dirfd: 0, path: 1, atFlags: nil),
        "mknod": .pathOp(.mknod, dirfd: nil, path: 0, atFlags: nil),
        "mknodat": .pathOp(.mknod, dirfd: 0, path: 1, atFlags: nil),
        "rename": .rename(oldDirfd: nil, old: 0, newDirfd: nil, new: 1, flags: nil),
        "renameat": .rename(oldDirfd: 0, old: 1, newDirfd: 2, new: 3, flags: nil),
        "renameat2": .rename(oldDirfd: 0, old: 1, newDirfd: 2, new: 3, flags: 4),
        "link": .link(oldDirfd: nil, old: 0, newDirfd: nil, new: 1, flags: nil),
        "linkat": .link(oldDirfd: 0, old: 1, newDirfd: 2, new: 3, flags: 4),
        "symlink": .pathOp(.symlink, dirfd: nil, path: 1, atFlags: nil),
        "symlinkat": .pathOp(.symlink, dirfd: 1, path: 2, atFlags: nil),
        "unlink": .pathOp(.unlink, dirfd: nil, path: 0, atFlags: nil),
        "unlinkat": .unlinkat,
        "rmdir": .pathOp(.rmdir, dirfd: nil, path: 0, atFlags: nil),
        "truncate": .pathOp(.truncate, dirfd: nil, path: 0, atFlags: nil),
        "truncate64": .pathOp(.truncate, dirfd: nil, path: 0, atFlags: nil),
        "ftruncate": .fdOp(.truncate, fd: 0),
        "ftruncate64": .fdOp(.truncate, fd: 0),
        "chmod": .pathOp(.chmod, dirfd: nil, path: 0, atFlags: nil),
        "fchmod": .fdOp(.chmod, fd: 0),
        "fchmodat": .pathOp(.chmod, dirfd: 0, path: 1, atFlags: nil),
        "fchmodat2": .pathOp(.chmod, dirfd: 0, path: 1, atFlags: 3),
        "chown": .pathOp(.chown, dirfd: nil, path: 0, atFlags: nil),
        "lchown": .pathOp(.chown, dirfd: nil, path: 0, atFlags: nil),
        "chown32": .pathOp(.chown, dirfd: nil, path: 0, atFlags: nil),
        "lchown32": .pathOp(.chown, dirfd: nil, path: 0, atFlags: nil),
        "fchown": .fdOp(.chown, fd: 0),
        "fchown32": .fdOp(.chown, fd: 0),
        "fchownat": .pathOp(.chown, dirfd: 0, path: 1, atFlags: 4),
        "utime": .pathOp(.utimes, dirfd: nil, path: 0, atFlags: nil),
        "utimes": .pathOp(.utimes, dirfd: nil, path: 0, atFlags: nil),
        "futimesat": .pathOp(.utimes, dirfd: 0, path: 1, atFlags: nil),
        "utimensat": .utimensat,
        "setxattr": .pathOp(.xattr, dirfd: nil, path: 0, atFlags: nil),
        "lsetxattr": .pathOp(.xattr, dirfd: nil, path: 0, atFlags: nil),
        "removexattr": .pathOp(.xattr, dirfd: nil, path: 0, atFlags: nil),
        "lremovexattr": .pathOp(.xattr, dirfd: nil, path: 0, atFlags: nil),
        "setxattrat": .pathOp(.xattr, dirfd: 0, path: 1, atFlags: 2),
        "removexattrat": .pathOp(.xattr, dirfd: 0, path: 1, atFlags: 2),
        "fsetxattr": .fdOp(.xattr, fd: 0),
        "fremovexattr": .fdOp(.xattr, fd: 0),
        "fallocate": .fdOp(.fallocate, fd: 0),
        "fsync": .fdOp(.sync, fd: 0),
        "fdatasync": .fdOp(.sync, fd: 0),
        "sync_file_range": .fdOp(.sync, fd: 0),
        "copy_file_range": .copyInto(fd: 2),
        "sendfile": .copyInto(fd: 0),
        "sendfile64": .copyInto(fd: 0),
        "splice": .copyInto(fd: 2),
        "ioctl": .ioctlClone,
        "mmap": .mmap,
        "mmap2": .mmap,
        "bind": .bind,
        "mq_open": .mqOpen,
        "mq_unlink": .mqUnlink,
        "io_uring_setup": .denyAsync(.ioUring),
        "io_setup": .denyAsync(.linuxAIO),
        "clone": .clone,
        "clone3": .clone3,
        "ptrace": .ptrace,
        "seccomp": .appSeccomp,
        "prctl": .appSeccomp,
        "chroot": .namespace(pathArg: 0),
        "pivot_root": .namespace(pathArg: 0),
        "mount": .namespace(pathArg: 1),
        "umount2": .namespace(pathArg: 0),
        "move_mount": .namespace(pathArg: nil),
        "fsmount": .namespace(pathArg: nil),
        "unshare": .namespace(pathArg: nil),
        "setns": .namespace(pathArg: nil),
    ]
}

/// Flag values (generic Linux ABI, identical on x86 and arm families).
enum LinuxFlag {
    static let oWronly: UInt64 = 0o1, oRdwr: UInt64 = 0o2, oCreat: UInt64 = 0o100, oExcl: UInt64 = 0o200
    static let oTrunc: UInt64 = 0o1000, oAppend: UInt64 = 0o2000, oTmpfileBit: UInt64 = 0o20000000
    static let oDirectory: UInt64 = 0o200000
    static let oDsync: UInt64 = 0o10000, oSyncBit: UInt64 = 0o4000000  // O_SYNC = oSyncBit | oDsync
    static let writeMask: UInt64 = oWronly | oRdwr | oCreat | oTrunc | oTmpfileBit
    static let atFdcwd: Int32 = -100
    static let atRemovedir: UInt64 = 0x200
    static let atEmptyPath: UInt64 = 0x1000
    static let renameNoreplace: UInt64 = 1, renameExchange: UInt64 = 2, renameWhiteout: UInt64 = 4
    static let protWrite: UInt64 = 0x2
    static let mapShared: UInt64 = 0x1
    static let cloneUntraced: UInt64 = 0x0080_0000
    static let ficlone: UInt64 = 0x4004_9409
    static let ficlonerange: UInt64 = 0x4020_940d
    static let fideduperange: UInt64 = 0xc018_9436
    static let cloneNewNS: UInt64 = 0x0002_0000

    static func openFlagNames(_ f: UInt64) -> [String] {
        var out: [String] = []
        switch f & 3 { case 1: out.append("O_WRONLY"); case 2: out.append("O_RDWR"); default: out.append("O_RDONLY") }
        if f & oTmpfileBit != 0 { out.append("O_TMPFILE") }
        else if f & oDirectory != 0 { out.append("O_DIRECTORY") }
        if f & oCreat != 0 { out.append("O_CREAT") }
        if f & oExcl != 0 { out.append("O_EXCL") }
        if f & oTrunc != 0 { out.append("O_TRUNC") }
        if f & oAppend != 0 { out.append("O_APPEND") }
        if f & oSyncBit != 0 { out.append("O_SYNC") } else if f & oDsync != 0 { out.append("O_DSYNC") }
        return out
    }
}
