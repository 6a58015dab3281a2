internal import CPtrace
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// One thread being traced.
final class Tracee {
    let tid: pid_t
    var process: ProcessState
    var pending: PendingCall?
    var started = false
    init(tid: pid_t, process: ProcessState) { self.tid = tid; self.process = process }
}

/// A call fetched at its entry, waiting for its result.
struct PendingCall {
    var facts: CallFacts
    var arch: SeccompArch
    /// Set the return value to -errno at exit (deny / async-io denial).
    var forceErrno: Int32?
}

/// The ptrace backend: launches a command under seccomp-assisted ptrace (or attaches to a running
/// tree) and follows every process and thread. It only fetches each call's arguments (at entry) and
/// result (at exit); `CallInterpreter` decides what the call did. Everything runs on the calling
/// thread, which must be the only thread issuing ptrace requests.
public final class PtraceBackend: RunControl {
    let options: TraceOptions
    let builder = RecordingBuilder()
    var tracees: [pid_t: Tracee] = [:]
    let processes = ProcessTable()
    /// Programs already known to signal another user's process (see `noteSignal`).
    var signalledOtherUser = Set<String>()
    lazy var interpreter = CallInterpreter(backend: .ptrace, builder: builder)
    var rootPid: pid_t = 0
    var rootExit: ExitInfo?
    var denied: [DeniedSyscall: Int] = [:]
    var tables: [SeccompArch: CallTable] = [:]
    var infoBuffer: SyscallInfo.Buffer = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// check: directory → whether it holds no symlink (see `directoryIsPlain`).
    var plainDirectories: [String: Bool] = [:]
    /// The current polling window of `waitForStop` (0: never poll — one CPU, or ROPROF_NO_SPIN set).
    var spinBudgetNs: UInt64 = (sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 && ProcessInfo.processInfo.environment["ROPROF_NO_SPIN"] == nil) ? 50_000 : 0
    let nativeArch = SeccompArch.native
    var denyStorm: DeniedSyscall?
    /// Stops taken (seccomp, syscall-exit, fork/clone/exec/exit events): what the run cost under ptrace (see BackendCosts).
    public internal(set) var stops = 0
    /// Attach mode: every syscall is stepped with PTRACE_SYSCALL (no filter in a running process).
    let attachMode: Bool
    var detaching = false
    /// Signals, readiness, the exercise, the --for window and the stop: shared with the eBPF backend.
    let lifecycle: RunLifecycle

    public init(options: TraceOptions) {
        self.options = options
        attachMode = options.attachPid != nil
        lifecycle = RunLifecycle(options: options, observing: attachMode)
        lifecycle.control = self
    }

    static let waitAll: Int32 = 0x4000_0000  // __WALL

    /// Launches and traces the command until every tracee is gone.
    public func run() throws -> TraceResult {
        if let pid = options.attachPid { return try attach(pid) }
        let filter = try options.policy.compile()
        prepareTables()
        builder.runID = RunLifecycle.makeRunID(argv: options.launch.argv)
        lifecycle.begin()
        defer { lifecycle.end() }

        let (pid, errorPipe) = try Launcher.spawnStopped(options.launch, filter: filter)
        defer { close(errorPipe) }
        rootPid = pid
        var status: Int32 = 0
        let opts = PtraceOption.traceSysGood | PtraceOption.traceFork | PtraceOption.traceVFork
            | PtraceOption.traceClone | PtraceOption.traceExec | PtraceOption.traceExit
            | PtraceOption.traceSeccomp | PtraceOption.exitKill
        let rc = Ptrace.seize(pid, options: opts)
        if rc != 0 {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw rc == EPERM || rc == EACCES ? TraceError.ptraceDenied(rc) : TraceError.system("PTRACE_SEIZE", rc)
        }
        let root = ProcessState(pid: pid, ppid: getpid(), exe: options.launch.executable)
        root.uid = Int(options.launch.runAs?.uid ?? getuid())
        root.gid = Int(options.launch.runAs?.gid ?? getgid())
        processes.register(root)
        let t = Tracee(tid: pid, process: root)
        t.started = true
        tracees[pid] = t
        snapshotInheritedFds(pid, builder: builder, process: options.launch.executable)
        lifecycle.appStarted()
        kill(pid, SIGCONT)

        try loop()
        lifecycle.end()

        if rootExit?.code == 126 || rootExit?.code == 127, root.execs.isEmpty, let f = Launcher.readFailure(errorPipe) {
            throw Self.spawnError(f, options.launch)
        }
        return finish()
    }

    static func spawnError(_ f: SpawnFailure, _ launch: LaunchSpec) -> TraceError {
        switch Int(f.stage) {
        case Int(ROPROF_STAGE_EXEC):
            return f.errno == ENOENT ? .commandNotFound(launch.argv.first ?? "")
                : .notExecutable(launch.executable, f.errno)
        case Int(ROPROF_STAGE_SECCOMP):
            return .system("installing the seccomp filter", f.errno)
        case Int(ROPROF_STAGE_CAPS):
            return .system("dropping capabilities to \((launch.capabilities ?? []).joined(separator: ", "))", f.errno)
        case Int(ROPROF_STAGE_USER):
            return .system("switching to the user \(launch.runAs.map { "\($0.uid):\($0.gid)" } ?? "?") (--user)", f.errno)
        case Int(ROPROF_STAGE_MOUNT_BASE)...:
            let i = Int(f.stage) - Int(ROPROF_STAGE_MOUNT_BASE)
            let step = i < launch.mountSteps.count ? launch.mountSteps[i] : nil
            return .sandboxSetup("\(step.map { "\($0.kind) \($0.target)" } ?? "mount step \(i)"): \(String(cString: strerror(f.errno)))")
        default:
            return .sandboxSetup("stage \(f.stage): \(String(cString: strerror(f.errno)))")
        }
    }

    func prepareTables() {
        for arch in [nativeArch] + nativeArch.compatArches { tables[arch] = CallTable(arch: arch) }
    }

    // MARK: - The event loop

    /// Waits for the next stop. Polls briefly before blocking: a stopped tracee wakes a sleeping
    /// tracer through the scheduler (on a VM, an idle vCPU's wake-up alone costs tens of µs per stop),
    /// while the next stop usually follows within microseconds. The polling window adapts: it
    /// doubles when an event arrived inside it and halves when none did, so an idle app costs
    /// next to nothing.
    func waitForStop(_ status: inout Int32) -> pid_t {
        if spinBudgetNs > 0 {
            let start = Self.monotonicNs()
            var polls = 0
            while true {
                let p = waitpid(-1, &status, Self.waitAll | WNOHANG)
                if p != 0 {
                    if p > 0 { spinBudgetNs = min(Self.maxSpinNs, spinBudgetNs * 2) }
                    return p
                }
                polls += 1
                if polls & 7 == 0 && Self.monotonicNs() - start > spinBudgetNs { break }
            }
            spinBudgetNs = max(Self.minSpinNs, spinBudgetNs / 2)
        }
        return waitpid(-1, &status, Self.waitAll)
    }

    static let maxSpinNs: UInt64 = 400_000
    static let minSpinNs: UInt64 = 10_000
    static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    func loop() throws {
        var batch: [(pid_t, Int32)] = []
        batch.reserveCapacity(64)
        while true {
            lifecycle.tick()
            if lifecycle.abandon { return }
            if tracees.isEmpty && rootExit != nil { lifecycle.appGone() }
            var status: Int32 = 0
            let pid = waitForStop(&status)
            if pid < 0 {
                if errno == EINTR { continue }
                if errno == ECHILD { return }
                throw TraceError.system("waitpid", errno)
            }
            batch.removeAll(keepingCapacity: true)
            batch.append((pid, status))
            // Drain every ready event before dispatching, so a busy thread cannot starve the others.
            while true {
                var s: Int32 = 0
                let p = waitpid(-1, &s, Self.waitAll | WNOHANG)
                if p <= 0 { break }
                batch.append((p, s))
            }
            for (p, s) in batch { handle(pid: p, status: s) }
        }
    }

    func tracee(for tid: pid_t) -> Tracee {
        if let t = tracees[tid] { return t }
        // A new child's first stop can arrive before its parent's fork/clone event: a placeholder.
        let tgid = ProcFS.tgid(of: tid) ?? tid
        let proc = processes[tgid] ?? processes.registerFromProc(tgid, withExec: false)
        let t = Tracee(tid: tid, process: proc)
        tracees[tid] = t
        return t
    }

    static let debugEvents = ProcessInfo.processInfo.environment["ROPROF_DEBUG_EVENTS"] != nil

    func handle(pid tid: pid_t, status: Int32) {
        let event = StopEvent.classify(status)
        if Self.debugEvents { StdIO.error("roprof-event \(tid) \(event) pending=\(tracees[tid]?.pending?.facts.name ?? "-")\n") }
        switch event {
        case .exited(let code):
            gone(tid, ExitInfo(code: Int(code)))
            return
        case .killed(let sig, _):
            gone(tid, ExitInfo(signal: Int(sig)))
            return
        default: break
        }
        let t = tracee(for: tid)
        switch event {
        case .event(.seccomp):
            onSeccompStop(t)
        case .syscallStop:
            if attachMode { onSteppedSyscall(t) } else { onSyscallExit(t) }
        case .event(.fork), .event(.vfork), .event(.clone):
            stops += 2  // the parent's event stop and the new child's first stop: what `auto` weighs for thread-heavy apps
            if let msg = Ptrace.eventMessage(tid) {
                let child = tracee(for: pid_t(truncatingIfNeeded: msg))
                if child.process.pid == child.tid && child.process.ppid == nil { child.process.ppid = t.process.pid }
            }
            resume(t)
        case .event(.exec):
            stops += 1
            onExec(t)
        case .event(.exit), .event(.vforkDone), .event(.seccomp), .event(.stop):
            stops += 1
            resume(t)
        case .groupStop:
            if detaching { resume(t); return }
            Ptrace.listen(tid)
        case .interruptStop:
            t.started = true
            resume(t)
        case .signalDelivery(let sig):
            if !t.started && sig == SIGSTOP { t.started = true; resume(t); return }
            resume(t, signal: sig)
        case .exited, .killed:
            break
        }
    }

    func resume(_ t: Tracee, signal: Int32 = 0) {
        if attachMode {
            if detaching { Ptrace.detach(t.tid, signal: signal); tracees.removeValue(forKey: t.tid); return }
            Ptrace.syscall(t.tid, signal: signal)
            return
        }
        if t.pending != nil { Ptrace.syscall(t.tid, signal: signal) } else { Ptrace.cont(t.tid, signal: signal) }
    }

    func gone(_ tid: pid_t, _ exit: ExitInfo) {
        if lifecycle.childEnded(tid, exit) { return }
        guard let t = tracees.removeValue(forKey: tid) else {
            if tid == rootPid { rootExit = exit }
            return
        }
        if var p = t.pending, p.forceErrno == nil {
            // Killed mid-syscall: no exit stop. The outcome is unknown; say so.
            p.facts.outcomeKnown = false
            refreshIdentity(t)
            interpreter.interpret(p.facts, process: t.process)
        }
        if tid == t.process.pid { t.process.exit = exit }
        if tid == rootPid { rootExit = exit }
    }

    func onExec(_ t: Tracee) {
        var current = t
        if let old = Ptrace.eventMessage(t.tid).map({ pid_t(truncatingIfNeeded: $0) }), old != t.tid, let oldT = tracees[old] {
            // execve from a non-leader thread: the thread took over the leader's tid. Move its state.
            tracees.removeValue(forKey: old)
            oldT.process = t.process
            let moved = Tracee(tid: t.tid, process: t.process)
            moved.pending = oldT.pending
            moved.started = true
            tracees[t.tid] = moved
            current = moved
        }
        let p = current.process
        let resolved = ProcFS.readlinkBytes("/proc/\(p.pid)/exe").map { String(decoding: $0, as: UTF8.self) } ?? p.exe
        processes.noteExec(p, resolved: resolved, argv: ProcFS.argv(pid: p.pid), cwdLink: "/proc/\(p.pid)/cwd",
                           ids: ProcFS.effectiveIDs(pid: p.pid))
        resume(current)
    }

    // MARK: - What the lifecycle asks of the ptrace backend

    public func signalApp(_ signal: Int32) {
        // PID 1 of its own namespace (the verify sandbox, as in a container) ignores a signal it has no
        // handler for: `docker stop` then waits out its grace period and kills it. The end is the same.
        if options.launch.isolate, !ProcFS.catches(pid: rootPid, signal: signal) {
            killApp()
            return
        }
        kill(rootPid, signal)
    }
    public func killApp() { for tid in tracees.keys { kill(tid, SIGKILL) } }
    public func detach() { beginDetach() }
    public var appEnded: Bool { rootExit != nil }
    public var progressCounts: (processes: Int, syscalls: Int, fileEvents: Int) {
        (processes.count, builder.syscallEvents, builder.mutationEvents)
    }

    // MARK: - Result

    func finish() -> TraceResult {
        builder.observeEnd()
        var result = lifecycle.result(builder: builder, command: options.displayCommand ?? options.launch.argv,
                                      exit: rootExit ?? ExitInfo(code: nil, signal: nil), attachedPid: nil,
                                      processes: processes.all, backend: "ptrace", denied: denied)
        result.denyStorm = denyStorm
        return result
    }
}

/// Writable files a launched app inherited: writes through them are not recorded as opens.
func snapshotInheritedFds(_ pid: pid_t, builder: RecordingBuilder, process: String) {
    for fd in ProcFS.openFds(pid: pid) where !fd.cloexec && fd.writable {
        let target = String(decoding: fd.target, as: UTF8.self)
        guard target.hasPrefix("/"), !target.hasPrefix("/dev/") else { continue }
        builder.blindSpot(.inheritedFd, "fd \(fd.fd) → \(target) was opened for writing before tracing; writes through it are not recorded as opens",
                          process: process)
    }
}
