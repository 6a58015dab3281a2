import Analysis
import Emitters
import Engine
import FoundationEssentials
import Glibc
import Hardening
import TraceModel
import Tracer

/// `verify --image`: the second executor of a verify plan. The image runs in the real engine with
/// the typed run spec `suggest` prints for that engine (its local facts filled in: the profile's
/// path, fresh volume names, loopback ports), is exercised through its published ports, is
/// restarted on the same volumes when a state volume was suggested, and the verdict names the
/// evidence: the app's refusals in its log, its exit, the exercise.
enum ImageVerifier {
    struct Run {
        var started = true
        var window = ContainerRun.Window()
        var exit: Int32?
        var log = ""
        var startError = ""

        var passed: Bool {
            started && window.ready && (window.exercise?.shellStatus ?? 0) == 0 && (window.stoppedByUs || exit == 0)
                && ImageVerifier.refusals(log).isEmpty
        }
    }

    /// Lines of the app's output that show the settings refused something.
    static func refusals(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { l in
            ["Read-only file system", "Permission denied", "Operation not permitted", "EROFS", "EACCES", "EPERM"].contains { l.contains($0) }
        }
    }

    static func verify(_ req: ImageRequest, plan vp: VerifyPlan, runtime: String, settings: RunSettings, leftOut: [String],
                       notify: Notify) throws -> VerifyVerdict {
        if req.format == "kubernetes" { return try verifyKube(req, plan: vp, settings: settings, leftOut: leftOut, notify: notify) }
        let engine = try ContainerEngine(name: req.engine)
        let h = vp.hardening
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-verify-image-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var options = SuggestOptions()
        options.image = req.image
        let printed = ContainerRunSpec(h, options, engine: engine.name, runtime: runtime)
        for w in DockerEmitter.warnings(printed) { notify("warning: \(w)") }
        // The printed spec, with three local facts: the profile's path, fresh volume names (a user's own
        // volumes are never touched) and the ports published on loopback for the probe.
        let tag = "verify-\(getpid())"
        var spec = printed.renamingVolumes { $0 + "-" + tag }
        if spec.seccompProfile != nil {
            let file = scratch + "/roprof-seccomp.json"
            spec.seccompProfile = try writeProfile(vp, to: file) ? file : nil
        }
        spec.ports = probePorts(h, settings)
        let args = DockerEmitter.arguments(spec)
        let volumes = spec.volumeNames
        defer { engine.removeVolumes(volumes) }
        let hasProfile = spec.seccompProfile != nil
        let what = "\(engine.name) with --read-only, \(plural(h.volumes.count, "mount")), \(plural(h.env.count, "environment variable"))"
            + (hasProfile ? " and the generated seccomp profile" : "")
        notify("verifying \(req.image) in \(what)")
        // The volumes made the way the engine makes them (fresh), then handed to the app's user as printed.
        if let pre = spec.handOverArguments() {
            let r = engine.run(["run"] + pre + [req.image] + spec.handOverCommand)
            if r.status != 0 {
                var v = VerifyVerdict(passed: false, settings: what, subject: req.image)
                v.cause = "the printed step that hands the volumes to the app's user failed: \(r.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(r.status)")"
                return v
            }
        }
        var phased = settings
        phased.exerciseEnvironment["ROPROF_PHASE"] = "first"
        var runs = [once(image: req.image, engine: engine, args: args, settings: phased)]
        let hasState = h.volumes.contains { $0.mount.kind == .persistent }
        // What the first run left in the state volumes (the engine's own directories on this host).
        let kept = volumes.compactMap { engine.volumeEntryCount($0) }
        if runs[0].passed && hasState && vp.restart && !runs[0].window.interrupted {
            notify("restart: running the image again on the same volumes")
            phased.exerciseEnvironment["ROPROF_PHASE"] = "restart"
            runs.append(once(image: req.image, engine: engine, args: args, settings: phased))
        }
        return judge(runs, h: h, vp: vp, what: what, subject: req.image, kept: kept.count == volumes.count ? kept.reduce(0, +) : 1,
                     settings: settings, leftOut: leftOut)
    }

    /// The verdict of an engine's runs (one, or two across a restart): the app's refusals in its log,
    /// readiness, the exercise, its exit; UNPROVEN when a state volume's data was not shown to survive.
    static func judge(_ runs: [Run], h: Hardening, vp: VerifyPlan, what: String, subject: String, kept: Int,
                      settings: RunSettings, leftOut: [String]) -> VerifyVerdict {
        var verdict = VerifyVerdict(passed: runs.allSatisfy(\.passed), settings: what, subject: subject)
        if runs.count > 1 { verdict.restartNote = "on the same volumes" }
        if verdict.passed {
            let state = h.volumes.filter { $0.mount.kind == .persistent }.map(\.mount.path)
            if !state.isEmpty, let why = Verifier.unproven(volumes: state, restarted: runs.count > 1, noRestart: !vp.restart,
                                                          keptEntries: kept, exercise: settings.exercise) {
                verdict.markUnproven(why)
            }
            return verdict
        }
        let failed = runs.first { !$0.passed } ?? runs.last!
        verdict.failedAfterRestart = runs.count > 1 && runs[0].passed
        let refused = refusals(failed.log)
        if !failed.started { verdict.cause = "the container did not start: \(failed.startError)" }
        else if let r = refused.first { verdict.cause = "the app was refused: \(Human.printable(r))" }
        else if !failed.window.ready { verdict.cause = "the app never answered \(settings.readyURL ?? "")" }
        else if let e = failed.window.exercise, e.shellStatus != 0 { verdict.cause = "the --while exercise failed with status \(e.shellStatus)" }
        else { verdict.cause = "the app exited with status \(failed.exit.map(String.init) ?? "?")" }
        verdict.findings = refused.prefix(8).map { .init(label: "refused", detail: Human.printable($0), fix: nil) }
        if !leftOut.isEmpty {
            verdict.notes.append("left out with --without: \(leftOut.joined(separator: ", ")) — the suggestion mounts \(leftOut.count == 1 ? "it" : "them") because the app writes there")
        }
        verdict.lastLines = failed.log.split(separator: "\n").suffix(8).map(String.init)
        return verdict
    }

    /// `verify --image --format kubernetes`: the Kubernetes output, as a whole Deployment with its
    /// claims, run by `podman kube play` with the Localhost profile (--seccomp-profile-root), exercised
    /// through its loopback hostPorts, restarted on the same claims (the container started again), and
    /// judged like the engine's own run. The claims are fresh podman volumes, removed afterwards.
    static func verifyKube(_ req: ImageRequest, plan vp: VerifyPlan, settings: RunSettings, leftOut: [String],
                           notify: Notify) throws -> VerifyVerdict {
        let engine = try ContainerEngine(name: "podman")
        var h = vp.hardening
        let tag = "roprof-verify-\(getpid())"
        for i in h.volumes.indices { h.volumes[i].name += "-verify-\(getpid())" }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-verify-image-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch + "/seccomp/profiles", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var o = SuggestOptions()
        if try !writeProfile(vp, to: scratch + "/seccomp/" + o.localhostProfile) { o.runtimeDefaultSeccomp = true; h.seccomp = nil }
        let file = scratch + "/deployment.yaml"
        try KubernetesEmitter.verifyManifest(h, o, name: tag, image: req.image, ports: probePorts(h, settings)).write(toFile: file, atomically: true, encoding: .utf8)
        let claims = h.volumes.filter { $0.mount.kind == .persistent }.map(\.name)
        let what = "podman kube play of the Kubernetes output (readOnlyRootFilesystem, \(plural(h.volumes.count, "volume")), \(plural(h.env.count, "environment variable"))"
            + (h.seccomp != nil ? ", the Localhost seccomp profile)" : ")")
        notify("verifying \(req.image) under \(what)")
        defer {
            _ = spawnQuietly([engine.path, "kube", "down", file], log: scratch + "/down.log")
            engine.removeVolumes(claims)
        }
        // conmon outlives `kube play` and would hold a pipe open: its output goes to a file.
        let play = spawnQuietly([engine.path, "kube", "play", "--seccomp-profile-root", scratch + "/seccomp", file], log: scratch + "/play.log")
        let playLog = (try? String(contentsOfFile: scratch + "/play.log", encoding: .utf8)) ?? ""
        let container = engine.run(["ps", "-a", "--filter", "label=app.kubernetes.io/name=\(tag)", "--format", "{{.Names}}"]).stdout
            .split(separator: "\n").map(String.init).first { !$0.hasSuffix("-infra") && !$0.contains("roprof-files") }
        guard play == 0, let name = container else {
            var v = VerifyVerdict(passed: false, settings: what, subject: req.image)
            v.cause = "podman kube play did not start it: \(playLog.split(separator: "\n").last(where: { $0.contains("rror") }).map(String.init) ?? "exit \(play)")"
            v.lastLines = playLog.split(separator: "\n").suffix(6).map(String.init)
            return v
        }
        var phased = settings
        phased.exerciseEnvironment["ROPROF_PHASE"] = "first"
        func drive() -> Run {
            var r = Run()
            r.window = ContainerRun(name: name, engine: engine, settings: phased).drive()
            r.exit = engine.wait(name)
            r.log = engine.logs(name)
            return r
        }
        var runs = [drive()]
        let kept = claims.compactMap { engine.volumeEntryCount($0) }
        if runs[0].passed && !claims.isEmpty && vp.restart && !runs[0].window.interrupted {
            notify("restart: starting the pod's container again on the same claims")
            phased.exerciseEnvironment["ROPROF_PHASE"] = "restart"
            let started = engine.run(["start", name])
            if started.status == 0 { runs.append(drive()) }
            else { var r = Run(); r.started = false; r.startError = started.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(started.status)"; runs.append(r) }
        }
        return judge(runs, h: h, vp: vp, what: what, subject: req.image, kept: kept.count == claims.count ? kept.reduce(0, +) : 1,
                     settings: settings, leftOut: leftOut)
    }

    /// The ports published for a verify run: the printed ones on loopback, and the --ready-url port.
    static func probePorts(_ h: Hardening, _ settings: RunSettings) -> [PublishedPort] {
        var ports = h.ports.map { PublishedPort(hostIP: "127.0.0.1", host: $0.host, container: $0.container) }
        if let t = settings.readyTarget, !ports.contains(where: { $0.host == Int(t.port) }) {
            ports.append(PublishedPort(hostIP: "127.0.0.1", host: Int(t.port), container: Int(t.port)))
        }
        return ports
    }

    /// Writes the plan's profile (the user's own, or the generated one) to `file`; false when there is none.
    static func writeProfile(_ vp: VerifyPlan, to file: String) throws -> Bool {
        if let data = vp.seccompOverride { try data.write(to: URL(fileURLWithPath: file)); return true }
        if let s = vp.seccomp { try SeccompEmitter.json(s).write(toFile: file, atomically: true, encoding: .utf8); return true }
        return false
    }

    /// Runs a command with its output in `log` (no pipe a lingering child could hold); its exit status.
    static func spawnQuietly(_ argv: [String], log: String) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// One run of the image: start, wait until ready, exercise, stop, collect.
    static func once(image: String, engine: ContainerEngine, args: [String], settings: RunSettings) -> Run {
        let name = "roprof-verify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var r = Run()
        let started = engine.run(["run", "-d", "--name", name] + args + [image] + settings.command)
        defer { engine.remove(name) }
        guard started.status == 0 else {
            r.started = false
            r.startError = started.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(started.status)"
            return r
        }
        r.window = ContainerRun(name: name, engine: engine, settings: settings).drive()
        r.exit = engine.wait(name)
        r.log = engine.logs(name)
        return r
    }
}
