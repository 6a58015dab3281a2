import FoundationEssentials
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
    /// --ready-url as given (stored in the recording, for `verify`'s next line).
    public var readyURL: String?
    public var readyTimeout: Double = 60
    /// Once ready, run this untraced (sh -c), then stop the app.
    public var exercise: String?
    /// More environment for the exercise (verify: ROPROF_PHASE=first|restart).
    public var exerciseEnvironment: [String: String] = [:]
    /// Attach to this running process and its descendants instead of launching.
    public var attachPid: Int32?
    /// check: paths the baseline already allows. A mutating call whose every path is allowed (and
    /// whose directories contain no symlink) is recorded at entry and not stopped again at its exit:
    /// its outcome cannot produce a finding.
    public var quietPath: (@Sendable (String) -> Bool)?
    /// Store argv word for word; by default values that look like secrets are redacted.
    public var keepArgv = false
    /// Stored in the recording: the service this run belongs to.
    public var serviceName: String?
    /// verify: stop the app (as at the end of --for) once one syscall has been denied this many times:
    /// a server looping on a denied accept4 would otherwise spin until a timeout.
    public var denyStormLimit: Int?
    /// --verbose: say which backend `auto` picked and why.
    public var explainBackend = false
    public init(launch: LaunchSpec, policy: TracePolicy) { self.launch = launch; self.policy = policy }
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
    /// roprof received a stop signal (the user's Ctrl-C, a SIGTERM) during the run.
    public var interrupted = false
}

/// What a recording watches when nothing is launched: a container's processes (its mount namespace,
/// found from one of its pids) or a cgroup (v2) and every cgroup below it.
public enum WatchTarget: Sendable, Equatable {
    case mountNamespace(pid: Int32, label: String)
    case cgroup(path: String)
    /// Runs `argv` (e.g. `podman start NAME`) and records, from the first program run in another
    /// mount namespace than roprof's on, what that command's descendants run: a container from its
    /// very start, without the engine's own work.
    case start(argv: [String], label: String)
}


/// Which backend records: `ptrace` sees the most (it can also deny and rewrite calls, which the
/// sandbox of verify needs); `ebpf` stops nothing and runs at native speed; `auto` picks eBPF where
/// speed matters and it loads here (check, --attach, --container), ptrace otherwise.
public enum BackendChoice: String, CaseIterable, Sendable {
    case ptrace, ebpf, auto
}

public enum Backend {
    /// Runs one recording with the chosen backend. `preferEBPF`: what `auto` means for this command.
    /// `note` gets the one line that says which backend ran (auto) or why auto fell back.
    /// For a launched command, `auto` with `preferEBPF` (check) decides by measured cost: eBPF's fixed
    /// load against ptrace's stops, from what earlier runs of the same command measured here (see
    /// `BackendCosts`); `options.explainBackend` puts the reason in a note. Every launched run adds
    /// its own measurements.
    public static func trace(_ options: TraceOptions, choice: BackendChoice, preferEBPF: Bool, watch: WatchTarget? = nil,
                             note: (String) -> Void) throws -> TraceResult {
        var wantEBPF = choice == .ebpf || (choice == .auto && (preferEBPF || watch != nil))
        let launched = watch == nil && options.attachPid == nil
        // Per mode: a full-inventory run stops on every call, a check only where the baseline says.
        let key = BackendCosts.key(options.launch.argv + ["\u{0}" + options.policy.mode.rawValue], cwd: options.launch.cwd ?? FileManager.default.currentDirectoryPath)
        let costs = launched ? BackendCosts.load() : nil
        if choice == .auto && preferEBPF && launched, let c = costs {
            let d = c.choose(key: key, probePinned: EBPFProbe.pinnedAndReady())
            wantEBPF = d.ebpf
            if options.explainBackend { note("backend: " + d.why) }
        }
        if wantEBPF {
            do {
                let started = Double(PtraceBackend.monotonicNs()) / 1e6
                let session = try EBPFBackend(options: options, watch: watch)
                let result = try session.run()
                // What eBPF added to the run: all of roprof's time but the app's own lifetime (the load,
                // attaching, draining, detaching, the survey).
                let loaded = max(0, Double(PtraceBackend.monotonicNs()) / 1e6 - started - (result.recording.runs.first?.durationSeconds ?? 0) * 1000)
                if choice == .auto && watch == nil && !options.explainBackend { note("recorded with the eBPF backend (nothing was stopped)") }
                if var c = costs {
                    c.noteEBPF(ms: loaded, loaded: session.probe.loadedNow)
                    // What ptrace would stop on: the file events, and two stops per process or thread
                    // created, one per exec and per exit (from the call counts the probe kept).
                    let calls = result.recording.syscalls.values.reduce(into: [String: Int]()) { acc, m in for (k, v) in m { acc[k, default: 0] += v } }
                    let spawned = ["clone", "clone3", "fork", "vfork"].reduce(0) { $0 + (calls[$1] ?? 0) }
                    let lifecycle = ["execve", "execveat", "exit", "exit_group"].reduce(0) { $0 + (calls[$1] ?? 0) }
                    c.noteCommand(key, stops: session.ptraceStopsEstimate + 2 * spawned + lifecycle)
                    c.save()
                }
                return result
            } catch let e as EBPFUnavailable {
                if choice == .ebpf || watch != nil { throw e }
                note("recording with ptrace: \(e.description)")
            }
        }
        DebugTiming.phase("ptrace-start")
        let cpuBefore = cpuMicroseconds(), started = Double(PtraceBackend.monotonicNs()) / 1e6
        let session = PtraceBackend(options: options)
        let result = try session.run()
        DebugTiming.phase("ptrace-done")
        if var c = costs {
            // What ptrace added besides the app's lifetime (its stops lengthen that lifetime: per stop below).
            c.notePtraceFixed(ms: Double(PtraceBackend.monotonicNs()) / 1e6 - started - (result.recording.runs.first?.durationSeconds ?? 0) * 1000)
            // The tracer's CPU per stop: what the tracee waits for at each stop, besides the switches.
            if session.stops >= 500 { c.noteStopCost(us: (cpuMicroseconds() - cpuBefore) / Double(session.stops)) }
            c.noteCommand(key, stops: session.stops)
            c.save()
        }
        DebugTiming.phase("costs-saved")
        return result
    }
}
