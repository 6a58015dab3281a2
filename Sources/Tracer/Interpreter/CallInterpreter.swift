import Glibc
import Seccomp
import TraceModel

/// Which backend fetched a call: the interpreter words what each one cannot see.
enum BackendKind: String {
    case ptrace, ebpf
}

/// What a backend fetched of one call that can change the filesystem (or what paths mean): its
/// arguments, its path arguments resolved as the process meant them, the files behind its fds, and
/// its result. Backends only fetch; `CallInterpreter` decides what the call did.
struct CallFacts {
    var name: String
    var call: MutatingCall
    /// The six raw argument registers.
    var args: [UInt64]
    /// The path arguments in order (the old, then the new name of a rename or link), resolved.
    var paths: [TracedPath] = []
    /// The named file behind the call's fd argument; nil for a pipe, socket, memfd or deleted file
    /// (and for a file that is not regular where the call needs one).
    var fdFile: TracedPath?
    /// opens: the file behind the returned fd, the kernel's own name for what was opened.
    var opened: TracedPath?
    /// opens: the flags (open/openat/creat from a register, openat2 from its struct).
    var openFlags: UInt64 = 0
    /// O_CREAT opens: whether the path existed before the call, when the backend could tell.
    var existed: Bool?
    /// The size of the file a call removes or renames (ptrace stats it at entry), or of the unnamed
    /// file a link names.
    var bytes: Int?
    /// link: the old name is an open unnamed file (O_TMPFILE named with AT_EMPTY_PATH or /proc/self/fd/N).
    var namesUnnamedFile = false
    /// chmod, and utimes with explicit times: the file belonged to another user than the caller at
    /// entry (ptrace stats it), which takes CAP_FOWNER (root included once capabilities are dropped).
    var notOwner = false
    /// bind: the socket address as the process passed it.
    var sockaddr: [UInt8]?
    /// mq_open / mq_unlink: the queue name as the process passed it.
    var rawName: [UInt8]?
    /// The backend made the call fail on purpose (ptrace denies io_uring/AIO with ENOSYS while recording).
    var deniedByTracer = false
    /// chroot: the new root as the backend read it (ptrace: /proc/PID/root after the call).
    var newRoot: String??
    /// nil: success.
    var errno: Int32?
    /// false: the process died inside the call, so its outcome is unknown.
    var outcomeKnown = true

    init(name: String, call: MutatingCall, args: [UInt64]) {
        self.name = name; self.call = call; self.args = args
    }

    func arg(_ i: Int) -> UInt64 { i < args.count ? args[i] : 0 }
}

/// The one interpreter of calls for both backends: from a call's facts to recording items (a path,
/// the operation on it, its flags) and blind spots. Rename flags, links naming O_TMPFILE files,
/// utimensat on an fd, message queues, bind ports, namespace changes: decided here, once.
struct CallInterpreter {
    let backend: BackendKind
    let builder: RecordingBuilder

    /// Whether a call can change anything, from its raw arguments alone: the filter the ptrace
    /// backend applies at entry (the eBPF probe applies the same one in the kernel, from the
    /// descriptors `EBPFBackend.descriptor` derives from the same catalog).
    static func matters(_ call: MutatingCall, name: String, args: [UInt64]) -> Bool {
        func a(_ i: Int) -> UInt64 { i < args.count ? args[i] : 0 }
        switch call {
        case .open(_, _, let flagsIndex):
            guard let f = flagsIndex else { return true }  // creat
            return a(f) & 0xffff_ffff & LinuxFlag.writeMask != 0
        case .openByHandle: return a(2) & 0xffff_ffff & LinuxFlag.writeMask != 0
        case .mqOpen: return a(1) & LinuxFlag.oCreat != 0
        case .ioctlClone:
            let req = a(1) & 0xffff_ffff
            return req == LinuxFlag.ficlone || req == LinuxFlag.ficlonerange || req == LinuxFlag.fideduperange
        case .mmap: return Int32(truncatingIfNeeded: a(4)) >= 0 && a(2) & LinuxFlag.protWrite != 0 && a(3) & LinuxFlag.mapShared != 0
        case .appSeccomp: return name == "seccomp" ? a(0) == 1 : (a(0) == 22 && a(1) == 2)
        case .namespace: return name != "unshare" || a(0) & LinuxFlag.cloneNewNS != 0
        case .clone, .clone3: return false
        default: return true
        }
    }

    /// What an open did to its path, from its flags, whether the path existed before, and its errno.
    static func openOperation(_ flags: UInt64, existed: Bool?, errno err: Int32?) -> FileOperation {
        if flags & LinuxFlag.oTmpfileBit != 0 { return .tmpfile }
        if flags & LinuxFlag.oCreat != 0 && existed != true && err != EEXIST { return .create }
        if flags & LinuxFlag.oTrunc != 0 { return .truncate }
        return .write
    }

    static func renameFlagNames(_ flags: UInt64) -> [String] {
        var names: [String] = []
        if flags & LinuxFlag.renameNoreplace != 0 { names.append("RENAME_NOREPLACE") }
        if flags & LinuxFlag.renameExchange != 0 { names.append("RENAME_EXCHANGE") }
        if flags & LinuxFlag.renameWhiteout != 0 { names.append("RENAME_WHITEOUT") }
        return names
    }

    /// The filesystem name of an AF_UNIX address (nil for abstract and autobind addresses, and for
    /// other families), and the port of an AF_INET/AF_INET6 one.
    static func socketAddress(_ addr: [UInt8]) -> (unixPath: [UInt8]?, port: Int?) {
        guard addr.count > 2 else { return (nil, nil) }
        let family = UInt16(addr[0]) | UInt16(addr[1]) << 8
        if family == 2 || family == 10 {
            return (nil, addr.count >= 4 ? Int(addr[2]) << 8 | Int(addr[3]) : nil)  // network byte order
        }
        guard family == 1, addr[2] != 0 else { return (nil, nil) }
        var path = Array(addr[2...])
        if let nul = path.firstIndex(of: 0) { path = Array(path[..<nul]) }
        return (path, nil)
    }

    /// Records what the call did. The paths of `facts` are already resolved by the backend.
    func interpret(_ f: CallFacts, process proc: ProcessState) {
        let err = f.errno
        let name = f.name
        var items: [(path: TracedPath, op: FileOperation, flags: [String], existed: Bool?, bytes: Int?)] = []
        func item(_ p: TracedPath, _ op: FileOperation, _ flags: [String] = [], existed: Bool? = nil, bytes: Int? = nil) {
            items.append((p, op, flags, existed, bytes))
        }
        switch f.call {
        case .open, .openat2, .openByHandle:
            let flags = f.openFlags
            guard let path = (err == nil && flags & LinuxFlag.oTmpfileBit == 0 ? f.opened : nil) ?? f.paths.first else { return }
            var existed = f.existed
            if existed == nil && flags & LinuxFlag.oCreat != 0 && flags & LinuxFlag.oExcl != 0 {
                existed = err == nil ? false : (err == EEXIST ? true : nil)  // O_EXCL answers it
            }
            item(path, Self.openOperation(flags, existed: existed, errno: err), builder.openFlagNames(flags), existed: existed)
        case .pathOp(let op, _, _, _):
            guard let p = f.paths.first else { return }
            item(p, op, f.notOwner ? ["not-owner"] : [], bytes: op == .unlink ? f.bytes : nil)
        case .unlinkat:
            guard let p = f.paths.first else { return }
            let rmdir = f.arg(2) & LinuxFlag.atRemovedir != 0
            item(p, rmdir ? .rmdir : .unlink, bytes: rmdir ? nil : f.bytes)
        case .rename(_, _, _, _, let flagsIndex):
            guard f.paths.count == 2 else { return }
            let flags = flagsIndex.map { f.arg($0) } ?? 0
            let names = Self.renameFlagNames(flags)
            if flags & LinuxFlag.renameExchange != 0 {
                item(f.paths[0], .exchange, names)
                item(f.paths[1], .exchange, names)
            } else {
                item(f.paths[0], flags & LinuxFlag.renameWhiteout != 0 ? .whiteout : .renameFrom, names)
                item(f.paths[1], .renameTo, names, bytes: f.bytes)
            }
        case .link:
            guard let new = f.paths.last else { return }
            if f.namesUnnamedFile { item(new, .create, ["O_TMPFILE"], bytes: f.bytes) } else { item(new, .link) }
        case .fdOp(let op, _):
            guard let p = f.fdFile else { return }
            item(p, op, f.notOwner ? ["not-owner"] : [])
        case .copyInto, .ioctlClone:
            guard let p = f.fdFile else { return }
            item(p, .clone)
        case .utimensat:
            guard let p = f.arg(1) == 0 ? f.fdFile : f.paths.first else { return }
            item(p, .utimes, f.notOwner ? ["not-owner"] : [])
        case .bind:
            guard let addr = f.sockaddr else { return }
            let (unixPath, port) = Self.socketAddress(addr)
            if let port {
                if port > 0 && port < 1024 && err == nil { builder.capabilityHint("NET_BIND_SERVICE", process: proc.exe) }
                return
            }
            guard unixPath != nil, let p = f.paths.first else { return }
            item(p, .bind, ["AF_UNIX"])
        case .mqOpen, .mqUnlink:
            guard let raw = f.rawName else { return }
            let queue = raw.first == UInt8(ascii: "/") ? Array(raw.dropFirst()) : raw
            item(TracedPath(bytes: Array("/dev/mqueue/".utf8) + queue, root: proc.root), .mqueue, f.call.isUnlink ? ["mq_unlink"] : ["O_CREAT"])
        case .mmap:
            guard let p = f.fdFile else { return }
            if err == nil {
                builder.blindSpot(.sharedWritableMmap, "\(p.string): written through a shared mapping; marked modified at mmap time", process: proc.exe)
            }
            item(p, .mmapWrite, ["MAP_SHARED", "PROT_WRITE"])
        case .denyAsync(let kind):
            if f.deniedByTracer {
                builder.blindSpot(kind, BlindSpot.deniedWhileRecording(name), process: proc.exe)
            } else if err == nil {
                builder.blindSpot(kind, "\(name) used: the file I/O submitted through it is not seen (record a launched app with --backend ptrace, which makes it fall back to plain syscalls)",
                                  process: proc.exe)
            }
            return
        case .ptrace:
            if let e = err {
                builder.blindSpot(.nestedTracer, "the app called ptrace and got \(ErrnoName.name(e)): a process can have only one tracer (roprof); a debugger or sanitizer in the app cannot attach",
                                  process: proc.exe)
            }
            return
        case .appSeccomp:
            if err == nil && f.outcomeKnown {
                builder.blindSpot(.appSeccomp, "the app installed its own seccomp filter: calls it answers with ERRNO, TRAP or KILL take precedence over roprof's tracing and are not seen",
                                  process: proc.exe)
            }
            return
        case .namespace(let pathArg):
            let target = pathArg != nil ? f.paths.first : nil
            builder.blindSpot(.namespaceChange, "\(name)\(target.map { " " + $0.string } ?? ""): the meaning of paths may change for this process; paths are recorded as it sees them",
                              process: proc.exe)
            if name == "chroot" && err == nil && f.outcomeKnown {
                if let read = f.newRoot {
                    proc.root = read == "/" ? nil : read
                } else if let t = target, t.unresolved == nil {
                    // The new root, from the path the kernel resolved against the old root (the process
                    // may be gone before /proc could be asked).
                    let r = (proc.root ?? "") + t.string
                    proc.root = (r == "/" || r.isEmpty) ? nil : r
                }
            }
            if let t = target { item(t, name == "chroot" ? .chroot : .mount) }
        case .clone, .clone3:
            return
        }
        for i in items {
            // Done as another user by a process recorded as root (it dropped privileges without exec):
            // evidence of what root needs must not count it.
            builder.record(i.path, i.op, syscall: name, flags: proc.droppedRoot ? i.flags + ["dropped-root"] : i.flags, process: proc.exe, pid: proc.pid,
                           errno: err, outcomeKnown: f.outcomeKnown, existedBefore: i.existed, bytes: i.bytes)
        }
        if !f.outcomeKnown && !items.isEmpty {
            builder.blindSpot(.unknownOutcome, "\(name) interrupted when the process died; outcome unknown", process: proc.exe)
        }
        for i in items where i.path.unresolved != nil {
            builder.blindSpot(.unresolvedPath, "\(name) on '\(i.path.string)': \(i.path.unresolved!)", process: proc.exe)
        }
    }
}

extension MutatingCall {
    var isUnlink: Bool { if case .mqUnlink = self { return true }; return false }
}
