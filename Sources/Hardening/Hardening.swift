import Analysis
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// Options every `suggest` format shares.
public struct SuggestOptions: Sendable {
    public var container = "app"
    /// The seccomp profile's file name, as referenced by docker/compose/k8s output.
    public var seccompFile = "roprof-seccomp.json"
    /// Use the runtime's default seccomp profile instead of the generated one.
    public var runtimeDefaultSeccomp = false
    public var targetArch: SeccompArch? = nil
    public var image = "IMAGE"
    /// The recording the settings come from: printed commands name the one command that writes the
    /// files they reference (the seccomp profile).
    public var recordingPath: String? = nil
    /// First rollout: the seccomp profile logs what it would deny (SCMP_ACT_LOG) instead of denying it.
    public var seccompLogOnly = false
    /// The workload (Deployment) name; profiles are named after it. nil: the container's name.
    public var workloadName: String? = nil
    /// The namespace the workload and its SeccompProfile live in.
    public var namespace: String? = nil
    /// kubernetes: reference the profile the Security Profiles Operator installs from `--format spo`
    /// (operator/NAMESPACE/NAME.json) instead of a file on each node.
    public var spo = false
    /// kubernetes: print the PersistentVolumeClaims after the patch, as separate documents.
    public var claims = false
    /// Reference the AppArmor profile from `--format apparmor` (named after the workload) in the
    /// docker, podman, compose and kubernetes outputs.
    public var apparmor = false
    public init() {}

    /// The name of the AppArmor profile (and the SPO SeccompProfile's workload).
    public var apparmorProfile: String { "roprof-" + workload }

    /// The workload's name (defaults to the container's).
    public var workload: String { workloadName ?? container }
    /// Where the kubelet finds the seccomp profile.
    public var localhostProfile: String { spo ? "operator/\(namespace ?? "default")/\(workload).json" : "profiles/\(seccompFile)" }
}

/// Everything the deployment formats need, derived once from the analysis and the recording.
public struct Hardening {
    public struct Volume: Equatable {
        public var name: String
        public var mount: MountSuggestion
    }
    public var analysis: Analysis
    public var volumes: [Volume]
    public var env: [(name: String, value: String)]
    /// The uid the app ran as, when it ran as one non-root user.
    public var uid: Int?
    public var gid: Int?
    public var ranAsRoot: Bool
    public var addCapabilities: [String]
    public var warnings: [String]
    /// nil when the recording's syscall inventory is incomplete (not full mode).
    public var seccomp: SeccompPlan?
    public var executables: [String]
    /// The recorded command, without privilege-dropping wrappers (the runtime's user setting replaces them).
    public var command: [String]
    /// The recorded working directory, when the app depends on it and the image does not already set it.
    public var workdir: String?
    /// The image the run was recorded in (`record --image`): the emitted commands name it.
    public var imageReference: String?
    /// Ports the recorded image served on (`record --image` published them).
    public var ports: [PublishedPort] = []
    /// The recorded image's ENTRYPOINT and CMD (a workload runs it with only its own arguments).
    public var imageEntrypoint: [String]? = nil
    public var imageCmd: [String]? = nil
    /// State volumes the app's non-root user must be given: a directory the image lacks (a new Docker
    /// volume there belongs to root) or one the image gives to another user that the app cannot write.
    public var volumesForUser: [Volume] = []

    /// Who the runs' processes ran as: root when any process was (or nothing was recorded), else the uid.
    static func user(of runs: [RunInfo]) -> (uid: Int?, ranAsRoot: Bool) {
        let (uid, _, root) = identity(of: runs)
        return (uid, root)
    }

    /// The uid and gid the app's processes ran as, when they all ran as one non-root user. Processes
    /// that only dropped privileges (a wrapper run as root before its exec) count as what they became.
    static func identity(of runs: [RunInfo]) -> (uid: Int?, gid: Int?, ranAsRoot: Bool) {
        let procs = runs.flatMap(\.processes)
        let uids = Set(procs.compactMap(\.uid))
        let root = uids.contains(0) || uids.isEmpty
        guard !root, uids.count == 1, let uid = uids.first else { return (root ? nil : uids.first, nil, root) }
        let gids = Set(procs.filter { $0.uid == uid }.compactMap(\.gid))
        return (uid, gids.count == 1 ? gids.first : nil, false)
    }

    /// The recorded working directory, when the app depends on it: a relative path in its command
    /// (`python3 app/main.py`) or writes below it. A directory the app never used is left to the image.
    static func workdirThatMatters(_ r: Recording, command: [String], _ a: Analysis) -> String? {
        guard let cwd = r.runs.first?.cwd, cwd.hasPrefix("/"), cwd != "/" else { return nil }
        let scriptish = [".py", ".js", ".mjs", ".sh", ".rb", ".pl", ".php", ".jar", ".ini", ".toml", ".yaml", ".yml", ".conf"]
        let relative = command.dropFirst().contains { arg in
            !arg.hasPrefix("-") && !arg.hasPrefix("/") && !arg.contains("=") && !arg.contains(" ") && (arg.contains("/") || scriptish.contains { arg.hasSuffix($0) })
        } || (command.first.map { $0.hasPrefix("./") || $0.hasPrefix("../") } ?? false)
        let writesBelow = (a.breaking + a.harmless).contains { PathGlob.isUnder($0.path, cwd) }
        return relative || writesBelow ? cwd : nil
    }

    /// The pids of the recorded processes that ran as root (their uid at start or exec).
    static func rootPids(_ r: Recording) -> Set<Int> {
        Set(r.runs.flatMap { $0.processes.filter { $0.uid == 0 }.map(\.pid) })
    }

    /// A directory whose entries a root process created, renamed or removed although the directory
    /// belongs to another user and gives root's group and others no write: only CAP_DAC_OVERRIDE
    /// lets root do that (a container started with --cap-drop=ALL has none). Directories the run made
    /// itself are left out (made by root, handed over later). nil when there is none.
    static func dacOverrideEvidence(_ r: Recording) -> String? {
        guard let fs = r.filesystem else { return nil }
        let root = rootPids(r)
        let made = Set(r.files.filter { $0.operation == .mkdir && $0.succeeded > 0 }.map(\.path))
        let entryOps: Set<FileOperation> = [.create, .mkdir, .mknod, .renameFrom, .renameTo, .exchange, .link, .symlink, .unlink, .rmdir, .bind]
        for f in r.files where f.succeeded > 0 && entryOps.contains(f.operation) && f.pids.contains(where: root.contains) && !f.flags.contains("dropped-root") {
            let dir = PathGlob.parent(f.path)
            guard !made.contains(dir), let d = fs.directories[dir], d.uid != 0, d.mode & 0o002 == 0,
                  !(d.gid == 0 && d.mode & 0o020 != 0) else { continue }
            return dir
        }
        return nil
    }

    /// Why a root process needs CAP_FOWNER, from the recording: it changed the mode (or set explicit
    /// times) of a file that belonged to another user at that moment — the ptrace backend marks such a
    /// call `not-owner`; the eBPF backend cannot stat at entry, so there a chmod of a directory that
    /// belonged to another user at the run's end counts. An entrypoint's `chown app DIR; chmod 700 DIR`
    /// is the usual case. Returns the path, or nil.
    static func fownerEvidence(_ r: Recording) -> String? {
        let root = rootPids(r)
        let ebpf = r.runs.contains { $0.backend == "ebpf" }
        for f in r.files where f.succeeded > 0 && (f.operation == .chmod || f.operation == .utimes) && f.pids.contains(where: root.contains)
                && !f.flags.contains("dropped-root") {
            if f.flags.contains("not-owner") { return f.path }
            if ebpf, f.operation == .chmod, let d = r.filesystem?.directories[f.path], d.uid != 0 { return f.path }
        }
        return nil
    }

    public static func build(_ a: Analysis, _ r: Recording, catalog: ProfileCatalog, options: SuggestOptions) -> Hardening {
        var used = Set<String>()
        var warnings = a.warnings
        // A path that is not valid UTF-8 shows as U+FFFD: no format can name it correctly.
        let nameable = a.mounts.filter { m in
            if m.path.contains("\u{FFFD}") {
                warnings.append("\(Human.printable(m.path)) is not valid UTF-8 (see pathBase64 in the recording): no deployment format can name it; rename it in the image, or mount its parent")
                return false
            }
            return true
        }
        let volumes = nameable.map { m -> Volume in
            // Volume names: ASCII letters, digits and '-' (compose and Kubernetes both require it).
            var base = "roprof" + m.path.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? String($0) : "-" }.joined()
            while base.contains("--") { base = base.replacing("--", with: "-") }
            base = String(base.trimmingCharacters(in: "-").prefix(55))
            var name = base, n = 2
            while used.contains(name) { name = "\(base)-\(n)"; n += 1 }
            used.insert(name)
            return Volume(name: name, mount: m)
        }
        let (uid, gid, ranAsRoot) = identity(of: r.runs)
        var caps = Set((r.capabilityHints ?? [:]).keys)
        if let who = r.capabilityHints?["KILL"] {
            warnings.append("KILL is added because \(who.sorted().prefix(3).joined(separator: ", ")), running as root, signalled a process of the app that belongs to another user (a root master stopping workers that changed user): run the master as the workers' user to do without it")
        }
        let names = r.allSyscallNames
        // chroot (haproxy's jail, a daemon's privilege separation) needs CAP_SYS_CHROOT, root or not.
        if names.contains("chroot") { caps.insert("SYS_CHROOT") }
        if ranAsRoot {
            if !names.isDisjoint(with: ["chown", "fchown", "fchownat", "lchown"]) { caps.insert("CHOWN") }
            if !names.isDisjoint(with: ["setuid", "setresuid", "setreuid", "setfsuid"]) { caps.insert("SETUID") }
            if !names.isDisjoint(with: ["setgid", "setresgid", "setregid", "setgroups", "setfsgid"]) { caps.insert("SETGID") }
            if let dir = Self.dacOverrideEvidence(r) {
                caps.insert("DAC_OVERRIDE")
                warnings.append("DAC_OVERRIDE is added because a root process changed entries of \(Human.printable(dir)), which belongs to another user and is not writable for root's group or for others: give that directory to the app's user in the image to do without it")
            }
            if let path = Self.fownerEvidence(r) {
                caps.insert("FOWNER")
                warnings.append("FOWNER is added because a root process changed the mode or times of \(Human.printable(path)), which belonged to another user (a chmod after a chown, as entrypoints do): set the mode in the image, or before the chown, to do without it")
            }
            warnings.append("the app ran as root (uid 0): no non-root user is set, and capabilities it used implicitly (DAC_OVERRIDE, FOWNER, …) cannot all be seen; run it as a non-root user, or prove the settings with `roprof verify`")
        }
        var seccomp: SeccompPlan? = nil
        if r.hasCompleteSyscallInventory {
            seccomp = SeccompPlan.build(r, baseline: catalog.seccompBaseline, target: options.targetArch, families: catalog.seccompFamilies, dockerDefault: catalog.dockerDefault)
            seccomp!.logOnly = options.seccompLogOnly
            warnings += seccomp!.warnings
        } else if !options.runtimeDefaultSeccomp {
            warnings.append("the recording was made with --mode writes, so its syscall inventory is incomplete: no seccomp profile is generated (record with --mode full)")
        }
        let exes = Set(r.runs.flatMap { $0.processes.flatMap { $0.execs.map(\.exe) } })
        var forUser: [Volume] = []
        if let uid, uid != 0 {
            let who = "\(uid)\(gid.map { ":\($0)" } ?? "")"
            for v in volumes where v.mount.kind == .persistent {
                if let o = v.mount.owner {
                    guard o.uid != uid, o.mode & 0o002 == 0, !(o.gid == gid && o.mode & 0o020 != 0) else { continue }
                    warnings.append("\(Human.printable(v.mount.path)) is owned by uid \(o.uid) (mode \(String(o.mode, radix: 8))) where the app ran, but the app runs as uid \(uid): a volume there starts with that owner (docker/podman copy it from the image); the docker and compose output hand it to \(who) with a one-off chown run, or give the directory to the app's user in the image (RUN chown \(who) \(v.mount.path)); Kubernetes' fsGroup covers a PersistentVolumeClaim")
                } else if r.filesystem == nil {
                    continue  // nothing known of the directory (a recording without filesystem facts)
                }
                // Otherwise a directory the app made at run time: the image lacks it, and a new Docker
                // volume there is root's (the docker and compose formats say so and hand it over).
                forUser.append(v)
            }
        }
        let (command, wrappers) = PrivilegeWrapper.strip(r.runs.first?.command ?? [])
        // An image run as the image defines it: the image name, and no command (its ENTRYPOINT/CMD run).
        let image = r.runs.first?.image
        if !wrappers.isEmpty {
            warnings.append("the recorded command runs through \(wrappers.joined(separator: ", ")), which drops privileges: the runtime's user setting does that in a container, so the command is given without it")
        }
        var h = Hardening(analysis: a, volumes: volumes, env: a.env.keys.sorted().map { ($0, a.env[$0]!) },
                         uid: uid, gid: gid,  // from the processes themselves (nil when not recorded: never guessed)
                         ranAsRoot: ranAsRoot, addCapabilities: caps.sorted(), warnings: warnings, seccomp: seccomp,
                         executables: exes.sorted(), command: image.map { command == $0.entrypoint + $0.cmd ? [] : Array(command.dropFirst($0.entrypoint.count)) } ?? command,
                         workdir: image == nil ? workdirThatMatters(r, command: command, a) : nil, imageReference: image?.reference,
                         ports: image.map { $0.published ?? ($0.ports ?? []).map { PublishedPort(host: $0, container: $0) } } ?? [], imageEntrypoint: image?.entrypoint, imageCmd: image?.cmd)
        h.volumesForUser = forUser
        return h
    }
}

