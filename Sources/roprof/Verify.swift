import Analysis
import ArgumentParser
import Emitters
import Engine
import Foundation
import Glibc
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

    @Flag(help: "Start each suggested volume empty (a fresh claim) instead of with the image's content at its path (as a docker/podman named volume does on first use).")
    var emptyVolumes = false

    @Flag(help: "Do not restart the app on the same volumes (by default, when a state volume is suggested, the app runs twice to prove its data survives).")
    var noRestart = false

    @Flag(help: "First run once under the suggested settings without denying any syscall, fold what that run needed into RECORDING (remedies change what an app calls), then verify.")
    var refine = false

    /// --image: verify in the real engine: run IMAGE with exactly the flags `suggest` prints for
    /// --engine and the generated profile, exercise it through its published port, restart it on the
    /// same volumes, and judge from its exit, its log and the exercise.
    @OptionGroup var imageOptions: ImageOptions
    var image: String? { imageOptions.image }
    var engine: String { imageOptions.engine }

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        try launch.requirePtrace("verify")
        if image == nil { try launch.requireCommand() }
    }

    func run() throws {
        SandboxPlan.removeStale()
        var (rec, catalog, rt) = CLI.guarded { () -> (Recording, ProfileCatalog, RuntimeProfile) in
            let r = try Recording.load(path: from)
            let c = try ProfileCatalog.load(extraDirectory: analysis.profiles)
            return (r, c, try c.runtime(named: analysis.runtime))
        }
        if refine && image == nil {
            // Run once under the suggested settings, observing every syscall without denying any, and
            // fold what the hardened run needed (remedies change what the app calls) into the recording.
            let plan = Self.sandboxPlan(verifyPlan(rec, catalog, rt), runtime: rt, emptyVolumes: emptyVolumes, readOnly: !noReadonly)
            CLI.warn("refining: running once under the suggested settings to learn what they change")
            let box = HostStateBox()
            let observed = runSandboxed(plan: plan, policy: TracePolicy(mode: .full), launch: launch, writable: [], noNewPrivs: false, state: box)
            box.cleanUp()
            rec = fold(observed.recording, into: rec)
        }
        if let img = image {
            let engineValue = CLI.guarded { try ContainerEngine(name: engine) }
            var options = SuggestOptions()
            options.image = img
            if refine {
                // Run the image once, traced, under the suggested mounts and environment (no seccomp profile,
                // nothing denied), and fold what the hardened run needed into the recording.
                let hardening = verifyPlan(rec, catalog, rt).hardening
                let (args, _) = DockerEmitter.arguments(hardening, options, engine: engineValue.name, runtime: rt.name)
                let observe = args.filter { a in !["--security-opt=seccomp=", "--user=", "--cap-drop=", "--cap-add=", "--publish="].contains { a.hasPrefix($0) } }
                CLI.warn("refining: running \(img) once under the suggested mounts and environment to learn what they change")
                let observed = CLI.guarded {
                    try ImageRecorder.record(image: img, engine: engineValue, command: launch.command, launch: launch, mode: .full,
                                             serviceName: nil, publish: hardening.ports, extraArgs: observe)
                }
                rec = fold(observed.recording, into: rec)
            }
            let vp = verifyPlan(rec, catalog, rt)
            ImageVerifier.verify(image: img, engine: engineValue, hardening: vp.hardening, options: options, runtime: rt.name,
                                 seccompJSON: vp.seccompJSON, command: launch.command, launch: launch, restart: vp.restart, leftOut: without)
        }
        let vp = verifyPlan(rec, catalog, rt)
        let plan = Self.sandboxPlan(vp, runtime: rt, emptyVolumes: emptyVolumes, readOnly: !noReadonly)
        let a = vp.analysis, allowed = vp.allowedSyscalls
        let style = CommandLineFront.style()
        let persistent = plan.mounts.filter { if case .persistent = $0.kind { return true }; return false }
        let what = "a read-only root (\(rt.name)), \(plan.mounts.count) mount\(plan.mounts.count == 1 ? "" : "s"), \(plan.environment.count) environment variable\(plan.environment.count == 1 ? "" : "s")"
            + (allowed.map { " and a seccomp allow-list of \($0.count) syscalls" } ?? "")
        if let hidden = commandUnderMount(plan) {
            print(style.red("roprof verify: FAIL") + " — with \(what)")
            print("  cause: \(hidden)")
            CLI.terminate(1)
        }
        if !persistent.isEmpty {
            print("volumes: " + persistent.map { "\($0.path) " + ($0.seedFromImage ? "(starts with the image's content there, as a named volume does)" : "(starts empty)") }.joined(separator: "; "))
        }
        fflush(stdout)
        let policy = allowed.map { TracePolicy(mode: .check, allowed: $0, denyUnlisted: true) } ?? TracePolicy(mode: .writes)
        let writable = rt.writable.map(\.path) + plan.mounts.map(\.path)
        let state = HostStateBox()
        let first = runSandboxed(plan: plan, policy: policy, launch: launch, writable: writable, noNewPrivs: allowed != nil, state: state)
        var outcome = first.outcome
        var restartNote: String? = nil
        if outcome.passed && !persistent.isEmpty && !noRestart, let s = state.state {
            // State must survive a restart: run again on the same volumes.
            let kept = SandboxPlan.volumeContents(s)
            print("restart: running the app again on the same volumes")
            fflush(stdout)
            let second = runSandboxed(plan: plan, policy: policy, launch: launch, writable: writable, noNewPrivs: allowed != nil, state: state)
            let files = kept.values.reduce(0) { $0 + $1.count }, bytes = kept.values.reduce(0) { $0 + $1.values.reduce(0, +) }
            restartNote = "after a restart on the same volumes (\(files) file\(files == 1 ? "" : "s"), \(Human.bytes(bytes)) kept in \(kept.keys.sorted().joined(separator: ", ")))"
            if !second.outcome.passed { outcome = second.outcome; restartNote = "the second run, " + restartNote! }
        }
        state.cleanUp()  // before any exit: CLI.terminate runs no defer
        if outcome.passed {
            print(style.green("roprof verify: PASS") + " — `\(launch.command.map(shellQuote).joined(separator: " "))` ran with \(what)" + (restartNote.map { ", and again " + $0 } ?? ""))
            CLI.terminate(0)
        }
        print(style.red("roprof verify: FAIL") + " — with \(what)" + (restartNote.map { "; failed in " + $0 } ?? ""))
        print("  cause: " + Self.cause(outcome))
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
            print("    fix: add \"\(d.name)\" to the profile's allow-list" + (refine ? "" : ", or run verify --refine to learn what the suggested settings need"))
        }
        if !outcome.appSucceeded {
            print("  the app exited with status \(outcome.exit.shellStatus)")
        }
        if let e = outcome.exerciseExit, e.shellStatus != 0 {
            print("  the --while exercise failed with status \(e.shellStatus)")
        }
        if !outcome.stderrTail.isEmpty {
            print("  the last lines on stderr (the app's, and the --while exercise's):")
            for line in outcome.stderrTail.suffix(8) { print("    " + style.dim(Human.printable(line))) }
        }
        CLI.terminate(1)
    }

    /// The one line that says why verification failed, most telling first.
    static func cause(_ o: VerifyOutcome) -> String {
        if let d = o.denyStorm {
            return "seccomp denied \(d.name) \(o.denied[d] ?? 0) times (\(PathGlob.name(d.process))): the app looped on it, so roprof stopped it"
        }
        if let f = o.failedWrites.first {
            return "\(f.operation) of \(Human.printable(f.path)) was refused with \(f.errno) (\(f.processes.map { PathGlob.name($0) }.joined(separator: ",")))"
        }
        if let (d, n) = o.denied.max(by: { $0.value < $1.value }) {
            return "seccomp denied \(d.name) \(n)× (\(PathGlob.name(d.process)))"
        }
        if let e = o.exerciseExit, e.shellStatus != 0, o.appSucceeded { return "the --while exercise failed with status \(e.shellStatus)" }
        if o.readinessTimedOut { return "the app never answered --ready-url" }
        return "the app exited with status \(o.exit.shellStatus)" + (o.stderrTail.last.map { ": " + Human.printable($0) } ?? "")
    }

    /// --refine: what a run under the suggested settings needed, merged into the recording and written
    /// back to --from.
    func fold(_ observed: Recording, into rec: Recording) -> Recording {
        let merged = Recording.merged([rec, observed])
        let added = merged.allSyscallNames.subtracting(rec.allSyscallNames).sorted()
        CLI.guarded { try writeAtomically(merged.encoded(), to: from) }
        CLI.warn("refined \(from): \(added.isEmpty ? "no new syscalls" : "added " + added.joined(separator: ", "))")
        return merged
    }

    /// The verify plan, decided once in the library (mounts, environment, profile, restart); the
    /// sandbox and the engine each carry it out.
    func verifyPlan(_ rec: Recording, _ catalog: ProfileCatalog, _ rt: RuntimeProfile) -> VerifyPlan {
        var choices = VerifyPlan.Choices()
        choices.service = service
        choices.without = without
        choices.noSeccomp = noSeccomp
        choices.restart = !noRestart
        if let file = seccomp {
            choices.seccompOverride = CLI.guarded {
                guard let d = FileManager.default.contents(atPath: file) else { throw ModelError("cannot read seccomp profile '\(file)'") }
                return d
            }
        }
        let vp = CLI.guarded { try VerifyPlan.build(rec, runtime: rt, catalog: catalog, choices: choices) }
        for w in vp.warnings { CLI.warn("warning: \(w)") }
        return vp
    }

    /// The sandbox executor's form of a verify plan: a tmpfs or a fresh (or image-seeded) directory per mount.
    static func sandboxPlan(_ vp: VerifyPlan, runtime rt: RuntimeProfile, emptyVolumes: Bool, readOnly: Bool) -> SandboxPlan {
        let mounts = vp.hardening.volumes.map { v -> SandboxPlan.Mount in
            switch v.mount.kind {
            case .tmpfs: return .init(path: v.mount.path, kind: .tmpfs(bytes: v.mount.sizeBytes))
            case .persistent: return .init(path: v.mount.path, kind: .persistent, seedFromImage: !emptyVolumes, owner: v.mount.owner)
            case .file: return .init(path: v.mount.path, kind: .file)
            }
        }
        var plan = SandboxPlan(runtimeWritable: rt.writable.map(\.path), mounts: mounts,
                               environment: Dictionary(uniqueKeysWithValues: vp.hardening.env.map { ($0.name, $0.value) }))
        plan.readOnlyRoot = readOnly
        return plan
    }

    /// The command, or a file it names, hidden by a mount that does not start with the image's content.
    func commandUnderMount(_ plan: SandboxPlan) -> String? {
        let cwd = FileManager.default.currentDirectoryPath
        var files: [String] = []
        if let exe = LaunchSpec.resolveExecutable(launch.command[0]) { files.append(exe.hasPrefix("/") ? exe : cwd + "/" + exe) }
        for arg in launch.command.dropFirst() where !arg.hasPrefix("-") {
            let p = arg.hasPrefix("/") ? arg : cwd + "/" + arg
            if FileManager.default.fileExists(atPath: p) { files.append(p) }
        }
        for f in files {
            for m in plan.mounts where PathGlob.isUnder(f, m.path) {
                switch m.kind {
                case .tmpfs: return "\(f) (the app's command or code) is under the suggested tmpfs \(m.path), which hides it: the suggestion covers code"
                case .persistent where !m.seedFromImage:
                    return "\(f) (the app's command or code) is under the suggested volume \(m.path), which starts empty (--empty-volumes) and hides it: the suggestion covers code"
                default: continue
                }
            }
        }
        return nil
    }
}

/// The sandbox's host state, shared by the runs of one verify (a restart reuses the volumes).
final class HostStateBox {
    var state: SandboxPlan.HostState?
    func cleanUp() {
        if let s = state { SandboxPlan.cleanUp(s) }
        state = nil
    }
}

/// One sandboxed run: its outcome and its recording.
struct SandboxedRun {
    var outcome: VerifyOutcome
    var recording: Recording
}

/// Runs the launch options' command in the sandbox, traced, and evaluates the outcome.
func runSandboxed(plan: SandboxPlan, policy: TracePolicy, launch: LaunchOptions, writable: [String], noNewPrivs: Bool,
                  state box: HostStateBox = HostStateBox()) -> SandboxedRun {
    var spec = CLI.guarded { try launch.launchSpec() }
    spec.noNewPrivs = noNewPrivs
    let cwd = FileManager.default.currentDirectoryPath
    if let m = plan.mounts.first(where: { cwd == $0.path || cwd.hasPrefix($0.path + "/") }) {
        CLI.warn("warning: the working directory \(cwd) is under \(m.path), which the sandbox mounts over: the app will not see it (run from the app's own directory)")
    } else if plan.readOnlyRoot, let w = plan.runtimeWritable.first(where: { ["/tmp", "/run", "/var/tmp"].contains($0) && (cwd == $0 || cwd.hasPrefix($0 + "/")) }) {
        CLI.warn("warning: the working directory \(cwd) is under \(w), a fresh tmpfs in the sandbox: the app will not see it")
    }
    let reuse = box.state
    let state = CLI.guarded { try plan.prepare(&spec, reuse: reuse) }
    box.state = state
    let result: TraceResult
    var tail: [String] = []
    do {
        var opts = launch.traceOptions(policy: policy, launch: spec)
        opts.displayCommand = launch.command
        opts.denyStormLimit = 1000
        let session = TraceSession(options: opts)
        let capture = StderrTail()
        capture.start()
        defer { tail = capture.stop() }
        result = try session.run()
    } catch let e as TraceError {
        box.cleanUp()
        CLI.fail(e.description, status: e.exitStatus)
    } catch {
        box.cleanUp()
        CLI.fail("\(error)")
    }
    reportServerRun(result, launch)
    var outcome = VerifyOutcome.evaluate(result.recording, denied: result.denied, exit: result.exit, writable: writable,
                                         stoppedByWindow: result.recording.runs.first?.stoppedByRoprof == true && !result.readinessTimedOut)
    outcome.exerciseExit = result.exerciseExit
    outcome.denyStorm = result.denyStorm
    outcome.readinessTimedOut = result.readinessTimedOut
    outcome.stderrTail = tail
    return SandboxedRun(outcome: outcome, recording: result.recording)
}

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

    @Option(help: ArgumentHelp("text, markdown or json (with json, the app's own stdout goes to stderr).", valueName: "FORMAT"))
    var format: ReportFormat = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Also save the recording of the failing run.", valueName: "FILE"))
    var output: String?

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        try launch.requirePtrace("diagnose")
        try launch.requireCommand()
    }

    func run() throws {
        let (catalog, rt) = CLI.guarded { () -> (ProfileCatalog, RuntimeProfile) in
            let c = try ProfileCatalog.load(extraDirectory: analysis.profiles)
            return (c, try c.runtime(named: analysis.runtime))
        }
        if let o = output { CLI.guarded { try Record.preflightOutput(o) } }
        let plan = SandboxPlan(runtimeWritable: rt.writable.map(\.path), mounts: [], environment: [:])
        SandboxPlan.removeStale()
        let box = HostStateBox()
        let run = CLI.appOutputToStderr(format == .json) {
            runSandboxed(plan: plan, policy: TracePolicy(mode: .writes), launch: launch, writable: rt.writable.map(\.path), noNewPrivs: false, state: box)
        }
        box.cleanUp()
        let outcome = run.outcome, rec = run.recording
        if let o = output { CLI.guarded { try writeAtomically(rec.encoded(), to: o) } }
        // Only the refused writes matter here; analyze them as what must be fixed.
        let failedPaths = Set(outcome.failedWrites.map(\.path))
        var failing = rec
        failing.files = rec.files.filter { failedPaths.contains((($0.root.map { $0 == "/" ? "" : $0 }) ?? "") + $0.path) }
        let a = Analyzer(runtime: rt, catalog: catalog).analyze(failing)
        let style = CommandLineFront.style()
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

/// Tees this process's stderr (which the traced app inherits) through a pipe, keeping the last lines:
/// a failed verification ends with what the app said.
final class StderrTail: @unchecked Sendable {
    private var saved: Int32 = -1
    private var readFd: Int32 = -1
    private var lines: [String] = []
    private var partial: [UInt8] = []
    private let lock = NSLock()
    private var thread: Thread?

    func start() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        saved = dup(2)
        guard saved >= 0, dup2(fds[1], 2) >= 0 else { close(fds[0]); close(fds[1]); return }
        close(fds[1])
        readFd = fds[0]
        let out = saved, input = readFd
        let t = Thread { [self] in
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(input, &buf, buf.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                _ = buf.withUnsafeBytes { write(out, $0.baseAddress, n) }
                absorb(buf[0..<n])
            }
        }
        thread = t
        t.start()
    }

    private func absorb(_ bytes: ArraySlice<UInt8>) {
        lock.lock(); defer { lock.unlock() }
        for b in bytes {
            if b == 0x0A || b == 0x0D {
                let line = String(decoding: partial, as: UTF8.self)
                if !line.isEmpty && !line.hasPrefix("\u{1B}[K") && !line.hasPrefix("roprof:") { lines.append(line) }
                if lines.count > 40 { lines.removeFirst(lines.count - 40) }
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < 1000 { partial.append(b) }
        }
    }

    /// Restores stderr and returns the last lines the app wrote to it.
    func stop() -> [String] {
        if saved >= 0 { dup2(saved, 2); close(saved); saved = -1 }
        // The app's processes are gone; what is still in the pipe arrives at once. A daemon that kept
        // the pipe open must not hold us: wait briefly, then read what we have.
        usleep(50_000)
        lock.lock(); defer { lock.unlock() }
        var out = lines
        if !partial.isEmpty { out.append(String(decoding: partial, as: UTF8.self)) }
        return out
    }
}
