import FoundationEssentials
import Glibc
import TraceModel
import Tracer

/// How the app is run and stopped, whatever records it: the command, the --for window, the grace
/// period, readiness, the --while exercise, the backend and the user. The CLI fills it from its
/// options; every workflow reads it.
public struct RunSettings: Sendable {
    public var command: [String] = []
    public var duration: Double?
    public var grace: Double = 5
    public var readyURL: String?
    public var readyTimeout: Double = 60
    public var exercise: String?
    public var progress = true
    public var backend: BackendChoice = .auto
    /// USER[:GROUP] to run the command as (roprof stays root to trace it).
    public var user: String?
    /// Keep argv word for word in the recording (by default secret-looking values are redacted).
    public var keepArgv = false
    /// --verbose: say which backend `auto` picked and why.
    public var verbose = false
    /// More environment for the --while exercise (verify tells it which run it drives: ROPROF_PHASE).
    public var exerciseEnvironment: [String: String] = [:]
    public init() {}

    public var readyTarget: ReadinessProbe.Target? {
        guard let u = readyURL, case .success(let t) = ReadinessProbe.Target.parse(u) else { return nil }
        return t
    }

    /// The command resolved on PATH, with this process's environment (and the user's HOME under --user).
    public func launchSpec() throws -> LaunchSpec {
        guard let first = command.first else { throw ModelError("give the command to run after `--`, e.g. `roprof run -- python3 app.py`") }
        guard let exe = LaunchSpec.resolveExecutable(first) else { throw TraceError.commandNotFound(first) }
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }.sorted()
        var spec = LaunchSpec(executable: exe, argv: command, environment: env, cwd: nil)
        if let u = user {
            let ids = try Self.resolveUser(u)
            spec.runAs = ids
            // As a container does for its USER: HOME is that user's, unless it was set to something else on purpose.
            let mine = getpwuid(getuid()).map { String(cString: $0.pointee.pw_dir) }
            if let pw = getpwuid(ids.uid), ProcessInfo.processInfo.environment["HOME"] == nil || ProcessInfo.processInfo.environment["HOME"] == mine {
                spec.environment.removeAll { $0.hasPrefix("HOME=") }
                spec.environment.append("HOME=" + String(cString: pw.pointee.pw_dir))
                spec.environment.sort()
            }
        }
        return spec
    }

    /// USER[:GROUP] as names or numbers, resolved in this system's (the image's) user database.
    public static func resolveUser(_ spec: String) throws -> (uid: UInt32, gid: UInt32) {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty else { throw ModelError("--user '\(spec)': give a user name or uid, optionally :group") }
        var uid: UInt32, gid: UInt32
        if let n = UInt32(name) {
            uid = n
            gid = getpwuid(n).map { $0.pointee.pw_gid } ?? n
        } else {
            guard let pw = getpwnam(name) else { throw ModelError("--user '\(spec)': no user named '\(name)' here (give a uid, or create the user)") }
            uid = pw.pointee.pw_uid; gid = pw.pointee.pw_gid
        }
        if parts.count == 2 {
            if let g = UInt32(parts[1]) { gid = g }
            else if let gr = getgrnam(parts[1]) { gid = gr.pointee.gr_gid }
            else { throw ModelError("--user '\(spec)': no group named '\(parts[1])' here") }
        }
        return (uid, gid)
    }

    public func traceOptions(policy: TracePolicy, launch: LaunchSpec) -> TraceOptions {
        var o = TraceOptions(launch: launch, policy: policy)
        o.progress = progress
        o.duration = duration
        o.gracePeriod = grace
        o.readyTarget = readyTarget
        o.readyURL = readyURL
        o.readyTimeout = readyTimeout
        o.exercise = exercise
        o.keepArgv = keepArgv
        o.explainBackend = verbose
        o.exerciseEnvironment = exerciseEnvironment
        return o
    }

    /// The options of a run that launches nothing (attach, a container, a cgroup).
    public func observingOptions(policy: TracePolicy) -> TraceOptions {
        traceOptions(policy: policy, launch: LaunchSpec(executable: "", argv: [], environment: []))
    }

    /// The lines a --ready-url / --while run leaves for the user.
    public func serverNotes(readinessTimedOut: Bool, exerciseExit: ExitInfo?, what: String = "the app") -> [String] {
        var notes: [String] = []
        if readinessTimedOut {
            notes.append("error: \(readyURL ?? "") did not answer within \(Int(readyTimeout))s; \(what) was stopped (check the port, or raise --ready-timeout)")
        }
        if let e = exerciseExit { notes.append("--while exercise exited with status \(e.shellStatus)") }
        return notes
    }
}

/// Runs `body` with this process's stdout pointing at stderr, so that a traced app (which inherits
/// it) never writes into machine output (JSON, JUnit, SARIF, a recording on `-o -`).
public func appOutputToStderr<T>(_ enabled: Bool, _ body: () throws -> T) rethrows -> T {
    guard enabled else { return try body() }
    fflush(stdout)
    let saved = dup(1)
    guard saved >= 0, dup2(2, 1) >= 0 else { return try body() }
    defer { fflush(stdout); dup2(saved, 1); close(saved) }
    return try body()
}

/// Where a workflow's notes go while it runs (warnings, progress words): the CLI prints them on
/// stderr; a test collects them.
public typealias Notify = (String) -> Void

/// "1 path", "2 paths".
public func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String { "\(n) \(n == 1 ? one : many ?? one + "s")" }
