import Analysis
import ArgumentParser
import Emitters
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

enum CheckFormat: String, ExpressibleByArgument, CaseIterable { case text, json, junit, sarif, github }

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",  // explicit: deriving it from the type name costs start-up time
        abstract: "CI regression check: fail when the app writes somewhere new or uses a new syscall.",
        discussion: paragraphs("""
        Runs CMD under a fast trace and compares it with the baseline: with eBPF nothing is stopped;
        with --backend ptrace the seccomp filter stops the app only on filesystem mutations and on
        syscalls missing from the baseline; --backend auto (the default) picks the cheaper of the two
        for this command from what earlier runs measured here. --container NAME checks a container
        instead of a command.

        Exit status: 0 no regression, 1 regression (or the command failed, unless --allow-app-failure),
        2 usage or input error. --update creates or refreshes the baseline from this run instead.
        """))

    @Option(help: ArgumentHelp("The baseline file.", valueName: "FILE"))
    var baseline = "roprof-baseline.yaml"

    @Flag(help: "Create or refresh the baseline from this run (union with what it already allows).")
    var update = false

    @Option(help: ArgumentHelp("text, json, junit, sarif or github. With json, junit and sarif the app's own stdout goes to stderr, so standard output is only the result.", valueName: "FORMAT"))
    var format: CheckFormat = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Also write the result to FILE, in the format its extension names (.xml JUnit, .sarif SARIF, .json JSON; otherwise --format).", valueName: "FILE"))
    var output: String?

    @Flag(help: "Do not count the command's own failure as a regression.")
    var allowAppFailure = false

    @Option(help: ArgumentHelp("Runtime for a new baseline (default kubernetes; an existing baseline names its own).", valueName: "NAME"))
    var runtime: String?

    @Option(help: ArgumentHelp("A directory with your own runtimes/ and remedies/ profiles.", valueName: "DIR"))
    var profiles: String?

    /// Inside an image the outer roprof ends the run with SIGTERM: a planned stop, not a cancel.
    @Flag(name: .customLong("signal-is-planned"), help: .private)
    var signalIsPlanned = false

    @OptionGroup var imageOptions: ImageOptions

    @OptionGroup var watch: WatchOptions

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        try watch.validate(launch: launch, attach: nil, image: imageOptions.image)
        try imageOptions.validate(with: launch)
        if imageOptions.image == nil && !watch.isSet { try launch.requireCommand() }
    }

    func run() throws {
        let existing: Baseline? = try baseline == "-" ? Baseline.parse(String(decoding: StdIO.readAll(), as: UTF8.self), source: "standard input")
            : FileManager.default.fileExists(atPath: baseline) ? Baseline.load(path: baseline) : nil
        DebugTiming.phase("baseline-read")
        if existing == nil && !update {
            throw ModelError("no baseline '\(baseline)': create it with `roprof check --baseline \(baseline) --update -- \(launch.command.joined(separator: " "))`")
        }
        if update { try OutputTarget.check(baseline) }
        if let out = output { try OutputTarget.check(out) }
        var req = CheckRequest(settings: launch.settings, baselinePath: baseline)
        req.update = update
        req.allowAppFailure = allowAppFailure
        req.runtime = runtime
        req.profiles = profiles
        req.source = imageOptions.request.map { .image($0) } ?? watch.source(engine: imageOptions.engine) ?? .launch
        req.appStdoutToStderr = [.json, .junit, .sarif].contains(format)
        req.signalIsPlanned = signalIsPlanned
        let result: CheckResult
        do { result = try Checker.check(req, existing: existing, notify: printNote) } catch let e as TraceError {
            throw ModelError(e.description)  // check keeps 0/1/2: a missing or non-executable command is an input error
        }
        switch result {
        case .updated(let yaml, let created, let summary, let appFailed):
            try CLI.write(yaml, to: baseline)
            CLI.warn("baseline \(created ? "written" : "refreshed"): \(baseline) (\(summary))")
            if let failed = appFailed { CLI.warn(failed); throw ExitCode(1) }
        case .checked(let summary):
            print(try render(summary, format), terminator: "")
            if let out = output {
                let ext = URL(fileURLWithPath: out).pathExtension
                let fileFormat: CheckFormat = ext == "xml" ? .junit : ext == "sarif" ? .sarif : ext == "json" ? .json : format
                try CLI.write(render(summary, fileFormat), to: out)
            }
            if format == .github, let summaryPath = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"] {
                let fd = open(summaryPath, O_WRONLY | O_APPEND | O_CLOEXEC)
                if fd >= 0 {
                    StdIO.write(fd, Array(CheckReport.markdown(summary).utf8))
                    close(fd)
                }
            }
            throw ExitCode(summary.passed ? 0 : 1)
        }
    }

    func render(_ s: CheckReport.Summary, _ f: CheckFormat) throws -> String {
        switch f {
        case .text: return CheckReport.text(s, style: CommandLineFront.style())
        case .json: return try CheckReport.json(s)
        case .junit: return CheckReport.junit(s)
        case .sarif: return try CheckReport.sarif(s, toolVersion: Roprof.version)
        case .github: return CheckReport.github(s)
        }
    }
}

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Derive a CI baseline (YAML) from a recording and print it.",
        discussion: "Example: roprof baseline rec.json > roprof-baseline.yaml")

    @OptionGroup var analysis: AnalysisOptions

    @Argument(help: ArgumentHelp("A recording (made with --mode full, so the syscall list is complete).", valueName: "RECORDING"))
    var recording: String

    func run() throws {
        let r = try Recording.load(path: recording)
        if !r.hasCompleteSyscallInventory {
            CLI.warn("warning: '\(recording)' was not recorded with --mode full: the baseline's syscall list is incomplete")
        }
        let a = try ReportPrinter.analyze(r, runtime: analysis.runtime, profiles: analysis.profiles)
        print(try Baseline.derive(from: a, recording: r).yaml(), terminator: "")
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",  // explicit: deriving it from the type name costs start-up time
        abstract: "Compare two recordings or baselines; exit 1 when NEW adds anything.",
        discussion: "Shows write locations, mount kinds and syscalls that NEW adds (+), removes (-) and changes (~).")

    @OptionGroup var analysis: AnalysisOptions

    enum DiffFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: ArgumentHelp("text or json.", valueName: "FORMAT"))
    var format: DiffFormat = .text

    @Argument(help: ArgumentHelp("The old recording or baseline.", valueName: "OLD")) var old: String
    @Argument(help: ArgumentHelp("The new recording or baseline.", valueName: "NEW")) var new: String

    /// Only the comparable view is kept: the recording and its analysis are gone before the other
    /// side is read, so two large recordings never sit in memory together.
    func shape(_ path: String) throws -> ProfileDiff.Shape {
        func isRecordingText(_ head: Data) -> Bool {
            head.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } == 0x7B
        }
        func fromRecording(_ r: Recording) throws -> ProfileDiff.Shape {
            .of(try ReportPrinter.analyze(r, runtime: analysis.runtime, profiles: analysis.profiles), r)
        }
        if path != "-" {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw ModelError("cannot read '\(path)': no such file (give a recording or a baseline)")
            }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buf, buf.count)
            close(fd)
            let head = Data(buf.prefix(max(0, n)))
            if isRecordingText(head) { return try fromRecording(try Recording.load(path: path)) }  // streamed
        }
        guard let data = path == "-" ? StdIO.readAll() : FileManager.default.contents(atPath: path) else {
            throw ModelError("cannot read '\(path)': no such file (give a recording or a baseline)")
        }
        if !isRecordingText(data.prefix(4096)), let text = String(data: data, encoding: .utf8), text.contains(Baseline.formatName) {
            return .of(try Baseline.parse(text, source: path))
        }
        return try fromRecording(try Recording.decode(data, source: path))
    }

    func run() throws {
        let d = ProfileDiff.between(try shape(old), try shape(new))
        print(format == .json ? try VerdictText.jsonText(d) : VerdictText.diff(d, style: CommandLineFront.style()), terminator: "")
        throw ExitCode(d.addsAnything ? 1 : 0)
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",  // explicit: deriving it from the type name costs start-up time
        abstract: "Union of several recordings (replicas, test shards, CI jobs) into one.",
        discussion: "Counts add up, each path keeps the set of runs it came from. Associative and commutative.")

    @Option(name: .shortAndLong, help: ArgumentHelp("The merged recording to write.", valueName: "OUT"))
    var output: String

    @Argument(help: ArgumentHelp("Recordings to merge.", valueName: "RECORDING"))
    var recordings: [String]

    func validate() throws {
        if recordings.isEmpty { throw ValidationError("give at least one recording to merge") }
    }

    func run() throws {
        let all = try recordings.map { try Recording.load(path: $0) }
        // Merged as it is written: the union's file list is never held whole beside its inputs.
        var counts = (runs: 0, files: 0)
        try writeAtomically(to: output) { emit in counts = try Recording.encodeMerged(all, into: emit) }
        CLI.warn("merged \(plural(all.count, "recording")) (\(counts.runs) runs, \(counts.files) paths) into \(output)")
    }
}
