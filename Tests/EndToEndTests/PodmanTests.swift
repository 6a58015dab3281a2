import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// End to end in a real engine: the settings `roprof suggest --format podman` emits (read-only
/// root, tmpfs mounts, volumes, the generated seccomp profile) run the app in podman + runc on a
/// Debian root filesystem; the same app without them fails.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PodmanTests {
    static let rootfs = "/var/cache/roprof/rootfs-bookworm"
    static var conf: String { Support.packageRoot.appendingPathComponent("Fixtures/podman/containers.conf").path }

    /// A shell app that writes scratch files, a cache directory and a state file.
    static let app = """
    set -e
    mkdir -p /var/cache/roprof-e2e
    echo state > /var/cache/roprof-e2e/state
    tmp=$(mktemp /tmp/roprof-e2e.XXXXXX)
    echo scratch > "$tmp"
    rm "$tmp"
    cat /etc/hostname > /dev/null
    echo app-ok
    """

    func requireEngine() throws {
        _ = try Support.which("podman")
        _ = try Support.which("runc")
        guard FileManager.default.fileExists(atPath: Self.rootfs + "/usr/bin/sh") else {
            throw Support.MissingTool(tool: "debootstrap")
        }
    }

    /// The argv of the emitted `podman run` command, with IMAGE replaced by --rootfs.
    func podmanArgs(_ emitted: String) throws -> [String] {
        let script = emitted.replacingOccurrences(of: "podman run", with: "printf '%s\\n'")
        let o = try Support.run(["/bin/sh", "-c", script])
        var args = o.stdout.split(separator: "\n").map(String.init)
        guard let image = args.firstIndex(of: "IMAGE") else { throw ModelError("no IMAGE in \(emitted)") }
        args.removeSubrange(image...)  // the recorded command follows; we pass our own
        return args.filter { !$0.hasPrefix("--workdir=") }  // (and it runs in the rootfs's own layout)
    }

    func podman(_ args: [String], cwd: String) throws -> Support.Output {
        try Support.run(["podman", "run", "--rm"] + args + ["--rootfs", Self.rootfs, "/bin/sh", "-c", Self.app],
                        env: ["CONTAINERS_CONF": Self.conf], cwd: cwd)
    }

    @Test func suggestedFlagsRunTheAppAndWithoutThemItFails() throws {
        try requireEngine()
        let dir = Support.scratch("podman")
        defer { try? FileManager.default.removeItem(atPath: "/var/cache/roprof-e2e") }
        let rec = dir + "/rec.json"
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--", "/bin/sh", "-c", Self.app])
        #expect(r.status == 0, "\(r.stderr)")
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", "--runtime", "docker", rec])
        #expect(emitted.status == 0)
        let seccomp = try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec])
        try seccomp.stdout.write(toFile: dir + "/roprof-seccomp.json", atomically: true, encoding: .utf8)
        let args = try podmanArgs(emitted.stdout)
        #expect(args.contains("--read-only"))
        #expect(args.contains { $0.hasPrefix("--security-opt=seccomp=") })
        #expect(args.contains { $0.contains("destination=/tmp") } && args.contains { $0.contains("destination=/var/cache/roprof-e2e") })

        let ok = try podman(args, cwd: dir)
        #expect(ok.status == 0, "hardened run failed: \(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("app-ok"))

        // The same app with only a read-only root fails: the settings are what made it work.
        let bare = try podman(["--read-only", "--read-only-tmpfs=false"], cwd: dir)
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("Read-only file system"), "\(bare.stderr)")
    }

    @Test func theGeneratedSeccompProfileIsEnforced() throws {
        try requireEngine()
        let dir = Support.scratch("podman-seccomp")
        defer { try? FileManager.default.removeItem(atPath: "/var/cache/roprof-e2e") }
        let rec = dir + "/rec.json"
        _ = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--", "/bin/sh", "-c", Self.app])
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", "--runtime", "docker", rec])
        let args = try podmanArgs(emitted.stdout)
        // Remove unlink from the profile: the app's `rm` must now fail inside the engine.
        var names = try JSONSerialization.jsonObject(with: Data(try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec]).stdout.utf8)) as! [String: Any]
        var rules = names["syscalls"] as! [[String: Any]]
        rules[0]["names"] = (rules[0]["names"] as! [String]).filter { $0 != "unlink" && $0 != "unlinkat" }
        names["syscalls"] = rules
        try JSONSerialization.data(withJSONObject: names).write(to: URL(fileURLWithPath: dir + "/roprof-seccomp.json"))
        let denied = try podman(args, cwd: dir)
        #expect(denied.status != 0, "unlink should be denied by the edited profile: \(denied.stdout)")
        #expect(denied.stderr.contains("Operation not permitted"), "\(denied.stderr)")
    }

    /// A host recording made through `setpriv` (as the README's own example records): the printed
    /// command has no setpriv, runs as the recorded user and group in the recorded working directory,
    /// and that non-root user can write its tmpfs over a directory the image already has (root-owned:
    /// podman's `U`) and its named volume over the state directory the image gives it.
    @Test func privilegeDropBecomesTheUserSettingAndNonRootTmpfsIsWritable() throws {
        try requireEngine()
        let dir = Support.scratch("podman-user")
        let place = "/var/cache/roprof-nonroot", state = "/var/lib/roprof-nonroot"
        // On the host the app's user owns them; in the image they are root's (as a package would leave them).
        let code = "/srv/roprof-user-app"  // the app's code, in the image and on the host alike
        let dirs = [place, state, code, Self.rootfs + place, Self.rootfs + state, Self.rootfs + code]
        for d in dirs { try? FileManager.default.removeItem(atPath: d); try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        chown(place, 65534, 65534)
        chown(state, 65534, 65534)
        chown(Self.rootfs + state, 65534, 65534)  // state: the image gives it to the app's user, as it must (see the warning roprof gives otherwise)
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        let app = "echo x > \(place)/scratch.$$ && rm \(place)/scratch.$$ && echo state > \(state)/s.tmp && mv \(state)/s.tmp \(state)/s && echo \"app-ok uid=$(id -u) gid=$(id -g) cwd=$(pwd)\"\n"
        for d in [code, Self.rootfs + code] { try app.write(toFile: d + "/run.sh", atomically: true, encoding: .utf8); chmod(d + "/run.sh", 0o644) }
        let rec = dir + "/rec.json"
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "/bin/sh", "run.sh"], cwd: code)
        #expect(r.status == 0, "\(r.stderr)")
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", "--runtime", "docker", rec])
        #expect(emitted.status == 0 && emitted.stderr.contains("setpriv"), "the wrapper is named as dropped: \(emitted.stderr)")
        #expect(!emitted.stdout.contains("setpriv"), "\(emitted.stdout)")
        #expect(emitted.stdout.contains("--user=65534:65534") && emitted.stdout.contains("--workdir=\(code)"), "\(emitted.stdout)")
        #expect(emitted.stdout.contains("--mount=type=tmpfs,destination=\(place),") && emitted.stdout.contains("--mount=type=volume,source=roprof-var-lib-roprof-nonroot,destination=\(state) "), "\(emitted.stdout)")
        try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec]).stdout.write(toFile: dir + "/roprof-seccomp.json", atomically: true, encoding: .utf8)
        // Run exactly as printed, with only IMAGE filled in (here: --rootfs).
        let script = emitted.stdout.replacingOccurrences(of: "  IMAGE ", with: "  --rootfs \(Self.rootfs) ").replacingOccurrences(of: "podman run", with: "podman run --rm")
        let o = try Support.run(["/bin/sh", "-c", script], env: ["CONTAINERS_CONF": Self.conf], cwd: dir)
        #expect(o.status == 0, "the printed command failed: \(o.stdout)\(o.stderr)\n\(script)")
        #expect(o.stdout.contains("app-ok uid=65534 gid=65534 cwd=\(code)"), "\(o.stdout)\(o.stderr)")
        _ = Support.spawnAndWait(["podman", "volume", "rm", "-f", "roprof-var-lib-roprof-nonroot"], env: ["CONTAINERS_CONF": Self.conf])
    }

    // MARK: - The Python scenario apps in the engine

    /// Runs a server from a uv-built venv in podman + runc with the emitted flags (the app directory
    /// bind-mounted read-only at the same path, like image content; host networking for the probe),
    /// exercises it from the host, and returns whether the exercise passed, with the container's log.
    func serve(_ args: [String], app: String, port: Int, command: [String], env: [String] = [], exercise: String) throws -> (ok: Bool, log: String) {
        let name = "roprof-e2e-\(UUID().uuidString.prefix(8).lowercased())"
        // podman's conmon outlives `podman run -d` and keeps its stdout: give it a file, not our pipe.
        let out = app + "/../podman-\(name).out"
        let argv = ["podman", "run", "-d", "--name", name, "--network=host", "-v", "\(app):\(app):ro", "-w", app,
                    "--env=PORT=\(port)"] + env + args + ["--rootfs", Self.rootfs] + command
        let status = Support.spawnAndWait(["/bin/sh", "-c", "cd \"$APP\" && \"$@\" >\"$OUT\" 2>&1 </dev/null", "sh"] + argv,
                                          env: ["CONTAINERS_CONF": Self.conf, "OUT": out, "APP": app])
        defer { _ = Support.spawnAndWait(["podman", "rm", "-f", "-t", "0", name], env: ["CONTAINERS_CONF": Self.conf]) }
        guard status == 0 else { return (false, "podman run failed: " + ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")) }
        var ready = false
        for _ in 0..<100 where !ready {
            ready = ReadinessProbeShim.answers(port: port)
            if !ready { usleep(100_000) }
        }
        let ex = ready ? try Support.run(["/bin/sh", "-c", exercise], cwd: app) : Support.Output(status: 1, stdout: "", stderr: "never ready")
        let log = try Support.run(["podman", "logs", name], env: ["CONTAINERS_CONF": Self.conf])
        return (ex.status == 0, "\(ex.stdout)\(ex.stderr)\n--- container log ---\n\(log.stdout)\(log.stderr)")
    }

    func requirePythonRootfs() throws {
        try requireEngine()
        guard FileManager.default.fileExists(atPath: Self.rootfs + "/usr/lib/python3.11/json") else {
            throw Support.MissingTool(tool: "debootstrap (the rootfs needs python3: re-run bash .ci/setup)")
        }
    }

    /// Scenario 1, from its venv: the emitted podman settings (read-only root, no mounts at all, the
    /// generated seccomp profile) serve the signed webhooks.
    @Test func webhookFromItsVenvRunsInPodman() throws {
        try requirePythonRootfs()
        let scenarios = AppScenarioTests()
        let (base, app) = try scenarios.uvProject("webhook")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let port = 26000 + Int(getpid() % 1000)
        let rec = base + "/webhook.json"
        let exercise = "/usr/bin/python3 exercise.py http://127.0.0.1:\(port)"
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise,
                                 "--", app + "/.venv/bin/python", "app.py"],
                                env: ["PORT": "\(port)", "PYTHONDONTWRITEBYTECODE": "1", "PATH": AppScenarioTests.systemPath, "HOME": "/nonexistent"], cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", rec])
        try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec]).stdout.write(toFile: app + "/../roprof-seccomp.json", atomically: true, encoding: .utf8)
        var args = try podmanArgs(emitted.stdout)
        #expect(args.contains("--read-only") && !args.contains { $0.hasPrefix("--tmpfs") || $0.hasPrefix("--mount") }, "\(args)")
        args = args.map { $0.replacingOccurrences(of: "seccomp=roprof-seccomp.json", with: "seccomp=\(base)/roprof-seccomp.json") }
        let out = try serve(args, app: app, port: port, command: [app + "/.venv/bin/python", "app.py"],
                            env: ["--env=PYTHONDONTWRITEBYTECODE=1"], exercise: exercise)
        #expect(out.ok, "\(out.log)")
    }

    /// Scenario 5: the uv-built FastAPI service as uid 65534 with the emitted flags; without a /tmp
    /// tmpfs (which podman's --read-only provides and Kubernetes does not), a POST fails: Starlette
    /// spools request bodies through tempfile.
    @Test func fastapiUvRunsInPodmanAndNeedsItsTmpfs() throws {
        try requirePythonRootfs()
        let scenarios = AppScenarioTests()
        let (base, app) = try scenarios.uvProject("fastapi-uv", compile: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let port = 27000 + Int(getpid() % 1000)
        let rec = base + "/quotes.json"
        let exercise = "/usr/bin/python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:\(port)/quotes').read(); u.urlopen(u.Request('http://127.0.0.1:\(port)/quotes', data=b'Simple is better than complex.')).read()\""
        let cmd = [app + "/.venv/bin/uvicorn", "main:app", "--port", "\(port)"]
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise,
                                 "--", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd,
                                env: ["PATH": AppScenarioTests.systemPath, "HOME": "/nonexistent"], unset: ["PYTHONDONTWRITEBYTECODE"], cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", rec])
        try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec]).stdout.write(toFile: base + "/roprof-seccomp.json", atomically: true, encoding: .utf8)
        var args = try podmanArgs(emitted.stdout)
        args = args.map { $0.replacingOccurrences(of: "seccomp=roprof-seccomp.json", with: "seccomp=\(base)/roprof-seccomp.json") }
        // podman's --read-only keeps a tmpfs on /tmp (--read-only-tmpfs, on by default): nothing to add there.
        #expect(args.contains { $0.hasPrefix("--user=65534") } && args.contains("--read-only") && !args.contains { $0.contains("destination=/tmp") }, "\(args)")
        let ok = try serve(args, app: app, port: port, command: cmd, exercise: exercise)
        #expect(ok.ok, "\(ok.log)")
        let noTmp = args + ["--read-only-tmpfs=false"]
        let bare = try serve(noTmp, app: app, port: port, command: cmd, exercise: exercise)
        #expect(!bare.ok, "without the /tmp tmpfs the POST must fail: \(bare.log)")
    }
}

/// A TCP connect probe for the tests (the tracer's ReadinessProbe is internal to its module).
enum ReadinessProbeShim {
    static func answers(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 } }
    }
}
