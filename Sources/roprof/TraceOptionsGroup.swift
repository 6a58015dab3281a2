import ArgumentParser
import Foundation
import TraceModel
import Tracer


/// Options shared by every command that launches and traces an app.
struct LaunchOptions: ParsableArguments {
    @Option(name: .customLong("for"), help: ArgumentHelp("Stop the app after SECONDS (SIGTERM, then SIGKILL after the grace period), like a container runtime.", valueName: "SECONDS"))
    var duration: Double?

    @Option(help: ArgumentHelp("Seconds between SIGTERM and SIGKILL when stopping the app.", valueName: "SECONDS"))
    var grace: Double = 5

    @Option(help: ArgumentHelp("Wait until this answers (http://HOST:PORT/PATH or HOST:PORT) before the --for window or --while starts.", valueName: "URL"))
    var readyUrl: String?

    @Option(help: ArgumentHelp("Give up waiting for --ready-url after SECONDS.", valueName: "SECONDS"))
    var readyTimeout: Double = 60

    @Option(name: .customLong("while"), help: ArgumentHelp("Once ready, run this exercise (sh -c, untraced), then stop the app.", valueName: "CMD"))
    var exercise: String?

    @Flag(help: "Never show the live status line on stderr.")
    var quiet = false

    @Option(help: ArgumentHelp("ptrace: sees the most (failed writes, io_uring fallback); ebpf: nothing is stopped (needs root or CAP_BPF+CAP_PERFMON and a kernel with BTF); auto: eBPF for check, for attaching and for containers when it loads here, ptrace otherwise.", valueName: "ptrace|ebpf|auto"))
    var backend: BackendChoice = .auto

    @Option(name: .customLong("user"), help: ArgumentHelp("Run the command as this user, as a container's USER does: a name or uid, optionally :group (roprof itself stays root to trace it).", valueName: "USER[:GROUP]"))
    var user: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after `--`.", valueName: "CMD"))
    var command: [String] = []


    func validate() throws {
        if let d = duration, d <= 0 { throw ValidationError("--for must be a positive number of seconds, not \(d)") }
        if let u = readyUrl, case .failure(let e) = ReadinessProbe.Target.parse(u) { throw ValidationError(e.description) }
    }

    /// verify and diagnose deny and rewrite calls in their sandbox: only ptrace can.
    func requirePtrace(_ command: String) throws {
        if backend == .ebpf {
            throw ValidationError("\(command) runs under ptrace: its sandbox must refuse calls as the profile would, which eBPF cannot do (drop --backend ebpf)")
        }
    }

    /// Resolves the command on PATH (exit 127 like a shell when it does not exist).
    func requireCommand() throws {
        if command.isEmpty { throw ValidationError("give the command to run after `--`, e.g. `roprof run -- python3 app.py`") }
    }

    func launchSpec() throws -> LaunchSpec {
        guard let exe = LaunchSpec.resolveExecutable(command[0]) else { throw TraceError.commandNotFound(command[0]) }
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
    static func resolveUser(_ spec: String) throws -> (uid: UInt32, gid: UInt32) {
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

    func traceOptions(policy: TracePolicy, launch: LaunchSpec) -> TraceOptions {
        var o = TraceOptions(launch: launch, policy: policy)
        o.progress = !quiet
        o.duration = duration
        o.gracePeriod = grace
        if let u = readyUrl, case .success(let t) = ReadinessProbe.Target.parse(u) { o.readyTarget = t }
        o.readyTimeout = readyTimeout
        o.exercise = exercise
        return o
    }
}

extension BackendChoice: ExpressibleByArgument {}

extension LaunchOptions {
    /// Runs the trace with --backend (`preferEBPF`: what auto means for this command).
    func trace(_ options: TraceOptions, preferEBPF: Bool, watch: WatchTarget? = nil) throws -> TraceResult {
        try Backend.trace(options, choice: backend, preferEBPF: preferEBPF, watch: watch) { CLI.warn($0) }
    }
}

/// Reports what a --ready-url / --while run did, on stderr.
func reportServerRun(_ r: TraceResult, _ launch: LaunchOptions) {
    if r.readinessTimedOut {
        CLI.warn("error: \(launch.readyUrl ?? "") did not answer within \(Int(launch.readyTimeout))s; the app was stopped (check the port, or raise --ready-timeout)")
    }
    if let e = r.exerciseExit {
        CLI.warn("--while exercise exited with status \(e.shellStatus)")
    }
}
