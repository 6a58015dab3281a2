import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

extension PtraceBackend {
    /// Seizes every thread of `pid` and of all its descendants, records until Ctrl-C / SIGTERM /
    /// --for, then detaches every thread: the app runs on untouched. Never PTRACE_O_EXITKILL.
    func attach(_ pid: Int32) throws -> TraceResult {
        guard kill(pid, 0) == 0 || errno == EPERM, FileManager.default.fileExists(atPath: "/proc/\(pid)") else {
            throw TraceError.noSuchProcess(pid)
        }
        if let tracer = ProcFS.statusField(pid: pid, "TracerPid"), let t = Int32(tracer), t != 0 {
            throw TraceError.alreadyTraced(pid)
        }
        prepareTables()
        builder.runID = RunLifecycle.makeRunID(argv: ProcFS.argv(pid: pid))
        lifecycle.begin()
        defer { lifecycle.end() }
        rootPid = pid
        let opts = PtraceOption.traceSysGood | PtraceOption.traceFork | PtraceOption.traceVFork
            | PtraceOption.traceClone | PtraceOption.traceExec | PtraceOption.traceExit
        // New threads and children appear while we seize: repeat until a pass finds none.
        var seized = Set<pid_t>()
        for _ in 0..<5 {
            var found = false
            for proc in ProcFS.tree(of: pid) {
                for tid in ProcFS.threads(of: proc) where !seized.contains(tid) {
                    let rc = Ptrace.seize(tid, options: opts)
                    if rc == EPERM || rc == EACCES {
                        if seized.isEmpty { throw TraceError.ptraceDenied(rc) }
                        continue
                    }
                    if rc != 0 { continue }  // it exited meanwhile
                    seized.insert(tid)
                    found = true
                    let state = processes[proc] ?? processes.registerFromProc(proc)
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
        noteOpenWritableFiles(processes.all, builder: builder, when: "roprof attached")
        try loop()
        lifecycle.end()
        var result = finish()
        result.recording.runs[0].attachedPid = Int(pid)
        result.exit = ExitInfo(code: 0)
        return result
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
            guard let arch = SeccompArch.fromAudit(info.arch, nr: info.nr), let table = tables[arch] else { resume(t); return }
            let nr = Int(info.nr & ~0x4000_0000)
            countEntry(t, arch: arch, nr: nr, table: table)
            if case let k = table.signallingKind(nr), k != 0 { noteSignal(t, kind: k, info: info) }
            if table.changesUid(nr) { t.process.uidMayChange = true }
            // Without a filter of ours nothing can be denied safely: io_uring/AIO are recorded as used.
            if let call = table.call(nr), let p = fetchEntry(t, info: info, call: call, name: table.name(nr), arch: arch) {
                t.pending = p
            }
            resume(t)
        case .exit:
            if let p = t.pending {
                t.pending = nil
                complete(t, p, rval: info.rval)
            }
            resume(t)
        default:
            resume(t)
        }
    }
}
