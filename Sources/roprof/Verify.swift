import Analysis
import ArgumentParser
import Emitters
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",  // explicit: deriving it from the type name costs start-up time
        abstract: "Prove the suggested settings: re-run the app under a read-only root, the suggested mounts and the seccomp profile.",
        discussion: paragraphs("""
        Builds the sandbox from the recording's suggestions (no container image needed): a private
        mount namespace with / bound read-only recursively, the runtime's writable places, a tmpfs of
        the suggested size at each scratch mount, a fresh directory at each persistent mount, the
        suggested environment variables, the seccomp allow-list (denied calls fail with EPERM, as the
        profile makes them, and are reported), and only the capabilities the settings add (the rest
        dropped, as --cap-drop=ALL does; --no-cap-drop keeps roprof's).

        Isolated as a container runtime isolates by default: its own PID, UTS and IPC namespaces (the
        app sees only its own processes), a private /dev (null, zero, full, random, urandom, tty, pts,
        its own /dev/shm and mqueue), /proc/sys and /sys read-only; mount points are made inside the
        sandbox, never on the host. It shares the host's network (so --ready-url reaches the app) and
        runs the --while exercise outside the sandbox.

        With a state volume the app is started twice on the same volumes (the --while exercise sees
        ROPROF_PHASE=first, then restart), and verify checks that what the first run left there is
        still there. PASS (exit 0) only when the app succeeds and nothing
        was refused. --no-seccomp / --no-readonly isolate which half fails.
        """))

    @Option(help: ArgumentHelp("The recording whose suggestions to apply.", valueName: "RECORDING"))
    var from: String

    @OptionGroup var analysis: AnalysisOptions

    @Option(help: ArgumentHelp("Use this seccomp profile (Docker/OCI JSON) instead of the generated one.", valueName: "FILE"))
    var seccomp: String?

    @Flag(help: "Do not apply a seccomp profile.")
    var noSeccomp = false

    @Flag(help: "Do not make the root read-only (test the seccomp profile alone).")
    var noReadonly = false

    @Flag(name: .customLong("no-cap-drop"), help: "Keep roprof's own capabilities instead of only those the settings add (to tell a missing capability from another failure).")
    var noCapDrop = false

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

    @Option(help: ArgumentHelp("--image: which printed settings to run: docker or podman (the engine's own command, the default), or kubernetes (the Kubernetes output as a Deployment with its claims, run by `podman kube play` with the Localhost seccomp profile; needs --engine podman).", valueName: "docker|podman|kubernetes"))
    var format: String?

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        try launch.requirePtrace("verify")
        if image == nil { try launch.requireCommand() }
        if let f = format {
            guard ["docker", "podman", "kubernetes"].contains(f) else {
                throw ValidationError("--format '\(f)' is not one verify runs: choose docker, podman or kubernetes" + (DidYouMean.closest(f, ["docker", "podman", "kubernetes"]).map { " (did you mean '\($0)'?)" } ?? ""))
            }
            guard image != nil else { throw ValidationError("--format goes with --image (the sandbox verify runs the recorded command itself)") }
            if f == "kubernetes" && engine != "podman" { throw ValidationError("--format kubernetes runs under podman kube play: use --engine podman") }
            if f != "kubernetes" && f != engine { throw ValidationError("--format \(f) is \(f)'s command: give --engine \(f)") }
        }
    }

    func run() throws {
        var req = VerifyRequest(recordingPath: from, settings: launch.settings)
        // verify --image runs the printed command of its engine: that engine's runtime, unless --runtime says otherwise.
        req.runtime = analysis.runtimeGiven ?? (image != nil && format != "kubernetes" ? engine : "kubernetes")
        req.profiles = analysis.profiles
        req.seccompFile = seccomp
        req.noSeccomp = noSeccomp
        req.noReadonly = noReadonly
        req.keepCapabilities = noCapDrop
        req.without = without
        req.service = service
        req.emptyVolumes = emptyVolumes
        req.noRestart = noRestart
        req.refine = refine
        req.image = imageOptions.request
        req.image?.format = format
        let v = try Verifier.verify(req, notify: printNote)
        print(VerdictText.verify(v, style: CommandLineFront.style()), terminator: "")
        throw ExitCode(v.exitStatus)
    }
}

struct Diagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",  // explicit: deriving it from the type name costs start-up time
        abstract: "Run the app under a read-only root and explain every write that fails, with the fix.",
        discussion: paragraphs("""
        For "my pod crashloops with Read-only file system": runs CMD as the runtime would (read-only
        root, only its writable places, no fixes applied), and for every refused write says which
        process failed where, with which syscall, how the app reacted (exited, retried, carried on),
        and what fixes it.
        """))

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
        if let o = output { try OutputTarget.check(o) }
        let d = try Diagnoser.diagnose(settings: launch.settings, runtime: analysis.runtime, profiles: analysis.profiles,
                                       appStdoutToStderr: format == .json, notify: printNote)
        if let o = output { try d.recording.write(to: o) }
        switch format {
        case .json: print(try VerdictText.diagnosisJSON(d.outcome, d.analysis), terminator: "")
        case .markdown: print(VerdictText.diagnosisMarkdown(d.outcome, d.analysis), terminator: "")
        case .text: print(VerdictText.diagnosis(d.outcome, d.analysis, runtime: d.runtime, style: CommandLineFront.style()), terminator: "")
        }
        throw ExitCode(d.exitStatus)
    }
}
