internal import CPtrace
import Foundation
import Glibc
import Seccomp
import TraceModel

/// Options for one traced run.
public struct TraceOptions: Sendable {
    public var launch: LaunchSpec
    public var policy: TracePolicy
    /// Show a live status line on stderr (only when stderr is a TTY).
    public var progress: Bool = true
    /// Stop the app after this many seconds (SIGTERM, grace, SIGKILL), like a container runtime.
    public var duration: Double?
    public var gracePeriod: Double = 5
    /// The command line to store (defaults to argv).
    public var displayCommand: [String]?
    /// Wait until this answers before the --for window or the exercise starts.
    public var readyTarget: ReadinessProbe.Target?
    public var readyTimeout: Double = 60
    /// Once ready, run this untraced (sh -c), then stop the app.
    public var exercise: String?
    /// Attach to this running process and its descendants instead of launching.
    public var attachPid: Int32?
    /// check: paths the baseline already allows. A mutating call whose every path is allowed (and
    /// whose directories contain no symlink) is recorded at entry and not stopped again at its exit:
    /// its outcome cannot produce a finding.
    public var quietPath: (@Sendable (String) -> Bool)?
    /// Stored in the recording: the service this run belongs to.
    public var serviceName: String?
    /// verify: stop the app (as at the end of --for) once one syscall has been denied this many times:
    /// a server looping on a denied accept4 would otherwise spin until a timeout.
    public var denyStormLimit: Int?
    public init(launch: LaunchSpec, policy: TracePolicy) { self.launch = launch; self.policy = policy }
}

/// A syscall the sandbox's seccomp policy denied.
public struct DeniedSyscall: Hashable, Sendable {
    public var name: String
    public var arch: String
    public var process: String
}

/// What a traced run produced.
public struct TraceResult {
    public var recording: Recording
    public var exit: ExitInfo
    public var denied: [DeniedSyscall: Int]
    /// The --while exercise's own exit, when there was one.
    public var exerciseExit: ExitInfo?
    /// Set when --ready-url never answered in time.
    public var readinessTimedOut = false
    /// The denied syscall that made roprof stop the app early (see `TraceOptions.denyStormLimit`).
    public var denyStorm: DeniedSyscall?
}

/// One process (thread group) of the traced tree.
final class ProcessState {
    let pid: pid_t
    var ppid: pid_t?
    var execs: [ExecRecord] = []
    var exe: String
    var root: String?           // nil: "/"
    var uid: Int?
    var gid: Int?
    var exit: ExitInfo?
    var compatNoted = false
    init(pid: pid_t, ppid: pid_t?, exe: String) { self.pid = pid; self.ppid = ppid; self.exe = exe }
}

/// One thread being traced.
final class Tracee {
    let tid: pid_t
    var process: ProcessState
    var pending: PendingCall?
    var started = false
    init(tid: pid_t, process: ProcessState) { self.tid = tid; self.process = process }
}

/// A decoded syscall entry waiting for its result.
struct PendingCall {
    struct Item {
        var path: TracedPath
        var op: FileOperation
        var flags: [String]
        var existed: Bool?
        var bytes: Int?
    }
    var name: String
    var arch: SeccompArch
    var call: MutatingCall
    var items: [Item] = []
    var openFlags: UInt64?
    /// Set the return value to -errno at exit (deny / async-io denial).
    var forceErrno: Int32?
}

/// The ptrace engine: launches a command under seccomp-assisted ptrace and follows its whole tree.
/// Everything runs on the calling thread, which must be the only thread issuing ptrace requests.
public final class TraceSession: RunControl {
    let options: TraceOptions
    let builder = RecordingBuilder()
    var tracees: [pid_t: Tracee] = [:]
    var processes: [pid_t: ProcessState] = [:]
    var allProcesses: [ProcessState] = []
    var rootPid: pid_t = 0
    var rootExit: ExitInfo?
    var denied: [DeniedSyscall: Int] = [:]
    var tables: [SeccompArch: [MutatingCall?]] = [:]
    var dangerousTables: [SeccompArch: [Bool]] = [:]
    var names: [SeccompArch: SyscallTable] = [:]
    var infoBuffer: SyscallInfo.Buffer = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// check: directory → whether it holds no symlink (see `directoryIsPlain`).
    var plainDirectories: [String: Bool] = [:]
    var flagNameCache: [UInt64: [String]] = [:]
    /// The current polling window of `waitForStop` (0: never poll — one CPU, or ROPROF_NO_SPIN set).
    var spinBudgetNs: UInt64 = (sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 && ProcessInfo.processInfo.environment["ROPROF_NO_SPIN"] == nil) ? 50_000 : 0
    let nativeArch = SeccompArch.native
    var denyStorm: DeniedSyscall?
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
        for arch in [nativeArch] + nativeArch.compatArches { prepareTable(arch) }
        builder.runID = Self.makeRunID(argv: options.launch.argv)
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
        root.uid = Int(getuid())
        root.gid = Int(getgid())
        register(root)
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

    func register(_ p: ProcessState) {
        processes[p.pid] = p
        allProcesses.append(p)
    }

    func prepareTable(_ arch: SeccompArch) {
        let table = SyscallTable(arch: arch)
        names[arch] = table
        var arr = [MutatingCall?](repeating: nil, count: 1024)
        for (name, call) in MutatingCall.catalog {
            if arch == .x86 && name == "mmap" { continue }  // i386 old_mmap takes a struct; mmap2 is decoded
            guard var nr = table.number(name) else { continue }
            if arch == .x32 { nr &= ~0x4000_0000 }
            if nr >= 0 && nr < arr.count { arr[nr] = call }
        }
        tables[arch] = arr
        var d = [Bool](repeating: false, count: 1024)
        for name in Recording.dangerousSyscalls {
            guard var nr = table.number(name) else { continue }
            if arch == .x32 { nr &= ~0x4000_0000 }
            if nr >= 0 && nr < d.count { d[nr] = true }
        }
        dangerousTables[arch] = d
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
        let proc: ProcessState
        if let p = processes[tgid] { proc = p } else {
            let ppid = ProcFS.statusField(pid: tgid, "PPid").flatMap { pid_t($0) }
            let exe = ProcFS.readlinkBytes("/proc/\(tgid)/exe").map { String(decoding: $0, as: UTF8.self) }
                ?? processes[ppid ?? 0]?.exe ?? "?"
            proc = ProcessState(pid: tgid, ppid: ppid, exe: exe)
            proc.root = processes[ppid ?? 0]?.root
            proc.uid = ProcFS.statusField(pid: tgid, "Uid").flatMap { $0.split(separator: "\t").first.flatMap { Int($0) } }
            register(proc)
        }
        let t = Tracee(tid: tid, process: proc)
        tracees[tid] = t
        return t
    }

    static let debugEvents = ProcessInfo.processInfo.environment["ROPROF_DEBUG_EVENTS"] != nil

    func handle(pid tid: pid_t, status: Int32) {
        let event = StopEvent.classify(status)
        if Self.debugEvents { FileHandle.standardError.write("roprof-event \(tid) \(event) pending=\(tracees[tid]?.pending?.name ?? "-")\n".data(using: .utf8)!) }
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
            if let msg = Ptrace.eventMessage(tid) {
                let child = tracee(for: pid_t(truncatingIfNeeded: msg))
                if child.process.pid == child.tid && child.process.ppid == nil { child.process.ppid = t.process.pid }
            }
            resume(t)
        case .event(.exec):
            onExec(t)
        case .event(.exit), .event(.vforkDone), .event(.seccomp), .event(.stop):
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
        if let p = t.pending {
            // Killed mid-syscall: no exit stop. The outcome is unknown; say so.
            for item in p.items {
                builder.record(item.path, item.op, syscall: p.name, flags: item.flags, process: t.process.exe,
                               pid: t.process.pid, errno: nil, outcomeKnown: false, existedBefore: item.existed)
            }
            if !p.items.isEmpty {
                builder.blindSpot(.unknownOutcome, "\(p.name) interrupted when the process died; outcome unknown",
                                  process: t.process.exe)
            }
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
        let argv = ProcFS.argv(pid: p.pid)
        // The program as it was run (redis-server), not only the file the kernel resolved (redis-check-rdb).
        let asRun = Self.pathAsRun(argv0: argv.first, resolved: resolved, cwd: "/proc/\(p.pid)/cwd")
        p.exe = asRun
        var record = ExecRecord(exe: asRun, argv: argv)
        if asRun != resolved { record.resolved = resolved }
        p.execs.append(record)
        // The uid the program runs as (a wrapper such as setpriv or gosu may have dropped root).
        if let uid = ProcFS.statusField(pid: p.pid, "Uid").flatMap({ $0.split(separator: "\t").dropFirst().first.flatMap { Int($0) } }) {
            p.uid = uid
        }
        if let gid = ProcFS.statusField(pid: p.pid, "Gid").flatMap({ $0.split(separator: "\t").dropFirst().first.flatMap { Int($0) } }) {
            p.gid = gid
        }
        resume(current)
    }

    /// argv[0] as a path when it names the executable the kernel ran (through symlinks), else `resolved`.
    static func pathAsRun(argv0: String?, resolved: String, cwd: String) -> String {
        guard let a0 = argv0, !a0.isEmpty, a0 != resolved else { return resolved }
        let candidate: String
        if a0.hasPrefix("/") { candidate = a0 }
        else if a0.contains("/") {
            guard let dir = ProcFS.readlinkBytes(cwd).map({ String(decoding: $0, as: UTF8.self) }) else { return resolved }
            candidate = String(decoding: tidy(Array((dir + "/" + a0).utf8)), as: UTF8.self)
        } else {
            candidate = (resolved as NSString).deletingLastPathComponent + "/" + a0
        }
        guard let real = realpath(candidate, nil) else { return resolved }
        defer { free(real) }
        return String(cString: real) == resolved ? candidate : resolved
    }

    // MARK: - What the lifecycle asks of the ptrace backend

    func signalApp(_ signal: Int32) { kill(rootPid, signal) }
    func killApp() { for tid in tracees.keys { kill(tid, SIGKILL) } }
    func detach() { beginDetach() }
    var appEnded: Bool { rootExit != nil }
    var progressCounts: (processes: Int, syscalls: Int, fileEvents: Int) {
        (allProcesses.count, builder.syscallEvents, builder.mutationEvents)
    }

    // MARK: - Result

    /// UTC, second precision (ISO8601DateFormatter would load ICU: milliseconds of start-up).
    static func iso8601(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func makeRunID(argv: [String]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "\(Date().timeIntervalSince1970)|\(getpid())|\(argv)".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "run-" + String(h, radix: 16).prefix(10)
    }

    func finish() -> TraceResult {
        builder.observeEnd()
        var result = lifecycle.result(builder: builder, command: options.displayCommand ?? options.launch.argv,
                                      exit: rootExit ?? ExitInfo(code: nil, signal: nil), attachedPid: nil,
                                      processes: allProcesses, backend: "ptrace", denied: denied)
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
