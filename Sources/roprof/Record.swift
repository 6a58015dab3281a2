import ArgumentParser
import Foundation
import TraceModel
import Tracer

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",  // explicit: deriving it from the type name costs start-up time
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

    @Option(help: ArgumentHelp("Attach to this running process and its descendants instead of launching CMD; detaches cleanly on Ctrl-C, SIGTERM or --for.", valueName: "PID"))
    var attach: Int32?

    @OptionGroup var launch: LaunchOptions

    func validate() throws {
        if attach == nil { try launch.requireCommand() }
        if attach != nil && !launch.command.isEmpty { throw ValidationError("give either --attach PID or a command after `--`, not both") }
        if attach != nil && launch.exercise != nil && launch.readyUrl == nil { throw ValidationError("--while with --attach needs --ready-url") }
    }

    func run() throws {
        let result = CLI.guarded { () -> TraceResult in
            try Self.preflightOutput(output)
            if let pid = attach {
                var o = launch.traceOptions(policy: TracePolicy(mode: mode.traceMode), launch: LaunchSpec(executable: "", argv: [], environment: []))
                o.attachPid = pid
                o.displayCommand = ProcFSArgv(pid)
                return try TraceSession(options: o).run()
            }
            let spec = try launch.launchSpec()
            return try TraceSession(options: launch.traceOptions(policy: TracePolicy(mode: mode.traceMode), launch: spec)).run()
        }
        CLI.guarded { try writeAtomically(result.recording.encoded(), to: output) }
        reportServerRun(result, launch)
        CLI.warn("recording written to \(output) (\(result.recording.files.count) paths, \(result.recording.runs.first?.processes.count ?? 0) processes)")
        if result.readinessTimedOut { CLI.terminate(2) }
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

/// The argv of a running process (for the recording of an attach run).
func ProcFSArgv(_ pid: Int32) -> [String] {
    guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return ["pid \(pid)"] }
    return d.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}
