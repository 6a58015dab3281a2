import Foundation
import Glibc
import Seccomp
import TraceModel

extension TraceSession {
    /// Seizes every thread of `pid` and of all its descendants, records until Ctrl-C / SIGTERM /
    /// --for, then detaches every thread: the app runs on untouched. Never PTRACE_O_EXITKILL.
    func attach(_ pid: Int32) throws -> TraceResult {
        guard kill(pid, 0) == 0 || errno == EPERM, FileManager.default.fileExists(atPath: "/proc/\(pid)") else {
            throw TraceError.noSuchProcess(pid)
        }
        if let tracer = ProcFS.statusField(pid: pid, "TracerPid"), let t = Int32(tracer), t != 0 {
            throw TraceError.alreadyTraced(pid)
        }
        for arch in [nativeArch] + nativeArch.compatArches { prepareTable(arch) }
        builder.runID = Self.makeRunID(argv: ProcFS.argv(pid: pid))
        lifecycle.begin()
        defer { lifecycle.end() }
        rootPid = pid
        let opts = PtraceOption.traceSysGood | PtraceOption.traceFork | PtraceOption.traceVFork
            | PtraceOption.traceClone | PtraceOption.traceExec | PtraceOption.traceExit
        // New threads and children appear while we seize: repeat until a pass finds none.
        var seized = Set<pid_t>()
        for _ in 0..<5 {
            var found = false
            for proc in Self.tree(of: pid) {
                for tid in Self.threads(of: proc) where !seized.contains(tid) {
                    let rc = Ptrace.seize(tid, options: opts)
                    if rc == EPERM || rc == EACCES {
                        if seized.isEmpty { throw TraceError.ptraceDenied(rc) }
                        continue
                    }
                    if rc != 0 { continue }  // it exited meanwhile
                    seized.insert(tid)
                    found = true
                    let state = processes[proc] ?? registerAttached(proc)
                    let t = Tracee(tid: tid, process: state)
                    t.started = true
                    tracees[tid] = t
                    Ptrace.interrupt(tid)
                }
            }
            if !found { break }
        }
        guard !seized.isEmpty else { throw TraceError.noSuchProcess(pid) }
        builder.blindSpot(.attached, "attached to pid \(pid) (\(processes.count) process\(processes.count == 1 ? "" : "es"), \(seized.count) thread\(seized.count == 1 ? "" : "s")): what they did before is unseen, and without a seccomp filter every syscall is stepped (slower than launch mode)",
                          process: processes[pid]?.exe ?? "?")
        noteOpenWritableFiles(allProcesses, builder: builder, when: "roprof attached")
        try loop()
        lifecycle.end()
        var result = finish()
        result.recording.runs[0].attachedPid = Int(pid)
        result.exit = ExitInfo(code: 0)
        return result
    }

    func registerAttached(_ pid: pid_t) -> ProcessState {
        let ppid = ProcFS.statusField(pid: pid, "PPid").flatMap { pid_t($0) }
        let exe = ProcFS.readlinkBytes("/proc/\(pid)/exe").map { String(decoding: $0, as: UTF8.self) } ?? "?"
        let p = ProcessState(pid: pid, ppid: ppid, exe: exe)
        p.execs = [ExecRecord(exe: exe, argv: ProcFS.argv(pid: pid))]
        p.uid = ProcFS.statusField(pid: pid, "Uid").flatMap { $0.split(separator: "\t").first.flatMap { Int($0) } }
        let root = ProcFS.readlinkBytes("/proc/\(pid)/root").map { String(decoding: $0, as: UTF8.self) }
        p.root = root == "/" ? nil : root
        register(p)
        return p
    }

    /// Asks every thread to stop so it can be detached at its next stop.
    func beginDetach() {
        guard !detaching else { return }
        detaching = true
        for tid in tracees.keys { Ptrace.interrupt(tid) }
    }

    /// Attach mode: a syscall-entry or syscall-exit stop from PTRACE_SYSCALL stepping.
    func onSteppedSyscall(_ t: Tracee) {
        guard Ptrace.syscallInfo(t.tid, into: &infoBuffer) else { resume(t); return }
        let info = SyscallInfo(infoBuffer)
        switch info.op {
        case .entry:
            guard let arch = SeccompArch.fromAudit(info.arch, nr: info.nr) else { resume(t); return }
            let nr = Int(info.nr & ~0x4000_0000)
            builder.countSyscall(arch: arch, nr: nr)
            if nr < 1024, let call = tables[arch]?[nr] {
                let name = names[arch]?.name(nr) ?? "syscall_\(nr)"
                if case .denyAsync = call { /* cannot deny safely without a filter: record it */
                    builder.blindSpot(.ioUring, "\(name) used by a process roprof attached to: its I/O is not seen", process: t.process.exe)
                } else if let p = decodeEntry(t, info: info, call: call, name: name, arch: arch), p.call.needsResult {
                    var pending = p
                    pending.forceErrno = nil
                    t.pending = pending
                }
            }
            resume(t)
        case .exit:
            if var p = t.pending {
                t.pending = nil
                let rval = info.rval
                if !(rval <= -512 && rval >= -516) {
                    complete(t, &p, rval: rval, errno: (rval < 0 && rval >= -4095) ? Int32(-rval) : nil)
                }
            }
            resume(t)
        default:
            resume(t)
        }
    }

    /// pid and all its descendants (from /proc/*/stat parent links).
    static func tree(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = ProcFS.readFile("/proc/\(pid)/stat", limit: 4096) else { continue }
            let text = String(decoding: stat, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var out: [pid_t] = [], queue = [root]
        while let p = queue.first {
            queue.removeFirst()
            out.append(p)
            queue += children[p] ?? []
        }
        return out
    }

    static func threads(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { pid_t($0) }.sorted()
    }
}
