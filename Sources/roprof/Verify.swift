import Analysis
import ArgumentParser
import Emitters
import Foundation
import Sandbox
import Seccomp
import TraceModel
import Tracer

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",  // explicit: deriving it from the type name costs start-up time
        abstract: "Prove the suggested settings: re-run the app under a read-only root, the suggested mounts and the seccomp profile.",
        discussion: """
        Builds the sandbox from the recording's suggestions (no container image needed): a private
        mount namespace with / bound read-only recursively, the runtime's writable places, a tmpfs of
        the suggested size at each scratch mount, a fresh directory at each persistent mount, the
        suggested environment variables, and the seccomp allow-list (denied calls fail with EPERM,
        as the profile makes them, and are reported). PASS (exit 0) only when the app succeeds and
        nothing was refused. --no-seccomp / --no-readonly isolate which half fails.
        """)

    @Option(help: ArgumentHelp("The recording whose suggestions to apply.", valueName: "RECORDING"))
    var from: String

    @OptionGroup var analysis: AnalysisOptions

    @Option(help: ArgumentHelp("Use this seccomp profile (Docker/OCI JSON) instead of the generated one.", valueName: "FILE"))
    var seccomp: String?

    @Flag(help: "Do not apply a seccomp profile.")
    var noSeccomp = false

    @Flag(help: "Do not make the root read-only (test the seccomp profile alone).")
    var noReadonly = false

    @Option(help: ArgumentHelp("Leave out the suggested mount at PATH (repeatable), to see what needs it.", valueName: "PATH"))
    var without: [String] = []

    @Option(help: ArgumentHelp("A merged recording of several services: apply only the mounts and environment this service's workload gets from `suggest --workloads`.", valueName: "NAME"))
    var service: String?

    @OptionGroup var launch: LaunchOptions

    func validate() throws { try launch.requireCommand() }

    func run() throws {
        let (rec, catalog, rt) = CLI.guarded { () -> (Recording, ProfileCatalog, RuntimeProfile) in
            let r = try Recording.load(path: from)
            let c = try ProfileCatalog.load(extraDirectory: analysis.profiles)
            return (r, c, try c.runtime(named: analysis.runtime))
        }
        let a = Analyzer(runtime: rt, catalog: catalog).analyze(rec)
        var h = Hardening.build(a, rec, catalog: catalog, options: SuggestOptions())
        var env = a.env
        if let name = service {
            let plan = Workload.plan(a, rec)
            guard let wl = plan.first(where: { $0.name == name }) else {
                CLI.fail("--service \(name): the recording has no service of that name (services: \(plan.map(\.name).joined(separator: ", ")); name runs with `record --name`)")
            }
            h.volumes = h.volumes.filter { wl.mountPaths.contains($0.mount.path) }
            env = wl.env
        }
        for w in without where !h.volumes.contains(where: { $0.mount.path == w }) {
            CLI.fail("--without \(w): the recording suggests no mount there (suggested: \(h.volumes.map(\.mount.path).joined(separator: ", ")))")
        }
        let mounts = h.volumes.filter { !without.contains($0.mount.path) }.map { v -> SandboxPlan.Mount in
            switch v.mount.kind {
            case .tmpfs: return .init(path: v.mount.path, kind: .tmpfs(bytes: v.mount.sizeBytes))
            case .persistent: return .init(path: v.mount.path, kind: .persistent)
            case .file: return .init(path: v.mount.path, kind: .file)
            }
        }
        var plan = SandboxPlan(runtimeWritable: rt.writable.map(\.path), mounts: mounts, environment: env)
        plan.readOnlyRoot = !noReadonly
        var allowed: Set<String>? = nil
        if !noSeccomp {
            if let file = seccomp {
                allowed = CLI.guarded {
                    guard let d = FileManager.default.contents(atPath: file) else { throw ModelError("cannot read seccomp profile '\(file)'") }
                    do { return try SeccompEmitter.allowedNames(fromJSON: d) } catch {
                        throw ModelError("'\(file)' is not a Docker/OCI seccomp profile: \(shortReason(error))")
                    }
                }
            } else if let s = h.seccomp {
                allowed = Set(s.names)
            } else {
                CLI.warn("warning: '\(from)' was recorded with --mode writes: no seccomp profile to verify (record with --mode full, or pass --no-seccomp)")
            }
        }
        let policy = allowed.map { TracePolicy(mode: .check, allowed: $0, denyUnlisted: true) } ?? TracePolicy(mode: .writes)
        let writable = rt.writable.map(\.path) + mounts.map(\.path)
        let outcome = runSandboxed(plan: plan, policy: policy, launch: launch, writable: writable, noNewPrivs: allowed != nil)
        let style = TextStyle(color: isatty(1) != 0)
        let what = "a read-only root (\(rt.name)), \(mounts.count) mount\(mounts.count == 1 ? "" : "s"), \(env.count) environment variable\(env.count == 1 ? "" : "s")"
            + (allowed.map { " and a seccomp allow-list of \($0.count) syscalls" } ?? "")
        if outcome.passed {
            print(style.green("roprof verify: PASS") + " — `\(launch.command.map(shellQuote).joined(separator: " "))` ran with \(what)")
            CLI.terminate(0)
        }
        print(style.red("roprof verify: FAIL") + " — with \(what)")
        for f in outcome.failedWrites {
            let dir = a.mounts.first { PathGlob.isUnder(f.path, $0.path) }?.path
            let fix = without.first(where: { PathGlob.isUnder(f.path, $0) }).map { "it needs the mount at \($0) (left out with --without)" }
                ?? dir.map { "it is under the suggested mount \($0): check the recording covers this run" }
                ?? "a write the recording never saw: record this run again (roprof run) or mount \(PathGlob.parent(f.path))"
            print("  " + style.red("\(f.errno) ") + Human.printable(f.path) + "  \(f.operation) by \(f.processes.map { PathGlob.name($0) }.joined(separator: ","))"
                  + " (\(f.syscalls.joined(separator: ",")))")
            print("    fix: " + fix)
        }
        for (d, n) in outcome.denied.sorted(by: { ($0.key.name, $0.key.process) < ($1.key.name, $1.key.process) }) {
            print("  " + style.red("seccomp denied ") + d.name + " (\(d.arch), \(n)×) by \(PathGlob.name(d.process))")
            print("    fix: add \"\(d.name)\" to the profile's allow-list")
        }
        if !outcome.appSucceeded {
            print("  the app exited with status \(outcome.exit.shellStatus)")
        }
        if let e = outcome.exerciseExit, e.shellStatus != 0 {
            print("  the --while exercise failed with status \(e.shellStatus)")
        }
        CLI.terminate(1)
    }
}

/// Runs the launch options' command in the sandbox, traced, and evaluates the outcome.
func runSandboxed(plan: SandboxPlan, policy: TracePolicy, launch: LaunchOptions, writable: [String], noNewPrivs: Bool) -> VerifyOutcome {
    var spec = CLI.guarded { try launch.launchSpec() }
    spec.noNewPrivs = noNewPrivs
    let cwd = FileManager.default.currentDirectoryPath
    if let m = plan.mounts.first(where: { cwd == $0.path || cwd.hasPrefix($0.path + "/") }) {
        CLI.warn("warning: the working directory \(cwd) is under \(m.path), which the sandbox mounts over: the app will not see it (run from the app's own directory)")
    } else if plan.readOnlyRoot, let w = plan.runtimeWritable.first(where: { ["/tmp", "/run", "/var/tmp"].contains($0) && (cwd == $0 || cwd.hasPrefix($0 + "/")) }) {
        CLI.warn("warning: the working directory \(cwd) is under \(w), a fresh tmpfs in the sandbox: the app will not see it")
    }
    let state = CLI.guarded { try plan.prepare(&spec) }
    defer { SandboxPlan.cleanUp(state) }
    let result: TraceResult
    do {
        var opts = launch.traceOptions(policy: policy, launch: spec)
        opts.displayCommand = launch.command
        result = try TraceSession(options: opts).run()
    } catch let e as TraceError {
        SandboxPlan.cleanUp(state)
        CLI.fail(e.description, status: e.exitStatus)
    } catch {
        SandboxPlan.cleanUp(state)
        CLI.fail("\(error)")
    }
    lastSandboxRecording = result.recording
    reportServerRun(result, launch)
    if result.readinessTimedOut { CLI.terminate(1) }
    var outcome = VerifyOutcome.evaluate(result.recording, denied: result.denied, exit: result.exit, writable: writable,
                                         stoppedByWindow: launch.duration != nil || launch.exercise != nil)
    outcome.exerciseExit = result.exerciseExit
    return outcome
}

nonisolated(unsafe) var lastSandboxRecording: Recording?

struct Diagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",  // explicit: deriving it from the type name costs start-up time
        abstract: "Run the app under a read-only root and explain every write that fails, with the fix.",
        discussion: """
        For "my pod crashloops with Read-only file system": runs CMD as the runtime would (read-only
        root, only its writable places, no fixes applied), and for every refused write says which
        process failed where, with which syscall, how the app reacted (exited, retried, carried on),
        and what fixes it.
        """)

    @OptionGroup var analysis: AnalysisOptions

    @Option(help: ArgumentHelp("text, markdown or json.", valueName: "FORMAT"))
    var format: ReportFormat = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Also save the recording of the failing run.", valueName: "FILE"))
    var output: String?

    @OptionGroup var launch: LaunchOptions

    func validate() throws { try launch.requireCommand() }

    func run() throws {
        let (catalog, rt) = CLI.guarded { () -> (ProfileCatalog, RuntimeProfile) in
            let c = try ProfileCatalog.load(extraDirectory: analysis.profiles)
            return (c, try c.runtime(named: analysis.runtime))
        }
        if let o = output { CLI.guarded { try Record.preflightOutput(o) } }
        let plan = SandboxPlan(runtimeWritable: rt.writable.map(\.path), mounts: [], environment: [:])
        let outcome = runSandboxed(plan: plan, policy: TracePolicy(mode: .writes), launch: launch, writable: rt.writable.map(\.path), noNewPrivs: false)
        let rec = lastSandboxRecording!
        if let o = output { CLI.guarded { try writeAtomically(rec.encoded(), to: o) } }
        // Only the refused writes matter here; analyze them as what must be fixed.
        let failedPaths = Set(outcome.failedWrites.map(\.path))
        var failing = rec
        failing.files = rec.files.filter { failedPaths.contains((($0.root.map { $0 == "/" ? "" : $0 }) ?? "") + $0.path) }
        let a = Analyzer(runtime: rt, catalog: catalog).analyze(failing)
        let style = TextStyle(color: isatty(1) != 0)
        switch format {
        case .json:
            struct Out: Encodable { var format = "roprof-diagnosis"; var version = 1; var exit: ExitInfo; var failures: [F]; var analysis: Analysis
                struct F: Encodable { var path: String; var operation: String; var errno: String; var count: Int; var processes: [String]; var syscalls: [String]; var reaction: String } }
            let out = Out(exit: outcome.exit, failures: outcome.failedWrites.map {
                .init(path: $0.path, operation: $0.operation, errno: $0.errno, count: $0.count, processes: $0.processes, syscalls: $0.syscalls,
                      reaction: reaction($0, outcome)) }, analysis: a)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: CLI.guarded { try enc.encode(out) }, as: UTF8.self))
        case .markdown:
            print("## roprof diagnose: \(outcome.failedWrites.count) refused write\(outcome.failedWrites.count == 1 ? "" : "s") (exit \(outcome.exit.shellStatus))\n")
            print("| path | operation | errno | process | how the app reacted |\n|---|---|---|---|---|")
            for f in outcome.failedWrites {
                print("| `\(f.path)` | \(f.operation) | \(f.errno) | \(f.processes.map { PathGlob.name($0) }.joined(separator: ", ")) | \(reaction(f, outcome)) |")
            }
            print("")
            print(ReportMarkdown.render(a), terminator: "")
        case .text:
            if outcome.failedWrites.isEmpty {
                print(style.green("roprof diagnose: no write was refused") + " under a read-only root in \(rt.name) (the app exited with \(outcome.exit.shellStatus))")
                CLI.terminate(0)
            }
            print(style.red("roprof diagnose: \(outcome.failedWrites.count) write\(outcome.failedWrites.count == 1 ? " was" : "s were") refused") + " under a read-only root in \(rt.name); the app exited with status \(outcome.exit.shellStatus)")
            for f in outcome.failedWrites {
                let who = f.processes.map { PathGlob.name($0) }.joined(separator: ",")
                print("  " + style.red(f.errno) + "  " + Human.printable(f.path) + "  \(f.operation) by \(who) (\(f.syscalls.joined(separator: ",")))")
                print("    " + style.dim("the app " + reaction(f, outcome)))
                if let m = a.mounts.first(where: { PathGlob.isUnder(f.path, $0.path) }) {
                    print("    fix: mount \(ReportText.mountLabel(m, runtime: rt.name)) at \(Human.printable(m.path)) (size \(m.sizeLimit))")
                } else if let r = a.remedies.first(where: { $0.paths.contains(f.path) }) {
                    print("    fix: " + (r.env.isEmpty ? (r.fix ?? r.title) : r.env.keys.sorted().map { "\($0)=\(r.env[$0]!)" }.joined(separator: " ")) + " — " + r.why)
                }
            }
            if outcome.exit.shellStatus != 0 {
                print(style.dim("\nThe app stopped at its first failure; later writes are unseen. Apply the fixes and run diagnose again, or use `roprof run` for the full picture."))
            }
        }
        CLI.terminate(outcome.failedWrites.isEmpty ? 0 : 1)
    }

    func reaction(_ f: VerifyOutcome.FailedWrite, _ o: VerifyOutcome) -> String {
        if f.count > 1 { return "retried (\(f.count) attempts)" + (o.exit.shellStatus == 0 ? ", then carried on" : ", then exited with \(o.exit.shellStatus)") }
        return o.exit.shellStatus == 0 ? "carried on without it" : "exited with status \(o.exit.shellStatus)"
    }
}
