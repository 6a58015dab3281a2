import Analysis
import Engine
import Sandbox
import FoundationEssentials
import Glibc
import TraceModel
import Tracer

/// What a recording follows: a command it launches, a running process tree, a container, a
/// cgroup, or an image run as it defines itself.
public enum RecordSource: Sendable {
    case launch
    case attach(pid: Int32)
    case container(name: String, engine: String)
    case cgroup(path: String)
    case image(ImageRequest)
}

/// One recording to make.
public struct RecordRequest: Sendable {
    public var settings: RunSettings
    public var mode: TraceMode = .full
    public var source: RecordSource = .launch
    /// The service this run belongs to (`record --name`).
    public var service: String?
    /// The app's stdout goes to stderr (the recording or the report is standard output).
    public var appStdoutToStderr = false
    /// check: paths a baseline already allows (see `TraceOptions.quietPath`).
    public var quietPath: (@Sendable (String) -> Bool)?
    /// What `--backend auto` picks for a launched command: eBPF for check, ptrace for record.
    public var preferEBPF = false
    /// Cover the app's life, not one boot: when the app is a server or keeps state, run it a second
    /// time on the files the first run left, under the remedies roprof suggests (launched apps).
    public var restart = false
    /// Inside a container that `record --image` starts twice: when this recording of the first start
    /// exists, this run is the restart (the remedies it suggests applied, its runs marked "restart").
    public var restartOf: String?
    public init(settings: RunSettings) { self.settings = settings }
}

/// What a recording run gave: the recording, how the app ended, and the exit status the contract
/// gives for it.
public struct RecordOutcome {
    public var recording: Recording
    public var exit: ExitInfo
    public var exerciseExit: ExitInfo?
    public var readinessTimedOut = false
    public var denied: [DeniedSyscall: Int] = [:]
    public var denyStorm: DeniedSyscall?
    /// Lines for the user (a planned stop, a failed exercise, a container left running).
    public var notes: [String] = []

    /// roprof was told to stop (Ctrl-C, SIGTERM) during the run.
    public var interrupted = false
    /// roprof ended the (first) run itself: the end of --for / --while, a detach.
    public var stoppedByRoprof: Bool

    init(_ r: TraceResult) {
        recording = r.recording; exit = r.exit; exerciseExit = r.exerciseExit
        readinessTimedOut = r.readinessTimedOut; denied = r.denied; denyStorm = r.denyStorm; interrupted = r.interrupted
        stoppedByRoprof = r.recording.runs.first?.stoppedByRoprof == true
    }
    init(recording: Recording, exit: ExitInfo) {
        self.recording = recording; self.exit = exit
        stoppedByRoprof = recording.runs.first?.stoppedByRoprof == true
    }

    /// The exit status of record/run: the app's own (128+N for signal N), except that a stop roprof
    /// made itself (the end of --for or --while, or a detach) is planned: 0; readiness that never
    /// came is 2.
    public var status: Int32 {
        if readinessTimedOut { return 2 }
        return plannedStop ? 0 : Int32(truncatingIfNeeded: exit.shellStatus)
    }

    /// A non-zero status left by a stop roprof made itself.
    public var plannedStop: Bool {
        exit.shellStatus != 0 && stoppedByRoprof && denyStorm == nil
    }
}

/// record / run: one recording of the app, with the backend chosen by --backend.
public enum Recorder {
    public static func record(_ req: RecordRequest, notify: @escaping Notify) throws -> RecordOutcome {
        try record(req, policy: TracePolicy(mode: req.mode), notify: notify)
    }

    /// With an explicit tracing policy (check passes the baseline's syscalls).
    public static func record(_ req: RecordRequest, policy: TracePolicy, notify: @escaping Notify) throws -> RecordOutcome {
        let s = req.settings
        var outcome: RecordOutcome
        switch req.source {
        case .image(let image):
            outcome = try ImageRunner.record(image, settings: s, mode: req.mode, service: req.service, restart: req.restart, notify: notify)
        case .launch:
            var o = s.traceOptions(policy: policy, launch: try s.launchSpec())
            o.serviceName = req.service
            o.quietPath = req.quietPath
            // The container's second start: the app on the files its first start left, under the remedies.
            var restartEnv: [String: String]? = nil
            if let path = req.restartOf, FileManager.default.fileExists(atPath: path) {
                let env = try remedyEnvironment(try Recording.load(path: path))
                for (k, v) in env.sorted(by: { $0.key < $1.key }) {
                    o.launch.environment.removeAll { $0.hasPrefix(k + "=") }
                    o.launch.environment.append("\(k)=\(v)")
                }
                restartEnv = env
            }
            outcome = RecordOutcome(try appOutputToStderr(req.appStdoutToStderr) {
                try Backend.trace(o, choice: s.backend, preferEBPF: req.preferEBPF, note: notify)
            })
            outcome.recording.notePathInputs(environment: o.launch.environment)
            if let env = restartEnv {
                for i in outcome.recording.runs.indices {
                    outcome.recording.runs[i].phase = "restart"
                    outcome.recording.runs[i].remedyEnv = env.isEmpty ? nil : env
                }
            } else if req.restart {
                try restartPhase(&outcome, options: o, req: req, notify: notify)
            }
        case .attach(let pid):
            var o = s.observingOptions(policy: policy)
            o.attachPid = pid
            o.displayCommand = ProcFSArgv(pid)
            o.serviceName = req.service
            // The process's environment as it started (read while it runs).
            let environ = StdIO.readFile("/proc/\(pid)/environ") ?? []
            outcome = RecordOutcome(try Backend.trace(o, choice: s.backend, preferEBPF: true, note: notify))
            outcome.recording.notePathInputs(environment: environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
        case .cgroup(let path):
            var o = s.observingOptions(policy: policy)
            o.serviceName = req.service
            o.quietPath = req.quietPath
            outcome = RecordOutcome(try Backend.trace(o, choice: s.backend, preferEBPF: true, watch: .cgroup(path: path), note: notify))
        case .container(let name, let engineName):
            outcome = try recordContainer(name, engine: try ContainerEngine(name: engineName), settings: s, policy: policy,
                                          service: req.service, quietPath: req.quietPath, notify: notify)
        }
        outcome.notes += s.serverNotes(readinessTimedOut: outcome.readinessTimedOut, exerciseExit: outcome.exerciseExit)
        if let url = s.readyURL, outcome.exerciseExit == nil, !outcome.stoppedByRoprof, !outcome.readinessTimedOut,
           !outcome.interrupted, outcome.exit.shellStatus != 0 {
            outcome.notes.append("warning: the app exited with status \(outcome.exit.shellStatus) before \(url) answered: this is a recording of a failed start (the exercise never ran); its own messages above and `roprof report` say what failed")
        }
        if outcome.plannedStop {
            outcome.notes.append("the app was stopped by roprof at the end of the run (status \(outcome.exit.shellStatus)): a planned stop, not a failure")
        }
        return outcome
    }

    /// The second part of the app's life: started again on the files its first run left, with the
    /// environment the suggested remedies set, so the seccomp profile holds on a restart and under
    /// the printed settings. Only for an app that serves (roprof stopped it) or keeps state.
    static func restartPhase(_ outcome: inout RecordOutcome, options: TraceOptions, req: RecordRequest, notify: @escaping Notify) throws {
        guard !outcome.interrupted, !outcome.readinessTimedOut, outcome.denyStorm == nil,
              outcome.recording.runs.first?.complete == true else { return }
        let server = outcome.stoppedByRoprof
        guard server || outcome.exit.shellStatus == 0 else { return }
        let catalog = try ProfileCatalog.load()
        let analysis = Analyzer(runtime: try catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(outcome.recording)
        guard server || analysis.mounts.contains(where: { $0.kind == .persistent }) else { return }
        let env = analysis.env
        // As the hardened container restarts: its state volumes keep what the first run wrote; its
        // tmpfs mounts (runtime, scratch, cache) start empty — a stale pid file does not survive.
        // Only run-time directories (pid files, sockets, locks) that hide nothing of the app's: never one
        // holding its working directory, a file its command names, or entries it did not make.
        let cwd = FileManager.default.currentDirectoryPath
        let named = [cwd] + options.launch.argv.filter { $0.hasPrefix("/") } + [options.launch.executable]
        let fresh = analysis.mounts.filter { m in
            m.kind == .tmpfs && m.purpose == .runtime && m.hidesContent.isEmpty && !named.contains { PathGlob.isUnder($0, m.path) }
        }.map(\.path)
        notify("restart: running the app again on the files its first run left" + (fresh.isEmpty ? "" : " (fresh " + fresh.joined(separator: ", ") + ")")
               + (env.isEmpty ? "" : ", with " + env.keys.sorted().map { "\($0)=\(env[$0]!)" }.joined(separator: " "))
               + ", so the profile covers a restart (--no-restart skips this)")
        var o = options
        var plan = SandboxPlan(runtimeWritable: [], mounts: fresh.map { .init(path: $0, kind: .tmpfs(bytes: 256 << 20)) }, environment: env)
        plan.readOnlyRoot = false
        let sandbox = try plan.prepare(&o.launch)
        defer { SandboxPlan.cleanUp(sandbox) }
        let trace = { (o: TraceOptions) in
            RecordOutcome(try appOutputToStderr(req.appStdoutToStderr) {
                try Backend.trace(o, choice: req.settings.backend, preferEBPF: req.preferEBPF, note: { _ in })
            })
        }
        let second: RecordOutcome
        do {
            second = try trace(o)
        } catch TraceError.sandboxSetup(let why) {
            // No mount namespace here (inside a container without CAP_SYS_ADMIN): the restart runs on
            // the files as they are, with the remedies' environment.
            notify("restart: the fresh tmpfs mounts cannot be made here (\(why)); restarting on the files as they are")
            var plain = options
            plain.launch.environment = o.launch.environment
            second = try trace(plain)
        }
        var a = outcome.recording, b = second.recording
        let firstStopped = outcome.stoppedByRoprof
        for i in a.runs.indices { a.runs[i].phase = "first" }
        for i in b.runs.indices { b.runs[i].phase = "restart"; b.runs[i].remedyEnv = env.isEmpty ? nil : env }
        outcome.recording = Recording.merged([a, b])
        if second.interrupted { outcome.interrupted = true }
        if firstStopped && !second.stoppedByRoprof && !second.readinessTimedOut {
            outcome.notes.append("the app ended by itself (status \(second.exit.shellStatus)) when it was restarted on its own files, where its first start kept serving: check what it said above")
        }
        if second.readinessTimedOut || (second.status != 0 && !second.plannedStop) {
            outcome.notes.append("the app failed when it was restarted on its own files (status \(second.exit.shellStatus)\(second.readinessTimedOut ? ", never ready" : "")): what a restart does is in the recording; run `roprof diagnose` on a second start to see why")
            outcome.exit = second.exit
            outcome.readinessTimedOut = second.readinessTimedOut
        }
        outcome.exerciseExit = outcome.exerciseExit ?? second.exerciseExit
    }

    /// The environment the remedies suggested for a recording set (what a restart runs under).
    static func remedyEnvironment(_ r: Recording) throws -> [String: String] {
        let catalog = try ProfileCatalog.load()
        return Analyzer(runtime: try catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(r).env
    }

    /// A running container from now on, or a created/stopped one from its start (roprof starts it);
    /// the recording carries the container's image.
    static func recordContainer(_ name: String, engine: ContainerEngine, settings s: RunSettings, policy: TracePolicy, service: String?,
                                quietPath: (@Sendable (String) -> Bool)?, notify: @escaping Notify) throws -> RecordOutcome {
        var o = s.observingOptions(policy: policy)
        o.serviceName = service
        o.quietPath = quietPath
        let c = try engine.container(name)
        var result: TraceResult
        var notes: [String] = []
        if let pid = c.pid {
            o.displayCommand = ProcFSArgv(pid)
            result = try Backend.trace(o, choice: s.backend, preferEBPF: true, watch: .mountNamespace(pid: pid, label: "container \(name)"), note: notify)
        } else {
            result = try Backend.trace(o, choice: s.backend, preferEBPF: true, watch: .start(argv: [engine.name, "start", name], label: "container \(name)"), note: notify)
            if result.recording.runs.first?.processes.isEmpty ?? true {
                throw ModelError("container '\(name)' did not start (`\(engine.name) start \(name)` failed; `\(engine.name) logs \(name)` may say why)")
            }
            if (try? engine.container(name))?.pid != nil {
                notes.append("container \(name) was started by roprof and is still running (`\(engine.name) stop \(name)` stops it)")
            }
        }
        if let cfg = try? engine.inspect(c.image) {
            for i in result.recording.runs.indices {
                result.recording.runs[i].image = ImageRun(reference: c.image, id: cfg.id, digest: cfg.digest, engine: engine.name, user: cfg.user,
                                                          workingDir: cfg.workingDir, entrypoint: cfg.entrypoint, cmd: cfg.cmd, env: cfg.env, ports: nil)
                result.recording.runs[i].cwd = cfg.workingDir
            }
        }
        var outcome = RecordOutcome(result)
        outcome.notes = notes
        return outcome
    }
}

/// The argv of a running process (for the recording of an attach run).
public func ProcFSArgv(_ pid: Int32) -> [String] {
    guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return ["pid \(pid)"] }
    return d.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}
