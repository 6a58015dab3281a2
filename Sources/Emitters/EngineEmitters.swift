import Analysis
import Hardening
import FoundationEssentials
import Glibc
import TraceModel
import YAML

/// What a text format cannot express safely (a path with a newline in a flag, …) is left out
/// with a warning, never pasted in.
public struct Emitted {
    public var text: String
    public var warnings: [String]
}

/// `docker run` / `podman run` flags.
public enum DockerEmitter {
    public static func flags(_ h: Hardening, _ o: SuggestOptions, engine: String, runtime: String) -> Emitted {
        let spec = ContainerRunSpec(h, o, engine: engine, runtime: runtime)
        let args = arguments(spec)
        let image = o.image == "IMAGE" ? (h.imageReference ?? "IMAGE") : o.image
        var header: [String] = []
        if let profile = spec.seccompProfile {
            let rec = o.recordingPath.map(shellQuote) ?? "RECORDING"
            header.append("# \(profile) is the seccomp profile: write it first, here, with")
            header.append("#   roprof suggest --format seccomp -o \(shellQuote(profile)) \(rec)")
        }
        if !spec.filesToCreate.isEmpty {
            header.append("# single files bound from ./roprof-files (with the image's content, if it has any):")
            header.append("#   mkdir -p roprof-files && touch " + spec.filesToCreate.map { shellQuote("roprof-files/" + PathGlob.name($0)) }.joined(separator: " "))
        }
        if let pre = spec.handOverArguments() {
            header.append("# the app runs as \(spec.user ?? ""), but a new \(engine) volume belongs to root (or to the image directory's owner):")
            header.append("# hand \(spec.handOver.count == 1 ? "it" : "them") to the app's user first (a no-op on later runs; the image needs chown)")
            let words: [String] = ["\(engine) run"] + pre.map(shellWord) + [shellQuote(image)] + spec.handOverCommand.map(shellQuote)
            header.append(words.joined(separator: " "))
        }
        let lines = ["\(engine) run"] + args.map { "  " + shellWord($0) } + ["  " + shellQuote(image) + (h.command.isEmpty ? "" : " " + h.command.map(shellQuote).joined(separator: " "))]
        return Emitted(text: header.map { $0 + "\n" }.joined() + lines.joined(separator: " \\\n") + "\n", warnings: warnings(spec))
    }

    /// A shell word for `arg` in which `$PWD` still expands (single-file binds name it), everything
    /// else literal: `'--mount=…,source='"$PWD"'/roprof-files/x,…'`.
    static func shellWord(_ arg: String) -> String {
        guard arg.contains("$PWD") else { return shellQuote(arg) }
        return arg.components(separatedBy: "$PWD").map { $0.isEmpty ? "" : "'" + $0.replacing("'", with: "'\\''") + "'" }
            .joined(separator: "\"$PWD\"")
    }

    /// What a spec cannot express as flags, or needs the user to make first.
    public static func warnings(_ spec: ContainerRunSpec) -> [String] {
        spec.unnameable.map { "\(Human.printable($0)) cannot be written as a --mount flag (a comma, quote, '=' or control character); mount it by other means" }
            + spec.filesToCreate.map { "\(Human.printable($0)) is a single file: create ./roprof-files/\(PathGlob.name($0)) (with the image's content if it has any) before running" }
            + handOverWarnings(spec.handOver.map(\.destination), user: spec.user, how: "the printed one-off `\(spec.engine) run … --entrypoint=chown` gives")
    }

    /// Why the docker formats hand volumes over, and the other ways to do it.
    static func handOverWarnings(_ paths: [String], user: String?, how: String) -> [String] {
        guard let user, !paths.isEmpty else { return [] }
        let list = paths.map(Human.printable).joined(separator: ", ")
        return ["\(list): a new Docker volume belongs to root (or to the image directory's owner) and the app runs as \(user): \(how) \(paths.count == 1 ? "it" : "them") to the app's user before it starts; or make \(paths.count == 1 ? "the directory" : "the directories") in the image (RUN mkdir -p DIR && chown \(user) DIR). podman gives a new volume to the container's user itself; in Kubernetes fsGroup makes a claim writable"]
    }

    /// A typed run spec as `run` arguments: what `suggest` prints and `verify --image` runs.
    public static func arguments(_ spec: ContainerRunSpec) -> [String] {
        var args: [String] = spec.readOnly ? ["--read-only"] : []
        if spec.noReadOnlyTmpfs { args.append("--read-only-tmpfs=false") }
        for m in spec.mounts {
            switch m {
            case .tmpfs(let p, let bytes, let chown):
                args.append("--mount=type=tmpfs,destination=\(p),tmpfs-size=\(bytes)," + (chown ? "U" : "tmpfs-mode=1777"))
            case .volume(let name, let p): args.append("--mount=type=volume,source=\(name),destination=\(p)")
            case .fileBind(let src, let p): args.append("--mount=type=bind,source=\(src),destination=\(p)")
            }
        }
        for e in spec.env { args.append("--env=\(e.name)=\(e.value)") }
        if spec.noNewPrivileges { args.append("--security-opt=no-new-privileges") }
        if let s = spec.seccompProfile { args.append("--security-opt=seccomp=\(s)") }
        if let a = spec.apparmorProfile { args.append("--security-opt=apparmor=\(a)") }
        if spec.dropAllCapabilities { args.append("--cap-drop=ALL") }
        for c in spec.addCapabilities { args.append("--cap-add=\(c)") }
        if let u = spec.user { args.append("--user=\(u)") }
        if let wd = spec.workdir { args.append("--workdir=\(wd)") }
        for p in spec.ports { args.append("--publish=\(p)") }
        return args
    }
}

/// A compose service fragment (long mount syntax, so any path is safe).
public enum ComposeEmitter {
    struct File: Encodable { var services: [String: Service]; var volumes: [String: [String: String]]? }
    struct Service: Encodable {
        var image: String?
        var command: [String]?
        var ports: [String]?
        var read_only = true
        var volumes: [Mount]?
        var environment: [String: String]?
        var security_opt: [String]
        var cap_drop = ["ALL"]
        var cap_add: [String]?
        var user: String?
        var working_dir: String?
        var entrypoint: [String]? = nil
        var network_mode: String? = nil
        var depends_on: [String: [String: String]]? = nil
    }
    struct Mount: Encodable {
        var type: String
        var source: String?
        var target: String
        var tmpfs: Tmpfs?
        /// Mode 1777 (world-writable, sticky), which non-root apps need: the same as the docker flags.
        /// Compose reads it as a number (0o1777 = 1023).
        struct Tmpfs: Encodable { var size: Int; var mode = 0o1777 }
    }

    /// Compose interpolates `$NAME` and `${NAME}` in every string value: a literal `$` is written `$$`.
    static func literal(_ s: String) -> String { s.replacing("$", with: "$$") }

    public static func yaml(_ h: Hardening, _ o: SuggestOptions) throws -> Emitted {
        var mounts: [Mount] = []
        var named: [String: [String: String]] = [:]
        for v in h.volumes {
            switch v.mount.kind {
            case .tmpfs: mounts.append(Mount(type: "tmpfs", target: literal(v.mount.path), tmpfs: .init(size: v.mount.sizeBytes)))
            case .persistent: mounts.append(Mount(type: "volume", source: v.name, target: literal(v.mount.path))); named[v.name] = [:]
            case .file: mounts.append(Mount(type: "bind", source: literal("./roprof-files/\(PathGlob.name(v.mount.path))"), target: literal(v.mount.path)))
            }
        }
        var sec = ["no-new-privileges:true"]
        if h.seccomp != nil && !o.runtimeDefaultSeccomp { sec.append("seccomp:./\(o.seccompFile)") }
        if o.apparmor { sec.append("apparmor:\(o.apparmorProfile)") }
        // A complete service when the image is known (record --image): the image, its published ports
        // (loopback stays loopback) and the command, besides the hardening.
        let image = o.image == "IMAGE" ? h.imageReference : o.image
        let svc = Service(image: image.map(literal), command: image == nil || h.command.isEmpty ? nil : h.command.map(literal),
                          ports: h.ports.isEmpty ? nil : h.ports.map(\.description),
                          volumes: mounts.isEmpty ? nil : mounts,
                          environment: h.env.isEmpty ? nil : Dictionary(uniqueKeysWithValues: h.env.map { ($0.name, literal($0.value)) }),
                          security_opt: sec, cap_add: h.addCapabilities.isEmpty ? nil : h.addCapabilities,
                          user: h.uid.map { "\($0)\(h.gid.map { ":\($0)" } ?? "")" }, working_dir: h.workdir.map(literal))
        var services = [o.container: svc]
        var warnings: [String] = []
        // A new volume belongs to root (or the image directory's owner): a one-off service hands it to
        // the app's user before the app starts (docker-compose ≥ 1.29 waits for it to complete).
        let forUser = Set(h.volumesForUser.map(\.name))
        if let image, let user = svc.user, !forUser.isEmpty {
            let owner = o.container + "-volume-owner"
            let vols = h.volumes.filter { forUser.contains($0.name) }
            services[owner] = Service(image: literal(image), read_only: true,
                                      volumes: vols.map { Mount(type: "volume", source: $0.name, target: literal($0.mount.path)) },
                                      security_opt: ["no-new-privileges:true"], cap_add: ["CHOWN"], user: "0:0",
                                      entrypoint: ["chown", literal(user)] + vols.map { literal($0.mount.path) }, network_mode: "none")
            services[o.container]!.depends_on = [owner: ["condition": "service_completed_successfully"]]
            warnings += DockerEmitter.handOverWarnings(vols.map(\.mount.path), user: user, how: "the service \(owner) hands")
        }
        let enc = YAMLEncoder()
        enc.sortKeys = true
        return Emitted(text: try enc.encode(File(services: services, volumes: named.isEmpty ? nil : named)), warnings: warnings)
    }
}

/// An ECS task definition fragment (JSON). Fargate has no tmpfs: scratch dirs are task volumes.
public enum ECSEmitter {
    struct Task: Encodable { var containerDefinitions: [Container]; var volumes: [Volume] }
    struct Container: Encodable {
        var name: String
        var readonlyRootFilesystem = true
        var mountPoints: [MountPoint]
        var environment: [KV]
        var linuxParameters: Linux
        var user: String?
    }
    struct MountPoint: Encodable { var sourceVolume: String; var containerPath: String; var readOnly = false }
    struct KV: Encodable { var name: String; var value: String }
    struct Linux: Encodable { var capabilities: Caps; var initProcessEnabled = true; struct Caps: Encodable { var drop = ["ALL"]; var add: [String]? } }
    struct Volume: Encodable { var name: String; var efsVolumeConfiguration: EFS?; struct EFS: Encodable { var fileSystemId = "fs-REPLACE-ME"; var transitEncryption = "ENABLED" } }

    /// The only capability Fargate accepts in linuxParameters.capabilities.add.
    static let fargateCapabilities: Set<String> = ["SYS_PTRACE"]

    public static func json(_ h: Hardening, _ o: SuggestOptions) throws -> Emitted {
        var warnings: [String] = []
        let add = h.addCapabilities.filter { fargateCapabilities.contains($0) }
        let refused = h.addCapabilities.filter { !fargateCapabilities.contains($0) }
        if !refused.isEmpty {
            warnings.append("Fargate accepts only SYS_PTRACE in linuxParameters.capabilities.add: \(refused.joined(separator: ", ")) left out; give the container a non-root \"user\" so it does not need them, or use the EC2 launch type and add them there")
        }
        let c = Container(name: o.container,
                          mountPoints: h.volumes.map { MountPoint(sourceVolume: $0.name, containerPath: $0.mount.path) },
                          environment: h.env.map { KV(name: $0.name, value: $0.value) },
                          linuxParameters: .init(capabilities: .init(add: add.isEmpty ? nil : add)),
                          user: h.uid.map { "\($0)\(h.gid.map { ":\($0)" } ?? "")" })
        let vols = h.volumes.map { Volume(name: $0.name, efsVolumeConfiguration: $0.mount.kind == .persistent ? .init() : nil) }
        if h.volumes.contains(where: { $0.mount.kind == .persistent }) {
            warnings.append("persistent volumes are EFS placeholders: replace fs-REPLACE-ME with your file system id")
        }
        if h.seccomp != nil { warnings.append("ECS has no custom seccomp profiles on Fargate; on EC2 pass the generated profile through dockerSecurityOptions") }
        let files = h.volumes.filter { $0.mount.kind == .file }.map { Human.printable($0.mount.path) }
        if !files.isEmpty {
            warnings.append("\(files.joined(separator: ", ")): an ECS volume mounts on a directory, never over a single file: make the app write \(files.count == 1 ? "it" : "them") in a directory of its own (its setting for that path), then record again")
        }
        if h.ranAsRoot { warnings.append("the task runs as root: set \"user\" in the container definition to a non-root uid once the app runs as one") }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Emitted(text: String(decoding: try enc.encode(Task(containerDefinitions: [c], volumes: vols)), as: UTF8.self) + "\n", warnings: warnings)
    }
}

/// A systemd drop-in: ProtectSystem=strict with the written places opened up.
public enum SystemdEmitter {
    /// Quotes a value the way systemd's unquoting reads it back.
    static func quote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-_.=:,+@".contains($0)) }) { return s }
        let body = Human.escape(s) { u in
            switch u {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case "\n": return "\\n"
            case "\t": return "\\t"
            case "%": return "%%"
            default: return u.value < 0x20 ? "\\x" + Format.hex(u.value, width: 2) : nil
            }
        }
        return "\"" + body + "\""
    }

    /// The systemd directory setting for a path it manages itself: /var/lib/NAME → StateDirectory=NAME,
    /// /var/cache/NAME → CacheDirectory=, /var/log/NAME → LogsDirectory=, /run/NAME → RuntimeDirectory=.
    static func managedDirectory(_ path: String) -> (setting: String, name: String)? {
        for (base, setting) in [("/var/lib/", "StateDirectory"), ("/var/cache/", "CacheDirectory"), ("/var/log/", "LogsDirectory"),
                                ("/run/", "RuntimeDirectory"), ("/var/run/", "RuntimeDirectory")] where path.hasPrefix(base) {
            let name = String(path.dropFirst(base.count))
            if !name.isEmpty && !name.contains(where: { $0 == " " || $0 == "\n" || $0 == "%" || $0 == "\\" }) { return (setting, name) }
        }
        return nil
    }

    public static func dropIn(_ h: Hardening, _ o: SuggestOptions) -> Emitted {
        var lines = ["# Generated by roprof: save as /etc/systemd/system/UNIT.service.d/roprof.conf, then systemctl daemon-reload",
                     "[Service]", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes"]
        var warnings: [String] = []
        var managed: [String: [String]] = [:]
        var rw: [String] = []
        for v in h.volumes {
            let p = v.mount.path
            if let m = managedDirectory(p) { managed[m.setting, default: []].append(m.name); continue }
            if p == "/run" || p == "/var/run" || p == "/run/lock" || p == "/var/lock" {
                warnings.append("\(p): never a TemporaryFileSystem= (it would hide /run/systemd/notify, the journal socket and resolved): give the app RuntimeDirectory=NAME and point its pid file or socket into /run/NAME")
                continue
            }
            if p.contains(":") || p.contains(",") {
                warnings.append("\(Human.printable(p)): a ':' or ',' cannot be written in TemporaryFileSystem=/ReadWritePaths=; left out")
                continue
            }
            if v.mount.kind == .tmpfs {
                lines.append("TemporaryFileSystem=" + quote("\(p):size=\(v.mount.sizeBytes / (1 << 20))M,mode=1777"))
            } else { rw.append(p) }
        }
        for setting in ["StateDirectory", "CacheDirectory", "LogsDirectory", "RuntimeDirectory"] {
            if let names = managed[setting] { lines.append("\(setting)=" + names.sorted().map { quote($0) }.joined(separator: " ")) }
        }
        if managed["RuntimeDirectory"] != nil { lines.append("RuntimeDirectoryPreserve=restart") }
        if !rw.isEmpty { lines.append("ReadWritePaths=" + rw.map { quote($0) }.joined(separator: " ")) }
        for e in h.env { lines.append("Environment=" + quote("\(e.name)=\(e.value)")) }
        lines.append("CapabilityBoundingSet=" + h.addCapabilities.map { "CAP_\($0)" }.joined(separator: " "))
        if !h.addCapabilities.isEmpty && h.uid != nil { lines.append("AmbientCapabilities=" + h.addCapabilities.map { "CAP_\($0)" }.joined(separator: " ")) }
        if let uid = h.uid { lines.append("User=\(uid)") }
        if h.ranAsRoot { warnings.append("the service runs as root: set User= to a non-root user once the app runs as one (systemd creates the State/Cache/Logs/RuntimeDirectory= directories owned by it)") }
        if let s = h.seccomp, !o.runtimeDefaultSeccomp {
            lines.append("SystemCallArchitectures=native")
            lines.append("SystemCallErrorNumber=EPERM")
            // systemd answers an allow-list's other calls with one errno: it cannot answer the newer entry
            // points ENOSYS (so libc falls back) as the Docker/OCI profile does. EPERM there breaks libc
            // (threads fail on clone3), so they are allowed: each is a newer door to a call the app uses.
            let entryPoints = s.enosys.filter { !s.asyncDenied.contains($0) }
            if !entryPoints.isEmpty {
                lines.append("# allowed because systemd cannot answer them ENOSYS: \(entryPoints.joined(separator: " ")) (newer entry points of calls the app makes)")
            }
            if !s.asyncDenied.isEmpty {
                lines.append("# denied (EPERM here; the recording answered them ENOSYS and the app fell back to plain calls): \(s.asyncDenied.joined(separator: " "))")
            }
            lines.append("SystemCallFilter=" + Array(Set(s.names + entryPoints)).sorted().joined(separator: " "))
        }
        return Emitted(text: lines.joined(separator: "\n") + "\n", warnings: warnings)
    }
}

/// An AppArmor profile: written places rw, every executable ix, reads allowed (not recorded).
public enum AppArmorEmitter {
    static func safe(_ p: String) -> Bool {
        !p.contains(where: { "\"*?[]{}^\\#\n\r\t".contains($0) || $0.unicodeScalars.first!.value < 0x20 })
    }
    static func quoted(_ p: String) -> String { p.contains(" ") || p.contains(",") ? "\"\(p)\"" : p }

    public static func profile(_ h: Hardening, name: String) -> Emitted {
        var warnings: [String] = []
        var rules = ["  include <abstractions/base>", "  # roprof records writes, not reads: reading is allowed everywhere, writing only where the run wrote.",
                     "  /** r,", "  # shared libraries and native modules are mapped executable (Python .so files, libjvm.so, …)",
                     "  /**.so* mr,", "  /dev/null rw,", "  /dev/tty rw,", "  /dev/shm/** rwk,", "  /proc/** r,", "  network,", "  signal (send, receive) peer=\(name),"]
        for v in h.volumes {
            guard safe(v.mount.path) else { warnings.append("\(Human.printable(v.mount.path)) has AppArmor glob or control characters: left out"); continue }
            if v.mount.kind == .file { rules.append("  \(quoted(v.mount.path)) rwk,") }
            else { rules.append("  \(quoted(v.mount.path + "/")) rw,"); rules.append("  \(quoted(v.mount.path + "/**")) rwkl,") }
        }
        for exe in h.executables {
            guard safe(exe) else { warnings.append("\(Human.printable(exe)): left out (special characters)"); continue }
            rules.append("  \(quoted(exe)) mix,")
        }
        for c in h.addCapabilities { rules.append("  capability \(c.lowercased()),") }
        let text = ["# Generated by roprof. Load with: apparmor_parser -r FILE; then reference it with `roprof suggest --apparmor` (docker/podman",
                    "# --security-opt apparmor=\(name), compose security_opt, Kubernetes securityContext.appArmorProfile).",
                    "abi <abi/3.0>,", "include <tunables/global>", "",
                    "profile \(name) flags=(attach_disconnected,mediate_deleted) {"] + rules + ["}"]
        return Emitted(text: text.joined(separator: "\n") + "\n", warnings: warnings)
    }
}
