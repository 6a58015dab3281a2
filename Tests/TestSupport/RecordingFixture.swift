import Foundation
import TraceModel

/// Builds small recordings by hand.
public enum RecordingFixture {
    public static func run(_ id: String = "run-test", uid: Int = 1000, command: [String] = ["app"]) -> RunInfo {
        RunInfo(id: id, command: command, cwd: "/app", mode: .full, host: HostFacts(arch: "x86_64", kernel: "6.1", uid: uid, gid: uid),
                startedAt: "2026-01-01T00:00:00Z", durationSeconds: 1, exit: ExitInfo(code: 0), attachedPid: nil, complete: true,
                processes: [ProcessRecord(pid: 10, ppid: 1, execs: [ExecRecord(exe: "/usr/bin/python3.11", argv: command)], uid: uid, exit: ExitInfo(code: 0))])
    }
    public static func m(_ path: String, _ op: FileOperation, bytes: Int? = nil, errors: [String: Int] = [:], exe: String = "/usr/bin/python3.11",
                  existed: Bool? = nil, runs: [String] = ["run-test"]) -> FileMutation {
        let failed = errors.values.reduce(0, +)
        return FileMutation(path: path, operation: op, count: max(1, failed), succeeded: failed > 0 ? 0 : 1, errors: errors,
                            syscalls: ["openat"], processes: [exe], pids: [10], bytes: bytes, existedBefore: existed, runs: runs)
    }
    /// Filesystem facts: each directory with its entries (owned by root, mode 755, no code).
    public static func facts(_ dirs: [String: [String]], code: [String: [String]] = [:], symlinks: [String: String] = [:]) -> FilesystemFacts {
        var d: [String: DirectoryFacts] = [:]
        for (k, v) in dirs { d[k] = DirectoryFacts(uid: 0, gid: 0, mode: 0o755, entries: v.sorted(), entryCount: v.count, code: code[k]) }
        return FilesystemFacts(directories: d, symlinks: symlinks)
    }
    public static func recording(_ files: [FileMutation], syscalls: [String: Int] = ["read": 1, "openat": 3], uid: Int = 1000) -> Recording {
        Recording(runs: [run(uid: uid)], files: files, syscalls: ["x86_64": syscalls], blindSpots: []).normalized()
    }
}
