import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Advice that holds on real servers: durable data on volumes (by evidence), nothing hidden that the
/// image has, never a mount over code, and a `verify` that proves it (restart, cause, deny storms).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct StateTests {
    let roprof = Support.roprof
    static let kvstore = Support.packageRoot.appendingPathComponent("Fixtures/apps/kvstore/server.py").path
    static let notes = Support.packageRoot.appendingPathComponent("Fixtures/apps/notes").path
    static var nextPort: UInt16 = UInt16(30000 + getpid() % 20000)
    static func port() -> UInt16 { nextPort += 1; return nextPort }

    /// Installs the key-value server's directories as its package would: /var/lib/roprof-kv (state,
    /// 0750, owned by nobody) and /run/roprof-kv (its run-time directory, already there).
    func installKV() throws {
        for (dir, mode) in [("/var/lib/roprof-kv", 0o750), ("/run/roprof-kv", 0o755)] {
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chown(dir, 65534, 65534)
            chmod(dir, mode_t(mode))
        }
    }

    func kvCommand(_ port: UInt16, _ extra: [String] = []) -> [String] {
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", Self.kvstore, "\(port)"] + extra
    }

    func post(_ port: UInt16, _ path: String) -> String { "python3 -c \"import urllib.request as u; print(u.urlopen(u.Request('http://127.0.0.1:\(port)\(path)', method='POST')).read().decode().strip())\"" }

    func report(_ rec: String, runtime: String = "docker") throws -> [String: Any] {
        let o = try Support.run([roprof, "report", "--runtime", runtime, "--format", "json", rec])
        #expect(o.status == 0, "\(o.stderr)")
        return try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as! [String: Any]
    }

    func recordKV(_ port: UInt16, to rec: String) throws {
        let o = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "http://127.0.0.1:\(port)/health",
                                 "--while", post(port, "/set?k=a&v=1") + " && " + post(port, "/incr?k=n"), "--"] + kvCommand(port))
        #expect(o.status == 0, "a stop at the end of --while is planned: \(o.stderr)")
    }

    @Test func stateOnAVolumeRuntimeDirNarrowedAndOneNameForVarRun() throws {
        try installKV()
        let dir = Support.scratch("kv"), port = Self.port(), rec = dir + "/kv.json"
        try recordKV(port, to: rec)
        let r = try Recording.load(path: rec)
        #expect(r.version == 2 && r.filesystem?.symlinks["/var/run"] == "/run", "the recording keeps the symlink it saw")
        #expect(r.files.contains { $0.operation == .sync && $0.path == "/var/lib/roprof-kv/kv.log" }, "fsync is recorded per path")
        let a = try report(rec)
        let mounts = (a["mounts"] as! [[String: Any]])
        let byPath = Dictionary(uniqueKeysWithValues: mounts.map { ($0["path"] as! String, $0) })
        #expect(Set(byPath.keys) == ["/var/lib/roprof-kv", "/run/roprof-kv"], "narrowed to the app's directories, never /run: \(byPath.keys)")
        let state = try #require(byPath["/var/lib/roprof-kv"])
        #expect(state["kind"] as? String == "persistent" && state["purpose"] as? String == "state")
        let evidence = (state["evidence"] as? [String] ?? []).joined(separator: "; ")
        #expect(evidence.contains("FHS: /var/lib") && evidence.contains("fsync on kv.log") && evidence.contains("renamed into place"), "\(evidence)")
        #expect((state["owner"] as? [String: Any])?["uid"] as? Int == 65534 && (state["owner"] as? [String: Any])?["mode"] as? Int == 0o750)
        #expect(byPath["/run/roprof-kv"]?["purpose"] as? String == "runtime" && byPath["/run/roprof-kv"]?["kind"] as? String == "tmpfs")
        // Created through /var/run (the kernel names it /run/…), removed through /var/run: one place, one row.
        let breaking = (a["breaking"] as! [[String: Any]]).map { $0["path"] as! String }
        #expect(breaking.contains("/run/roprof-kv/kv.pid") && !breaking.contains { $0.hasPrefix("/var/run/") }, "\(breaking)")
        let pid = try #require((a["breaking"] as! [[String: Any]]).first { $0["path"] as? String == "/run/roprof-kv/kv.pid" })
        #expect(Set(pid["operations"] as! [String]) == ["create", "unlink"])
        // kv.log is fsynced data, not a log to send to stdout.
        #expect(!(a["remedies"] as! [[String: Any]]).contains { $0["id"] as? String == "app-logs" })

        // State is never put in memory, in any output.
        for format in ["kubernetes", "docker", "compose", "podman", "ecs", "systemd"] {
            let s = try Support.run([roprof, "suggest", "--format", format, rec])
            #expect(s.status == 0, "\(format): \(s.stderr)")
            let lines = s.stdout.split(separator: "\n")
            #expect(!lines.contains { $0.contains("tmpfs") && $0.contains("/var/lib/roprof-kv") }, "\(format) puts state in memory:\n\(s.stdout)")
        }
        let k8s = try Support.run([roprof, "suggest", "--format", "kubernetes", rec]).stdout
        #expect(k8s.contains("PersistentVolumeClaim") && k8s.contains("mountPath: /var/lib/roprof-kv"))

        // Analysis reads the recording, never the disk: the same mounts with the directories gone,
        // from a copy of the recording somewhere else.
        let before = try Support.run([roprof, "report", "--runtime", "docker", rec]).stdout
        let elsewhere = Support.scratch("copy") + "/deep/er"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: rec, toPath: elsewhere + "/kv.json")
        try FileManager.default.removeItem(atPath: "/run/roprof-kv")
        try FileManager.default.removeItem(atPath: "/var/lib/roprof-kv")
        let after = try Support.run([roprof, "report", "--runtime", "docker", elsewhere + "/kv.json"]).stdout
        #expect(before.replacingOccurrences(of: rec, with: "") == after.replacingOccurrences(of: elsewhere + "/kv.json", with: ""))
    }

    @Test func verifyRestartsOnTheSameVolumeAndTheDataSurvives() throws {
        try installKV()
        let dir = Support.scratch("kvv"), port = Self.port(), rec = dir + "/kv.json", counts = dir + "/counts"
        try recordKV(port, to: rec)
        let exercise = post(port, "/incr?k=visits") + " >> \(counts)"
        let o = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "http://127.0.0.1:\(port)/health",
                                 "--while", exercise, "--"] + kvCommand(port))
        #expect(o.status == 0, "\(o.stdout)\(o.stderr)")
        #expect(o.stdout.contains("PASS") && o.stdout.contains("after a restart on the same volumes"), "\(o.stdout)")
        #expect(o.stdout.contains("/var/lib/roprof-kv (starts with the image's content there"), "\(o.stdout)")
        let seen = try String(contentsOfFile: counts, encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
        #expect(seen == [1, 2], "the second run found the first run's key: \(seen)")

        // Without the state volume the server cannot start: FAIL, naming the refused path.
        let w = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--without", "/var/lib/roprof-kv",
                                 "--ready-url", "http://127.0.0.1:\(port)/health", "--ready-timeout", "10", "--while", exercise, "--"] + kvCommand(port))
        #expect(w.status == 1)
        #expect(w.stdout.contains("cause:") && w.stdout.contains("/var/lib/roprof-kv/"), "\(w.stdout)")
    }

    /// A per-tenant directory named by the environment (TENANT=acme): the volume is the tenants'
    /// root the image has, so the next tenant's data has a place — verify runs tenant globex under
    /// the settings acme's recording printed, and its data is kept.
    @Test func aTenantFromTheEnvironmentWidensToTheTenantsRoot() throws {
        let root = "/srv/roprof-tenants-\(getpid())", dir = Support.scratch("tenants"), rec = dir + "/t.json"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)  // as the image has it
        defer { try? FileManager.default.removeItem(atPath: root) }
        let job = ["/bin/sh", "-c", "mkdir -p \"$ROOT/$TENANT\" && echo \"order for $TENANT\" >> \"$ROOT/$TENANT/orders\" && sync \"$ROOT/$TENANT/orders\""]
        var env = ProcessInfo.processInfo.environment
        env["ROOT"] = root; env["TENANT"] = "acme"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--"] + job, env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Recording.load(path: rec).runs.first?.pathInputs == ["acme": "TENANT"])
        let docker = try Support.run([roprof, "suggest", "--format", "docker", "--runtime", "docker", rec]).stdout
        #expect(docker.contains("destination=\(root),") || docker.contains("destination=\(root) "), "the tenants' root, not acme's own directory:\n\(docker)")
        #expect(!docker.contains("\(root)/acme"), "\(docker)")
        let report = try Support.run([roprof, "report", rec]).stdout
        #expect(report.contains("value of TENANT in the app's environment"), "\(report)")
        env["TENANT"] = "globex"
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--"] + job, env: env)
        #expect(v.status == 0 && v.stdout.contains("PASS"), "the next tenant runs under the same settings:\n\(v.stdout)\(v.stderr)")
    }

    @Test func twoIdenticalRunsDiffCleanlyAndCheckPasses() throws {
        try installKV()
        let dir = Support.scratch("kvd"), port = Self.port()
        try recordKV(port, to: dir + "/a.json")
        try recordKV(port, to: dir + "/b.json")
        let d = try Support.run([roprof, "diff", dir + "/a.json", dir + "/b.json"])
        #expect(d.status == 0, "\(d.stdout)\(d.stderr)")
        let b = try Support.run([roprof, "baseline", dir + "/a.json"])
        #expect(b.status == 0, "\(b.stderr)")
        try b.stdout.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        let c = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/base.yaml", "--ready-url", "http://127.0.0.1:\(port)/health",
                                 "--while", post(port, "/set?k=a&v=1") + " && " + post(port, "/incr?k=n"), "--"] + kvCommand(port))
        #expect(c.status == 0, "\(c.stdout)\(c.stderr)")
    }

    /// A stop roprof makes itself is planned: `check --for` on a server that ignores SIGTERM (killed
    /// after the grace period) is no regression, and `record` exits 0.
    @Test func sigtermIgnoringServerUnderCheckForIsNoRegression() throws {
        try installKV()
        let dir = Support.scratch("kvs"), port = Self.port()
        let cmd = kvCommand(port, ["--ignore-sigterm"])
        let r = try Support.run([roprof, "record", "--quiet", "-o", dir + "/r.json", "--for", "1", "--grace", "1", "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("planned stop"))
        let rec = try Recording.load(path: dir + "/r.json")
        #expect(rec.runs[0].exit.signal == 9 && rec.runs[0].stoppedByRoprof == true)
        try Support.run([roprof, "baseline", dir + "/r.json"]).stdout.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        let c = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/base.yaml", "--for", "1", "--grace", "1", "--"] + cmd)
        #expect(c.status == 0, "\(c.stdout)\(c.stderr)")
        #expect(!c.stdout.contains("app-failed") && !c.stdout.contains("exited with status"), "\(c.stdout)")
    }

    /// Recorded idle (no connection ever accepted), verified with traffic: the profile lacks accept4;
    /// suggest warns, and verify fails within seconds naming it instead of waiting for a timeout.
    @Test func idleRecordingWarnsAndVerifyFailsFastNamingTheSyscall() throws {
        try installKV()
        let dir = Support.scratch("kvi"), port = Self.port(), rec = dir + "/idle.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--for", "1", "--"] + kvCommand(port))
        #expect(r.status == 0, "\(r.stderr)")
        let s = try Support.run([roprof, "suggest", "--format", "seccomp", rec])
        #expect(s.stderr.contains("accepted none") && s.stderr.contains("accept4"), "\(s.stderr)")
        let start = Date()
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "http://127.0.0.1:\(port)/health",
                                 "--ready-timeout", "60", "--grace", "2", "--while", post(port, "/set?k=a&v=1"), "--"] + kvCommand(port))
        #expect(Date().timeIntervalSince(start) < 30, "a denied accept4 loop ends the run within seconds")
        #expect(v.status == 1)
        let cause = v.stdout.split(separator: "\n").first { $0.contains("cause:") } ?? ""
        #expect(cause.contains("accept4") && cause.contains("looped"), "\(v.stdout)")
    }

    /// SQLite next to the code: a volume there would hide the code. roprof says to move the database
    /// (the app's own setting) and mounts nothing over the project; with the setting, the data dir.
    @Test func sqliteNextToCodeIsRelocatedNotMountedOver() throws {
        let project = "/srv/roprof-notes-\(UUID().uuidString.prefix(6).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: project) }
        try FileManager.default.copyItem(atPath: Self.notes, toPath: project)
        let dir = Support.scratch("notes"), port = Self.port(), rec = dir + "/notes.json"
        let exercise = post(port, "/notes?text=hello") + " && " + post(port, "/notes?text=again")
        let o = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise,
                                 "--", "/usr/bin/python3", project + "/app.py", "\(port)"], env: ["PYTHONDONTWRITEBYTECODE": "1"], cwd: project)
        #expect(o.status == 0, "\(o.stderr)")
        let a = try report(rec, runtime: "kubernetes")
        let mounts = (a["mounts"] as! [[String: Any]]).map { $0["path"] as! String }
        #expect(!mounts.contains { project.hasPrefix($0) || $0 == project }, "no mount covers the project's code: \(mounts)")
        let reloc = try #require((a["relocations"] as? [[String: Any]])?.first)
        #expect(reloc["directory"] as? String == project)
        #expect((reloc["files"] as? [String] ?? []).contains("notes.db"), "the reason names the written files: \(reloc)")
        #expect((reloc["code"] as? [String] ?? []).contains("app.py"))
        let text = try Support.run([roprof, "report", rec]).stdout
        #expect(text.contains("notes.db") && text.contains("next to the app's code"), "\(text)")

        // With the app's database setting pointing at a data directory, that directory is the volume.
        let rec2 = dir + "/notes2.json"
        let o2 = try Support.run([roprof, "record", "--quiet", "-o", rec2, "--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise,
                                  "--", "/usr/bin/python3", project + "/app.py", "\(port)"],
                                 env: ["PYTHONDONTWRITEBYTECODE": "1", "NOTES_DB": project + "/data/notes.db"], cwd: project)
        #expect(o2.status == 0, "\(o2.stderr)")
        let b = try report(rec2, runtime: "kubernetes")
        let m2 = (b["mounts"] as! [[String: Any]]).map { ($0["path"] as! String, $0["kind"] as! String) }
        #expect(m2.count == 1 && m2.first?.0 == project + "/data" && m2.first?.1 == "persistent", "\(m2)")
    }

    /// A remedy can change what the app calls (-XX:-UsePerfData makes the JVM call getgid/getegid):
    /// the profile's families cover it as printed, and --refine (which learns what a hardened run
    /// needs) still passes and writes the recording back.
    @Test func remedyThatChangesTheSyscallsVerifiesAfterRefine() throws {
        let javac = try Support.which("javac"), java = try Support.which("java")
        let dir = Support.scratch("java")
        try "public class Hello { public static void main(String[] a) { System.out.println(\"hello\"); } }".write(toFile: dir + "/Hello.java", atomically: true, encoding: .utf8)
        #expect(try Support.run([javac, dir + "/Hello.java"]).status == 0)
        let rec = dir + "/j.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--", java, "-cp", dir, "Hello"], unset: ["JAVA_TOOL_OPTIONS"])
        #expect(r.status == 0, "\(r.stderr)")
        // The remedy (JAVA_TOOL_OPTIONS=-XX:-UsePerfData) makes the JVM call getgid/getegid where the
        // recorded run called getuid/geteuid: the ids family covers them, so the printed profile holds
        // under the printed settings without --refine.
        let plain = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--", java, "-cp", dir, "Hello"], unset: ["JAVA_TOOL_OPTIONS"])
        #expect(plain.status == 0 && plain.stdout.contains("PASS") && plain.stdout.contains("1 environment variable"), "\(plain.stdout)")
        let refined = try Support.run([roprof, "verify", "--quiet", "--refine", "--runtime", "docker", "--from", rec, "--", java, "-cp", dir, "Hello"],
                                      unset: ["JAVA_TOOL_OPTIONS"])
        #expect(refined.status == 0, "\(refined.stdout)\(refined.stderr)")
        #expect(refined.stderr.contains("refined") && refined.stdout.contains("PASS"))
        let again = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--", java, "-cp", dir, "Hello"], unset: ["JAVA_TOOL_OPTIONS"])
        #expect(again.status == 0, "the refined recording verifies on its own: \(again.stdout)")
    }

    @Test func versionOneRecordingsLoadAndFutureOnesAreRefused() throws {
        let v1 = Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/webapp.json").path
        #expect(try String(contentsOfFile: v1, encoding: .utf8).contains("\"version\": 1"))
        let o = try Support.run([roprof, "report", v1])
        #expect(o.status == 0 && o.stdout.contains("/srv/webapp/data"), "\(o.stderr)")
        let dir = Support.scratch("v9")
        let future = try String(contentsOfFile: v1, encoding: .utf8).replacingOccurrences(of: "\"version\": 1", with: "\"version\": 9")
        try future.write(toFile: dir + "/v9.json", atomically: true, encoding: .utf8)
        let f = try Support.run([roprof, "report", dir + "/v9.json"])
        #expect(f.status == 2)
        #expect(f.stderr.split(separator: "\n").count == 1 && f.stderr.contains("version 9") && f.stderr.contains("upgrade roprof"), "\(f.stderr)")
    }

    /// Two identical runs of each fixture app, one with each backend: `diff` finds nothing, and a
    /// baseline from the first run passes `check` (eBPF, the default there) on a third (pids,
    /// temporary names and per-run files generalised).
    @Test(arguments: ["quickstart", "gunicorn-spa", "notes", "logserver", "kvstore", "fastapi-sqlite"])
    func twoIdenticalRunsOfAFixtureAppDiffCleanly(_ app: String) throws {
        let base = "/srv/roprof-twice-\(UUID().uuidString.prefix(6).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Support.packageRoot.appendingPathComponent("Fixtures/apps/\(app)").path, toPath: base + "/app")
        _ = try Support.run(["chmod", "-R", "a+rX", base])
        let port = Self.port(), dir = Support.scratch("twice")
        let venv = "/opt/roprof-apps/venv/bin"
        var env = ["PYTHONDONTWRITEBYTECODE": "1", "PATH": venv + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        let get = "python3 -c \"import urllib.request as u; [u.urlopen('http://127.0.0.1:\(port)/').read() for i in range(3)]\""
        let server = ["--ready-url", "http://127.0.0.1:\(port)/health"]
        var cmd: [String], extra: [String]
        switch app {
        case "quickstart":
            env["QUICKSTART_DATA"] = base + "/data"
            cmd = ["/usr/bin/python3", base + "/app/app.py"]; extra = []
        case "gunicorn-spa":
            guard FileManager.default.isExecutableFile(atPath: venv + "/gunicorn") else { throw Support.MissingTool(tool: "the app virtual environment (bash .ci/setup)") }
            cmd = [venv + "/gunicorn", "--bind", "127.0.0.1:\(port)", "--workers", "2", "app:app"]; extra = server + ["--while", get]
        case "notes":
            cmd = ["/usr/bin/python3", base + "/app/app.py", "\(port)"]; extra = server + ["--while", post(port, "/notes?text=x")]
        case "logserver":
            try FileManager.default.createDirectory(atPath: base + "/logs", withIntermediateDirectories: true)
            cmd = ["/usr/bin/python3", base + "/app/server.py", "\(port)", base + "/logs"]; extra = ["--ready-url", "127.0.0.1:\(port)", "--while", get]
        case "fastapi-sqlite":
            guard FileManager.default.isExecutableFile(atPath: venv + "/uvicorn") else { throw Support.MissingTool(tool: "the app virtual environment (bash .ci/setup)") }
            try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
            env["DATABASE_URL"] = "sqlite+aiosqlite:///\(base)/data/app.db"
            env["PORT"] = "\(port)"
            env["HOME"] = "/nonexistent"
            cmd = [base + "/app/entrypoint.sh"]; extra = server + ["--while", get.replacingOccurrences(of: "/').read()", with: "/items/a').read()")]
        default:
            try installKV()
            cmd = kvCommand(port); extra = server + ["--while", post(port, "/incr?k=n")]
        }
        // The second run with the eBPF backend: the same paths, operations and syscalls as ptrace's.
        for (name, backend) in [("a", "ptrace"), ("b", "ebpf")] {
            let r = try Support.run([roprof, "record", "--quiet", "--backend", backend, "-o", dir + "/\(name).json"] + extra + ["--"] + cmd,
                                    env: env, cwd: base + "/app")
            #expect(r.status == 0, "\(app) run \(name): \(r.stderr)")
        }
        let d = try Support.run([roprof, "diff", dir + "/a.json", dir + "/b.json"])
        #expect(d.status == 0, "\(app): two identical runs (ptrace, then eBPF) differ:\n\(d.stdout)")
        let b = try Support.run([roprof, "baseline", dir + "/a.json"])
        try b.stdout.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        let c = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/base.yaml"] + extra + ["--"] + cmd, env: env, cwd: base + "/app")
        #expect(c.status == 0, "\(app): check on a third identical run:\n\(c.stdout)\(c.stderr)")
    }
}

/// A profile that holds for the app's life: a server that repairs its log with ftruncate and
/// re-points a link with `ln -sfn` (renameat) only when it restarts on its own data. The default
/// recording covers a restart, so the printed profile verifies as printed (no --refine); a
/// recording of one start does not.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RestartProfileTests {
    let roprof = Support.roprof

    @Test func theDefaultRecordingCoversARestart() throws {
        let server = Support.packageRoot.appendingPathComponent("Fixtures/apps/restartserver/server.py").path
        let dir = Support.scratch("restart"), port = 21000 + Int(getpid() % 3000)
        let data = "/var/lib/roprof-restart-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let url = "http://127.0.0.1:\(port)/health"
        let work = "for i in 1 2 3; do python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:\(port)/items/x').read()\"; done"
        let cmd = ["/usr/bin/python3", server, "\(port)", data]
        let full = try Support.run([roprof, "record", "--quiet", "-o", dir + "/full.json", "--ready-url", url, "--while", work, "--"] + cmd)
        #expect(full.status == 0, "\(full.stderr)")
        let rec = try Recording.load(path: dir + "/full.json")
        #expect(Set(rec.runs.compactMap(\.phase)) == ["first", "restart"], "\(rec.runs.map(\.phase))")
        #expect(rec.allSyscallNames.contains("ftruncate") && rec.allSyscallNames.contains("renameat"), "the restart's own calls are in the recording")
        let report = try Support.run([roprof, "report", dir + "/full.json"]).stdout
        #expect(report.contains("covers: a first start; a restart on the files the first run left"), "\(report)")
        // The link into the code directory is a write to the data directory, never a mount over the code.
        let fixtureDir = (server as NSString).deletingLastPathComponent
        let mounts = try Support.run([roprof, "suggest", "--format", "docker", dir + "/full.json"]).stdout
        #expect(!mounts.contains("destination=\(fixtureDir)") && mounts.contains("destination=\(data)"), "\(mounts)")
        try? FileManager.default.removeItem(atPath: data)
        let v = try Support.run([roprof, "verify", "--runtime", "docker", "--from", dir + "/full.json", "--ready-url", url, "--while", work, "--"] + cmd)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("again after a restart"), "as printed, through a restart: \(v.stdout)\(v.stderr)")
        // The exercise knows which run it drives (ROPROF_PHASE): a fixed-id exercise creates on the first
        // and checks on the restart that what it made is still there.
        try? FileManager.default.removeItem(atPath: data)
        let phased = "python3 -c \"import os, sys, urllib.request as u; n = int(u.urlopen('http://127.0.0.1:\(port)/items/fixed').read()); "
            + "p = os.environ.get('ROPROF_PHASE'); sys.exit(0 if (p == 'first' and n == 1) or (p == 'restart' and n == 2) else 1)\""
        let f = try Support.run([roprof, "verify", "--runtime", "docker", "--from", dir + "/full.json", "--ready-url", url, "--while", phased, "--"] + cmd)
        #expect(f.status == 0 && f.stdout.contains("PASS") && f.stdout.contains("again after a restart"), "ROPROF_PHASE first, then restart: \(f.stdout)\(f.stderr)")
        // Without the restart nothing shows the state survives: never a PASS.
        try? FileManager.default.removeItem(atPath: data)
        let u = try Support.run([roprof, "verify", "--no-restart", "--runtime", "docker", "--from", dir + "/full.json", "--ready-url", url, "--while", work, "--"] + cmd)
        #expect(u.status == 1 && u.stdout.contains("UNPROVEN") && !u.stdout.contains("PASS") && u.stdout.contains("--no-restart"), "\(u.stdout)\(u.stderr)")

        // One start only: the restart's calls were never seen.
        try? FileManager.default.removeItem(atPath: data)
        let one = try Support.run([roprof, "record", "--quiet", "--no-restart", "-o", dir + "/one.json", "--ready-url", url, "--while", work, "--"] + cmd)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(try Recording.load(path: dir + "/one.json").runs.count == 1)
        try? FileManager.default.removeItem(atPath: data)
        let w = try Support.run([roprof, "verify", "--runtime", "docker", "--from", dir + "/one.json", "--ready-url", url, "--while", work, "--"] + cmd)
        #expect(w.status == 1 && (w.stdout.contains("ftruncate") || w.stdout.contains("renameat")), "one start's profile fails on the restart: \(w.stdout)")
    }
}
