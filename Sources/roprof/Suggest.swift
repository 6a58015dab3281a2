import Analysis
import ArgumentParser
import Emitters
import Foundation
import Seccomp
import TraceModel

enum SuggestFormat: String, ExpressibleByArgument, CaseIterable {
    case kubernetes, docker, compose, podman, ecs, systemd, seccomp, spo, apparmor

    /// The runtime a format implies when --runtime is not given.
    var defaultRuntime: String {
        switch self {
        case .docker, .compose: return "docker"
        case .podman: return "podman"
        case .ecs: return "ecs"
        case .systemd: return "systemd"
        default: return "kubernetes"
        }
    }
    var fileName: String {
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

extension SeccompArch: ExpressibleByArgument {}

struct Suggest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",  // explicit: deriving it from the type name costs start-up time
        abstract: "Print ready-to-paste hardened settings for a recording.",
        discussion: """
        Formats: kubernetes (securityContext, volumes, volumeMounts, env; a strategic-merge patch, or
        --manifest FILE --container NAME to patch your own manifest), docker / podman (run flags),
        compose (a service fragment), ecs (task definition fragment), systemd (a drop-in), seccomp
        (Docker/OCI JSON), spo (Security Profiles Operator SeccompProfile), apparmor.
        -o FILE writes the output to FILE (- for standard output); with --format kubernetes, -o DIR/ (a
        directory) writes a kustomize overlay: kustomization.yaml, the patch, the claims and the profile.
        --all DIR writes every format at once, one file each, with a README.md index.
        Names: --name is the workload (the Deployment; default the container's name); the seccomp
        profile is named after it, --namespace places it, and --spo makes the pod reference the
        profile the Security Profiles Operator installs from `--format spo` (operator/NS/NAME.json).
        One image, several services: record each with `record --name SERVICE`, `roprof merge` the
        recordings, then `suggest --format kubernetes --workloads --image IMG merged.json` emits a
        Deployment per long-running service and a CronJob per one-shot one (--schedule NAME=CRON).
        Warnings (root user, dangerous syscalls, what a format cannot express) go to stderr.
        """)

    @Option(help: ArgumentHelp("The output format.", valueName: "FORMAT"))
    var format: SuggestFormat?

    @Option(help: ArgumentHelp("Target runtime (default: the one the format implies).", valueName: "NAME"))
    var runtime: String?

    @Option(help: ArgumentHelp("A directory with your own runtimes/ and remedies/ profiles.", valueName: "DIR"))
    var profiles: String?

    @Option(help: ArgumentHelp("kubernetes: a manifest (multi-document YAML) to patch.", valueName: "FILE"))
    var manifest: String?

    @Option(help: ArgumentHelp("The container to harden (the name in the manifest).", valueName: "NAME"))
    var container = "app"

    @Option(help: ArgumentHelp("The workload (Deployment) the settings are for; profiles are named after it (default: the container's name).", valueName: "NAME"))
    var name: String?

    @Option(help: ArgumentHelp("kubernetes, spo: the namespace of the workload and its SeccompProfile.", valueName: "NS"))
    var namespace: String?

    @Flag(help: "kubernetes: use the SeccompProfile the Security Profiles Operator installs from --format spo (operator/NS/NAME.json) instead of a file on each node.")
    var spo = false

    @Flag(help: "docker, podman, compose, kubernetes: reference the AppArmor profile from --format apparmor (roprof-NAME; load it on each host with apparmor_parser -r first).")
    var apparmor = false

    @Flag(help: "kubernetes: print the PersistentVolumeClaims the patch mounts after it, as separate documents (kubectl patch ignores them: create them first).")
    var claims = false

    @Option(help: ArgumentHelp("kubernetes -o DIR/: the base the overlay patches, relative to DIR.", valueName: "PATH"))
    var kustomizeBase = "../base"

    @Option(help: ArgumentHelp("spo: also bind the profile to every container running IMAGE in the namespace (a ProfileBinding).", valueName: "IMAGE"))
    var bindImage: String?

    @Flag(help: "kubernetes: whole workloads from a merged recording of several services of one image (record each with --name): a Deployment per long-running service, a CronJob per one-shot service, shared claims once.")
    var workloads = false

    @Option(help: ArgumentHelp("--workloads: the image the workloads run.", valueName: "IMAGE"))
    var image = "IMAGE"

    @Option(help: ArgumentHelp("--workloads: the schedule of a one-shot service (repeatable).", valueName: "NAME=CRON"))
    var schedule: [String] = []

    @Option(help: ArgumentHelp("seccomp: the target architecture (syscall names are mapped; missing ones dropped).", valueName: "ARCH"))
    var arch: SeccompArch?

    @Flag(help: "Use the runtime's default seccomp profile instead of the generated one.")
    var runtimeDefaultSeccomp = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the output to FILE (- for standard output); kubernetes: a directory (DIR/) gets a kustomize overlay.", valueName: "FILE"))
    var output: String?

    @Option(help: ArgumentHelp("Write every format into DIR, one file each, with a README.md index.", valueName: "DIR"))
    var all: String?

    @Argument(help: ArgumentHelp("A recording.", valueName: "RECORDING"))
    var recording: String

    func validate() throws {
        if format == nil && all == nil { throw ValidationError("give --format FORMAT, or --all DIR for every format") }
        if format != nil && all != nil { throw ValidationError("give either --format FORMAT or --all DIR, not both") }
        if let n = name, !Record.isDNSLabel(n) {
            throw ValidationError("--name '\(n)' is not a valid workload name: lower-case letters, digits and '-', at most 63 characters, starting with a letter")
        }
        if let n = namespace, !Record.isDNSLabel(n) { throw ValidationError("--namespace '\(n)' is not a valid namespace name") }
        if spo && format != .kubernetes && all == nil { throw ValidationError("--spo goes with --format kubernetes") }
        if bindImage != nil && format != .spo { throw ValidationError("--bind-image goes with --format spo") }
        if manifest != nil && format != .kubernetes { throw ValidationError("--manifest goes with --format kubernetes") }
        if workloads && format != .kubernetes { throw ValidationError("--workloads goes with --format kubernetes") }
        if workloads && manifest != nil { throw ValidationError("give either --workloads (new workloads) or --manifest FILE (patch yours), not both") }
        if !schedule.isEmpty && !workloads { throw ValidationError("--schedule goes with --workloads") }
        _ = try schedules()
    }

    /// --schedule NAME=CRON values, by service name.
    func schedules() throws -> [String: String] {
        var out: [String: String] = [:]
        for s in schedule {
            let parts = s.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[1].split(separator: " ").count == 5 || parts[1].hasPrefix("@") else {
                throw ValidationError("--schedule '\(s)' should be NAME=CRON with five cron fields, e.g. --schedule engine='*/15 * * * *'")
            }
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }

    func run() throws {
        CLI.guarded {
            let rec = try Recording.load(path: recording)
            let catalog = try ProfileCatalog.load(extraDirectory: profiles)
            var options = SuggestOptions()
            options.container = container
            options.runtimeDefaultSeccomp = runtimeDefaultSeccomp
            options.targetArch = arch
            options.workloadName = name
            options.namespace = namespace
            options.spo = spo
            options.claims = claims
            options.apparmor = apparmor
            if let dir = all {
                try writeAll(rec, catalog: catalog, options: options, dir: dir)
                return
            }
            let f = format!
            if f == .kubernetes, !workloads, manifest == nil, let out = output, Self.isDirectoryTarget(out) {
                try writeOverlay(rec, catalog: catalog, options: options, dir: out)
                return
            }
            let (text, warnings) = try render(f, rec, catalog: catalog, options: options)
            for w in Array(Set(warnings)).sorted() { CLI.warn("warning: \(w)") }
            if let out = output, out != "-" {
                try writeAtomically(Data(text.utf8), to: out)
                CLI.warn("wrote \(f.rawValue) to \(out)")
            } else {
                print(text, terminator: "")
            }
        }
    }

    func hardening(_ f: SuggestFormat, _ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions) throws -> Hardening {
        let rt = try catalog.runtime(named: runtime ?? f.defaultRuntime)
        let analysis = Analyzer(runtime: rt, catalog: catalog).analyze(rec)
        return Hardening.build(analysis, rec, catalog: catalog, options: options)
    }

    func render(_ f: SuggestFormat, _ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions) throws -> (String, [String]) {
        let h = try hardening(f, rec, catalog: catalog, options: options)
        let name = options.apparmorProfile
        switch f {
        case .kubernetes:
            var w = h.warnings + KubernetesEmitter.restrictedViolations(h).map { "Pod Security Standards (restricted): \($0)" }
            if h.seccomp != nil && !options.runtimeDefaultSeccomp {
                w.append(options.spo
                    ? "apply the SeccompProfile first: roprof suggest --format spo --name \(options.workload)\(options.namespace.map { " --namespace \($0)" } ?? "") REC | kubectl apply -f -"
                    : "the seccomp profile must be on each node at <kubelet root>/seccomp/\(options.localhostProfile) (write it with --format seccomp, or use the Security Profiles Operator: --spo with --format spo)")
            }
            if workloads {
                var wo = WorkloadOptions()
                wo.image = image
                wo.schedules = try schedules()
                let out = try KubernetesEmitter.workloads(h, rec, options, wo)
                return (out.text, w.filter { !$0.hasPrefix("the app ran as root") } + out.warnings)
            }
            if let m = manifest {
                guard let text = try? String(contentsOfFile: m, encoding: .utf8) else {
                    throw ModelError("cannot read manifest '\(m)' (no such file, or not UTF-8)")
                }
                let patched = try KubernetesEmitter.patchManifest(text, source: m, h, options)
                for c in patched.changes { CLI.warn("changed: \(c)") }
                let levels = PodSecurityStandards.summary(patched.text)
                return (patched.text, w.filter { !$0.hasPrefix("Pod Security Standards (restricted)") } + levels)
            }
            return (try KubernetesEmitter.patch(h, options), w)
        case .docker, .podman:
            let e = DockerEmitter.flags(h, options, engine: f.rawValue, runtime: runtime ?? f.defaultRuntime)
            return (e.text, h.warnings + e.warnings)
        case .compose:
            let e = try ComposeEmitter.yaml(h, options)
            return (e.text, h.warnings + e.warnings)
        case .ecs:
            let e = try ECSEmitter.json(h, options)
            return (e.text, h.warnings + e.warnings)
        case .systemd:
            let e = SystemdEmitter.dropIn(h, options)
            return (e.text, h.warnings + e.warnings)
        case .seccomp, .spo:
            guard let plan = h.seccomp else {
                throw ModelError("'\(recording)' was recorded with --mode writes: its syscall inventory is incomplete; record again with --mode full for a seccomp profile")
            }
            return (f == .seccomp ? try SeccompEmitter.json(plan)
                    : try SeccompEmitter.spo(plan, name: options.workload, namespace: options.namespace, bindImage: bindImage), plan.warnings)
        case .apparmor:
            guard rec.hasCompleteSyscallInventory else {
                throw ModelError("'\(recording)' was recorded with --mode writes; an AppArmor profile needs a --mode full recording (every executable)")
            }
            let e = AppArmorEmitter.profile(h, name: name)
            return (e.text, h.warnings + e.warnings)
        }
    }

    /// `-o DIR/` or an existing directory.
    static func isDirectoryTarget(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue)
    }

    /// A kustomize overlay in DIR: the patch, the claims, the profile, and a kustomization.yaml.
    func writeOverlay(_ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions, dir: String) throws {
        let h = try hardening(.kubernetes, rec, catalog: catalog, options: options)
        var seccompJSON: String? = nil, spoProfile: String? = nil
        if let plan = h.seccomp, !options.runtimeDefaultSeccomp {
            if options.spo { spoProfile = try SeccompEmitter.spo(plan, name: options.workload, namespace: options.namespace) }
            else { seccompJSON = try SeccompEmitter.json(plan) }
        }
        // The base, when it is a directory we can read: keep what it already sets for the container.
        let baseDir = kustomizeBase.hasPrefix("/") ? kustomizeBase : URL(fileURLWithPath: dir).appendingPathComponent(kustomizeBase).standardized.path
        let texts = ((try? FileManager.default.contentsOfDirectory(atPath: baseDir)) ?? []).sorted()
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .compactMap { try? String(contentsOfFile: (baseDir as NSString).appendingPathComponent($0), encoding: .utf8) }
        let base = KubernetesEmitter.baseContainer(texts, options)
        if texts.isEmpty { CLI.warn("note: the base \(baseDir) is not readable here: the overlay cannot keep what it already sets (run `kubectl kustomize \(dir)` and review)") }
        else if base == nil { CLI.warn("warning: no Deployment \(options.workload) with a container \(options.container) in \(baseDir): pass --name and --container") }
        for (path, volume) in (base?.mountPaths ?? [:]).sorted(by: { $0.key < $1.key }) where h.volumes.contains(where: { $0.mount.path == path }) {
            CLI.warn("kept your volume \(volume) at \(path)")
        }
        if let u = base?.runAsUser, let mine = h.uid, u != mine { CLI.warn("kept your runAsUser \(u) (the recording ran as uid \(mine); prove it with `roprof verify`)") }
        let files = try KubernetesEmitter.overlay(h, options, base: kustomizeBase, seccompJSON: seccompJSON, spoProfile: spoProfile, baseContainer: base)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files.sorted(by: { $0.key < $1.key }) { try writeAtomically(Data(text.utf8), to: (dir as NSString).appendingPathComponent(name)) }
        for w in Array(Set(h.warnings + KubernetesEmitter.restrictedViolations(h).map { "Pod Security Standards (restricted): \($0)" })).sorted() {
            CLI.warn("warning: \(w)")
        }
        CLI.warn("wrote a kustomize overlay to \(dir) (\(files.keys.sorted().joined(separator: ", "))); see it with `kubectl kustomize \(dir)`")
    }

    func writeAll(_ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions, dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var index = ["# roprof suggestions", "", "Generated from `\(recording)` by `roprof suggest --all`.", "", "| file | what it is |", "|---|---|"]
        var allWarnings = Set<String>()
        for f in SuggestFormat.allCases {
            do {
                let (text, warnings) = try render(f, rec, catalog: catalog, options: options)
                try writeAtomically(Data(text.utf8), to: (dir as NSString).appendingPathComponent(f.fileName))
                index.append("| [\(f.fileName)](\(f.fileName)) | `--format \(f.rawValue)` |")
                allWarnings.formUnion(warnings)
            } catch let e as ModelError {
                index.append("| (none) | `--format \(f.rawValue)`: \(e.description) |")
            }
        }
        if !allWarnings.isEmpty {
            index += ["", "## Warnings", ""] + allWarnings.sorted().map { "- \($0)" }
        }
        try writeAtomically(Data((index.joined(separator: "\n") + "\n").utf8), to: (dir as NSString).appendingPathComponent("README.md"))
        CLI.warn("wrote \(SuggestFormat.allCases.count) formats and README.md to \(dir)")
    }
}
