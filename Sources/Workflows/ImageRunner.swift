import Engine
import FoundationEssentials
import Glibc
import TraceModel
import Tracer

/// An image to work inside (`--image`): run as it defines itself, in podman or docker.
public struct ImageRequest: Sendable {
    public var image: String
    public var engine = "podman"
    /// Ports to publish besides the --ready-url one, as the user wrote them (`[IP:]HOST:CONTAINER`).
    public var publish: [PublishedPort] = []
    /// verify: which printed output runs (nil: the engine's own command; "kubernetes": podman kube play).
    public var format: String?
    public init(image: String) { self.image = image }
}

/// `record --image`: runs the image in the engine as the image defines it (USER, WORKDIR,
/// ENTRYPOINT/CMD, ENV), with this roprof binary mounted read-only as the entrypoint wrapper and
/// only the privilege tracing needs (CAP_SYS_PTRACE). Readiness and the --while exercise run here,
/// through a published loopback port; the recording is written inside the container to a mounted
/// directory and is the app's alone (roprof's own files live outside what it reports).
enum ImageRunner {

    /// Directories of the shared libraries this roprof runs with that an image will not have
    /// (the Swift runtime of a dynamic build); a static build needs none.
    static func privateLibraryDirectories() -> [String] {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
        var dirs = Set<String>()
        for line in maps.split(separator: "\n") {
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last, path.hasPrefix("/"), path.contains(".so") else { continue }
            let dir = Paths.parent(String(path))
            if !["/lib", "/usr/lib", "/lib64", "/usr/lib64"].contains(where: { dir == $0 || dir.hasPrefix($0 + "/") }) { dirs.insert(dir) }
        }
        return dirs.sorted()
    }

    /// What a run of roprof inside the image left behind, for the command to collect.
    struct Inside {
        var config: ImageConfig
        var argv: [String]
        /// What was published, as the printed settings should publish it.
        var ports: [PublishedPort]
        var window: ContainerRun.Window
        var exitCode: Int32?
        /// The directory mounted at /roprof-out (removed after `collect`).
        var out: String
        var log: String
        /// Starts the same container again (its own files as the first start left them) and drives it.
        var again: () -> (window: ContainerRun.Window, exitCode: Int32?, log: String)

        /// One line for when roprof inside wrote nothing: the exit and the container's last lines.
        func nothingCameOut(_ what: String) -> ModelError {
            let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
            return ModelError("\(what) came out of the container (exit \(exitCode.map(String.init) ?? "?")): \(tail.isEmpty ? "no output" : tail)")
        }
    }

    /// Runs `roprof INNER… -- ARGV` inside the image as the image defines itself (ARGV: its ENTRYPOINT
    /// and CMD, a given command overriding CMD; the app dropped to its USER by roprof), drives its run
    /// from here (readiness, exercise, window, stop), and hands what it wrote to /roprof-out to `collect`.
    /// `extraArgs`: more engine flags (verify --refine applies the suggested mounts and environment this way).
    static func inside<T>(image: String, engine: ContainerEngine, command: [String], settings: RunSettings, publish: [PublishedPort], notify: Notify,
                          extraArgs: [String] = [], inner: [String], prepare: (String) throws -> Void = { _ in },
                          collect: (Inside) throws -> T) throws -> T {
        let cfg = try engine.inspect(image)
        guard let exe = realpath("/proc/self/exe", nil) else { throw ModelError("cannot find roprof's own executable") }
        let selfPath = String(cString: exe)
        free(exe)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-image-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        try prepare(out)
        let name = "roprof-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var ports = publish
        // The --ready-url port, when no --publish maps it: published as the URL names it (loopback
        // stays loopback in what is printed).
        if let t = settings.readyTarget, !ports.contains(where: { $0.host == Int(t.port) }) {
            let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(t.host)
            ports.append(PublishedPort(hostIP: loopback ? "127.0.0.1" : nil, host: Int(t.port), container: Int(t.port)))
        }
        var mounts = ["-v", "\(selfPath):/roprof/bin/roprof:ro"]
        for d in privateLibraryDirectories() { mounts += ["-v", "\(d):\(d):ro"] }
        // roprof runs inside the image: it needs the image's glibc (libseccomp, libbpf and libyaml are linked in). Say so before anything runs.
        let probe = engine.run(["run", "--rm", "--user=0", "--entrypoint", "/roprof/bin/roprof"] + mounts + [image, "--version"])
        if probe.status != 0 {
            let why = probe.stderr.contains("libseccomp") ? "it has no libseccomp (apt-get install libseccomp2 in the image)"
                : probe.stderr.lowercased().contains("no such file") || probe.stderr.contains("not found") || probe.stderr.contains("GLIBC") ? "it has no glibc roprof can run with (Alpine/musl, distroless static)"
                : (probe.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(probe.status)")
            throw ModelError("roprof cannot run inside '\(image)': \(why); record the app from a glibc-based image (Debian, Ubuntu, RHEL) of the same build, or on a host")
        }
        // The engine's own seccomp profile is off while recording: the recording must hold the app's real
        // calls (Docker's default profile answers clone3 with ENOSYS, and libc then falls back to clone:
        // a profile built from that run would miss clone3 and answer it EPERM, which libc does not survive).
        var args = ["run", "-d", "--name", name, "--cap-add=SYS_PTRACE", "--security-opt=seccomp=unconfined", "--user=0", "--entrypoint", "/roprof/bin/roprof",
                    "-v", "\(out):/roprof-out", "-w", cfg.workingDir] + mounts
        // While recording, nothing is published beyond loopback unless the user named an address.
        for p in ports { args += ["-p", PublishedPort(hostIP: p.hostIP ?? "127.0.0.1", host: p.host, container: p.container).description] }
        args += extraArgs
        // Inside the image roprof has CAP_SYS_PTRACE only: ptrace, never a fallback line from auto.
        var innerArgs = inner + ["--backend", "ptrace"]
        let user = cfg.user
        if !user.isEmpty && user != "root" && user != "0" && user != "0:0" { innerArgs += ["--user", user] }
        let argv = cfg.argv(overriding: command)
        guard !argv.isEmpty else { throw ModelError("image '\(image)' has no ENTRYPOINT or CMD: give the command after `--`") }
        args += [image] + innerArgs + ["--"] + argv
        let started = engine.run(args)
        guard started.status == 0 else {
            engine.remove(name)
            throw ModelError("\(engine.name) could not start '\(image)': \(started.stderr.split(separator: "\n").first ?? "exit \(started.status)")")
        }
        defer { engine.remove(name) }
        notify("recording inside \(image) with \(engine.name)'s seccomp profile off (seccomp=unconfined): the profile is built from the app's own calls, not from what the engine's default profile let through")
        let window = ContainerRun(name: name, engine: engine, settings: settings).drive()
        let code = engine.wait(name)
        let again = { () -> (window: ContainerRun.Window, exitCode: Int32?, log: String) in
            let s = engine.run(["start", name])
            guard s.status == 0 else { return (ContainerRun.Window(ready: false), nil, s.stderr) }
            let w = ContainerRun(name: name, engine: engine, settings: settings).drive()
            return (w, engine.wait(name), engine.logs(name))
        }
        return try collect(Inside(config: cfg, argv: argv, ports: ports, window: window, exitCode: code, out: out, log: engine.logs(name), again: again))
    }

    static func record(_ req: ImageRequest, settings: RunSettings, mode: TraceMode, service: String?, extraArgs: [String] = [],
                       restart: Bool = false, notify: Notify) throws -> RecordOutcome {
        let engine = try ContainerEngine(name: req.engine)
        var inner = ["record", "--quiet", "--mode", mode.rawValue, "-o", "/roprof-out/recording.json"]
        if let n = service { inner += ["--name", n] }
        // A server roprof stops is started again, as the same container on the files its first start left
        // (the inner roprof applies the suggested remedies then): the profile covers a restart.
        if restart { inner += ["--restart-of", "/roprof-out/first.json"] }
        return try inside(image: req.image, engine: engine, command: settings.command, settings: settings, publish: req.publish, notify: notify,
                          extraArgs: extraArgs, inner: inner) { run in
            guard FileManager.default.fileExists(atPath: run.out + "/recording.json") else { throw run.nothingCameOut("no recording") }
            var rec = try Recording.load(path: run.out + "/recording.json")
            var window = run.window
            var restartNote: String? = nil
            if restart && run.window.stoppedByUs && !run.window.interrupted && !run.window.readinessTimedOut
                && rec.runs.allSatisfy({ $0.phase == nil }) {
                try FileManager.default.moveItem(atPath: run.out + "/recording.json", toPath: run.out + "/first.json")
                notify("restart: starting the container again on the files its first start left, so the profile covers a restart (--no-restart skips this)")
                let second = run.again()
                if FileManager.default.fileExists(atPath: run.out + "/recording.json"), let b = try? Recording.load(path: run.out + "/recording.json") {
                    var a = rec
                    for i in a.runs.indices { a.runs[i].phase = "first" }
                    rec = Recording.merged([a, b])
                    if !second.window.stoppedByUs || second.window.readinessTimedOut {
                        restartNote = "the app failed when its container was started again on its own files (exit \(second.exitCode.map(String.init) ?? "?")\(second.window.readinessTimedOut ? ", never ready" : "")): what a restart does is in the recording"
                    }
                    if second.window.interrupted { window.interrupted = true }
                    window.exercise = window.exercise.flatMap { $0.shellStatus != 0 ? $0 : nil } ?? second.window.exercise
                } else {
                    restartNote = "the container's second start left no recording (\(second.log.split(separator: "\n").last.map(String.init) ?? "no output")): the profile covers one start"
                }
            }
            let cfg = run.config
            for i in rec.runs.indices {
                rec.runs[i].image = ImageRun(reference: req.image, id: cfg.id, digest: cfg.digest, engine: engine.name, user: cfg.user,
                                             workingDir: cfg.workingDir, entrypoint: cfg.entrypoint, cmd: cfg.cmd, env: cfg.env,
                                             ports: run.ports.isEmpty ? nil : run.ports.map(\.container).sorted())
                rec.runs[i].image?.published = run.ports.isEmpty ? nil : run.ports.sorted { ($0.host, $0.container) < ($1.host, $1.container) }
                rec.runs[i].command = run.argv
                rec.runs[i].readyURL = settings.readyURL
                rec.runs[i].exercise = settings.exercise
                rec.runs[i].cwd = cfg.workingDir
                if run.window.stoppedByUs { rec.runs[i].stoppedByRoprof = true }
            }
            rec = rec.normalized()
            var outcome = RecordOutcome(recording: rec, exit: rec.runs.first?.exit ?? ExitInfo(code: run.exitCode.map(Int.init)))
            outcome.exerciseExit = window.exercise
            outcome.readinessTimedOut = run.window.readinessTimedOut
            outcome.interrupted = window.interrupted
            if let n = restartNote { outcome.notes.append(n) }
            return outcome
        }
    }
}
