import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// The ptrace backend's side of a call: at the seccomp (or syscall-entry) stop it reads the
/// arguments and resolves the paths as the tracee sees them at that moment; at the exit stop it
/// reads the result. What the call did is `CallInterpreter`'s to decide.
extension PtraceBackend {
    // MARK: - Stops

    func onSeccompStop(_ t: Tracee) {
        stops += 1
        guard Ptrace.syscallInfo(t.tid, into: &infoBuffer) else { resume(t); return }
        let info = SyscallInfo(infoBuffer)
        if Self.debugEvents { StdIO.error("roprof-seccomp \(t.tid) op=\(info.op) nr=\(info.nr)\n") }
        guard info.op == .seccomp, let arch = SeccompArch.fromAudit(info.arch, nr: info.nr), let table = tables[arch] else { resume(t); return }
        let nr = Int(info.nr & ~0x4000_0000)
        countEntry(t, arch: arch, nr: nr, table: table)
        if case let k = table.signallingKind(nr), k != 0 { noteSignal(t, kind: k, info: info) }
        if table.changesUid(nr) { t.process.uidMayChange = true }
        if t.process.mayHoldUnnamed, case let kind = table.closingKind(nr), kind != 0 {
            sampleUnnamedFiles(t, fd: kind == 1 ? Int32(truncatingIfNeeded: info.arg(0)) : nil)
        }
        let retData = UInt16(truncatingIfNeeded: infoBuffer.10)
        if retData == TracePolicy.denyTag {
            let name = table.name(nr)
            if options.policy.enosys.contains(name) {
                _ = Ptrace.setSyscallNumber(t.tid, -1)
                t.pending = PendingCall(facts: CallFacts(name: name, call: .clone, args: []), arch: arch, forceErrno: ENOSYS)
                resume(t)
                return
            }
            let key = DeniedSyscall(name: name, arch: arch.rawValue, process: t.process.exe)
            denied[key, default: 0] += 1
            if let limit = options.denyStormLimit, denyStorm == nil, denied[key]! >= limit {
                denyStorm = key
                lifecycle.stopApp()
            }
            _ = Ptrace.setSyscallNumber(t.tid, -1)
            t.pending = PendingCall(facts: CallFacts(name: name, call: .clone, args: []), arch: arch, forceErrno: EPERM)
            resume(t)
            return
        }
        guard let call = table.call(nr) else { resume(t); return }
        if var pending = fetchEntry(t, info: info, call: call, name: table.name(nr), arch: arch) {
            if pending.facts.openFlags & LinuxFlag.oTmpfileBit != 0 || pending.facts.name == "unlink" || pending.facts.name == "unlinkat" {
                t.process.mayHoldUnnamed = true
            }
            if case .denyAsync = call {
                // Denied with ENOSYS while recording: the app falls back to plain syscalls, which are seen.
                pending.forceErrno = ENOSYS
                pending.facts.deniedByTracer = true
                pending.facts.errno = ENOSYS
                refreshIdentity(t)
                interpreter.interpret(pending.facts, process: t.process)
                _ = Ptrace.setSyscallNumber(t.tid, -1)
            } else if let quiet = options.quietPath, recordQuietly(t, pending, quiet) {
                resume(t)
                return
            }
            t.pending = pending
        }
        resume(t)
    }

    /// The sizes of files without a name the process holds (all of them, or the one fd being closed):
    /// what an upload spooled through O_TMPFILE or a file unlinked while open held at its peak, charged
    /// to the directory (O_TMPFILE) or the path it had (unlinked).
    func sampleUnnamedFiles(_ t: Tracee, fd: Int32?) {
        let pid = t.process.pid
        let fds: [Int32] = fd.map { [$0] } ?? ProcFS.openFds(pid: pid).map(\.fd)
        for n in fds where n >= 0 {
            guard var raw = ProcFS.readlinkBytes("/proc/\(pid)/fd/\(n)"), raw.first == UInt8(ascii: "/"), Self.isDeleted(raw) else { continue }
            var st = stat()
            guard stat("/proc/\(pid)/fd/\(n)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { continue }
            raw.removeLast(Self.deletedSuffix.count)
            raw = PathText.stripRoot(raw, t.process.root)
            // An O_TMPFILE file reads as DIR/#INODE: its directory is what the recording names.
            let slash = raw.lastIndex(of: UInt8(ascii: "/")) ?? 0
            let isTmpfile = slash + 1 < raw.count && raw[slash + 1] == UInt8(ascii: "#") && raw[(slash + 2)...].allSatisfy { $0 >= 48 && $0 <= 57 }
            let path = isTmpfile ? (slash == 0 ? [UInt8(ascii: "/")] : Array(raw[..<slash])) : raw
            builder.noteUnnamedSize(TracedPath(bytes: path, root: t.process.root), isTmpfile ? .tmpfile : .unlink,
                                    bytes: Int(st.st_size), process: t.process.exe, pid: pid)
        }
    }

    /// A signal from a root process to a process of the traced tree that belongs to another user
    /// (neither its real nor its saved uid is root's): the kernel allows that only with CAP_KILL, which
    /// `--cap-drop=ALL` removes (a root master stopping its workers after they changed user).
    func noteSignal(_ t: Tracee, kind: UInt8, info: SyscallInfo) {
        guard t.process.uid == 0, !signalledOtherUser.contains(t.process.exe) else { return }
        let target = Int32(truncatingIfNeeded: info.arg(0))
        guard target > 0 else { return }
        let pid = kind == 2 ? (ProcFS.tgid(of: target) ?? target) : target
        // The target's ids now (a worker may change user after an earlier signal).
        guard pid != t.process.pid, processes.byPid[pid] != nil, let ids = ProcFS.uids(tid: pid), ids[0] != 0, ids[2] != 0 else { return }
        signalledOtherUser.insert(t.process.exe)
        builder.capabilityHint("KILL", process: t.process.exe)
    }

    /// After a setuid-family call: whether the process, recorded as root, acts as another user now
    /// (read once, before its next call is recorded).
    func refreshIdentity(_ t: Tracee) {
        guard t.process.uidMayChange else { return }
        t.process.uidMayChange = false
        if let fs = ProcFS.fsuid(tid: t.tid) { t.process.droppedRoot = t.process.uid == 0 && fs != 0 }
    }

    /// Counts a call at its entry, and notes compat calls and the calls that matter for security.
    func countEntry(_ t: Tracee, arch: SeccompArch, nr: Int, table: CallTable) {
        builder.countSyscall(arch: arch, nr: nr)
        if arch != nativeArch && !t.process.compatNoted {
            t.process.compatNoted = true
            builder.blindSpot(.compat32, "\(arch.rawValue) syscalls (int 0x80 / compat) seen; decoded with the \(arch.rawValue) table",
                              process: t.process.exe)
        }
        if table.isDangerous(nr) { builder.dangerousCall(table.name(nr), process: t.process.exe) }
    }

    func onSyscallExit(_ t: Tracee) {
        guard let p = t.pending else { resume(t); return }
        stops += 1
        guard Ptrace.syscallInfo(t.tid, into: &infoBuffer) else { resume(t); return }
        let info = SyscallInfo(infoBuffer)
        if Self.debugEvents { StdIO.error("roprof-exit \(t.tid) op=\(info.op) rval=\(info.rval)\n") }
        guard info.op == .exit else { resume(t); return }
        t.pending = nil
        if let e = p.forceErrno {
            _ = Ptrace.setReturnValue(t.tid, -Int(e))
            resume(t)
            return
        }
        complete(t, p, rval: info.rval)
        resume(t)
    }

    /// The exit of a fetched call: the result, and what only the result names (the opened file).
    func complete(_ t: Tracee, _ p: PendingCall, rval: Int64) {
        if rval <= -512 && rval >= -516 { return }  // ERESTART*: the call runs again
        var f = p.facts
        f.errno = (rval < 0 && rval >= -4095) ? Int32(-rval) : nil
        switch f.call {
        case .open, .openat2, .openByHandle:
            if f.errno == nil, f.openFlags & LinuxFlag.oTmpfileBit == 0 {
                f.opened = fdPath(t, Int32(truncatingIfNeeded: rval))
                if Self.debugEvents { StdIO.error("roprof-confirm \(t.tid) fd=\(rval) confirmed=\(f.opened?.string ?? "-")\n") }
            }
        case .namespace where f.name == "chroot" && f.errno == nil:
            f.newRoot = .some(ProcFS.readlinkBytes("/proc/\(t.process.pid)/root").map { String(decoding: $0, as: UTF8.self) })
        default: break
        }
        refreshIdentity(t)
        interpreter.interpret(f, process: t.process)
    }

    /// check mode: when every path of the call is one the baseline allows, record it now and skip the
    /// exit stop. Only plain file calls qualify, and only when the directory holds no symlink (the
    /// exit's /proc/PID/fd confirmation is what would catch a write redirected elsewhere).
    func recordQuietly(_ t: Tracee, _ p: PendingCall, _ quiet: (String) -> Bool) -> Bool {
        let f = p.facts
        var paths = f.paths
        switch f.call {
        case .open, .openat2, .pathOp, .unlinkat, .rename, .utimensat: break
        case .fdOp: if let file = f.fdFile { paths = [file] }
        default: return false
        }
        guard !paths.isEmpty else { return false }
        for path in paths {
            guard path.unresolved == nil, path.root == nil, quiet(path.string), directoryIsPlain(path.string) else { return false }
        }
        refreshIdentity(t)
        interpreter.interpret(f, process: t.process)
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

    // MARK: - Entry: fetching the arguments

    /// Reads what the interpreter needs of a call from the stopped tracee; nil when the call cannot
    /// change anything (an open without write flags) or needs no exit stop (clone).
    func fetchEntry(_ t: Tracee, info: SyscallInfo, call: MutatingCall, name: String, arch: SeccompArch) -> PendingCall? {
        let args = (0..<6).map { info.arg($0) }
        switch call {
        case .clone:
            // CLONE_UNTRACED would let the child escape with our RET_TRACE filter and no tracer
            // (every traced call would fail with ENOSYS). Clear it so the child is followed.
            let flags = info.arg(0)
            if flags & LinuxFlag.cloneUntraced != 0, !Ptrace.setArgument(t.tid, 0, flags & ~LinuxFlag.cloneUntraced) {
                builder.blindSpot(.escapedChild, "clone(CLONE_UNTRACED): that child and its descendants are not traced", process: t.process.exe)
            }
            return nil
        case .clone3:
            if let flags = TraceeMemory.readUInt64(pid: t.tid, at: info.arg(0)), flags & LinuxFlag.cloneUntraced != 0,
               !Ptrace.poke(t.tid, at: info.arg(0), word: flags & ~LinuxFlag.cloneUntraced) {
                builder.blindSpot(.escapedChild, "clone3(CLONE_UNTRACED): that child and its descendants are not traced", process: t.process.exe)
            }
            return nil
        case .openat2:
            guard let flags = TraceeMemory.readUInt64(pid: t.tid, at: info.arg(2)), flags & LinuxFlag.writeMask != 0 else { return nil }
            var f = CallFacts(name: name, call: call, args: args)
            fetchOpen(t, &f, dirfd: info.intArg(0), pathPtr: info.arg(1), flags: flags)
            return PendingCall(facts: f, arch: arch)
        default:
            guard CallInterpreter.matters(call, name: name, args: args) else { return nil }
        }
        var f = CallFacts(name: name, call: call, args: args)
        func path(_ dirfd: Int?, _ index: Int, allowEmpty: Bool = false) -> TracedPath {
            resolve(t, dirfd: dirfd.map { info.intArg($0) }, pathPtr: info.arg(index), allowEmpty: allowEmpty)
        }
        switch call {
        case .open(let dirfd, let p, let flagsIndex):
            let flags = flagsIndex.map { info.arg($0) & 0xffff_ffff } ?? (LinuxFlag.oCreat | LinuxFlag.oWronly | LinuxFlag.oTrunc)
            fetchOpen(t, &f, dirfd: dirfd.map { info.intArg($0) }, pathPtr: info.arg(p), flags: flags)
        case .openByHandle:
            f.openFlags = info.arg(2) & 0xffff_ffff
        case .pathOp(let op, let dirfd, let p, let atFlags):
            f.paths = [path(dirfd, p, allowEmpty: atFlags.map { info.arg($0) & LinuxFlag.atEmptyPath != 0 } ?? false)]
            if op == .unlink { f.bytes = sizeOf(f.paths[0]) }
        case .unlinkat:
            f.paths = [path(0, 1)]
            if info.arg(2) & LinuxFlag.atRemovedir == 0 { f.bytes = sizeOf(f.paths[0]) }
        case .rename(let od, let o, let nd, let n, _):
            f.paths = [path(od, o), path(nd, n)]
            f.bytes = sizeOf(f.paths[0])
        case .link(let od, let o, let nd, let n, let flagsIndex):
            let flags = flagsIndex.map { info.arg($0) } ?? 0
            let oldRaw = TraceeMemory.readCString(pid: t.tid, at: info.arg(o))?.bytes ?? []
            f.paths = [path(nd, n)]
            // Naming an O_TMPFILE: linkat(fd, "", …, AT_EMPTY_PATH) or linkat(…, "/proc/self/fd/N", …).
            var fromFd: Int32? = nil
            if oldRaw.isEmpty && flags & LinuxFlag.atEmptyPath != 0 { fromFd = od.map { info.intArg($0) } }
            else if let s = String(validating: oldRaw, as: UTF8.self), s.hasPrefix("/proc/self/fd/") { fromFd = Int32(s.dropFirst(14)) }
            if let fd = fromFd, let target = fdTarget(t, fd), target.hasSuffix(" (deleted)") {
                f.namesUnnamedFile = true
                f.bytes = fdSize(t, fd)
            }
        case .fdOp(_, let fd):
            guard let file = fdPath(t, info.intArg(fd)) else { return nil }
            f.fdFile = file
        case .copyInto(let fd):
            guard let file = fdPath(t, info.intArg(fd), regularOnly: true) else { return nil }
            f.fdFile = file
        case .ioctlClone, .mmap:
            guard let file = fdPath(t, info.intArg(call.isMmap ? 4 : 0), regularOnly: true) else { return nil }
            f.fdFile = file
        case .utimensat:
            if info.arg(1) == 0 {
                guard let file = fdPath(t, info.intArg(0)) else { return nil }
                f.fdFile = file
            } else {
                f.paths = [path(0, 1, allowEmpty: info.arg(3) & LinuxFlag.atEmptyPath != 0)]
            }
        case .bind:
            let len = Int(info.arg(2) & 0xffff_ffff)
            guard len > 2, let addr = TraceeMemory.read(pid: t.tid, at: info.arg(1), count: min(len, 110)) else { return nil }
            f.sockaddr = addr
            if let raw = CallInterpreter.socketAddress(addr).unixPath { f.paths = [resolveRelative(t, raw)] }
        case .mqOpen, .mqUnlink:
            guard let raw = TraceeMemory.readCString(pid: t.tid, at: info.arg(0))?.bytes else { return nil }
            f.rawName = raw
        case .namespace(let pathArg):
            if let i = pathArg { f.paths = [path(nil, i)] }
        case .denyAsync, .ptrace, .appSeccomp, .clone, .clone3, .openat2:
            break
        }
        // Changing the mode (or setting explicit times) of another user's file takes CAP_FOWNER: the
        // owner at entry, against the thread's filesystem uid.
        var ownerMatters = false
        switch call {
        case .pathOp(.chmod, _, _, _), .fdOp(.chmod, _): ownerMatters = true
        case .pathOp(.utimes, _, _, _): ownerMatters = info.arg(2) != 0
        case .utimensat: ownerMatters = info.arg(2) != 0
        default: break
        }
        if ownerMatters, let owner = ownerOf(f, t), let me = ProcFS.fsuid(tid: t.tid), owner != me { f.notOwner = true }
        return PendingCall(facts: f, arch: arch)
    }

    /// The owner of the call's file (its path, or the file behind its fd), or nil when it cannot be read.
    func ownerOf(_ f: CallFacts, _ t: Tracee) -> Int? {
        var st = stat()
        if let p = f.paths.first {
            guard p.unresolved == nil, stat(hostView(p), &st) == 0 else { return nil }
            return Int(st.st_uid)
        }
        let fd: Int32
        switch f.call {
        case .fdOp(_, let i): fd = Int32(truncatingIfNeeded: f.arg(i))
        case .utimensat where f.arg(1) == 0: fd = Int32(truncatingIfNeeded: f.arg(0))
        default: return nil
        }
        guard stat("/proc/\(t.tid)/fd/\(fd)", &st) == 0 else { return nil }
        return Int(st.st_uid)
    }

    func fetchOpen(_ t: Tracee, _ f: inout CallFacts, dirfd: Int32?, pathPtr: UInt64, flags: UInt64) {
        f.openFlags = flags
        let path = resolve(t, dirfd: dirfd, pathPtr: pathPtr)
        f.paths = [path]
        // O_CREAT|O_EXCL answers the question itself (success: created; EEXIST: it existed): no lstat.
        if flags & LinuxFlag.oCreat != 0 && flags & LinuxFlag.oExcl == 0 && flags & LinuxFlag.oTmpfileBit == 0 && path.unresolved == nil {
            f.existed = lstatExists(path)
        }
    }
}

extension MutatingCall {
    var isMmap: Bool { if case .mmap = self { return true }; return false }
}
