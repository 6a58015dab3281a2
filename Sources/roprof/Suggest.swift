import Analysis
import ArgumentParser
import Emitters
import FoundationEssentials
import Glibc
import Seccomp
import Workflows
import TraceModel

extension SuggestFormat: ExpressibleByArgument {}
extension SeccompArch: ExpressibleByArgument {}

struct Suggest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",  // explicit: deriving it from the type name costs start-up time
        abstract: "Print ready-to-paste hardened settings for a recording.",
        discussion: paragraphs("""
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
        """))

    @Option(help: ArgumentHelp("The output format.", valueName: "FORMAT"))
    var format: SuggestFormat?

    @Option(help: ArgumentHelp("Target runtime (default: the one the format implies).", valueName: "NAME"))
    var runtime: String?

    @Option(help: ArgumentHelp("A directory with your own runtimes/ and remedies/ profiles.", valueName: "DIR"))
    var profiles: String?

    @Option(help: ArgumentHelp("kubernetes: a manifest (multi-document YAML) to patch.", valueName: "FILE"))
    var manifest: String?

    @Option(help: ArgumentHelp("The container to harden (the name in the manifest; default app, or the base's only container with -o DIR/).", valueName: "NAME"))
    var container: String?

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

    @Option(help: ArgumentHelp("The app's image, named in the docker, podman and compose commands, the Kubernetes init container that makes single-file mounts, and the --workloads (default: the image the recording was made in, if any).", valueName: "IMAGE"))
    var image = "IMAGE"

    @Option(help: ArgumentHelp("--workloads: the schedule of a one-shot service (repeatable).", valueName: "NAME=CRON"))
    var schedule: [String] = []

    @Option(help: ArgumentHelp("seccomp: the target architecture (syscall names are mapped; missing ones dropped).", valueName: "ARCH"))
    var arch: SeccompArch?

    @Flag(help: "First rollout: the generated seccomp profile logs what it would deny (SCMP_ACT_LOG; the kernel's audit log shows each call) instead of denying it. Docker/OCI JSON, SPO, and every format that references the profile.")
    var seccompLogOnly = false

    @Option(help: ArgumentHelp("After a rollout under --seccomp-log-only: a saved kernel log (dmesg > kernel.log, journalctl -k, /var/log/audit/audit.log; - for stdin) whose seccomp records name the calls the profile would have denied. They join the generated profile, each named with its program.", valueName: "FILE"))
    var kernelLog: String?

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
        var req = SuggestRequest(recordingPath: recording)
        req.runtime = runtime
        req.profiles = profiles
        req.manifest = manifest
        req.kustomizeBase = kustomizeBase
        req.bindImage = bindImage
        req.workloads = workloads
        req.workloadImage = image
        req.options.image = image
        req.schedules = try schedules()
        req.options.container = container ?? "app"
        req.containerGiven = container != nil
        req.options.runtimeDefaultSeccomp = runtimeDefaultSeccomp
        req.options.seccompLogOnly = seccompLogOnly
        req.kernelLog = kernelLog
        req.options.targetArch = arch
        req.options.workloadName = name
        req.options.namespace = namespace
        req.options.spo = spo
        req.options.claims = claims
        req.options.apparmor = apparmor
        let suggester = try Suggester(req)
        for n in suggester.kernelLogNotes { CLI.warn(n) }
        let out: SuggestOutput
        if let dir = all {
            out = try suggester.all(dir: dir)
        } else if format == .kubernetes, !workloads, manifest == nil, let o = output, Suggester.isDirectoryTarget(o) {
            out = try suggester.overlay(dir: o)
        } else if let f = format, [.docker, .podman, .compose].contains(f), let o = output, Suggester.isDirectoryTarget(o) {
            out = try suggester.bundle(f, dir: o)
        } else {
            out = try suggester.render(format!)
        }
        for f in out.files {
            try FileManager.default.createDirectory(atPath: Paths.parent(f.path), withIntermediateDirectories: true)
            try CLI.write(f.text, to: f.path)
        }
        for n in out.notes { CLI.warn(n) }
        guard let text = out.text else { return }
        if let o = output, o != "-" {
            try CLI.write(text, to: o)
            CLI.warn("wrote \(format!.rawValue) to \(o)")
        } else {
            print(text, terminator: "")
        }
    }
}
