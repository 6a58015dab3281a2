import Foundation
import Testing
import TestSupport
import Yams
@testable import TraceModel

/// Scenarios 1, 2 and 5 of the app scenarios: `uv run` versus the venv, one image with four services
/// under tini, and a uv-built FastAPI service hardened for a restricted Kubernetes pod.
extension AppScenarioTests {
    static let uv = "/opt/roprof-apps/uvtool/bin/uv"
    static let uvCache = "/opt/roprof-apps/uv-cache"
    /// What these scenarios run with: Debian's python and tools, never a version manager's shims.
    static let systemPath = "/usr/bin:/bin"

    /// Installs a uv project as an image build would: its locked dependencies synced into .venv
    /// from the warm cache .ci/setup made (offline), readable by every user.
    func uvProject(_ app: String, compile: Bool = false) throws -> (base: String, dir: String) {
        guard FileManager.default.isExecutableFile(atPath: Self.uv) else {
            throw Support.MissingTool(tool: "uv (bash .ci/setup installs it into /opt/roprof-apps/uvtool)")
        }
        let base = try install(app)
        let dir = base + "/" + app
        // The lock file .ci/setup made for this project (locks are not committed: they name an index).
        let lock = "/opt/roprof-apps/locks/\(app)/uv.lock"
        guard FileManager.default.fileExists(atPath: lock) else { throw Support.MissingTool(tool: "\(lock) (bash .ci/setup locks the uv projects)") }
        try FileManager.default.copyItem(atPath: lock, toPath: dir + "/uv.lock")
        let sync = try Support.run([Self.uv, "sync", "--frozen", "--offline", "--python", "/usr/bin/python3", "--link-mode", "copy"]
                                   + (compile ? ["--compile-bytecode"] : []),
                                   env: ["UV_CACHE_DIR": Self.uvCache, "PATH": Self.systemPath], cwd: dir)
        guard sync.status == 0 else { throw ModelError("uv sync failed (run bash .ci/setup to warm the cache): \(sync.stderr)") }
        _ = try Support.run(["chmod", "-R", "a+rX", base])
        return (base, dir)
    }

    func json(_ s: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
    }

    /// 1. A Flask webhook through `uv run`, then straight from its venv with the remedies applied.
    @Test func flaskWebhookThroughUvRunThenFromTheVenv() throws {
        let (base, app) = try uvProject("webhook")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let home = base + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let port = 23000 + Int(getpid() % 1000)
        let env = ["HOME": home, "PORT": "\(port)", "PATH": "/opt/roprof-apps/uvtool/bin:" + Self.systemPath]
        let server = ["--ready-url", "http://127.0.0.1:\(port)/health", "--while", "/usr/bin/python3 exercise.py http://127.0.0.1:\(port)"]
        let unset = ["PYTHONDONTWRITEBYTECODE", "UV_CACHE_DIR", "UV_NO_CACHE"]

        let viaUv = base + "/uv-run.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", viaUv] + server + ["--", "uv", "run", "--offline", "app.py"],
                                env: env, unset: unset, cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let rep = try report(viaUv)
        let remedies = Dictionary(uniqueKeysWithValues: (rep["remedies"] as! [[String: Any]]).map { ($0["id"] as! String, $0) })
        #expect(Set(remedies.keys).isSuperset(of: ["uv-cache", "uv-venv-sync", "cpython-pycache"]), "\(remedies.keys.sorted())")
        #expect((remedies["uv-cache"]?["env"] as? [String: String]) == ["UV_NO_CACHE": "1"])
        #expect((remedies["cpython-pycache"]?["env"] as? [String: String]) == ["PYTHONDONTWRITEBYTECODE": "1"])
        let uvCache = try #require(remedies["uv-cache"]?["paths"] as? [String])
        #expect(uvCache.contains { $0.hasPrefix(home + "/.cache/uv") }, "what uv run writes: its cache under $HOME")
        let text = try Support.run([roprof, "report", viaUv]).stdout
        #expect(text.contains(".venv/bin/python"), "the advice: run the venv's python directly")
        #expect(text.contains(app + "/.venv"), "uv run writes into the project's .venv (its sync lock)")
        let ecs = try json(try Support.run([roprof, "suggest", "--format", "ecs", viaUv]).stdout)
        let def = try #require((ecs["containerDefinitions"] as? [[String: Any]])?.first)
        #expect(def["readonlyRootFilesystem"] as? Bool == true)
        let ecsEnv = Dictionary(uniqueKeysWithValues: (def["environment"] as! [[String: String]]).map { ($0["name"]!, $0["value"]!) })
        #expect(ecsEnv["PYTHONDONTWRITEBYTECODE"] == "1" && ecsEnv["UV_NO_CACHE"] == "1", "\(ecsEnv)")

        // The remedies applied: the venv's python, no bytecode writing. Nothing to mount at all.
        var direct = env
        direct["PYTHONDONTWRITEBYTECODE"] = "1"
        let cmd = [app + "/.venv/bin/python", "app.py"]
        let venvRec = base + "/venv.json"
        let d = try Support.run([roprof, "record", "--quiet", "-o", venvRec] + server + ["--"] + cmd, env: direct, unset: unset, cwd: app)
        #expect(d.stderr.contains("--while exercise exited with status 0"), "\(d.stderr)")
        let drep = try report(venvRec)
        #expect((drep["mounts"] as! [Any]).isEmpty, "\(drep["mounts"]!)")
        #expect((drep["breaking"] as! [Any]).isEmpty)
        let decs = try json(try Support.run([roprof, "suggest", "--format", "ecs", venvRec]).stdout)
        let ddef = try #require((decs["containerDefinitions"] as? [[String: Any]])?.first)
        #expect(ddef["readonlyRootFilesystem"] as? Bool == true)
        #expect((ddef["mountPoints"] as? [Any])?.isEmpty == true && (decs["volumes"] as? [Any])?.isEmpty == true)
        let v = try Support.run([roprof, "verify", "--quiet", "--from", venvRec] + server + ["--"] + cmd, env: direct, unset: unset, cwd: app)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS") && v.stdout.contains("0 mounts"), "\(v.stdout)")
    }

    /// 2. One image, four services under tini: each recorded with --name, merged, and emitted as one
    /// Deployment per long-running service plus a CronJob, sharing one claim for the data directory.
    @Test func multiServiceImageUnderTini() throws {
        _ = try Support.which("tini")
        let base = try install("multiservice")
        let home = base + "/home"
        let scratchDirs = ["/var/log/app", "/run/app"]  // the services create them (as in a fresh image)
        for d in scratchDirs { try? FileManager.default.removeItem(atPath: d) }
        defer {
            try? FileManager.default.removeItem(atPath: base)
            for d in scratchDirs { try? FileManager.default.removeItem(atPath: d) }
        }
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let port = 24000 + Int(getpid() % 1000)
        let env = ["HOME": home, "PORT": "\(port)", "PATH": Self.systemPath]
        let unset = ["PYTHONDONTWRITEBYTECODE"]
        let entry = base + "/multiservice/entrypoint.sh"
        func cmd(_ s: String) -> [String] { ["tini", "-s", "--", entry, s] }
        let web = ["--ready-url", "http://127.0.0.1:\(port)/health", "--while",
                   "/usr/bin/python3 -c \"import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:\(port)/jobs?name=a', data=b'')).read(); u.urlopen('http://127.0.0.1:\(port)/jobs').read()\""]
        var recs: [String] = []
        for (service, extra) in [("webserver", web), ("jobqueue", ["--for", "1.5"]), ("dirmonitor", ["--for", "1.5"]), ("engine", [])] {
            if service == "dirmonitor" {  // a file arrives in the inbox
                try FileManager.default.createDirectory(atPath: home + "/appdata/inbox", withIntermediateDirectories: true)
                try "a,b\n".write(toFile: home + "/appdata/inbox/upload.csv", atomically: true, encoding: .utf8)
            }
            let rec = base + "/\(service).json"
            let r = try Support.run([roprof, "record", "--quiet", "--name", service, "-o", rec] + extra + ["--"] + cmd(service), env: env, unset: unset)
            #expect(r.status == 0, "\(service): \(r.stderr)")
            recs.append(rec)
        }
        let merged = base + "/app.json"
        let m = try Support.run([roprof, "merge", "-o", merged] + recs)
        #expect(m.status == 0, "\(m.stderr)")
        let rep = try report(merged)
        let mounts = Dictionary(uniqueKeysWithValues: (rep["mounts"] as! [[String: Any]]).map { ($0["path"] as! String, $0["kind"] as! String) })
        // /run/app, not /run: the host's /run holds other entries a mount would hide.
        #expect(mounts == ["/run/app": "tmpfs", "/tmp": "tmpfs", "/var/log/app": "tmpfs", home + "/appdata": "persistent"], "\(mounts)")
        let text = try Support.run([roprof, "report", merged]).stdout
        #expect(text.contains("--workloads") && text.contains("--service jobqueue -- tini -s -- \(entry) jobqueue"), "the next steps name the services:\n\(text)")

        let out = try Support.run([roprof, "suggest", "--format", "kubernetes", "--workloads", "--image", "registry.example.com/app:2.1",
                                   "--schedule", "engine=*/30 * * * *", merged])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("ReadWriteMany"), "the shared claim is explained: \(out.stderr)")
        let docs = try Yams.load_all(yaml: out.stdout).map { $0 as! [String: Any] }
        func named(_ kind: String) -> [String: [String: Any]] {
            Dictionary(uniqueKeysWithValues: docs.filter { $0["kind"] as? String == kind }.map { (($0["metadata"] as! [String: Any])["name"] as! String, $0) })
        }
        #expect(Set(named("Deployment").keys) == ["webserver", "jobqueue", "dirmonitor"])
        let cron = try #require(named("CronJob")["engine"])
        #expect((cron["spec"] as! [String: Any])["schedule"] as? String == "*/30 * * * *")
        let claims = named("PersistentVolumeClaim")
        #expect(claims.count == 1)
        #expect(((claims.values.first?["spec"] as? [String: Any])?["accessModes"] as? [String]) == ["ReadWriteMany"])
        // Each service gets only what its own writes need.
        func mountPaths(_ workload: [String: Any], cron: Bool = false) -> Set<String> {
            var spec = workload["spec"] as! [String: Any]
            if cron { spec = (spec["jobTemplate"] as! [String: Any])["spec"] as! [String: Any] }
            let pod = (spec["template"] as! [String: Any])["spec"] as! [String: Any]
            let c = (pod["containers"] as! [[String: Any]])[0]
            return Set(((c["volumeMounts"] as? [[String: Any]]) ?? []).map { $0["mountPath"] as! String })
        }
        let d = named("Deployment")
        #expect(mountPaths(d["jobqueue"]!).contains("/tmp"), "jobqueue's heartbeat file")
        #expect(!mountPaths(d["webserver"]!).contains("/tmp"))
        #expect(mountPaths(cron, cron: true) == [home + "/appdata", "/var/log/app"], "\(mountPaths(cron, cron: true))")
        for (_, w) in d { #expect(mountPaths(w).contains(home + "/appdata")) }
        let v = try EmitterTests().kubernetesValidate(out.stdout)
        #expect(v.status == 0, "kubernetes-validate: \(v.stdout)\(v.stderr)")

        // Each service's own subset runs under a read-only root.
        let ok = try Support.run([roprof, "verify", "--quiet", "--from", merged, "--service", "webserver"] + web + ["--"] + cmd("webserver"), env: env, unset: unset)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        for s in ["jobqueue", "engine"] {
            let o = try Support.run([roprof, "verify", "--quiet", "--from", merged, "--service", s] + (s == "engine" ? [] : ["--for", "1.5"]) + ["--"] + cmd(s),
                                    env: env, unset: unset)
            #expect(o.status == 0, "\(s): \(o.stdout)\(o.stderr)")
        }
    }

    /// 5. FastAPI + Uvicorn in a uv-built venv, non-root: the full Deployment patch passes the
    /// restricted Pod Security Standard and the Kubernetes schemas, and verifies.
    @Test func fastapiUvBuiltVenvForARestrictedPod() throws {
        let (base, app) = try uvProject("fastapi-uv", compile: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let port = 25000 + Int(getpid() % 1000)
        let env = ["HOME": "/nonexistent", "PATH": Self.systemPath]
        let unset = ["PYTHONDONTWRITEBYTECODE"]
        let cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", app + "/.venv/bin/uvicorn", "main:app", "--port", "\(port)"]
        let server = ["--ready-url", "http://127.0.0.1:\(port)/health", "--while",
                      "/usr/bin/python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:\(port)/quotes').read(); u.urlopen(u.Request('http://127.0.0.1:\(port)/quotes', data=b'Simple is better than complex.')).read()\""]
        let rec = base + "/quotes.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec] + server + ["--"] + cmd, env: env, unset: unset, cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let rep = try report(rec)
        let mounts = (rep["mounts"] as! [[String: Any]]).map { "\($0["path"]!) \($0["kind"]!)" }
        #expect(mounts == ["/tmp tmpfs"], "Starlette spools the body through tempfile (O_TMPFILE in /tmp): \(mounts)")
        #expect((rep["remedies"] as! [[String: Any]]).contains { $0["id"] as? String == "cpython-pycache" },
                "main.py is not in the venv `uv sync --compile-bytecode` compiled")

        let manifest = Support.packageRoot.appendingPathComponent("Fixtures/manifests/quotes.yaml").path
        let out = try Support.run([roprof, "suggest", "--format", "kubernetes", "--manifest", manifest, "--container", "quotes", rec])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("Pod Security Standards: Deployment/quotes meets restricted") && !out.stderr.contains("not restricted"), "\(out.stderr)")
        for needle in ["readOnlyRootFilesystem: true", "runAsNonRoot: true", "runAsUser: 65534", "allowPrivilegeEscalation: false",
                       "type: Localhost", "localhostProfile: profiles/roprof-seccomp.json", "mountPath: /tmp", "medium: Memory",
                       "name: PYTHONDONTWRITEBYTECODE"] {
            #expect(out.stdout.contains(needle), "missing \(needle):\n\(out.stdout)")
        }
        #expect(try RestrictedPSS.violations(out.stdout) == [])
        #expect(try RestrictedPSS.violations(String(contentsOfFile: manifest, encoding: .utf8)).count >= 4, "the unpatched manifest is not restricted")
        let v = try EmitterTests().kubernetesValidate(out.stdout)
        #expect(v.status == 0, "kubernetes-validate: \(v.stdout)\(v.stderr)")

        let ok = try Support.run([roprof, "verify", "--quiet", "--from", rec] + server + ["--"] + cmd, env: env, unset: unset, cwd: app)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
    }
}
