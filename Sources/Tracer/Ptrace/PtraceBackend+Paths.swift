import Glibc
import TraceModel

extension PtraceBackend {
    /// Resolves a path argument at syscall entry against the thread's cwd or a dirfd, as the tracee
    /// sees it. `..` is never folded textually; an unreadable pointer or base is "unresolved", never dropped.
    func resolve(_ t: Tracee, dirfd: Int32?, pathPtr: UInt64, allowEmpty: Bool = false) -> TracedPath {
        let root = t.process.root
        guard let (raw, truncated) = TraceeMemory.readCString(pid: t.tid, at: pathPtr) else {
            return TracedPath(bytes: Array("<unreadable>".utf8), root: root,
                              unresolved: pathPtr == 0 ? "NULL path pointer" : "path pointer 0x\(String(pathPtr, radix: 16)) unreadable (EFAULT)")
        }
        if truncated {
            return TracedPath(bytes: raw, root: root, unresolved: "path longer than PATH_MAX (the kernel rejects it with ENAMETOOLONG)")
        }
        if raw.first == UInt8(ascii: "/") { return TracedPath(bytes: PathText.tidy(raw), root: root) }
        if raw.isEmpty && !allowEmpty {
            return TracedPath(bytes: [], root: root, unresolved: "empty path (the kernel rejects it with ENOENT)")
        }
        let fd = dirfd ?? LinuxFlag.atFdcwd
        let basePath = fd == LinuxFlag.atFdcwd ? "/proc/\(t.process.pid)/task/\(t.tid)/cwd" : "/proc/\(t.process.pid)/fd/\(fd)"
        guard var base = ProcFS.readlinkBytes(basePath) ?? (fd == LinuxFlag.atFdcwd ? ProcFS.readlinkBytes("/proc/\(t.tid)/cwd") : nil) else {
            let e = errno
            let what = fd == LinuxFlag.atFdcwd ? "the working directory" : "dirfd \(fd)"
            return TracedPath(bytes: raw, root: root, unresolved: "\(what) could not be read (\(ErrnoName.name(e)))")
        }
        base = PathText.stripRoot(base, root)
        return TracedPath(bytes: PathText.join(base, raw), root: root)
    }

    static let deletedSuffix = Array(" (deleted)".utf8)
    /// Whether an fd's link names a file that no longer has that name (" (deleted)").
    static func isDeleted(_ raw: [UInt8]) -> Bool {
        raw.count > deletedSuffix.count && raw.suffix(deletedSuffix.count).elementsEqual(deletedSuffix)
    }
    static let memfdPrefix = Array("/memfd:".utf8)

    /// The target of a tracee fd, if it is a filesystem path (not a pipe, socket or anon inode).
    func fdTarget(_ t: Tracee, _ fd: Int32) -> String? {
        guard fd >= 0, let raw = ProcFS.readlinkBytes("/proc/\(t.process.pid)/fd/\(fd)") else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }

    func fdPath(_ t: Tracee, _ fd: Int32, regularOnly: Bool = false) -> TracedPath? {
        guard fd >= 0, var raw = ProcFS.readlinkBytes("/proc/\(t.process.pid)/fd/\(fd)"), raw.first == UInt8(ascii: "/") else { return nil }
        if Self.isDeleted(raw) { return nil }
        if raw.starts(with: Self.memfdPrefix) { return nil }
        if regularOnly {
            var st = stat()
            guard stat("/proc/\(t.process.pid)/fd/\(fd)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        }
        raw = PathText.stripRoot(raw, t.process.root)
        return TracedPath(bytes: raw, root: t.process.root)
    }

    func fdSize(_ t: Tracee, _ fd: Int32) -> Int? {
        var st = stat()
        guard stat("/proc/\(t.process.pid)/fd/\(fd)", &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// The path in the tracer's view (prefixed with the tracee's root when it is chrooted).
    func hostView(_ p: TracedPath) -> [CChar] {
        var bytes = p.bytes
        if let r = p.root, r != "/" { bytes = Array(r.utf8) + bytes }
        return bytes.map { CChar(bitPattern: $0) } + [0]
    }

    func lstatExists(_ p: TracedPath) -> Bool {
        var st = stat()
        return lstat(hostView(p), &st) == 0
    }

    func sizeOf(_ p: TracedPath) -> Int? {
        guard p.unresolved == nil else { return nil }
        var st = stat()
        guard lstat(hostView(p), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }

    /// A path given by value (an AF_UNIX socket name) resolved against the thread's working directory.
    func resolveRelative(_ t: Tracee, _ path: [UInt8]) -> TracedPath {
        if path.first == UInt8(ascii: "/") { return TracedPath(bytes: PathText.tidy(path), root: t.process.root) }
        guard let base = ProcFS.readlinkBytes("/proc/\(t.process.pid)/task/\(t.tid)/cwd") else {
            return TracedPath(bytes: path, root: t.process.root, unresolved: "the working directory could not be read")
        }
        return TracedPath(bytes: PathText.join(PathText.stripRoot(base, t.process.root), path), root: t.process.root)
    }
}
