import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel

/// The roprof command line: thin subcommands over the library modules.
@main
struct Roprof: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "roprof",
        abstract: "Profile what an app writes and calls, and make it run with a read-only root filesystem.",
        discussion: paragraphs("""
        Typical use:
          roprof run -- python3 app.py          what breaks read-only, and the fixes
          roprof record -o rec.json -- CMD      a recording for the commands below
          roprof report rec.json                which paths break; the fix of each
          roprof suggest --format kubernetes rec.json
          roprof verify --from rec.json -- CMD  prove the settings: re-run under them
          roprof diagnose -- CMD                explain each read-only failure
          roprof check --baseline roprof-baseline.yaml -- pytest
                                                CI regression check
          roprof record --container web --for 300 -o web.json
                                                a container, with eBPF

        --backend ptrace|ebpf|auto picks the tracer (auto: containers and --attach under eBPF when it
        loads here; check, whichever earlier runs measured as cheaper for its command, ptrace until
        measured; a launched record or run, ptrace; the recording says which ran).

        --color auto|always|never (any command; auto: only on a terminal, never when NO_COLOR is set).
        """),
        version: version,
        subcommands: [Run.self, Record.self, Report.self, Suggest.self,
                      Verify.self, Diagnose.self, Check.self, BaselineCommand.self, Diff.self, Merge.self]
    )

    /// The one place that exits: usage errors exit 2 (the contract), not ArgumentParser's 64; help
    /// and version exit 0; a command's thrown error is one line and its contract status; a command's
    /// `ExitCode` is its status.
    static func main() {
        DebugTiming.phase("main")
        let args = CommandLineFront.prepare(Array(CommandLine.arguments.dropFirst()))
        var command: ParsableCommand
        DebugTiming.phase("arguments-checked")
        do {
            command = try parseAsRoot(args)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                CLI.terminate(0)
            }
            CommandLineFront.explainUnknownOption(args)
            let sub = args.first.flatMap { a in configuration.subcommands.contains { $0.configuration.commandName == a } ? a : nil }
            StdIO.error("roprof: error: " + CommandLineFront.oneLine(fullMessage(for: error), command: sub) + "\n")
            CLI.terminate(2)
        }
        DebugTiming.phase("parsed")
        do {
            try command.run()
            DebugTiming.phase("done")
            CLI.terminate(0)
        } catch let code as ExitCode {
            CLI.terminate(code.rawValue)  // a command's status, nothing to print (not even an empty line)
        } catch {
            // Help and version requested through a subcommand arrive here as ArgumentParser's own errors.
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                CLI.terminate(0)
            }
            let (status, message) = CLI.report(error)
            if let m = message { StdIO.error("roprof: error: \(m)\n") }
            CLI.terminate(status)
        }
    }
}

/// The modes a user may pick for `record` / `run` (check mode belongs to `roprof check`).
enum RecordMode: String, ExpressibleByArgument, CaseIterable {
    case writes, full
    var traceMode: TraceMode { self == .writes ? .writes : .full }
}
