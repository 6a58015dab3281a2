import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",  // explicit: deriving it from the type name costs start-up time
        abstract: "Trace a command and write a recording (JSON). The exit status is the app's.",
        discussion: paragraphs("""
        The recording lists every file mutation (aggregated by path and operation), the processes,
        the syscall inventory and the blind spots. Feed it to report, suggest, verify, baseline.

        --mode writes stops the app only on calls that change the filesystem (fastest under ptrace);
        --mode full (the default) also counts every syscall, which the seccomp profile needs.

        Three ways to choose what is recorded: a command after `--` (launched), --attach PID (a running
        process tree), --container NAME / --cgroup PATH (eBPF: everything in it, nothing stopped).
        """))

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the recording; - for standard output (the app's own stdout then goes to stderr).", valueName: "FILE"))
    var output = "roprof-recording.json"

    @Option(help: ArgumentHelp("writes: only filesystem mutations; full: also every syscall.", valueName: "writes|full"))
    var mode: RecordMode = .full

    @Option(help: ArgumentHelp("Attach to this running process and its descendants instead of launching CMD; detaches cleanly on Ctrl-C, SIGTERM or --for.", valueName: "PID"))
    var attach: Int32?

    @Option(help: ArgumentHelp("The service this run belongs to (one image, several services): suggest --workloads emits one workload per name.", valueName: "NAME"))
    var name: String?

    @Flag(help: "Record one start only. By default an app that serves (roprof stopped it) or keeps state is started a second time on the files its first run left, under the suggested remedies, so the seccomp profile holds on a restart.")
    var noRestart = false

    /// Inside a container `record --image` starts twice: the first start's recording (see RecordRequest.restartOf).
    @Option(name: .customLong("restart-of"), help: .private)
    var restartOf: String?

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
        try OutputTarget.check(output)
        var req = RecordRequest(settings: launch.settings)
        req.mode = mode.traceMode
        req.restart = !noRestart
        req.restartOf = restartOf
        req.service = name
        req.appStdoutToStderr = output == "-" || output == "/dev/stdout"
        req.source = attach.map { .attach(pid: $0) } ?? imageOptions.request.map { .image($0) } ?? watch.source(engine: imageOptions.engine) ?? .launch
        let outcome = try Recorder.record(req, notify: printNote)
        try outcome.recording.write(to: output)
        for n in outcome.notes { CLI.warn(n) }
        let what = image.map { "recording of \($0)" } ?? "recording"
        CLI.warn("\(what) written to \(output) (\(plural(outcome.recording.files.count, "path")), \(plural(outcome.recording.runs.first?.processes.count ?? 0, "process", "processes")))")
        throw ExitCode(outcome.status)
    }

    /// RFC 1123 label: what a Kubernetes object name built from it needs.
    static func isDNSLabel(_ s: String) -> Bool {
        guard (1...63).contains(s.utf8.count), let first = s.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              s.utf8.last != UInt8(ascii: "-") else { return false }
        return s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}
