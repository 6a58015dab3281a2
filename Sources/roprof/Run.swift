import ArgumentParser
import Analysis
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",  // explicit: deriving it from the type name costs start-up time
        abstract: "Record a command, then print what it wrote and what breaks under a read-only root.",
        discussion: "The main job. Saves the recording too (-o), so suggest / verify can use it. The exit status is the app's.")

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to save the recording.", valueName: "FILE"))
    var output = "roprof-recording.json"

    @Option(help: ArgumentHelp("writes or full (see `roprof record --help`).", valueName: "writes|full"))
    var mode: RecordMode = .full

    @Flag(help: "Record one start only. By default an app that serves (roprof stopped it) or keeps state is started a second time on the files its first run left, under the suggested remedies, so the seccomp profile holds on a restart.")
    var noRestart = false

    @OptionGroup var analysis: AnalysisOptions

    @OptionGroup var imageOptions: ImageOptions

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        try imageOptions.validate(with: launch)
        if imageOptions.image == nil { try launch.requireCommand() }
        if output == "-" || output == "/dev/stdout" {
            throw ValidationError("run prints its report on standard output: give -o a file, or use `roprof record -o - -- CMD` for the recording alone")
        }
    }

    func run() throws {
        _ = try ProfileCatalog.load(extraDirectory: analysis.profiles).runtime(named: analysis.runtime)  // a bad name fails before the app runs
        try OutputTarget.check(output)
        var req = RecordRequest(settings: launch.settings)
        req.mode = mode.traceMode
        req.restart = !noRestart
        req.source = imageOptions.request.map { .image($0) } ?? .launch
        let outcome = try Recorder.record(req, notify: printNote)
        try outcome.recording.write(to: output)
        for n in outcome.notes { CLI.warn(n) }
        try ReportPrinter.printReport(outcome.recording, runtime: analysis.runtime, format: "text", recordingPath: output, profiles: analysis.profiles)
        throw ExitCode(outcome.status)
    }
}
