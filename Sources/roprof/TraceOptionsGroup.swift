import ArgumentParser
import Foundation
import TraceModel
import Tracer


/// Options shared by every command that launches and traces an app.
struct LaunchOptions: ParsableArguments {
    @Option(name: .customLong("for"), help: ArgumentHelp("Stop the app after SECONDS (SIGTERM, then SIGKILL after the grace period), like a container runtime.", valueName: "SECONDS"))
    var duration: Double?

    @Option(help: ArgumentHelp("Seconds between SIGTERM and SIGKILL when stopping the app.", valueName: "SECONDS"))
    var grace: Double = 5

    @Flag(help: "Never show the live status line on stderr.")
    var quiet = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after `--`.", valueName: "CMD"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after `--`, e.g. `roprof run -- python3 app.py`") }
        if let d = duration, d <= 0 { throw ValidationError("--for must be a positive number of seconds, not \(d)") }
    }

    /// Resolves the command on PATH (exit 127 like a shell when it does not exist).
    func launchSpec() throws -> LaunchSpec {
        guard let exe = LaunchSpec.resolveExecutable(command[0]) else { throw TraceError.commandNotFound(command[0]) }
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }.sorted()
        return LaunchSpec(executable: exe, argv: command, environment: env, cwd: nil)
    }

    func traceOptions(policy: TracePolicy, launch: LaunchSpec) -> TraceOptions {
        var o = TraceOptions(launch: launch, policy: policy)
        o.progress = !quiet
        o.duration = duration
        o.gracePeriod = grace
        return o
    }
}
