import Foundation
import TraceModel

/// Helpers shared by the test targets: locating the built roprof, running processes, building fixtures.
public enum Support {
    /// The package root (this file is Tests/TestSupport/Support.swift).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The roprof executable built next to the test bundle.
    public static var roprof: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("roprof").path
    }

    public struct Output {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public init(status: Int32, stdout: String, stderr: String) { self.status = status; self.stdout = stdout; self.stderr = stderr }
    }

    /// Runs a program and waits for it (our own pid only, never waitpid(-1)).
    @discardableResult
    public static func run(_ args: [String], env: [String: String]? = nil, unset: [String] = [], cwd: String? = nil, stdin: String? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0].contains("/") ? args[0] : try which(args[0]))
        p.arguments = Array(args.dropFirst())
        if env != nil || !unset.isEmpty {
            var e = ProcessInfo.processInfo.environment.merging(env ?? [:]) { $1 }
            for k in unset { e.removeValue(forKey: k) }
            p.environment = e
        }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        // The test runner's threads block most signals, and a spawned child inherits that mask:
        // unblock them so the programs a test starts can be stopped with SIGTERM/SIGINT.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            let inp = Pipe()
            p.standardInput = inp
            try p.run()
            inp.fileHandleForWriting.write(stdin.data(using: .utf8)!)
            try inp.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        // stdout on a thread of its own while this one reads stderr (either pipe may fill first).
        final class Collected: @unchecked Sendable { var data = Data() }
        let collected = Collected()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { collected.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = collected.data
        p.waitUntilExit()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return Output(status: status, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs a program with stdio on /dev/null and waits for exactly that pid. For commands that leave a
    /// daemon behind (`podman run -d` and its conmon), where Foundation's Process never saw the exit.
    public static func spawnAndWait(_ args: [String], env: [String: String] = [:]) -> Int32 {
        var pid: pid_t = 0
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        for fd in [0, 1, 2] as [Int32] { posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let environment = ProcessInfo.processInfo.environment.merging(env) { $1 }.map { "\($0.key)=\($0.value)" }
        var cargs = args.map { strdup($0) } + [nil]
        var cenv = environment.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) }; cenv.forEach { free($0) } }
        guard posix_spawnp(&pid, args[0], &fa, nil, &cargs, &cenv) == 0 else { return 127 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// The path of a tool on PATH; a missing tool fails the test with the install step named.
    public static func which(_ tool: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let c = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: c) { return c }
        }
        throw MissingTool(tool: tool)
    }

    public struct MissingTool: Error, CustomStringConvertible {
        public var tool: String
        public init(tool: String) { self.tool = tool }
        public var description: String {
            let pkg = ["gcc": "gcc", "strace": "strace", "podman": "podman runc", "debootstrap": "debootstrap",
                       "kubernetes-validate": "(pip) kubernetes-validate", "nginx": "nginx-light", "tar": "tar"][tool] ?? tool
            return "\(tool) is not installed: run `.ci/run` or install it (apt-get install \(pkg))"
        }
    }

    /// Removes a directory of bpffs pins (rm -r: bpffs has no recursive unlink of its own).
    public static func removePinned(_ dir: String) {
        for e in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] { unlink(dir + "/" + e) }
        rmdir(dir)
    }

    public static func scratch(_ prefix: String = "roprof-test") -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: base.path)) ?? base.resolvingSymlinksInPath().path
    }

    /// Records `command` with roprof and returns the recording and the run's output.
    public static func record(_ command: [String], mode: String = "full", extra: [String] = [], env: [String: String]? = nil,
                       cwd: String? = nil) throws -> (Recording, Output) {
        let out = scratch("rec") + "/rec.json"
        let o = try run([roprof, "record", "--quiet", "--mode", mode, "-o", out] + extra + ["--"] + command, env: env, cwd: cwd)
        guard FileManager.default.fileExists(atPath: out) else {
            throw ModelError("roprof wrote no recording (status \(o.status)): \(o.stderr)")
        }
        return (try Recording.load(path: out), o)
    }
}

/// Builds the C fixtures once per test process.
public enum FixtureBuilder {
    static let lock = NSLock()
    nonisolated(unsafe) static var built: [String: String] = [:]
    static let outDir = Support.packageRoot.appendingPathComponent(".build/fixtures-bin").path

    public static func binary(_ source: String) throws -> String {
        lock.lock(); defer { lock.unlock() }
        if let b = built[source] { return b }
        let gcc = try Support.which("gcc")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let src = Support.packageRoot.appendingPathComponent("Fixtures/\(source)").path
        let bin = outDir + "/" + URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        let o = try Support.run([gcc, "-O1", "-pthread", "-no-pie", "-o", bin, src])
        guard o.status == 0 else { throw ModelError("building \(source) failed: \(o.stderr)") }
        built[source] = bin
        return bin
    }
}
