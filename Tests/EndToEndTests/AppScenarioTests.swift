import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Real application scenarios (Fixtures/apps/), profiled and proven end to end: record with
/// --ready-url and requests, check the report's mounts, kinds and remedies, then verify.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct AppScenarioTests {
    static let venv = "/opt/roprof-apps/venv/bin"
    let roprof = Support.roprof

    /// Copies a fixture app outside /tmp (as in an image) and returns its directory.
    func install(_ app: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: Self.venv + "/gunicorn") else {
            throw Support.MissingTool(tool: "the app virtual environment (bash .ci/setup creates /opt/roprof-apps/venv)")
        }
        let base = "/srv/roprof-apps-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Support.packageRoot.appendingPathComponent("Fixtures/apps/\(app)").path, toPath: base + "/\(app)")
        _ = try Support.run(["chmod", "-R", "a+rX", base])
        return base
    }

    func env(_ extra: [String: String]) -> [String: String] {
        var e = extra
        e["PATH"] = Self.venv + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return e
    }

    func exercise(_ url: String) -> String {
        "python3 -c \"import urllib.request as u; [u.urlopen('\(url)').read() for i in range(3)]\""
    }

    func report(_ rec: String) throws -> [String: Any] {
        let o = try Support.run([roprof, "report", "--format", "json", rec])
        return try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as! [String: Any]
    }

    @Test func gunicornFlaskSPA() throws {
        let base = try install("gunicorn-spa")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let port = 21000 + Int(getpid() % 1000)
        let app = base + "/gunicorn-spa"
        let cmd = [Self.venv + "/gunicorn", "--bind", "127.0.0.1:\(port)", "--workers", "2", "app:app"]
        let server = ["--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise("http://127.0.0.1:\(port)/")]
        let rec = base + "/rec.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec] + server + ["--"] + cmd,
                                env: env([:]), cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let rep = try report(rec)
        let mounts = (rep["mounts"] as! [[String: Any]])
        let tmp = try #require(mounts.first { $0["path"] as? String == "/tmp" }, "gunicorn's heartbeat files need /tmp")
        #expect(tmp["kind"] as? String == "tmpfs")
        #expect((tmp["covers"] as! [String]).contains("wgunicorn-*"))
        #expect((tmp["remedies"] as! [String]).contains("gunicorn-worker-tmp"))
        let remedies = (rep["remedies"] as! [[String: Any]]).map { $0["id"] as! String }
        #expect(remedies.contains("gunicorn-worker-tmp"))
        let v = try Support.run([roprof, "verify", "--quiet", "--from", rec] + server + ["--"] + cmd, env: env([:]), cwd: app)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS"))
    }

    @Test func fastapiAlembicSQLiteAsNonRoot() throws {
        let base = try install("fastapi-sqlite")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let data = base + "/data/db"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        _ = try Support.run(["chmod", "-R", "777", base + "/data"])
        let port = 22000 + Int(getpid() % 1000)
        let app = base + "/fastapi-sqlite"
        let e = env(["DATABASE_URL": "sqlite+aiosqlite:///\(data)/app.db", "PORT": "\(port)", "HOME": "/nonexistent"])
        let cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", app + "/entrypoint.sh"]
        let server = ["--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise("http://127.0.0.1:\(port)/items/a")]
        let rec = base + "/rec.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec] + server + ["--"] + cmd, env: e, cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let rep = try report(rec)
        let mounts = rep["mounts"] as! [[String: Any]]
        let db = try #require(mounts.first { $0["path"] as? String == data }, "mounts: \(mounts.map { $0["path"]! })")
        #expect(db["kind"] as? String == "persistent", "a database is not a tmpfs")
        #expect((db["reason"] as! String).contains("must survive restarts"))
        // Non-root, so the Kubernetes patch can meet the restricted Pod Security Standard.
        let k8s = try Support.run([roprof, "suggest", "--format", "kubernetes", rec])
        #expect(k8s.stdout.contains("runAsNonRoot: true") && k8s.stdout.contains("runAsUser: 65534"), "\(k8s.stdout)")
        #expect(!k8s.stderr.contains("Pod Security Standards"), "\(k8s.stderr)")
        // The migrations run again on the fresh volume the sandbox mounts, and the app serves.
        try? FileManager.default.removeItem(atPath: data + "/app.db")
        let v = try Support.run([roprof, "verify", "--quiet", "--from", rec] + server + ["--"] + cmd, env: e, cwd: app)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    }

    /// Django's `manage.py collectstatic` in the entrypoint (Fixtures/apps/djangostatic): STATIC_ROOT
    /// is regenerable build output — a scratch tmpfs and the remedy "collect in the image build",
    /// never a volume of state; under exactly the printed settings the page that reads the collected
    /// files serves.
    @Test func djangoCollectstaticAtStartIsScratchWithABuildRemedy() throws {
        let base = try install("djangostatic")
        defer { try? FileManager.default.removeItem(atPath: base) }
        guard FileManager.default.fileExists(atPath: Self.venv + "/django-admin") else {
            throw Support.MissingTool(tool: "Django in /opt/roprof-apps/venv (bash .ci/setup installs it)")
        }
        let port = 23000 + Int(getpid() % 1000)
        let app = base + "/djangostatic", staticRoot = app + "/staticfiles", body = base + "/body"
        let e = env(["PORT": "\(port)"])
        let fetch = "python3 -c \"import urllib.request as u; open('\(body)','a').write(u.urlopen('http://127.0.0.1:\(port)/').read().decode())\""
        let server = ["--ready-url", "http://127.0.0.1:\(port)/", "--while", fetch]
        let rec = base + "/rec.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec] + server + ["--", app + "/entrypoint.sh"], env: e, cwd: app)
        #expect(r.stderr.contains("--while exercise exited with status 0"), "\(r.stderr)")
        let rep = try report(rec)
        let mounts = rep["mounts"] as! [[String: Any]]
        let st = try #require(mounts.first { $0["path"] as? String == staticRoot }, "mounts: \(mounts.map { $0["path"]! })")
        #expect(st["kind"] as? String == "tmpfs", "collected files are rebuilt on every start: \(st)")
        #expect(!(st["reason"] as! String).contains("database") && !(st["reason"] as! String).contains("must survive"), "\(st)")
        let remedies = rep["remedies"] as! [[String: Any]]
        #expect(remedies.contains { $0["id"] as? String == "django-collectstatic" && ($0["fix"] as? String ?? "").contains("image build") }, "\(remedies)")
        let docker = try Support.run([roprof, "suggest", "--format", "docker", "--runtime", "docker", rec]).stdout
        #expect(docker.contains("--mount=type=tmpfs,destination=\(staticRoot),") && !docker.contains("type=volume"), "\(docker)")
        // The sandbox starts from an image without STATIC_ROOT, as a fresh container does.
        try? FileManager.default.removeItem(atPath: staticRoot)
        try? FileManager.default.removeItem(atPath: body)
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec] + server + ["--", app + "/entrypoint.sh"], env: e, cwd: app)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS"), "\(v.stdout)")
        let served = (try? String(contentsOfFile: body, encoding: .utf8)) ?? ""
        #expect(served.hasPrefix("static ok notes/site.css=") && served.contains("admin/js/core.js="), "the page read the collected files: \(served)")
        #expect(!FileManager.default.fileExists(atPath: staticRoot), "the collected files lived in the sandbox's tmpfs, not on the host")
    }
}

/// nginx (Debian's nginx-light with its own configuration, listening on :80).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct NginxTests {
    @Test func nginxWithTheDebianConfig() throws {
        let nginx = try Support.which("nginx")
        let dir = Support.scratch("nginx")
        let rec = dir + "/nginx.json"
        let server = ["--for", "1", "--ready-url", "http://127.0.0.1:80/"]
        let cmd = [nginx, "-g", "daemon off;"]
        // As in a fresh image: nginx creates its temp directories at start-up (a run on this host leaves them).
        for d in ["body", "fastcgi", "proxy", "scgi", "uwsgi"] { try? FileManager.default.removeItem(atPath: "/var/lib/nginx/" + d) }
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", rec] + server + ["--"] + cmd, cwd: "/")
        #expect(r.status == 0 || r.status == 143, "\(r.stderr)")
        let rep = try JSONSerialization.jsonObject(with: Data(try Support.run([Support.roprof, "report", "--format", "json", rec]).stdout.utf8)) as! [String: Any]
        let mounts = Dictionary(uniqueKeysWithValues: (rep["mounts"] as! [[String: Any]]).map { ($0["path"] as! String, $0) })
        #expect(Set(mounts.keys).isSuperset(of: ["/run", "/var/lib/nginx", "/var/log/nginx"]), "\(mounts.keys.sorted())")
        #expect((mounts["/var/lib/nginx"]?["hidesContent"] as? [String]) == [], "nginx recreates its temp dirs")
        let remedies = Set((rep["remedies"] as! [[String: Any]]).map { $0["id"] as! String })
        #expect(remedies.isSuperset(of: ["nginx-cache", "nginx-pid", "nginx-logs"]))
        let ok = try Support.run([Support.roprof, "verify", "--quiet", "--from", rec] + server + ["--"] + cmd, cwd: "/")
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        for d in ["body", "fastcgi", "proxy", "scgi", "uwsgi"] { try? FileManager.default.removeItem(atPath: "/var/lib/nginx/" + d) }
        let without = try Support.run([Support.roprof, "verify", "--quiet", "--from", rec, "--without", "/var/lib/nginx"] + server + ["--"] + cmd, cwd: "/")
        #expect(without.status != 0)
        #expect(without.stdout.contains("/var/lib/nginx"), "\(without.stdout)")
    }
}
