import Analysis
import FoundationEssentials
import Glibc
import TraceModel

/// How a container engine (docker, podman) runs the app hardened, as typed values: the mounts,
/// environment, security options, user and ports. `suggest` formats it as flags; `verify --image`
/// runs the same spec with its local facts filled in (the profile's path, fresh volume names,
/// loopback ports), never by reading the printed text back.
public struct ContainerRunSpec: Equatable, Sendable {
    public enum Mount: Equatable, Sendable {
        /// A tmpfs of `bytes`; `chownToUser`: podman's `U` (hand the tmpfs to the app's user).
        case tmpfs(destination: String, bytes: Int, chownToUser: Bool)
        case volume(name: String, destination: String)
        /// A single file bound from the host (the format says where it comes from).
        case fileBind(source: String, destination: String)
    }
    public typealias Port = PublishedPort

    public var engine: String
    public var readOnly = true
    /// podman outside its own runtime profile: no automatic tmpfs on /tmp, /run, /var/tmp.
    public var noReadOnlyTmpfs = false
    public var mounts: [Mount] = []
    public var env: [(name: String, value: String)] = []
    public var noNewPrivileges = true
    /// The seccomp profile's file; nil: the engine's default profile.
    public var seccompProfile: String?
    public var apparmorProfile: String?
    public var dropAllCapabilities = true
    public var addCapabilities: [String] = []
    public var user: String?
    public var workdir: String?
    public var ports: [Port] = []
    /// Paths no flag can name safely (a comma, quote, '=' or control character), left out.
    public var unnameable: [String] = []
    /// Single files the user must create before running.
    public var filesToCreate: [String] = []
    /// Docker: named volumes (name, destination) to hand to `user` before the first run — a new
    /// volume over a directory the image lacks belongs to root (podman gives it to the user itself).
    public var handOver: [(name: String, destination: String)] = []

    /// The one-off run that hands the `handOver` volumes to the app's user (a no-op after the first time):
    /// the engine's own copy of the image's content happens first, as it does for the app.
    public func handOverArguments() -> [String]? {
        guard let u = user, !handOver.isEmpty else { return nil }
        return ["--rm", "--user=0:0", "--network=none", "--cap-drop=ALL", "--cap-add=CHOWN", "--entrypoint=chown"]
            + handOver.map { "--mount=type=volume,source=\($0.name),destination=\($0.destination)" }
    }
    /// The chown command's own arguments (after the image).
    public var handOverCommand: [String] { [user ?? ""] + handOver.map(\.destination) }

    public static func == (a: ContainerRunSpec, b: ContainerRunSpec) -> Bool {
        a.engine == b.engine && a.mounts == b.mounts && a.env.map { "\($0.name)=\($0.value)" } == b.env.map { "\($0.name)=\($0.value)" }
            && a.seccompProfile == b.seccompProfile && a.user == b.user && a.ports == b.ports && a.addCapabilities == b.addCapabilities
            && a.workdir == b.workdir && a.readOnly == b.readOnly && a.apparmorProfile == b.apparmorProfile
            && a.handOver.map { $0.name + "\u{0}" + $0.destination } == b.handOver.map { $0.name + "\u{0}" + $0.destination }
    }

    /// The decisions of `h` for `engine` (docker or podman) under `runtime`.
    public init(_ h: Hardening, _ o: SuggestOptions, engine: String, runtime: String) {
        self.engine = engine
        noReadOnlyTmpfs = engine == "podman" && runtime != "podman"
        for v in h.volumes {
            let p = v.mount.path
            if p.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "=" || $0.unicodeScalars.first!.value < 0x20 }) {
                unnameable.append(p)
                continue
            }
            switch v.mount.kind {
            case .tmpfs:
                // podman (runc) copies the image's content into a tmpfs over a directory the image has and
                // keeps that directory's owner and mode, ignoring tmpfs-mode: `U` hands it to the app's user.
                mounts.append(.tmpfs(destination: p, bytes: v.mount.sizeBytes, chownToUser: engine == "podman" && h.uid != nil && v.mount.owner != nil))
            case .persistent:
                // (A named volume starts with the image's directory, owner included; see the ownership warning.)
                mounts.append(.volume(name: v.name, destination: p))
            case .file:
                mounts.append(.fileBind(source: "$PWD/roprof-files/\(PathGlob.name(p))", destination: p))
                filesToCreate.append(p)
            }
        }
        env = h.env
        if h.seccomp != nil && !o.runtimeDefaultSeccomp { seccompProfile = o.seccompFile }
        if o.apparmor { apparmorProfile = o.apparmorProfile }
        addCapabilities = h.addCapabilities
        if let uid = h.uid { user = "\(uid)\(h.gid.map { ":\($0)" } ?? "")" }
        if let wd = h.workdir, wd.hasPrefix("/"), !wd.contains("\n") { workdir = wd }
        ports = h.ports
        if engine == "docker" {
            let names = Set(h.volumesForUser.map(\.name))
            handOver = h.volumes.filter { names.contains($0.name) && !unnameable.contains($0.mount.path) }.map { ($0.name, $0.mount.path) }
        }
    }

    /// The state volumes (named volumes) of the spec.
    public var volumeNames: [String] {
        mounts.compactMap { if case .volume(let n, _) = $0 { return n }; return nil }
    }

    /// The same spec with each named volume renamed (verify uses fresh volumes, never the user's own).
    public func renamingVolumes(_ rename: (String) -> String) -> ContainerRunSpec {
        var s = self
        s.mounts = mounts.map { if case .volume(let n, let d) = $0 { return .volume(name: rename(n), destination: d) }; return $0 }
        s.handOver = handOver.map { (rename($0.name), $0.destination) }
        return s
    }
}
