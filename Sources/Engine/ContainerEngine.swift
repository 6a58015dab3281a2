import FoundationEssentials
import Glibc
import TraceModel

/// What an image defines about how it runs (from `podman/docker image inspect`).
public struct ImageConfig: Sendable, Equatable {
    public var reference: String
    public var id: String
    public var digest: String?
    public var user: String
    public var workingDir: String
    public var entrypoint: [String]
    public var cmd: [String]
    public var env: [String]

    /// The argv the image runs: ENTRYPOINT + CMD, or ENTRYPOINT + the given command (which overrides CMD).
    public func argv(overriding command: [String]) -> [String] {
        entrypoint + (command.isEmpty ? cmd : command)
    }
}

/// A container engine (podman or docker), driven by argv built from values, never a shell string.
public struct ContainerEngine: Sendable {
    public var name: String
    public var path: String
    /// Extra environment for the engine (CONTAINERS_CONF and the like come from the caller's environment).
    public init(name: String) throws {
        guard ["podman", "docker"].contains(name) else {
            throw EngineError("--engine '\(name)' is not one of podman, docker")
        }
        self.name = name
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        guard let p = dirs.map({ $0 + "/" + name }).first(where: { access($0, X_OK) == 0 }) else {
            throw EngineError("\(name) is not installed (apt-get install \(name == "podman" ? "podman runc" : "docker.io"), or choose --engine \(name == "podman" ? "docker" : "podman"))")
        }
        path = p
    }

    public struct Output: Sendable { public var status: Int32; public var stdout: String; public var stderr: String }

    /// Runs the engine with `args`, its output to files (a detached container's monitor may keep
    /// pipes open long after the command returned), and waits for exactly that process.
    @discardableResult
    public func run(_ args: [String], stdin devNull: Bool = true) -> Output {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-engine-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, dir + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&fa, 2, dir + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = [path] + args
        var cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &fa, nil, &cargs, environ) == 0 else {
            return Output(status: 127, stdout: "", stderr: "cannot run \(path)")
        }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        let status: Int32 = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
        let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        return Output(status: status, stdout: out, stderr: err)
    }

    /// What roprof reads of `inspect`'s JSON, from podman and Docker alike: every field optional and
    /// read leniently (a field of another type than expected reads as absent).
    struct Inspected: Decodable {
        struct Config: Decodable {
            var user, workingDir, image: String?
            var entrypoint, cmd, env: [String]
            enum CodingKeys: String, CodingKey { case User, WorkingDir, Image, Entrypoint, Cmd, Env }
            init(from d: Decoder) throws {
                let c = try d.container(keyedBy: CodingKeys.self)
                // A list, or a single string read as a list of one.
                func strings(_ k: CodingKeys) -> [String] { c.lenient(k) ?? (c.lenient(k) as String?).map { [$0] } ?? [] }
                user = c.lenient(.User); workingDir = c.lenient(.WorkingDir); image = c.lenient(.Image)
                entrypoint = strings(.Entrypoint); cmd = strings(.Cmd); env = strings(.Env)
            }
        }
        struct State: Decodable {
            var pid: Int64?, running: Bool?
            enum CodingKeys: String, CodingKey { case Pid, Running }
            init(from d: Decoder) throws {
                let c = try d.container(keyedBy: CodingKeys.self)
                pid = c.lenient(.Pid); running = c.lenient(.Running)
            }
        }
        var id, digest, imageName, image: String?
        var repoDigests: [String]?
        var config: Config?
        var state: State?
        enum CodingKeys: String, CodingKey { case Id, Digest, ImageName, Image, RepoDigests, Config, State }
        init(from d: Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            id = c.lenient(.Id); digest = c.lenient(.Digest); imageName = c.lenient(.ImageName); image = c.lenient(.Image)
            repoDigests = c.lenient(.RepoDigests); config = c.lenient(.Config); state = c.lenient(.State)
        }
    }

    /// The first object of an `inspect` command's JSON; nil when the engine knows no such thing.
    func inspectObject(_ args: [String]) -> Inspected? {
        let o = run(args)
        guard o.status == 0, let arr = try? JSONDecoder().decode([Inspected].self, from: Data(o.stdout.utf8)) else { return nil }
        return arr.first
    }

    /// The image's own configuration; a one-line error when the engine does not have it.
    public func inspect(_ image: String) throws -> ImageConfig {
        guard let first = inspectObject(["image", "inspect", image]) else {
            throw EngineError("no image '\(image)' in \(name): build or pull it first (`\(name) images` lists what is there)")
        }
        let cfg = first.config
        let digest = first.digest.flatMap { $0.isEmpty ? nil : $0 } ?? first.repoDigests?.first
        return ImageConfig(reference: image, id: first.id ?? "", digest: digest,
                           user: cfg?.user ?? "", workingDir: cfg?.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
                           entrypoint: cfg?.entrypoint ?? [], cmd: cfg?.cmd ?? [], env: cfg?.env ?? [])
    }

    /// A running container, as `--container` needs it: its first process and its image.
    public struct ContainerState: Sendable {
        /// Its first process on this host; nil when it is not running (created, or exited).
        public var pid: Int32?
        public var image: String
    }

    /// The container's first process (on this host) when it runs, and the image it runs; a one-line
    /// error naming the fix when there is no such container.
    public func container(_ container: String) throws -> ContainerState {
        guard let first = inspectObject(["container", "inspect", container]) else {
            throw EngineError("no container '\(container)' in \(name): `\(name) ps -a` lists them")
        }
        let pid = Int32(truncatingIfNeeded: first.state?.pid ?? 0)
        let running = first.state?.running == true && pid > 0
        let image = first.imageName ?? first.config?.image ?? first.image ?? ""
        return ContainerState(pid: running ? pid : nil, image: image)
    }

    public func stop(_ container: String, grace: Double) { run(["stop", "-t", "\(Int(grace.rounded(.up)))", container]) }
    /// Sends `signal` to the container's main process.
    public func kill(_ container: String, signal: Int32) { run(["kill", "--signal", "\(signal)", container]) }
    public func remove(_ container: String) { run(["rm", "-f", "-t", "0", container]) }
    public func removeVolumes(_ names: [String]) { if !names.isEmpty { run(["volume", "rm", "-f"] + names) } }

    /// How many entries a named volume holds (its directory on this host, which root can read); nil: unknown.
    public func volumeEntryCount(_ name: String) -> Int? {
        let o = run(["volume", "inspect", "--format", "{{.Mountpoint}}", name])
        let dir = o.stdout.trimmed()
        guard o.status == 0, dir.hasPrefix("/"), let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        return names.count
    }
    public func logs(_ container: String) -> String { let o = run(["logs", container]); return o.stdout + o.stderr }

    /// Waits for the container to exit; its exit code.
    public func wait(_ container: String) -> Int32? {
        let o = run(["wait", container])
        return Int32(o.stdout.trimmed().split(separator: "\n").last ?? "")
    }

    /// Whether the container is still running.
    public func isRunning(_ container: String) -> Bool {
        let o = run(["inspect", "--format", "{{.State.Running}}", container])
        return o.stdout.trimmed() == "true"
    }
}

/// An engine refused or lacks something: one line naming it and the fix.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or nil when it is absent, null, or of another type.
    func lenient<T: Decodable>(_ key: Key) -> T? { (try? decodeIfPresent(T.self, forKey: key)) ?? nil }
}
