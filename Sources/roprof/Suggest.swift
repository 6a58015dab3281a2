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
        -o DIR writes every format at once, one file each, with a README.md index.
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

    @Option(name: .shortAndLong, help: ArgumentHelp("Write every format into DIR instead of printing one.", valueName: "DIR"))
    var output: String?

    @Argument(help: ArgumentHelp("A recording.", valueName: "RECORDING"))
    var recording: String

    func validate() throws {
        if format == nil && output == nil { throw ValidationError("give --format FORMAT, or -o DIR for every format") }
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
            if let dir = output {
                try writeAll(rec, catalog: catalog, options: options, dir: dir)
                return
            }
            let f = format!
            let (text, warnings) = try render(f, rec, catalog: catalog, options: options)
            for w in Array(Set(warnings)).sorted() { CLI.warn("warning: \(w)") }
            print(text, terminator: "")
        }
    }

    func hardening(_ f: SuggestFormat, _ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions) throws -> Hardening {
        let rt = try catalog.runtime(named: runtime ?? f.defaultRuntime)
        let analysis = Analyzer(runtime: rt, catalog: catalog).analyze(rec)
        return Hardening.build(analysis, rec, catalog: catalog, options: options)
    }

    func render(_ f: SuggestFormat, _ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions) throws -> (String, [String]) {
        let h = try hardening(f, rec, catalog: catalog, options: options)
        let name = "roprof-" + options.container
        switch f {
        case .kubernetes:
            var w = h.warnings + KubernetesEmitter.restrictedViolations(h).map { "Pod Security Standards (restricted): \($0)" }
            if h.seccomp != nil && !options.runtimeDefaultSeccomp {
                w.append("the seccomp profile must be on each node at <kubelet root>/seccomp/profiles/\(options.seccompFile) (write it with --format seccomp, or use --format spo)")
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
                return (try KubernetesEmitter.patchManifest(text, source: m, h, options), w)
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
            return (f == .seccomp ? try SeccompEmitter.json(plan) : try SeccompEmitter.spo(plan, name: name), plan.warnings)
        case .apparmor:
            guard rec.hasCompleteSyscallInventory else {
                throw ModelError("'\(recording)' was recorded with --mode writes; an AppArmor profile needs a --mode full recording (every executable)")
            }
            let e = AppArmorEmitter.profile(h, name: name)
            return (e.text, h.warnings + e.warnings)
        }
    }

    func writeAll(_ rec: Recording, catalog: ProfileCatalog, options: SuggestOptions, dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var index = ["# roprof suggestions", "", "Generated from `\(recording)` by `roprof suggest -o`.", "", "| file | what it is |", "|---|---|"]
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
