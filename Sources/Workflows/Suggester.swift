import Analysis
import Emitters
import FoundationEssentials
import Glibc
import Hardening
import Seccomp
import TraceModel

/// The formats of `suggest`.
public enum SuggestFormat: String, CaseIterable, Sendable {
    case kubernetes, docker, compose, podman, ecs, systemd, seccomp, spo, apparmor

    /// The runtime a format implies when --runtime is not given.
    public var defaultRuntime: String {
        switch self {
        case .docker, .compose: return "docker"
        case .podman: return "podman"
        case .ecs: return "ecs"
        case .systemd: return "systemd"
        default: return "kubernetes"
        }
    }
    public var fileName: String {
        switch self {
        case .kubernetes: return "kubernetes-patch.yaml"
        case .docker: return "docker-run.sh"
        case .compose: return "compose.yaml"
        case .podman: return "podman-run.sh"
        case .ecs: return "ecs-task-fragment.json"
        case .systemd: return "systemd-roprof.conf"
        case .seccomp: return "roprof-seccomp.json"
        case .spo: return "seccomp-profile-cr.yaml"
        case .apparmor: return "apparmor-profile"
        }
    }
}

/// What `suggest` is asked for.
public struct SuggestRequest: Sendable {
    public var recordingPath: String
    public var runtime: String?
    public var profiles: String?
    public var manifest: String?
    public var kustomizeBase = "../base"
    public var bindImage: String?
    public var workloads = false
    public var workloadImage = "IMAGE"
    public var schedules: [String: String] = [:]
    /// --container was given (otherwise the base's only container is patched, whatever its name).
    public var containerGiven = false
    /// A kernel log (path, or - for stdin) from a run under a log-only profile: its logged calls join the profile.
    public var kernelLog: String?
    public var options = SuggestOptions()
    public init(recordingPath: String) { self.recordingPath = recordingPath }
}

/// What `suggest` gives: files to write (their text), or a text for standard output, and the notes
/// (warnings, what changed) for stderr.
public struct SuggestOutput {
    public var files: [(path: String, text: String)] = []
    public var text: String?
    public var notes: [String] = []
}

/// suggest: the decisions of Hardening, formatted.
public struct Suggester {
    let req: SuggestRequest
    let rec: Recording
    let catalog: ProfileCatalog
    /// What --kernel-log added to the profile (and what it left out), for stderr.
    public private(set) var kernelLogNotes: [String] = []
    var recording: String { req.recordingPath }
    var runtime: String? { req.runtime }
    var workloads: Bool { req.workloads }
    var manifest: String? { req.manifest }
    var bindImage: String? { req.bindImage }
    var kustomizeBase: String { req.kustomizeBase }

    public init(_ req: SuggestRequest) throws {
        var req = req
        if req.options.recordingPath == nil { req.options.recordingPath = req.recordingPath }
        self.req = req
        var rec = try Recording.load(path: req.recordingPath)
        catalog = try ProfileCatalog.load(extraDirectory: req.profiles)
        if let path = req.kernelLog { kernelLogNotes = try Self.addLogged(path, to: &rec) }
        self.rec = rec
    }

    /// Adds the calls a log-only profile let through (the kernel's seccomp records) to the recording's
    /// inventory, so the profile built from it allows them. A call that matters for security is added
    /// only for a program the recording ran; every addition is named with its program.
    static func addLogged(_ path: String, to rec: inout Recording) throws -> [String] {
        let data: Data
        if path == "-" { data = StdIO.readAll() }
        else {
            guard let d = FileManager.default.contents(atPath: path) else {
                throw ModelError("--kernel-log '\(Human.printable(path))' is not readable: save the kernel log first (dmesg > kernel.log, or journalctl -k > kernel.log)")
            }
            data = d
        }
        guard data.count <= 256 << 20 else { throw ModelError("--kernel-log '\(Human.printable(path))' is larger than 256 MiB: give the part since the rollout (journalctl -k --since …)") }
        let log = KernelSeccompLog.parse(String(decoding: data, as: UTF8.self))
        if log.calls.isEmpty {
            return ["note: --kernel-log: no seccomp records (audit type 1326) in \(Human.printable(path)): run the app under the --seccomp-log-only profile first, and read the log as root"]
        }
        let programs = Set(rec.runs.flatMap { $0.processes.flatMap { $0.execs.flatMap { [$0.exe, $0.resolved].compactMap { $0 } } } })
        let names = Set(programs.map { Paths.lastComponent($0) })
        let known = rec.allSyscallNames
        var added: [String: Set<String>] = [:], refused: [String] = []
        for (call, n) in log.calls.sorted(by: { ($0.key.name, $0.key.exe) < ($1.key.name, $1.key.exe) }) where !known.contains(call.name) {
            let ran = programs.contains(call.exe) || names.contains(Paths.lastComponent(call.exe))
            if Recording.dangerousSyscalls.contains(call.name) {
                guard ran else { refused.append("\(call.name) (\(call.exe))"); continue }
                rec.dangerousCallers = rec.dangerousCallers ?? [:]
                rec.dangerousCallers![call.name, default: []].append(call.exe)
            }
            rec.syscalls[call.arch.rawValue, default: [:]][call.name, default: 0] += n
            added[call.name, default: []].insert(Paths.lastComponent(call.exe) + (ran ? "" : " (a program the recording never ran)"))
        }
        var notes: [String] = []
        if added.isEmpty { notes.append("note: --kernel-log: every logged call is already in the profile") }
        else {
            notes.append("added from the kernel log: " + added.keys.sorted().map { "\($0) (\(added[$0]!.sorted().joined(separator: ", ")))" }.joined(separator: ", "))
        }
        if !refused.isEmpty {
            notes.append("warning: --kernel-log: left out calls that matter for security made by programs the recording never ran: \(refused.joined(separator: ", ")) — record the app doing that work if it is the app's")
        }
        if log.unknown > 0 { notes.append("note: --kernel-log: \(log.unknown) seccomp record\(log.unknown == 1 ? "" : "s") of an unknown architecture or call number skipped") }
        return notes
    }

    /// One format, as text.
    public func render(_ f: SuggestFormat) throws -> SuggestOutput {
        let (text, warnings, changes) = try renderText(f, options: req.options)
        return SuggestOutput(text: text, notes: changes.map { "changed: \($0)" } + Array(Set(warnings)).sorted().map { "warning: \($0)" })
    }

    /// docker, podman, compose with `-o DIR/`: the command (or compose file) and every file it names,
    /// side by side, so that it runs as written from DIR (the script changes into its own directory).
    public func bundle(_ f: SuggestFormat, dir: String) throws -> SuggestOutput {
        var out = try render(f)
        let h = try hardening(f, options: req.options)
        let path = { (name: String) in Paths.join(dir, name) }
        var text = out.text ?? ""
        if f == .docker || f == .podman {
            // The files the command names are written beside it: no "write it first" lines.
            let command = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
            text = "#!/bin/sh\n# roprof: runs from its own directory, where the files it names are.\ncd \"$(dirname \"$0\")\" || exit 1\n" + command
        }
        out.files.append((path(f.fileName), text))
        var written = [f.fileName]
        if let plan = h.seccomp, !req.options.runtimeDefaultSeccomp {
            out.files.append((path(req.options.seccompFile), try SeccompEmitter.json(plan)))
            written.append(req.options.seccompFile)
        }
        for v in h.volumes where v.mount.kind == .file {
            let name = "roprof-files/" + PathGlob.name(v.mount.path)
            out.files.append((path(name), ""))
            written.append(name)
            out.notes.append("note: \(name) is empty: put the image's content of \(Human.printable(v.mount.path)) in it if the image has one")
        }
        out.text = nil
        out.notes.append("wrote \(written.joined(separator: ", ")) to \(dir)" + (f == .compose ? "; run `docker-compose up` there" : "; run `sh \(path(f.fileName))`"))
        return out
    }

    func hardening(_ f: SuggestFormat, options: SuggestOptions) throws -> Hardening {
        let rt = try catalog.runtime(named: runtime ?? f.defaultRuntime)
        let analysis = Analyzer(runtime: rt, catalog: catalog).analyze(rec)
        return Hardening.build(analysis, rec, catalog: catalog, options: options)
    }

    func renderText(_ f: SuggestFormat, options: SuggestOptions) throws -> (String, [String], [String]) {
        var changes: [String] = []
        let h = try hardening(f, options: options)
        let name = options.apparmorProfile
        switch f {
        case .kubernetes:
            var w = h.warnings + KubernetesEmitter.restrictedViolations(h).map { "Pod Security Standards (restricted): \($0)" }
                + KubernetesEmitter.fileMountWarnings(h, options)
            if h.seccomp != nil && !options.runtimeDefaultSeccomp {
                w.append(options.spo
                    ? "apply the SeccompProfile first: roprof suggest --format spo --name \(options.workload)\(options.namespace.map { " --namespace \($0)" } ?? "") REC | kubectl apply -f -"
                    : "the seccomp profile must be on each node at <kubelet root>/seccomp/\(options.localhostProfile) (write it with --format seccomp, or use the Security Profiles Operator: --spo with --format spo)")
            }
            if workloads {
                var wo = WorkloadOptions()
                wo.image = req.workloadImage
                wo.schedules = req.schedules
                let out = try KubernetesEmitter.workloads(h, rec, options, wo)
                return (out.text, w.filter { !$0.hasPrefix("the app ran as root") } + out.warnings, changes)
            }
            if let m = manifest {
                guard let text = try? String(contentsOfFile: m, encoding: .utf8) else {
                    throw ModelError("cannot read manifest '\(m)' (no such file, or not UTF-8)")
                }
                let patched = try KubernetesEmitter.patchManifest(text, source: m, h, options)
                changes = patched.changes
                let levels = PodSecurityStandards.summary(patched.text)
                return (patched.text, w.filter { !$0.hasPrefix("Pod Security Standards (restricted)") } + levels, changes)
            }
            return (try KubernetesEmitter.patch(h, options), w, changes)
        case .docker, .podman:
            let e = DockerEmitter.flags(h, options, engine: f.rawValue, runtime: runtime ?? f.defaultRuntime)
            return (e.text, h.warnings + e.warnings, changes)
        case .compose:
            let e = try ComposeEmitter.yaml(h, options)
            return (e.text, h.warnings + e.warnings, changes)
        case .ecs:
            let e = try ECSEmitter.json(h, options)
            return (e.text, h.warnings + e.warnings, changes)
        case .systemd:
            let e = SystemdEmitter.dropIn(h, options)
            return (e.text, h.warnings + e.warnings, changes)
        case .seccomp, .spo:
            guard let plan = h.seccomp else {
                throw ModelError("'\(recording)' was recorded with --mode writes: its syscall inventory is incomplete; record again with --mode full for a seccomp profile")
            }
            return (f == .seccomp ? try SeccompEmitter.json(plan)
                    : try SeccompEmitter.spo(plan, name: options.workload, namespace: options.namespace, bindImage: bindImage), plan.warnings, changes)
        case .apparmor:
            guard rec.hasCompleteSyscallInventory else {
                throw ModelError("'\(recording)' was recorded with --mode writes; an AppArmor profile needs a --mode full recording (every executable)")
            }
            let e = AppArmorEmitter.profile(h, name: name)
            return (e.text, h.warnings + e.warnings, changes)
        }
    }

    /// `-o DIR/` or an existing directory.
    public static func isDirectoryTarget(_ path: String) -> Bool {
        return path.hasSuffix("/") || (Paths.isDirectory(path))
    }

    /// A kustomize overlay in DIR: the patch, the claims, the profile, and a kustomization.yaml.
    public func overlay(dir: String) throws -> SuggestOutput {
        let options = req.options
        var out = SuggestOutput()
        let h = try hardening(.kubernetes, options: options)
        var seccompJSON: String? = nil, spoProfile: String? = nil
        if let plan = h.seccomp, !options.runtimeDefaultSeccomp {
            if options.spo { spoProfile = try SeccompEmitter.spo(plan, name: options.workload, namespace: options.namespace) }
            else { seccompJSON = try SeccompEmitter.json(plan) }
        }
        // The base, when it is a directory we can read: keep what it already sets for the container.
        // Paths mean what kustomize reads: the base relative to the overlay directory.
        let cwd = FileManager.default.currentDirectoryPath
        let overlayDir = Paths.standardize(dir.hasPrefix("/") ? dir : cwd + "/" + dir)
        let baseDir = Paths.standardize(kustomizeBase.hasPrefix("/") ? kustomizeBase : overlayDir + "/" + kustomizeBase)
        let resource = kustomizeBase.hasPrefix("/") ? Self.relativePath(from: overlayDir, to: baseDir) : kustomizeBase
        let texts = ((try? FileManager.default.contentsOfDirectory(atPath: baseDir)) ?? []).sorted()
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .compactMap { try? String(contentsOfFile: Paths.join(baseDir, $0), encoding: .utf8) }
        let base = try KubernetesEmitter.baseContainer(texts, options, containerGiven: req.containerGiven)
        if texts.isEmpty { out.notes.append("note: the base \(baseDir) is not readable here: the overlay cannot keep what it already sets (run `kubectl kustomize \(dir)` and review)") }
        else if base == nil { out.notes.append("warning: no Deployment \(options.workload) with a container \(options.container) in \(baseDir): pass --name and --container") }
        if let b = base, b.workload != options.workload || b.container != options.container {
            out.notes.append("patching the base's Deployment \(b.workload), container \(b.container)")
        }
        for (path, volume) in (base?.mountPaths ?? [:]).sorted(by: { $0.key < $1.key }) where h.volumes.contains(where: { PathGlob.isUnder($0.mount.path, path) }) {
            out.notes.append("kept your volume \(volume) at \(path)")
        }
        if let u = base?.runAsUser, let mine = h.uid, u != mine { out.notes.append("kept your runAsUser \(u) (the recording ran as uid \(mine); prove it with `roprof verify`)") }
        if let r = base?.replicas, r > 1, h.volumes.contains(where: { $0.mount.kind == .persistent && !(base?.covers($0.mount.path) ?? false) }) {
            out.notes.append("warning: the base runs \(r) replicas, and a ReadWriteOnce claim mounts on one node only: use a StatefulSet with volumeClaimTemplates, a ReadWriteMany storage class, or one replica")
        }
        let files = try KubernetesEmitter.overlay(h, options, base: resource, seccompJSON: seccompJSON, spoProfile: spoProfile, baseContainer: base)
        for (name, text) in files.sorted(by: { $0.key < $1.key }) { out.files.append((Paths.join(dir, name), text)) }
        for w in Array(Set(h.warnings + KubernetesEmitter.restrictedViolations(h).map { "Pod Security Standards (restricted): \($0)" })).sorted() {
            out.notes.append("warning: \(w)")
        }
        out.notes.append("wrote a kustomize overlay to \(dir) (\(files.keys.sorted().joined(separator: ", "))); see it with `kubectl kustomize \(dir)`")
        return out
    }

    /// `to` relative to the directory `from` (both absolute and standardized), as kustomize's `resources:` needs.
    static func relativePath(from: String, to: String) -> String {
        let a = from.split(separator: "/"), b = to.split(separator: "/")
        var i = 0
        while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
        let up = Array(repeating: "..", count: a.count - i), down = b[i...].map(String.init)
        let parts = up + down
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    public func all(dir: String) throws -> SuggestOutput {
        let options = req.options
        var out = SuggestOutput()
        var index = ["# roprof suggestions", "", "Generated from `\(recording)` by `roprof suggest --all`.", "", "| file | what it is |", "|---|---|"]
        var allWarnings = Set<String>()
        for f in SuggestFormat.allCases {
            do {
                let (text, warnings, _) = try renderText(f, options: options)
                out.files.append((Paths.join(dir, f.fileName), text))
                index.append("| [\(f.fileName)](\(f.fileName)) | `--format \(f.rawValue)` |")
                allWarnings.formUnion(warnings)
            } catch let e as ModelError {
                index.append("| (none) | `--format \(f.rawValue)`: \(e.description) |")
            }
        }
        if !allWarnings.isEmpty {
            index += ["", "## Warnings", ""] + allWarnings.sorted().map { "- \($0)" }
        }
        out.files.append((Paths.join(dir, "README.md"), index.joined(separator: "\n") + "\n"))
        out.notes.append("wrote \(SuggestFormat.allCases.count) formats and README.md to \(dir)")
        return out
    }

}
