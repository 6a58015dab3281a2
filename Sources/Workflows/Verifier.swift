import Analysis
import Emitters
import Engine
import FoundationEssentials
import Glibc
import Hardening
import Sandbox
import Seccomp
import TraceModel
import Tracer

/// What `verify` is asked to prove.
public struct VerifyRequest: Sendable {
    public var recordingPath: String
    public var settings: RunSettings
    public var runtime = "kubernetes"
    public var profiles: String?
    /// A Docker/OCI profile to apply instead of the generated one.
    public var seccompFile: String?
    public var noSeccomp = false
    public var noReadonly = false
    /// Keep roprof's capabilities in the sandbox instead of the printed set.
    public var keepCapabilities = false
    public var without: [String] = []
    public var service: String?
    public var emptyVolumes = false
    public var noRestart = false
    public var refine = false
    /// Verify in the real engine instead of the sandbox.
    public var image: ImageRequest?
    public init(recordingPath: String, settings: RunSettings) { self.recordingPath = recordingPath; self.settings = settings }
}

/// verify: re-runs the app under exactly the suggested settings — in the sandbox on this host, or in
/// the real engine with `--image` — and judges the run.
public enum Verifier {
    public static func verify(_ req: VerifyRequest, notify: @escaping Notify) throws -> VerifyVerdict {
        SandboxPlan.removeStale()
        var rec = try Recording.load(path: req.recordingPath)
        let catalog = try ProfileCatalog.load(extraDirectory: req.profiles)
        let rt = try catalog.runtime(named: req.runtime)
        if req.refine {
            rec = try refine(rec, req, catalog: catalog, runtime: rt, notify: notify)
        }
        let vp = try plan(rec, req, catalog: catalog, runtime: rt, notify: notify)
        if let image = req.image {
            return try ImageVerifier.verify(image, plan: vp, runtime: rt.name, settings: req.settings, leftOut: req.without, notify: notify)
        }
        return try inSandbox(vp, req, runtime: rt, notify: notify)
    }

    /// The verify plan, decided once in Hardening (mounts, environment, profile, restart).
    static func plan(_ rec: Recording, _ req: VerifyRequest, catalog: ProfileCatalog, runtime rt: RuntimeProfile, notify: Notify) throws -> VerifyPlan {
        var choices = VerifyPlan.Choices()
        choices.service = req.service
        choices.without = req.without
        choices.noSeccomp = req.noSeccomp
        choices.restart = !req.noRestart
        if let file = req.seccompFile {
            guard let d = FileManager.default.contents(atPath: file) else { throw ModelError("cannot read seccomp profile '\(file)' (check the path)") }
            choices.seccompOverride = d
        }
        let vp = try VerifyPlan.build(rec, runtime: rt, catalog: catalog, choices: choices)
        for w in vp.warnings { notify("warning: \(w)") }
        return vp
    }

    /// --refine: one run under the suggested settings without denying any call; what it needed is
    /// merged into the recording, which is written back.
    static func refine(_ rec: Recording, _ req: VerifyRequest, catalog: ProfileCatalog, runtime rt: RuntimeProfile, notify: @escaping Notify) throws -> Recording {
        let vp = try plan(rec, req, catalog: catalog, runtime: rt, notify: notify)
        let observed: Recording
        if let image = req.image {
            // The image once, traced, under the suggested mounts and environment (no profile, no user or
            // capability changes, nothing published): what the hardened run needs.
            var spec = ContainerRunSpec(vp.hardening, SuggestOptions(), engine: image.engine, runtime: rt.name)
            spec.seccompProfile = nil; spec.user = nil; spec.handOver = []; spec.dropAllCapabilities = false; spec.addCapabilities = []; spec.ports = []
            notify("refining: running \(image.image) once under the suggested mounts and environment to learn what they change")
            var req2 = image
            req2.publish = vp.hardening.ports
            observed = try ImageRunner.record(req2, settings: req.settings, mode: .full, service: nil,
                                              extraArgs: DockerEmitter.arguments(spec), notify: notify).recording
        } else {
            notify("refining: running once under the suggested settings to learn what they change")
            let box = HostStateBox()
            defer { box.cleanUp() }
            observed = try runSandboxed(plan: sandboxPlan(vp, runtime: rt, emptyVolumes: req.emptyVolumes, readOnly: !req.noReadonly, command: req.settings.command, keepCapabilities: req.keepCapabilities),
                                        policy: TracePolicy(mode: .full), settings: req.settings, writable: [], noNewPrivs: false,
                                        state: box, notify: notify).recording
        }
        let merged = Recording.merged([rec, observed])
        let added = merged.allSyscallNames.subtracting(rec.allSyscallNames).sorted()
        try merged.write(to: req.recordingPath)
        notify("refined \(req.recordingPath): \(added.isEmpty ? "no new syscalls" : "added " + added.joined(separator: ", "))")
        return merged
    }

    /// The sandbox executor's form of a verify plan: a tmpfs or a fresh (or image-seeded) directory per mount.
    /// `command`: what the sandbox runs; a privilege wrapper in front of it (setpriv, gosu, su-exec)
    /// stands in for the runtime's user setting, which the printed settings use instead of it.
    public static func sandboxPlan(_ vp: VerifyPlan, runtime rt: RuntimeProfile, emptyVolumes: Bool, readOnly: Bool, command: [String] = [],
                                   keepCapabilities: Bool = false) -> SandboxPlan {
        let mounts = vp.hardening.volumes.map { v -> SandboxPlan.Mount in
            switch v.mount.kind {
            case .tmpfs: return .init(path: v.mount.path, kind: .tmpfs(bytes: v.mount.sizeBytes))
            case .persistent:
                // A fresh volume as the printed settings make it: the image directory's owner, or, for a
                // directory the image lacks, the app's one non-root user (the docker output hands it over,
                // podman does it itself, Kubernetes' fsGroup); otherwise world-writable (1777).
                let h = vp.hardening
                let owner = v.mount.owner ?? h.uid.map { Owner(uid: $0, gid: h.gid ?? $0, mode: 0o755) }
                return .init(path: v.mount.path, kind: .persistent, seedFromImage: !emptyVolumes, owner: owner)
            case .file: return .init(path: v.mount.path, kind: .file)
            }
        }
        var plan = SandboxPlan(runtimeWritable: rt.writable.map(\.path), mounts: mounts,
                               environment: Dictionary(uniqueKeysWithValues: vp.hardening.env.map { ($0.name, $0.value) }))
        plan.readOnlyRoot = readOnly
        plan.isolate = true
        // The printed settings drop every capability but those they add: so does the sandbox. A wrapper
        // that switches the user keeps what that takes (it is gone with root once it has switched).
        let wrapped = !PrivilegeWrapper.strip(command).removed.isEmpty
        plan.capabilities = keepCapabilities ? nil : Array(Set(vp.hardening.addCapabilities + (wrapped ? ["SETUID", "SETGID"] : []))).sorted()
        return plan
    }

    static func inSandbox(_ vp: VerifyPlan, _ req: VerifyRequest, runtime rt: RuntimeProfile, notify: @escaping Notify) throws -> VerifyVerdict {
        let plan = sandboxPlan(vp, runtime: rt, emptyVolumes: req.emptyVolumes, readOnly: !req.noReadonly, command: req.settings.command, keepCapabilities: req.keepCapabilities)
        let allowed = vp.allowedSyscalls
        let persistent = plan.mounts.filter { if case .persistent = $0.kind { return true }; return false }
        let caps = plan.capabilities.map { $0.isEmpty ? "no capabilities" : "capabilities " + $0.joined(separator: ", ") } ?? "roprof's capabilities (--no-cap-drop)"
        let what = "a read-only root (\(rt.name)), \(plural(plan.mounts.count, "mount")), \(plural(plan.environment.count, "environment variable")), \(caps)"
            + (allowed.map { " and a seccomp allow-list of \($0.count) syscalls" } ?? "")
        let subject = "`\(req.settings.command.map(shellQuote).joined(separator: " "))`"
        var verdict = VerifyVerdict(passed: false, settings: what, subject: subject)
        if let hidden = commandUnderMount(plan, command: req.settings.command) {
            verdict.cause = hidden
            return verdict
        }
        if !persistent.isEmpty {
            verdict.volumes = ("volumes: " + persistent.map { "\($0.path) " + ($0.seedFromImage ? "(starts with the image's content there, as a named volume does)" : "(starts empty)") }.joined(separator: "; "))
        }
        var policy = allowed.map { TracePolicy(mode: .check, allowed: $0, denyUnlisted: true) } ?? TracePolicy(mode: .writes)
        policy.enosys = Set(vp.seccomp?.enosys ?? [])
        let writable = rt.writable.map(\.path) + plan.mounts.map(\.path)
        let state = HostStateBox()
        defer { state.cleanUp() }
        var settings = req.settings
        settings.exerciseEnvironment["ROPROF_PHASE"] = "first"
        let first = try runSandboxed(plan: plan, policy: policy, settings: settings, writable: writable, noNewPrivs: allowed != nil, state: state, notify: notify)
        var outcome = first.outcome
        var keptEntries = 0
        if outcome.passed && !persistent.isEmpty && !req.noRestart, let s = state.state {
            // State must survive a restart: run again on the same volumes.
            let kept = SandboxPlan.volumeContents(s)
            keptEntries = kept.values.reduce(0) { $0 + $1.count }
            notify("restart: running the app again on the same volumes")
            // The exercise knows which run it drives (an exercise that creates fixed ids can read what exists).
            settings.exerciseEnvironment["ROPROF_PHASE"] = "restart"
            let second = try runSandboxed(plan: plan, policy: policy, settings: settings, writable: writable, noNewPrivs: allowed != nil, state: state, notify: notify)
            let files = kept.values.reduce(0) { $0 + $1.count }, bytes = kept.values.reduce(0) { $0 + $1.values.reduce(0, +) }
            verdict.restartNote = "after a restart on the same volumes (\(plural(files, "file")), \(Human.bytes(bytes)) kept in \(kept.keys.sorted().joined(separator: ", ")))"
            if !second.outcome.passed { outcome = second.outcome; verdict.failedAfterRestart = true }
            // verify checks by itself that the state is still there: a state volume the first run left
            // files in is not empty after the restart (an app may rotate or compact its files, e.g.
            // recycled WAL segments, so names alone are no evidence; an emptied volume is).
            let after = SandboxPlan.volumeContents(s)
            let emptied = kept.filter { !$0.value.isEmpty && (after[$0.key] ?? [:]).isEmpty }.keys.sorted()
            if !emptied.isEmpty && outcome.passed {
                verdict.passed = false
                verdict.failedAfterRestart = true
                verdict.cause = "after the restart, the state volume\(emptied.count == 1 ? "" : "s") \(emptied.map(Human.printable).joined(separator: ", ")) \(emptied.count == 1 ? "is" : "are") empty: the first run's data is gone"
                return verdict
            }
        }
        verdict.passed = outcome.passed
        if outcome.passed {
            if !persistent.isEmpty, let why = unproven(volumes: persistent.map(\.path), restarted: verdict.restartNote != nil,
                                                        noRestart: req.noRestart, keptEntries: keptEntries, exercise: req.settings.exercise) {
                verdict.markUnproven(why)
            }
            return verdict
        }
        verdict.cause = cause(outcome)
        for f in outcome.failedWrites {
            let dir = vp.analysis.mounts.first { PathGlob.isUnder(f.path, $0.path) }?.path
            let fix = PathGlob.isUnder(f.path, "/proc/sys") ? "the kernel's settings are read-only in a container: set this one on the node (sysctl), or in the pod's securityContext.sysctls if it is namespaced"
                : req.without.first(where: { PathGlob.isUnder(f.path, $0) }).map { "it needs the mount at \($0) (left out with --without)" }
                ?? dir.map { "it is under the suggested mount \($0): check the recording covers this run" }
                ?? "a write the recording never saw: record this run again (roprof run) or mount \(PathGlob.parent(f.path))"
            verdict.findings.append(.init(label: f.errno, detail: Human.printable(f.path) + "  \(f.operation) by \(f.processes.map { PathGlob.name($0) }.joined(separator: ","))"
                                            + " (\(f.syscalls.joined(separator: ",")))", fix: fix))
        }
        for (d, n) in outcome.denied.sorted(by: { ($0.key.name, $0.key.process) < ($1.key.name, $1.key.process) }) {
            verdict.findings.append(.init(label: "seccomp denied", detail: d.name + " (\(d.arch), \(n)×) by \(PathGlob.name(d.process))",
                                          fix: "add \"\(d.name)\" to the profile's allow-list" + (req.refine ? "" : ", or run verify --refine to learn what the suggested settings need")))
        }
        if !outcome.appSucceeded { verdict.notes.append("the app exited with status \(outcome.exit.shellStatus)") }
        if let e = outcome.exerciseExit, e.shellStatus != 0 { verdict.notes.append("the --while exercise failed with status \(e.shellStatus)") }
        verdict.lastLines = Array(outcome.stderrTail.suffix(8))
        return verdict
    }

    /// Why a passing run does not prove that the state volumes keep their data, or nil when it does:
    /// a restart ran on what the first run left in them.
    public static func unproven(volumes: [String], restarted: Bool, noRestart: Bool, keptEntries: Int, exercise: String?) -> String? {
        let list = volumes.map(Human.printable).joined(separator: ", ")
        let them = volumes.count == 1 ? "it" : "them"
        if noRestart { return "--no-restart: the app was not started again on \(list), so nothing showed the data survives a restart; run verify without --no-restart" }
        if !restarted { return "the run was cut short, so the app was not started again on \(list): nothing showed the data survives a restart" }
        if keptEntries == 0 {
            return "the first run left \(list) empty, so the restart had no data to keep"
                + (exercise == nil ? ": give verify the work that writes \(them) (--while 'COMMAND', as recorded)" : ": the --while exercise does not write \(them)")
        }
        return nil
    }

    /// The one line that says why verification failed, most telling first.
    static func cause(_ o: VerifyOutcome) -> String {
        if let d = o.denyStorm {
            return "seccomp denied \(d.name) \(o.denied[d] ?? 0) times (\(PathGlob.name(d.process))): the app looped on it, so roprof stopped it"
        }
        if let f = o.failedWrites.first {
            return "\(f.operation) of \(Human.printable(f.path)) was refused with \(f.errno) (\(f.processes.map { PathGlob.name($0) }.joined(separator: ",")))"
        }
        if let (d, n) = o.denied.max(by: { $0.value < $1.value }) {
            return "seccomp denied \(d.name) \(n)× (\(PathGlob.name(d.process)))"
        }
        if let e = o.exerciseExit, e.shellStatus != 0, o.appSucceeded { return "the --while exercise failed with status \(e.shellStatus)" }
        if o.readinessTimedOut { return "the app never answered --ready-url" }
        return "the app exited with status \(o.exit.shellStatus)" + (o.stderrTail.last.map { ": " + Human.printable($0) } ?? "")
    }

    /// The command, or a file it names, hidden by a mount that does not start with the image's content.
    static func commandUnderMount(_ plan: SandboxPlan, command: [String]) -> String? {
        let cwd = FileManager.default.currentDirectoryPath
        var files: [String] = []
        if let first = command.first, let exe = LaunchSpec.resolveExecutable(first) { files.append(exe.hasPrefix("/") ? exe : cwd + "/" + exe) }
        for arg in command.dropFirst() where !arg.hasPrefix("-") {
            let p = arg.hasPrefix("/") ? arg : cwd + "/" + arg
            if FileManager.default.fileExists(atPath: p) { files.append(p) }
        }
        for f in files {
            for m in plan.mounts where PathGlob.isUnder(f, m.path) {
                switch m.kind {
                case .tmpfs: return "\(f) (the app's command or code) is under the suggested tmpfs \(m.path), which hides it: the suggestion covers code"
                case .persistent where !m.seedFromImage:
                    return "\(f) (the app's command or code) is under the suggested volume \(m.path), which starts empty (--empty-volumes) and hides it: the suggestion covers code"
                default: continue
                }
            }
        }
        return nil
    }
}
