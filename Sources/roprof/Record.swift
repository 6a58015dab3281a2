import ArgumentParser
import Engine
import Foundation
import TraceModel
import Tracer

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",  // explicit: deriving it from the type name costs start-up time
        abstract: "Trace a command and write a recording (JSON). The exit status is the app's.",
        discussion: """
        The recording lists every file mutation (aggregated by path and operation), the processes,
        the syscall inventory and the blind spots. Feed it to report, suggest, verify, baseline.
        --mode writes stops the app only on calls that change the filesystem (fastest under ptrace);
        --mode full (the default) also counts every syscall, which the seccomp profile needs.
        Three ways to choose what is recorded: a command after `--` (launched), --attach PID (a running
        process tree), --container NAME / --cgroup PATH (eBPF: everything in it, nothing stopped).
        """)

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the recording; - for standard output (the app's own stdout then goes to stderr).", valueName: "FILE"))
    var output = "roprof-recording.json"

    @Option(help: ArgumentHelp("writes: only filesystem mutations; full: also every syscall.", valueName: "writes|full"))
    var mode: RecordMode = .full

    @Option(help: ArgumentHelp("Attach to this running process and its descendants instead of launching CMD; detaches cleanly on Ctrl-C, SIGTERM or --for.", valueName: "PID"))
    var attach: Int32?

    @Option(help: ArgumentHelp("The service this run belongs to (one image, several services): suggest --workloads emits one workload per name.", valueName: "NAME"))
    var name: String?

    @OptionGroup var imageOptions: ImageOptions
    var image: String? { imageOptions.image }

    @OptionGroup var watch: WatchOptions

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        if let n = name, !Self.isDNSLabel(n) {
            throw ValidationError("--name '\(n)' is not a valid service name: use lower-case letters, digits and '-', at most 63 characters, starting with a letter (it becomes a Kubernetes object name)")
        }
        if image != nil && attach != nil { throw ValidationError("give either --image IMAGE or --attach PID, not both") }
        if image != nil && launch.user != nil { throw ValidationError("--image runs as the image's USER; --user goes with a command run here") }
        try watch.validate(launch: launch, attach: attach, image: image)
        try imageOptions.validate(with: launch)
        if attach == nil && image == nil && !watch.isSet { try launch.requireCommand() }
        if attach != nil && !launch.command.isEmpty { throw ValidationError("give either --attach PID or a command after `--`, not both") }
        if attach != nil && launch.exercise != nil && launch.readyUrl == nil { throw ValidationError("--while with --attach needs --ready-url") }
    }

    func run() throws {
        let toStdout = output == "-" || output == "/dev/stdout"
        if let img = image {
            let r = CLI.guarded { () -> ImageRecorder.Result in
                try Self.preflightOutput(output)
                return try ImageRecorder.record(image: img, engine: try ContainerEngine(name: imageOptions.engine), command: launch.command, launch: launch,
                                                mode: mode, serviceName: name, publish: imageOptions.publish)
            }
            CLI.guarded { try writeAtomically(r.recording.encoded(), to: output) }
            if r.readinessTimedOut { CLI.fail("\(launch.readyUrl ?? "") did not answer within \(Int(launch.readyTimeout))s; the container was stopped (check the port the app listens on)") }
            if let e = r.exerciseExit { CLI.warn("--while exercise exited with status \(e.shellStatus)") }
            let run = r.recording.runs.first
            CLI.warn("recording of \(img) written to \(output) (\(plural(r.recording.files.count, "path")), \(plural(run?.processes.count ?? 0, "process", "processes")))")
            if let run, run.exit.shellStatus != 0, run.stoppedByRoprof != true { CLI.terminate(Int32(truncatingIfNeeded: run.exit.shellStatus)) }
            CLI.terminate(0)
        }
        let result = CLI.guarded { () -> TraceResult in
            try Self.preflightOutput(output)
            if watch.isSet {
                return try watch.record(launch, policy: TracePolicy(mode: mode.traceMode), engineName: imageOptions.engine, serviceName: name)
            }
            if let pid = attach {
                var o = launch.traceOptions(policy: TracePolicy(mode: mode.traceMode), launch: LaunchSpec(executable: "", argv: [], environment: []))
                o.attachPid = pid
                o.displayCommand = ProcFSArgv(pid)
                o.serviceName = name
                return try launch.trace(o, preferEBPF: true)
            }
            let spec = try launch.launchSpec()
            var o = launch.traceOptions(policy: TracePolicy(mode: mode.traceMode), launch: spec)
            o.serviceName = name
            // With `-o -` the recording is standard output: the app's own output goes to stderr.
            return try CLI.appOutputToStderr(toStdout) { try launch.trace(o, preferEBPF: false) }
        }
        CLI.guarded { try writeAtomically(result.recording.encoded(), to: output) }
        reportServerRun(result, launch)
        CLI.warn("recording written to \(output) (\(plural(result.recording.files.count, "path")), \(plural(result.recording.runs.first?.processes.count ?? 0, "process", "processes")))")
        if result.readinessTimedOut { CLI.terminate(2) }
        CLI.terminate(plannedStatus(result))
    }

    /// RFC 1123 label: what a Kubernetes object name built from it needs.
    static func isDNSLabel(_ s: String) -> Bool {
        guard (1...63).contains(s.utf8.count), let first = s.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              s.utf8.last != UInt8(ascii: "-") else { return false }
        return s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }

    /// Fails before tracing when the output cannot be written, so no run is wasted.
    static func preflightOutput(_ path: String) throws { try OutputTarget.check(path) }
}

/// The argv of a running process (for the recording of an attach run).
func ProcFSArgv(_ pid: Int32) -> [String] {
    guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return ["pid \(pid)"] }
    return d.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}

/// "1 path", "2 paths".
func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String { "\(n) \(n == 1 ? one : many ?? one + "s")" }

/// The exit status of record/run: the app's own, except that a stop roprof made itself (the end of
/// --for or --while, or a detach) is planned: 0, with a note of the status the stop left.
func plannedStatus(_ result: TraceResult) -> Int32 {
    let status = result.exit.shellStatus
    if status != 0, result.recording.runs.first?.stoppedByRoprof == true, result.denyStorm == nil {
        CLI.warn("the app was stopped by roprof at the end of the run (status \(status)): a planned stop, not a failure")
        return 0
    }
    return Int32(truncatingIfNeeded: status)
}
