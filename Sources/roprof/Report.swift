import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel

/// Output formats of `report`.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, markdown, json }

/// Options shared by commands that analyze a recording.
struct AnalysisOptions: ParsableArguments {
    @Option(name: .customLong("runtime"), help: ArgumentHelp("Target runtime: kubernetes, docker, podman, ecs, systemd (or one from --profiles); default kubernetes (verify --image: its engine).", valueName: "NAME"))
    var runtimeGiven: String?

    /// --runtime, or kubernetes.
    var runtime: String { runtimeGiven ?? "kubernetes" }

    @Option(help: ArgumentHelp("A directory with your own runtimes/*.yaml and remedies/*.yaml (see docs/profiles.md).", valueName: "DIR"))
    var profiles: String?
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",  // explicit: deriving it from the type name costs start-up time
        abstract: "Explain a recording: which writes break under a read-only root, and the fix for each.",
        discussion: paragraphs("""
        Classifies every write as harmless (a place the runtime leaves writable), breaking, or
        unresolved; folds the breaking ones into the few directories to mount (tmpfs/emptyDir for
        scratch, a persistent volume for databases and data), sized from the bytes seen; and lists
        the remedies that stop writes altogether (e.g. PYTHONDONTWRITEBYTECODE=1).
        """))

    @OptionGroup var analysis: AnalysisOptions

    @Option(help: ArgumentHelp("text (for people), markdown (PR comments), json (for tools).", valueName: "FORMAT"))
    var format: ReportFormat = .text

    @Argument(help: ArgumentHelp("A recording from `roprof record` or `roprof run`.", valueName: "RECORDING"))
    var recording: String

    func run() throws {
        let r = try Recording.load(path: recording)
        try ReportPrinter.printReport(r, runtime: analysis.runtime, format: format.rawValue, recordingPath: recording, profiles: analysis.profiles)
    }
}
