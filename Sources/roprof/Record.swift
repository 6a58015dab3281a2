import ArgumentParser
import Foundation
import TraceModel
import Tracer

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace a command and write a recording (JSON). The exit status is the app's.",
        discussion: """
        The recording lists every file mutation (aggregated by path and operation), the processes,
        the syscall inventory and the blind spots. Feed it to report, suggest, verify, baseline.
        --mode writes stops the app only on calls that change the filesystem (fastest);
        --mode full (the default) also counts every syscall, which the seccomp profile needs.
        """)

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the recording.", valueName: "FILE"))
    var output = "roprof-recording.json"

    @Option(help: ArgumentHelp("writes: only filesystem mutations; full: also every syscall.", valueName: "writes|full"))
    var mode: RecordMode = .full

    @OptionGroup var launch: LaunchOptions

    func run() throws {
        let result = CLI.guarded { () -> TraceResult in
            try Self.preflightOutput(output)
            let spec = try launch.launchSpec()
            return try TraceSession(options: launch.traceOptions(policy: TracePolicy(mode: mode.traceMode), launch: spec)).run()
        }
        CLI.guarded { try writeAtomically(result.recording.encoded(), to: output) }
        CLI.warn("recording written to \(output) (\(result.recording.files.count) paths, \(result.recording.runs.first?.processes.count ?? 0) processes)")
        CLI.terminate(Int32(truncatingIfNeeded: result.exit.shellStatus))
    }

    /// Fails before tracing when the output cannot be written, so no run is wasted.
    static func preflightOutput(_ path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ModelError("cannot write '\(path)': directory '\(dir)' does not exist")
        }
        guard access(dir, W_OK) == 0 else { throw ModelError("cannot write '\(path)': directory '\(dir)' is not writable (choose another path with -o)") }
    }
}
