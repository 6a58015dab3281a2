import Foundation
import Glibc
import Seccomp
import TraceModel

extension TraceSession {
    // MARK: - Stops

    func onSeccompStop(_ t: Tracee) {
        guard Ptrace.syscallInfo(t.tid, into: &infoBuffer) else { resume(t); return }
        let info = SyscallInfo(infoBuffer)
        if Self.debugEvents { FileHandle.standardError.write("roprof-seccomp \(t.tid) op=\(info.op) nr=\(info.nr)\n".data(using: .utf8)!) }
        guard info.op == .seccomp, let arch = SeccompArch.fromAudit(info.arch, nr: info.nr) else { resume(t); return }
        let nr = Int(info.nr & ~0x4000_0000)
        builder.countSyscall(arch: arch, nr: nr)
        if arch != nativeArch && !t.process.compatNoted {
            t.process.compatNoted = true
            builder.blindSpot(.compat32, "\(arch.rawValue) syscalls (int 0x80 / compat) seen; decoded with the \(arch.rawValue) table",
                              process: t.process.exe)
        }
        if nr < 1024, dangerousTables[arch]?[nr] == true {
            builder.dangerousCall(names[arch]?.name(nr) ?? "syscall_\(nr)", process: t.process.exe)
        }
        let retData = UInt16(truncatingIfNeeded: infoBuffer.10)
        if retData == TracePolicy.denyTag {
            let name = names[arch]?.name(nr) ?? "syscall_\(nr)"
            let key = DeniedSyscall(name: name, arch: arch.rawValue, process: t.process.exe)
            denied[key, default: 0] += 1
            if let limit = options.denyStormLimit, denyStorm == nil, denied[key]! >= limit {
                denyStorm = key
                lifecycle.stopApp()
            }
            _ = Ptrace.setSyscallNumber(t.tid, -1)
            t.pending = PendingCall(name: name, arch: arch, call: .namespace(pathArg: nil), forceErrno: EPERM)
            resume(t)
            return
        }
        guard nr < 1024, let call = tables[arch]?[nr] else { resume(t); return }
        let name = names[arch]?.name(nr) ?? "syscall_\(nr)"
        if let pending = decodeEntry(t, info: info, call: call, name: name, arch: arch) {
            if pending.forceErrno != nil { _ = Ptrace.setSyscallNumber(t.tid, -1) }
            if let quiet = options.quietPath, pending.forceErrno == nil, recordQuietly(t, pending, quiet) {
                resume(t)
                return
            }
            if pending.call.needsResult || pending.forceErrno != nil { t.pending = pending }
        }
        resume(t)
    }

    func onSyscallExit(_ t: Tracee) {
        guard var p = t.pending else { resume(t); return }
        guard Ptrace.syscallInfo(t.tid, into: &infoBuffer) else { resume(t); return }
        let info = SyscallInfo(infoBuffer)
        if Self.debugEvents { FileHandle.standardError.write("roprof-exit \(t.tid) op=\(info.op) rval=\(info.rval)\n".data(using: .utf8)!) }
        guard info.op == .exit else { resume(t); return }
        t.pending = nil
        if let e = p.forceErrno {
            _ = Ptrace.setReturnValue(t.tid, -Int(e))
            resume(t)
            return
        }
        let rval = info.rval
        if rval <= -512 && rval >= -516 { resume(t); return }  // ERESTART*: the call runs again
        let err: Int32? = (rval < 0 && rval >= -4095) ? Int32(-rval) : nil
        complete(t, &p, rval: rval, errno: err)
        resume(t)
    }

    /// check mode: when every path of the call is one the baseline allows, record it now and skip the
    /// exit stop. Only plain file calls qualify, and only when the directory holds no symlink (the
    /// exit's /proc/PID/fd confirmation is what would catch a write redirected elsewhere).
    func recordQuietly(_ t: Tracee, _ p: PendingCall, _ quiet: (String) -> Bool) -> Bool {
        switch p.call {
        case .open, .openat2, .pathOp, .unlinkat, .rename, .utimensat, .fdOp: break
        default: return false
        }
        guard !p.items.isEmpty else { return false }
        for item in p.items {
            guard item.path.unresolved == nil, item.path.root == nil else { return false }
            let path = item.path.string
            guard quiet(path), directoryIsPlain(path) else { return false }
        }
        let proc = t.process
        for var item in p.items {
            if let flags = p.openFlags { item.op = Self.openOperation(flags, existed: item.existed, errno: nil) }
            builder.record(item.path, item.op, syscall: p.name, flags: item.flags, process: proc.exe, pid: proc.pid,
                           errno: nil, existedBefore: item.existed, bytes: item.bytes)
        }
        return true
    }

    /// True when the directory part of `path` contains no symlink (cached per directory).
    func directoryIsPlain(_ path: String) -> Bool {
        guard let slash = path.lastIndex(of: "/") else { return false }
        let dir = slash == path.startIndex ? "/" : String(path[..<slash])
        if let known = plainDirectories[dir] { return known }
        var plain = false
        if let real = realpath(dir, nil) {
            plain = String(cString: real) == dir
            free(real)
        }
        if plainDirectories.count > 4096 { plainDirectories.removeAll() }
        plainDirectories[dir] = plain
        return plain
    }

    // MARK: - Entry decoding

    func decodeEntry(_ t: Tracee, info: SyscallInfo, call: MutatingCall, name: String, arch: SeccompArch) -> PendingCall? {
        var p = PendingCall(name: name, arch: arch, call: call)
        func fdArg(_ i: Int) -> Int32? { i < 0 ? nil : info.intArg(i) }
        switch call {
        case .open(let dirfd, let path, let flagsIndex):
            let flags = flagsIndex.map { info.arg($0) & 0xffff_ffff } ?? (LinuxFlag.oCreat | LinuxFlag.oWronly | LinuxFlag.oTrunc)
            guard flags & LinuxFlag.writeMask != 0 else { return nil }
            return decodeOpen(t, &p, dirfd: dirfd.map { info.intArg($0) }, pathPtr: info.arg(path), flags: flags)
        case .openat2:
            guard let flags = TraceeMemory.readUInt64(pid: t.tid, at: info.arg(2)), flags & LinuxFlag.writeMask != 0 else { return nil }
            return decodeOpen(t, &p, dirfd: info.intArg(0), pathPtr: info.arg(1), flags: flags)
        case .openByHandle:
            let flags = info.arg(2) & 0xffff_ffff
            guard flags & LinuxFlag.writeMask != 0 else { return nil }
            p.openFlags = flags
            return p
        case .pathOp(let op, let dirfd, let path, let atFlags):
            let empty = atFlags.map { info.arg($0) & LinuxFlag.atEmptyPath != 0 } ?? false
            var item = PendingCall.Item(path: resolve(t, dirfd: dirfd.map { info.intArg($0) }, pathPtr: info.arg(path), allowEmpty: empty),
                                        op: op, flags: [])
            if op == .unlink { item.bytes = sizeOf(item.path) }
            p.items = [item]
        case .unlinkat:
            let rmdir = info.arg(2) & LinuxFlag.atRemovedir != 0
            var item = PendingCall.Item(path: resolve(t, dirfd: info.intArg(0), pathPtr: info.arg(1)), op: rmdir ? .rmdir : .unlink, flags: [])
            if !rmdir { item.bytes = sizeOf(item.path) }
            p.items = [item]
        case .rename(let od, let o, let nd, let n, let flagsIndex):
            let flags = flagsIndex.map { info.arg($0) } ?? 0
            let old = resolve(t, dirfd: od.map { info.intArg($0) }, pathPtr: info.arg(o))
            let new = resolve(t, dirfd: nd.map { info.intArg($0) }, pathPtr: info.arg(n))
            var names: [String] = []
            if flags & LinuxFlag.renameNoreplace != 0 { names.append("RENAME_NOREPLACE") }
            if flags & LinuxFlag.renameExchange != 0 { names.append("RENAME_EXCHANGE") }
            if flags & LinuxFlag.renameWhiteout != 0 { names.append("RENAME_WHITEOUT") }
            let size = sizeOf(old)
            if flags & LinuxFlag.renameExchange != 0 {
                p.items = [.init(path: old, op: .exchange, flags: names), .init(path: new, op: .exchange, flags: names)]
            } else {
                p.items = [.init(path: old, op: flags & LinuxFlag.renameWhiteout != 0 ? .whiteout : .renameFrom, flags: names),
                           .init(path: new, op: .renameTo, flags: names, bytes: size)]
            }
        case .link(let od, let o, let nd, let n, let flagsIndex):
            let flags = flagsIndex.map { info.arg($0) } ?? 0
            let oldRaw = TraceeMemory.readCString(pid: t.tid, at: info.arg(o))?.bytes ?? []
            let new = resolve(t, dirfd: nd.map { info.intArg($0) }, pathPtr: info.arg(n))
            // Naming an O_TMPFILE: linkat(fd, "", …, AT_EMPTY_PATH) or linkat(…, "/proc/self/fd/N", …).
            var fromFd: Int32? = nil
            if oldRaw.isEmpty && flags & LinuxFlag.atEmptyPath != 0 { fromFd = od.map { info.intArg($0) } }
            else if let s = String(validating: oldRaw, as: UTF8.self), s.hasPrefix("/proc/self/fd/") { fromFd = Int32(s.dropFirst(14)) }
            if let fd = fromFd, let target = fdTarget(t, fd), target.hasSuffix(" (deleted)") {
                p.items = [.init(path: new, op: .create, flags: ["O_TMPFILE"], bytes: fdSize(t, fd))]
            } else {
                _ = od
                p.items = [.init(path: new, op: .link, flags: [])]
            }
        case .fdOp(let op, let fd):
            guard let path = fdPath(t, info.intArg(fd)) else { return nil }
            p.items = [.init(path: path, op: op, flags: [])]
        case .copyInto(let fd):
            guard let path = fdPath(t, info.intArg(fd), regularOnly: true) else { return nil }
            p.items = [.init(path: path, op: .clone, flags: [])]
        case .utimensat:
            if info.arg(1) == 0 {
                guard let path = fdPath(t, info.intArg(0)) else { return nil }
                p.items = [.init(path: path, op: .utimes, flags: [])]
            } else {
                let empty = info.arg(3) & LinuxFlag.atEmptyPath != 0
                p.items = [.init(path: resolve(t, dirfd: info.intArg(0), pathPtr: info.arg(1), allowEmpty: empty), op: .utimes, flags: [])]
            }
        case .bind:
            if let b = TraceeMemory.read(pid: t.tid, at: info.arg(1), count: 4), b[0] == 2 || b[0] == 10, b[1] == 0 {
                let port = Int(b[2]) << 8 | Int(b[3])  // AF_INET / AF_INET6, network byte order
                if port > 0 && port < 1024 { builder.capabilityHint("NET_BIND_SERVICE", process: t.process.exe) }
                return nil
            }
            guard let path = unixSocketPath(t, addr: info.arg(1), len: Int(info.arg(2) & 0xffff_ffff)) else { return nil }
            p.items = [.init(path: path, op: .bind, flags: ["AF_UNIX"])]
        case .mqOpen, .mqUnlink:
            if case .mqOpen = call, info.arg(1) & LinuxFlag.oCreat == 0 { return nil }
            guard let raw = TraceeMemory.readCString(pid: t.tid, at: info.arg(0))?.bytes else { return nil }
            let name = raw.first == UInt8(ascii: "/") ? Array(raw.dropFirst()) : raw
            p.items = [.init(path: TracedPath(bytes: Array("/dev/mqueue/".utf8) + name, root: t.process.root), op: .mqueue,
                             flags: call.isUnlink ? ["mq_unlink"] : ["O_CREAT"])]
        case .ioctlClone:
            let req = info.arg(1) & 0xffff_ffff
            guard req == LinuxFlag.ficlone || req == LinuxFlag.ficlonerange || req == LinuxFlag.fideduperange else { return nil }
            guard let path = fdPath(t, info.intArg(0), regularOnly: true) else { return nil }
            p.items = [.init(path: path, op: .clone, flags: [])]
        case .mmap:
            let fd = info.intArg(4)
            guard fd >= 0, info.arg(2) & LinuxFlag.protWrite != 0, info.arg(3) & LinuxFlag.mapShared != 0,
                  let path = fdPath(t, fd, regularOnly: true) else { return nil }
            p.items = [.init(path: path, op: .mmapWrite, flags: ["MAP_SHARED", "PROT_WRITE"])]
        case .denyAsync(let kind):
            builder.blindSpot(kind, "\(name) denied with ENOSYS while recording, so the app falls back to plain syscalls (which are recorded)",
                              process: t.process.exe)
            p.forceErrno = ENOSYS
        case .clone:
            // CLONE_UNTRACED would let the child escape with our RET_TRACE filter and no tracer
            // (every traced call would fail with ENOSYS). Clear it so the child is followed.
            let flags = info.arg(0)
            if flags & LinuxFlag.cloneUntraced != 0,
               !Ptrace.setArgument(t.tid, 0, flags & ~LinuxFlag.cloneUntraced) {
                builder.blindSpot(.escapedChild, "clone(CLONE_UNTRACED): that child and its descendants are not traced", process: t.process.exe)
            }
            return nil
        case .clone3:
            if let flags = TraceeMemory.readUInt64(pid: t.tid, at: info.arg(0)), flags & LinuxFlag.cloneUntraced != 0,
               !Ptrace.poke(t.tid, at: info.arg(0), word: flags & ~LinuxFlag.cloneUntraced) {
                builder.blindSpot(.escapedChild, "clone3(CLONE_UNTRACED): that child and its descendants are not traced", process: t.process.exe)
            }
            return nil
        case .ptrace:
            return p
        case .appSeccomp:
            let installs = name == "seccomp" ? info.arg(0) == 1 : (info.arg(0) == 22 && info.arg(1) == 2)
            return installs ? p : nil
        case .namespace(let pathArg):
            if name == "unshare" && info.arg(0) & LinuxFlag.cloneNewNS == 0 { return nil }
            if let i = pathArg { p.items = [.init(path: resolve(t, dirfd: nil, pathPtr: info.arg(i)), op: name == "chroot" ? .chroot : .mount, flags: [])] }
            return p
        }
        return p
    }

    func decodeOpen(_ t: Tracee, _ p: inout PendingCall, dirfd: Int32?, pathPtr: UInt64, flags: UInt64) -> PendingCall {
        p.openFlags = flags
        let path = resolve(t, dirfd: dirfd, pathPtr: pathPtr)
        var existed: Bool? = nil
        // O_CREAT|O_EXCL answers the question itself (success: created; EEXIST: it existed): no lstat.
        if flags & LinuxFlag.oCreat != 0 && flags & LinuxFlag.oExcl == 0 && flags & LinuxFlag.oTmpfileBit == 0 && path.unresolved == nil {
            existed = lstatExists(path)
        }
        p.items = [.init(path: path, op: .write, flags: openFlagNames(flags), existed: existed)]
        return p
    }

    /// What an open did to its path, from its flags, whether the path existed before, and its errno.
    static func openOperation(_ flags: UInt64, existed: Bool?, errno err: Int32?) -> FileOperation {
        if flags & LinuxFlag.oTmpfileBit != 0 { return .tmpfile }
        if flags & LinuxFlag.oCreat != 0 && existed != true && err != EEXIST { return .create }
        if flags & LinuxFlag.oTrunc != 0 { return .truncate }
        return .write
    }

    /// The names of open flags, made once per distinct flags value.
    func openFlagNames(_ flags: UInt64) -> [String] {
        if let n = flagNameCache[flags] { return n }
        let n = LinuxFlag.openFlagNames(flags)
        if flagNameCache.count < 256 { flagNameCache[flags] = n }
        return n
    }

    // MARK: - Exit: the result

    func complete(_ t: Tracee, _ p: inout PendingCall, rval: Int64, errno err: Int32?) {
        let proc = t.process
        switch p.call {
        case .open, .openat2, .openByHandle:
            let flags = p.openFlags ?? 0
            if p.items.isEmpty {  // open_by_handle_at: the path is known only from the new fd
                guard err == nil, let path = fdPath(t, Int32(truncatingIfNeeded: rval)) else { return }
                p.items = [.init(path: path, op: .write, flags: openFlagNames(flags))]
            }
            var item = p.items[0]
            if err == nil, flags & LinuxFlag.oTmpfileBit == 0,
               let confirmed = fdPath(t, Int32(truncatingIfNeeded: rval)) {
                if Self.debugEvents { FileHandle.standardError.write("roprof-confirm \(t.tid) fd=\(rval) entry=\(item.path.string) confirmed=\(confirmed.string)\n".data(using: .utf8)!) }
                item.path = confirmed  // the kernel's own name for what was opened
            }
            if flags & LinuxFlag.oCreat != 0 && flags & LinuxFlag.oExcl != 0 && item.existed == nil {
                item.existed = err == nil ? false : (err == EEXIST ? true : nil)
            }
            item.op = Self.openOperation(flags, existed: item.existed, errno: err)
            builder.record(item.path, item.op, syscall: p.name, flags: item.flags, process: proc.exe, pid: proc.pid,
                           errno: err, existedBefore: item.existed)
        case .ptrace:
            if err != nil {
                builder.blindSpot(.nestedTracer, "the app called ptrace and got \(ErrnoName.name(err!)): a process can have only one tracer (roprof); a debugger or sanitizer in the app cannot attach",
                                  process: proc.exe)
            }
        case .appSeccomp:
            if err == nil {
                builder.blindSpot(.appSeccomp, "the app installed its own seccomp filter: calls it answers with ERRNO, TRAP or KILL take precedence over roprof's tracing and are not seen",
                                  process: proc.exe)
            }
        case .namespace:
            let what = p.items.first.map { " \($0.path.string)" } ?? ""
            builder.blindSpot(.namespaceChange, "\(p.name)\(what): the meaning of paths may change for this process; paths are recorded as it sees them",
                              process: proc.exe)
            if p.name == "chroot" && err == nil {
                let r = ProcFS.readlinkBytes("/proc/\(proc.pid)/root").map { String(decoding: $0, as: UTF8.self) }
                proc.root = (r == "/" ? nil : r)
            }
            for item in p.items {
                builder.record(item.path, item.op, syscall: p.name, flags: item.flags, process: proc.exe, pid: proc.pid, errno: err)
            }
        default:
            if case .mmap = p.call, err == nil, let item = p.items.first {
                builder.blindSpot(.sharedWritableMmap, "\(item.path.string): written through a shared mapping; marked modified at mmap time",
                                  process: proc.exe)
            }
            for item in p.items {
                builder.record(item.path, item.op, syscall: p.name, flags: item.flags, process: proc.exe, pid: proc.pid,
                               errno: err, existedBefore: item.existed, bytes: item.bytes)
            }
        }
        for item in p.items where item.path.unresolved != nil {
            builder.blindSpot(.unresolvedPath, "\(p.name) on '\(item.path.string)': \(item.path.unresolved!)", process: proc.exe)
        }
    }
}

extension MutatingCall {
    var isUnlink: Bool { if case .mqUnlink = self { return true }; return false }
}
