internal import CPtrace
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// What a backend does when the run lifecycle asks. The ptrace session and the eBPF session each
/// implement it; the lifecycle never knows which one runs.
public protocol RunControl: AnyObject {
    /// Sends `signal` to the app's first process (launch mode).
    func signalApp(_ signal: Int32)
    /// SIGKILL every process of the app (launch mode).
    func killApp()
    /// Attach / container mode: stop recording and leave the app running as it is.
    func detach()
    /// Whether the app's first process has ended (launch mode).
    var appEnded: Bool { get }
    /// For the progress line: processes seen, syscalls and file events counted so far.
    var progressCounts: (processes: Int, syscalls: Int, fileEvents: Int) { get }
}

/// One run's lifecycle, the same for every backend: signal handling, --ready-url, the --while
/// exercise, the --for window, the SIGTERM → grace → SIGKILL stop, and the progress line.
/// The backend's event loop calls `tick()` whenever it wakes (an event, or the 250 ms timer).
public final class RunLifecycle {
    public let options: TraceOptions
    /// Attach and container modes: stopping means detaching, never signalling the app.
    let observing: Bool
    public weak var control: RunControl?
    private(set) var startTime = Date()
    private(set) var terminateSent: Date?
    private var killSent = false
    let progress: ProgressLine?
    private var probe: ReadinessProbe?
    private var readyAt: Date?
    /// The --while exercise while it runs (a child of roprof: the backend's waitpid reaps it).
    public private(set) var exercisePid: Int32 = 0
    public private(set) var exerciseExit: ExitInfo?
    public var exerciseRunning: Bool { exercisePid != 0 }
    public private(set) var readinessTimedOut = false
    /// SIGINT/SIGTERM/SIGHUP/SIGQUIT received so far: the first stops the app (or detaches), the
    /// second ends the recording early (marked incomplete), the third gives up waiting at once.
    private var interrupts = 0
    /// A SIGINT/SIGQUIT that may have been sent to roprof alone: passed on to the app if it is still
    /// running after a moment (a terminal's Ctrl-C already reached it through the process group).
    private var unforwardedInterrupt: (signal: Int32, at: Date)?
    public private(set) var interruptedEarly = false
    /// The third signal: the backend's loop returns at once.
    public private(set) var abandon = false

    public init(options: TraceOptions, observing: Bool) {
        self.options = options
        self.observing = observing
        progress = options.progress && isatty(2) != 0 ? ProgressLine() : nil
    }

    /// Installs the signal handlers and the timer, and starts the clock (and the readiness probe).
    public func begin() {
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM] { roprof_install_flag_handler(s, 0) }
        _ = roprof_take_signals()  // a signal an earlier session already handled
        // A parent may hand us a blocked signal mask (posix_spawn keeps it): unblock what the loop needs.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGCHLD] { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        if progress != nil || options.duration != nil || options.readyTarget != nil || options.exercise != nil {
            var it = itimerval(it_interval: timeval(tv_sec: 0, tv_usec: 250_000), it_value: timeval(tv_sec: 0, tv_usec: 250_000))
            setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &it, nil)
        }
        startTime = Date()
    }

    /// The app runs from now: the clock restarts, and the readiness probe starts polling.
    public func appStarted() {
        startTime = Date()
        if let target = options.readyTarget {
            probe = ReadinessProbe(target: target)
            probe!.start()
        }
    }

    /// Stops the timer and the probe. The signal handlers stay: a signal that arrives while the
    /// recording is being written must not kill roprof before it is on disk (roprof exits right after).
    public func end() {
        var it = itimerval()
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &it, nil)
        probe?.stop()
        progress?.clear()
    }

    /// Handles the signals received since the last call, then the deadlines.
    public func tick() {
        let sigs = roprof_take_signals()
        if sigs != 0 { handleSignals(sigs) }
        checkDeadline()
    }

    /// A child of roprof ended: true when it was the exercise.
    public func childEnded(_ pid: Int32, _ exit: ExitInfo) -> Bool {
        guard pid == exercisePid && exercisePid != 0 else { return false }
        exerciseExit = exit
        exercisePid = 0
        return true
    }

    /// The app is gone: an exercise still running has nothing left to exercise.
    public func appGone() {
        if exercisePid != 0 { kill(exercisePid, SIGTERM) }
    }

    /// Whether roprof ended the run itself (the end of --for / --while, a signal, a detach).
    /// Whether --ready-url answered (always false without one).
    public var isReady: Bool { readyAt != nil && probe != nil }
    /// Whether roprof received a stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) during the run.
    public var interrupted: Bool { interrupts > 0 }

    public var stoppedByRoprof: Bool { terminateSent != nil || observing }

    private func handleSignals(_ mask: UInt) {
        func has(_ s: Int32) -> Bool { mask & (1 << UInt(s)) != 0 }
        if has(SIGALRM), let control { progress?.update(startTime: startTime, counts: control.progressCounts) }
        let received = [SIGINT, SIGTERM, SIGHUP, SIGQUIT].filter(has)
        guard !received.isEmpty else { return }
        interrupts += 1
        switch interrupts {
        case 1:
            if observing { stopApp(); return }
            // A SIGTERM / SIGHUP sent to roprof is passed on to the app. A terminal's Ctrl-C / Ctrl-\
            // reaches the app's process group by itself; if it was sent to roprof alone, the app gets
            // it after a moment (see checkDeadline).
            for s in received where s == SIGTERM || s == SIGHUP { control?.signalApp(s) }
            if let s = received.first(where: { $0 == SIGINT || $0 == SIGQUIT }) { unforwardedInterrupt = (s, Date()) }
        case 2:
            // Finish now: what was seen so far is written, marked incomplete.
            interruptedEarly = true
            progress?.clear()
            StdIO.error("\nroprof: second signal: ending the recording now (it will be marked incomplete); a third gives up waiting\n")
            if observing { control?.detach() } else { control?.killApp() }
        default:
            interruptedEarly = true
            if !observing { control?.killApp() }
            abandon = true  // what is left is detached (attach) or killed (launch) when roprof exits
        }
    }

    /// Readiness, the exercise, the --for window, and the SIGTERM → grace → SIGKILL stop.
    private func checkDeadline() {
        if let u = unforwardedInterrupt, Date().timeIntervalSince(u.at) >= 2 {
            unforwardedInterrupt = nil
            if control?.appEnded == false { control?.signalApp(u.signal) }
        }
        if let sent = terminateSent {
            if !observing && !killSent && Date().timeIntervalSince(sent) >= options.gracePeriod {
                killSent = true
                control?.killApp()
            }
            return
        }
        if let p = probe, readyAt == nil {
            if p.isReady {
                readyAt = Date()
                if let ex = options.exercise { startExercise(ex) }
            } else if Date().timeIntervalSince(startTime) > options.readyTimeout {
                readinessTimedOut = true
                stopApp()
            }
            return
        }
        if readyAt == nil && options.exercise != nil && options.readyTarget == nil {
            readyAt = startTime
            startExercise(options.exercise!)
        }
        if let d = options.duration, Date().timeIntervalSince(readyAt ?? startTime) >= d { stopApp() }
        if exerciseExit != nil { stopApp() }
    }

    /// Stops the app the way a container runtime does: SIGTERM, SIGKILL after the grace period.
    /// When observing (attach, container), roprof stops recording instead.
    public func stopApp() {
        if observing {
            if terminateSent == nil { terminateSent = Date(); control?.detach() }
            return
        }
        guard terminateSent == nil else { return }
        terminateSent = Date()
        control?.signalApp(SIGTERM)
    }

    /// Runs the --while exercise (untraced); it dies with roprof should roprof be killed.
    private func startExercise(_ command: String) {
        let env = ProcessInfo.processInfo.environment.merging(options.exerciseEnvironment) { $1 }.map { "\($0.key)=\($0.value)" }
        if let (pid, errorPipe) = try? Launcher.spawn(LaunchSpec(executable: "/bin/sh", argv: ["/bin/sh", "-c", command], environment: env),
                                                     filter: [], traced: false) {
            close(errorPipe)
            exercisePid = pid
        } else {
            exerciseExit = ExitInfo(code: 127)
        }
    }
}

extension RunLifecycle {
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

    /// The end of a run, the same for every backend: the run as the recording states it (marked
    /// incomplete, with the `tracing-interrupted` blind spot, after a second signal), then the result.
    func result(builder: RecordingBuilder, command: [String], exit: ExitInfo, attachedPid: Int?, processes: [ProcessState],
                backend: String, denied: [DeniedSyscall: Int]) -> TraceResult {
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: uts.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let keep = options.keepArgv
        let procs = processes.map {
            ProcessRecord(pid: Int($0.pid), ppid: $0.ppid.map(Int.init),
                          execs: keep ? $0.execs : $0.execs.map { ExecRecord(exe: $0.exe, argv: ArgvRedaction.redact($0.argv), resolved: $0.resolved) },
                          uid: $0.uid, exit: $0.exit, gid: $0.gid)
        }
        let command = keep ? command : ArgvRedaction.redact(command)
        var run = RunInfo(
            id: builder.runID, command: command, cwd: options.launch.cwd ?? FileManager.default.currentDirectoryPath,
            mode: options.policy.mode, host: HostFacts(arch: SeccompArch.native.rawValue, kernel: kernel, uid: Int(getuid()), gid: Int(getgid())),
            startedAt: Self.iso8601(startTime),
            durationSeconds: (Date().timeIntervalSince(startTime) * 1000).rounded() / 1000,
            exit: exit, attachedPid: attachedPid, complete: !interruptedEarly, processes: procs)
        run.name = options.serviceName
        run.readyURL = options.readyURL
        run.exercise = options.exercise
        run.backend = backend
        run.stoppedByRoprof = stoppedByRoprof
        if interruptedEarly {
            builder.blindSpot(.tracingInterrupted, "roprof was interrupted twice: the recording ends at that moment, and what the app did afterwards is unseen",
                              process: options.launch.executable)
        }
        var result = TraceResult(recording: builder.build(run: run), exit: exit, denied: denied)
        result.exerciseExit = exerciseExit
        result.readinessTimedOut = readinessTimedOut
        result.interrupted = interrupted
        return result
    }
}

/// Files already open for writing in processes roprof began recording mid-life (`--attach`, a
/// running container): writes through them are not recorded as opens.
func noteOpenWritableFiles(_ processes: [ProcessState], builder: RecordingBuilder, when: String) {
    for p in processes {
        for fd in ProcFS.openFds(pid: p.pid) where fd.writable {
            let target = String(decoding: fd.target, as: UTF8.self)
            guard target.hasPrefix("/"), !target.hasPrefix("/dev/") else { continue }
            builder.blindSpot(.inheritedFd, "fd \(fd.fd) → \(target) was already open for writing when \(when)", process: p.exe)
        }
    }
}

/// A live status line on stderr, only for runs longer than a second.
final class ProgressLine {
    var shown = false
    func update(startTime: Date, counts: (processes: Int, syscalls: Int, fileEvents: Int)) {
        let elapsed = Date().timeIntervalSince(startTime)
        guard elapsed >= 1 else { return }
        let n = counts.processes
        let line = "roprof: " + Format.fixed(elapsed, 1) + "s" + " · \(n) process\(n == 1 ? "" : "es") · \(counts.syscalls) syscalls · \(counts.fileEvents) file events"
        StdIO.error("\r\u{1B}[K" + line)
        shown = true
    }
    func clear() {
        if shown { StdIO.error("\r\u{1B}[K") }
    }
}
