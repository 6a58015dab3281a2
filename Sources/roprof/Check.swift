import Analysis
import ArgumentParser
import Emitters
import Engine
import Foundation
import Seccomp
import TraceModel
import Tracer

enum CheckFormat: String, ExpressibleByArgument, CaseIterable { case text, json, junit, sarif, github }

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",  // explicit: deriving it from the type name costs start-up time
        abstract: "CI regression check: fail when the app writes somewhere new or uses a new syscall.",
        discussion: """
        Runs CMD under a fast trace and compares it with the baseline: with eBPF (the default where it
        loads) nothing is stopped; with --backend ptrace the seccomp filter stops the app only on
        filesystem mutations and on syscalls missing from the baseline. --container NAME checks a
        container instead of a command.
        Exit status: 0 no regression, 1 regression (or the command failed, unless --allow-app-failure),
        2 usage or input error. --update creates or refreshes the baseline from this run instead.
        """)

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

    @OptionGroup var imageOptions: ImageOptions

    @OptionGroup var watch: WatchOptions

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        try watch.validate(launch: launch, attach: nil, image: imageOptions.image)
        try imageOptions.validate(with: launch)
        if imageOptions.image == nil && !watch.isSet { try launch.requireCommand() }
    }

    func run() throws {
        let existing: Baseline? = CLI.guarded {
            FileManager.default.fileExists(atPath: baseline) ? try Baseline.load(path: baseline) : nil
        }
        if existing == nil && !update {
            CLI.fail("no baseline '\(baseline)': create it with `roprof check --baseline \(baseline) --update -- \(launch.command.joined(separator: " "))`")
        }
        if let img = imageOptions.image { checkInImage(img, existing: existing) }
        let rtName = existing?.runtime ?? runtime ?? "kubernetes"
        let catalogLoad: Background<ProfileCatalog>
        if profiles == nil && EmbeddedProfiles.runtimeNames.contains(rtName) {
            let none: String? = nil
            catalogLoad = Background { try ProfileCatalog.load(extraDirectory: none) }  // overlaps the traced run
        } else {
            let catalog = CLI.guarded { try ProfileCatalog.load(extraDirectory: profiles) }
            _ = CLI.guarded { try catalog.runtime(named: rtName) }  // a bad name fails before the app runs
            catalogLoad = Background(value: catalog)
        }
        if update { CLI.guarded { try Record.preflightOutput(baseline) } }
        if let out = output { CLI.guarded { try Record.preflightOutput(out) } }
        let policy: TracePolicy
        if update || existing == nil {
            policy = TracePolicy(mode: .full)
        } else {
            let native = SeccompArch.native.rawValue
            policy = TracePolicy(mode: .check, allowed: Set(existing!.syscalls[native] ?? []))
        }
        let result = CLI.guarded { () -> TraceResult in
            if watch.isSet { return try watch.record(launch, policy: policy, engineName: imageOptions.engine, serviceName: nil) }
            let spec = try launch.launchSpec()
            var options = launch.traceOptions(policy: policy, launch: spec)
            if !update, let allowed = existing { options.quietPath = { allowed.allows(path: $0) != nil } }
            return try CLI.appOutputToStderr([.json, .junit, .sarif].contains(format)) { try launch.trace(options, preferEBPF: true) }
        }
        let catalog = CLI.guarded { try catalogLoad.value() }
        let rt = CLI.guarded { try catalog.runtime(named: rtName) }
        let analysis = Analyzer(runtime: rt, catalog: catalog).analyze(result.recording)
        if update {
            let fresh = Baseline.derive(from: analysis, recording: result.recording)
            let merged = existing.map { $0.union(fresh) } ?? fresh
            CLI.guarded { try writeAtomically(Data(merged.yaml().utf8), to: baseline) }
            CLI.warn("baseline \(existing == nil ? "written" : "refreshed"): \(baseline) (\(merged.writes.count) write locations, \(merged.syscalls.values.map(\.count).reduce(0, +)) syscalls)")
            if result.exit.shellStatus != 0 && result.recording.runs.first?.stoppedByRoprof != true && !allowAppFailure {
                CLI.warn("the command exited with status \(result.exit.shellStatus)")
                CLI.terminate(1)
            }
            CLI.terminate(0)
        }
        let regressions = RegressionCheck.check(analysis, result.recording, baseline: existing!, allowAppFailure: allowAppFailure)
        let summary = CheckReport.Summary(baseline: baseline, runtime: rt.name, passed: regressions.isEmpty, regressions: regressions,
                                          command: launch.command)
        publish(summary)
    }

    /// The result, in --format on stdout, in its extension's format at --output, and as the GitHub job
    /// summary; exit 0 when it passed, 1 on a regression.
    func publish(_ summary: CheckReport.Summary) -> Never {
        print(CLI.guarded { try render(summary, format) }, terminator: "")
        if let out = output {
            let ext = URL(fileURLWithPath: out).pathExtension
            let fileFormat: CheckFormat = ext == "xml" ? .junit : ext == "sarif" ? .sarif : ext == "json" ? .json : format
            CLI.guarded { try writeAtomically(Data(render(summary, fileFormat).utf8), to: out) }
        }
        if format == .github, let summaryPath = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"],
           let h = FileHandle(forWritingAtPath: summaryPath) {
            h.seekToEndOfFile()
            h.write(Data(CheckReport.markdown(summary).utf8))
            try? h.close()
        }
        CLI.terminate(summary.passed ? 0 : 1)
    }

    /// check --image: the check runs inside the image (roprof there, the baseline copied in); its
    /// result comes back as JSON and is rendered here, in every format, with the host's paths.
    func checkInImage(_ image: String, existing: Baseline?) -> Never {
        if update { CLI.guarded { try Record.preflightOutput(baseline) } }
        if let out = output { CLI.guarded { try Record.preflightOutput(out) } }
        var inner = ["check", "--quiet", "--baseline", "/roprof-out/baseline.yaml", "--format", "json", "--output", "/roprof-out/result.json"]
        if update { inner.append("--update") }
        if allowAppFailure { inner.append("--allow-app-failure") }
        if let r = runtime { inner += ["--runtime", r] }
        let (summary, updated): (CheckReport.Summary?, String?) = CLI.guarded {
            try ImageRecorder.inside(image: image, engine: try ContainerEngine(name: imageOptions.engine), command: launch.command, launch: launch,
                                     publish: imageOptions.publish, inner: inner,
                                     prepare: { out in
                                         if let b = existing { try Data(b.yaml().utf8).write(to: URL(fileURLWithPath: out + "/baseline.yaml")) }
                                     },
                                     collect: { run in
                                         var result = (try? Data(contentsOf: URL(fileURLWithPath: run.out + "/result.json")))
                                             .flatMap { try? JSONDecoder().decode(CheckReport.Summary.self, from: $0) }
                                         // roprof stopped the container itself (the end of --for / --while): a planned stop.
                                         if run.window.stoppedByUs, var r = result {
                                             r.regressions.removeAll { $0.kind == .appFailed }
                                             r.passed = r.regressions.isEmpty
                                             result = r
                                         }
                                         let base = self.update ? try? String(contentsOfFile: run.out + "/baseline.yaml", encoding: .utf8) : nil
                                         if result == nil && base == nil { throw run.nothingCameOut("no check result from '\(image)'") }
                                         return (result, base)
                                     })
        }
        if update, let text = updated {
            CLI.guarded { try writeAtomically(Data(text.utf8), to: baseline) }
            CLI.warn("baseline \(existing == nil ? "written" : "refreshed") from \(image): \(baseline)")
            CLI.terminate(0)
        }
        guard var s = summary else { CLI.fail("the check inside '\(image)' gave no result") }
        s.baseline = baseline
        publish(s)
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
        CLI.guarded {
            let r = try Recording.load(path: recording)
            if !r.hasCompleteSyscallInventory {
                CLI.warn("warning: '\(recording)' was not recorded with --mode full: the baseline's syscall list is incomplete")
            }
            let a = try ReportPrinter.analyze(r, runtime: analysis.runtime, profiles: analysis.profiles)
            print(try Baseline.derive(from: a, recording: r).yaml(), terminator: "")
        }
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

    func shape(_ path: String) throws -> ProfileDiff.Shape {
        guard let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path) else {
            throw ModelError("cannot read '\(path)': no such file (give a recording or a baseline)")
        }
        if let text = String(data: data, encoding: .utf8), text.contains(Baseline.formatName) && !text.hasPrefix("{") {
            return .of(try Baseline.parse(text, source: path))
        }
        let r = try Recording.decode(data, source: path)
        return .of(try ReportPrinter.analyze(r, runtime: analysis.runtime, profiles: analysis.profiles), r)
    }

    func run() throws {
        let d = CLI.guarded { ProfileDiff.between(try shape(old), try shape(new)) }
        if format == .json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: CLI.guarded { try enc.encode(d) }, as: UTF8.self))
        } else {
            let style = CommandLineFront.style()
            if d.added.isEmpty && d.removed.isEmpty && d.changed.isEmpty { print("no differences") }
            for c in d.added { print(style.red("+ \(c.kind) \(Human.printable(c.subject))") + "  " + c.detail) }
            for c in d.removed { print(style.green("- \(c.kind) \(Human.printable(c.subject))") + "  " + c.detail) }
            for c in d.changed { print(style.yellow("~ \(c.kind) \(Human.printable(c.subject))") + "  " + c.detail) }
        }
        CLI.terminate(d.addsAnything ? 1 : 0)
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
        CLI.guarded {
            let all = try recordings.map { try Recording.load(path: $0) }
            let m = Recording.merged(all)
            try writeAtomically(m.encoded(), to: output)
            CLI.warn("merged \(all.count) recording\(all.count == 1 ? "" : "s") (\(m.runs.count) runs, \(m.files.count) paths) into \(output)")
        }
    }
}
