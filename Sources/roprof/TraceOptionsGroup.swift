import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows


/// Options shared by every command that launches and traces an app.
struct LaunchOptions: ParsableArguments {
    @Option(name: .customLong("for"), help: ArgumentHelp("Stop the app after SECONDS (SIGTERM, then SIGKILL after the grace period), like a container runtime.", valueName: "SECONDS"))
    var duration: Double?

    @Option(help: ArgumentHelp("Seconds between SIGTERM and SIGKILL when stopping the app.", valueName: "SECONDS"))
    var grace: Double = 5

    @Option(help: ArgumentHelp("Wait until this answers (http://HOST:PORT/PATH or HOST:PORT) before the --for window or --while starts.", valueName: "URL"))
    var readyUrl: String?

    @Option(help: ArgumentHelp("Give up waiting for --ready-url after SECONDS.", valueName: "SECONDS"))
    var readyTimeout: Double = 60

    @Option(name: .customLong("while"), help: ArgumentHelp("Once ready, run this exercise (sh -c, untraced), then stop the app.", valueName: "CMD"))
    var exercise: String?

    @Flag(help: "Never show the live status line on stderr.")
    var quiet = false

    @Option(help: ArgumentHelp("ptrace: sees the most (failed writes, io_uring fallback); ebpf: nothing is stopped (needs root or CAP_BPF+CAP_PERFMON and a kernel with BTF); auto: for check, whichever costs less for this command by what earlier runs measured here (eBPF's load against ptrace's stops; ptrace until measured), eBPF for attaching and for containers, ptrace otherwise.", valueName: "ptrace|ebpf|auto"))
    var backend: BackendChoice = .auto

    @Flag(help: "Say which backend auto picked and why (the measured costs it compared).")
    var verbose = false

    @Option(name: .customLong("user"), help: ArgumentHelp("Run the command as this user, as a container's USER does: a name or uid, optionally :group (roprof itself stays root to trace it).", valueName: "USER[:GROUP]"))
    var user: String?

    @Flag(help: "Store every argv word for word in the recording. By default values that look like secrets (--password=…, --token …, NAME_TOKEN=…, user:pass@ in URLs, the value after -p) are stored as <redacted>: recordings are meant to be committed.")
    var keepArgv = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after `--`.", valueName: "CMD"))
    var command: [String] = []


    func validate() throws {
        if let d = duration, !(d > 0 && d <= 1e7) { throw ValidationError("--for must be a number of seconds above 0 and at most 10000000, not \(d)") }
        if !(grace >= 0 && grace <= 1e6) { throw ValidationError("--grace must be a number of seconds from 0 to 1000000, not \(grace)") }
        if !(readyTimeout > 0 && readyTimeout <= 1e6) { throw ValidationError("--ready-timeout must be a number of seconds above 0 and at most 1000000, not \(readyTimeout)") }
        if let u = readyUrl, case .failure(let e) = ReadinessProbe.Target.parse(u) { throw ValidationError(e.description) }
    }

    /// verify and diagnose deny and rewrite calls in their sandbox: only ptrace can.
    func requirePtrace(_ command: String) throws {
        if backend == .ebpf {
            throw ValidationError("\(command) runs under ptrace: its sandbox must refuse calls as the profile would, which eBPF cannot do (drop --backend ebpf)")
        }
    }

    func requireCommand() throws {
        if command.isEmpty { throw ValidationError("give the command to run after `--`, e.g. `roprof run -- python3 app.py`") }
    }

    /// What every workflow reads of these options.
    var settings: RunSettings {
        var s = RunSettings()
        s.command = command
        s.duration = duration
        s.grace = grace
        s.readyURL = readyUrl
        s.readyTimeout = readyTimeout
        s.exercise = exercise
        s.progress = !quiet
        s.backend = backend
        s.user = user
        s.keepArgv = keepArgv
        s.verbose = verbose
        return s
    }
}

extension BackendChoice: ExpressibleByArgument {}

/// Prints a workflow's notes on stderr as they come.
let printNote: Notify = { CLI.warn($0) }
