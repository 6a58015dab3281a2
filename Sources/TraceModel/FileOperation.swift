/// What a syscall did to a path. The raw values are the stable names used in recordings.
public enum FileOperation: String, Codable, CaseIterable, Comparable, Sendable {
    case create            // a new regular file (open/creat with O_CREAT, O_TMPFILE named by linkat)
    case write             // an existing file opened for writing
    case truncate          // truncate / ftruncate / open with O_TRUNC on an existing file
    case mkdir
    case mknod             // fifos, device nodes
    case renameFrom = "rename-from"
    case renameTo = "rename-to"
    case exchange          // renameat2(RENAME_EXCHANGE): both paths change
    case whiteout          // renameat2(RENAME_WHITEOUT)
    case link              // hard link (including naming an O_TMPFILE)
    case symlink
    case unlink
    case rmdir
    case bind              // AF_UNIX socket file
    case chmod
    case chown
    case utimes
    case xattr
    case fallocate
    case mmapWrite = "mmap-write"  // shared writable mapping: writes bypass syscalls
    case tmpfile           // O_TMPFILE in a directory (anonymous until linked)
    case clone             // FICLONE / copy_file_range / sendfile / splice destination
    case mqueue            // POSIX message queue create / unlink (/dev/mqueue)
    case chroot
    case mount             // mount-family calls: the meaning of paths changes
    case sync              // fsync / fdatasync / sync_file_range: the app wants the data durable (not a write)

    public static func < (a: FileOperation, b: FileOperation) -> Bool { a.rawValue < b.rawValue }

    /// Whether the call acts on what a symlink at the path names (open, truncate, chmod) rather than
    /// on the name itself (creating, replacing or removing a link is a write to the directory
    /// holding the link, never to its target).
    public var followsFinalSymlink: Bool {
        switch self {
        case .mkdir, .mknod, .renameFrom, .renameTo, .exchange, .whiteout, .link, .symlink, .unlink, .rmdir, .bind, .mqueue:
            return false
        default: return true
        }
    }

    /// Operations that leave new or changed content behind (as opposed to removing it).
    public var leavesContent: Bool {
        switch self {
        case .unlink, .rmdir, .renameFrom, .chroot, .mount, .sync: return false
        default: return true
        }
    }
}

/// How much the tracer stops the tracee.
public enum TraceMode: String, Codable, CaseIterable, Sendable {
    /// Stop only on calls that mutate the filesystem (open flags filtered in the kernel).
    case writes
    /// Stop once on every syscall, to build the complete syscall inventory.
    case full
    /// Stop on mutating calls and on syscalls absent from a baseline.
    case check
}
