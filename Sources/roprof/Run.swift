import ArgumentParser
import Analysis
import Engine
import Foundation
import TraceModel
import Tracer

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",  // explicit: deriving it from the type name costs start-up time
        abstract: "Record a command, then print what it wrote and what breaks under a read-only root.",
        discussion: "The main job. Saves the recording too (-o), so suggest / verify can use it. The exit status is the app's.")

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to save the recording.", valueName: "FILE"))
    var output = "roprof-recording.json"

    @Option(help: ArgumentHelp("writes or full (see `roprof record --help`).", valueName: "writes|full"))
    var mode: RecordMode = .full

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
        CLI.guarded { _ = try ProfileCatalog.load(extraDirectory: analysis.profiles).runtime(named: analysis.runtime) }
        if let img = imageOptions.image {
            let r = CLI.guarded { () -> ImageRecorder.Result in
                try Record.preflightOutput(output)
                return try ImageRecorder.record(image: img, engine: try ContainerEngine(name: imageOptions.engine), command: launch.command,
                                                launch: launch, mode: mode, serviceName: nil, publish: imageOptions.publish)
            }
            CLI.guarded { try writeAtomically(r.recording.encoded(), to: output) }
            if r.readinessTimedOut { CLI.fail("\(launch.readyUrl ?? "") did not answer within \(Int(launch.readyTimeout))s; the container was stopped (check the port the app listens on)") }
            CLI.guarded { try ReportPrinter.printReport(r.recording, runtime: analysis.runtime, format: "text", recordingPath: output, profiles: analysis.profiles) }
            CLI.terminate(0)
        }
        let result = CLI.guarded { () -> TraceResult in
            try Record.preflightOutput(output)
            let spec = try launch.launchSpec()
            return try launch.trace(launch.traceOptions(policy: TracePolicy(mode: mode.traceMode), launch: spec), preferEBPF: false)
        }
        CLI.guarded { try writeAtomically(result.recording.encoded(), to: output) }
        reportServerRun(result, launch)
        CLI.guarded { try ReportPrinter.printReport(result.recording, runtime: analysis.runtime, format: "text", recordingPath: output,
                                                    profiles: analysis.profiles) }
        if result.readinessTimedOut { CLI.terminate(2) }
        CLI.terminate(plannedStatus(result))
    }
}
