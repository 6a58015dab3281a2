import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Debian's own PostgreSQL, Apache, Redis, lighttpd, Mosquitto, beanstalkd and HAProxy (installed by .ci/setup, configured as the packages ship
/// them), recorded doing real work, then run under a read-only root with exactly the suggested
/// mounts and seccomp profile (`verify`, the sandbox). State must survive a restart.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DebianServerTests {
    let roprof = Support.roprof

    /// `python3 -c` that POSTs/GETs a URL and appends the body to a file (the exercise runs outside the sandbox).
    static func fetch(_ url: String, appendTo file: String? = nil) -> String {
        "python3 -c \"import urllib.request as u; b=u.urlopen('\(url)').read().decode().strip()\(file.map { "; open('\($0)','a').write(b+'\\\\n')" } ?? "")\""
    }

    func suggestedDocker(_ rec: String) throws -> String {
        let s = try Support.run([roprof, "suggest", "--format", "docker", "--runtime", "docker", rec])
        #expect(s.status == 0, "\(s.stderr)")
        return s.stdout
    }

    @Test func redisKeepsItsKeysAcrossARestartUnderTheSuggestedSettings() throws {
        let server = try Support.which("redis-server"), cli = try Support.which("redis-cli")
        let port = 6391, dir = Support.scratch("redis"), rec = dir + "/redis.json", counts = dir + "/hits"
        let cmd = ["setpriv", "--reuid=redis", "--regid=redis", "--init-groups", server, "/etc/redis/redis.conf",
                   "--port", "\(port)", "--daemonize", "no", "--appendonly", "yes", "--logfile", ""]
        let work = "\(cli) -p \(port) set greeting hello >/dev/null && \(cli) -p \(port) incr hits >/dev/null && \(cli) -p \(port) bgsave >/dev/null && sleep 1"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "127.0.0.1:\(port)", "--while", work, "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("--mount=type=volume,source=roprof-var-lib-redis,destination=/var/lib/redis"), "the data dir is a volume:\n\(docker)")
        #expect(!docker.contains("destination=/var/lib/redis,tmpfs"), "never memory for Redis's data")
        let report = try Support.run([roprof, "report", "--runtime", "docker", rec]).stdout
        #expect(report.contains("state: must survive restarts") && (report.contains("fdatasync") || report.contains("fsync")), "\(report)")
        #expect(report.contains("redis-server"), "the process is named as it was run, not redis-check-rdb:\n\(report)")
        #expect(report.contains("temp-*.rdb"), "per-run names are generalised:\n\(report)")

        let exercise = "\(cli) -p \(port) incr visits >> \(counts) && \(cli) -p \(port) get greeting >> \(counts)"
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "127.0.0.1:\(port)",
                                 "--while", exercise, "--"] + cmd)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS") && v.stdout.contains("restart"), "\(v.stdout)")
        let lines = try String(contentsOfFile: counts, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 4 && lines[1] == "hello" && lines[3] == "hello", "\(lines)")
        if lines.count == 4, let a = Int(lines[0]), let b = Int(lines[2]) { #expect(b == a + 1, "the counter survived the restart: \(lines)") }
    }

    @Test func postgresStartsAndKeepsItsRowsUnderTheSuggestedSettings() throws {
        let bin = try #require(((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted().last.map { "/usr/lib/postgresql/\($0)/bin" },
                               "postgresql is not installed: run .ci/setup (apt-get install postgresql)")
        let version = URL(fileURLWithPath: bin).deletingLastPathComponent().lastPathComponent
        let data = "/var/lib/postgresql/\(version)/main", conf = "/etc/postgresql/\(version)/main/postgresql.conf"
        let psql = try Support.which("psql")
        // Trust on loopback for the exercise (which runs outside the sandbox), readable by postgres.
        try FileManager.default.createDirectory(atPath: "/etc/roprof-test", withIntermediateDirectories: true)
        try "local all all peer\nhost all all 127.0.0.1/32 trust\n".write(toFile: "/etc/roprof-test/pg_hba.conf", atomically: true, encoding: .utf8)
        chmod("/etc/roprof-test/pg_hba.conf", 0o644)
        let port = 5441, dir = Support.scratch("pg"), rec = dir + "/pg.json", counts = dir + "/rows"
        let cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", bin + "/postgres", "-D", data, "-c", "config_file=\(conf)",
                   "-p", "\(port)", "-c", "logging_collector=off", "-c", "hba_file=/etc/roprof-test/pg_hba.conf"]
        let sql = "\(psql) -q -h 127.0.0.1 -p \(port) -U postgres -d postgres -tA -c 'create table if not exists roprof_visits(n serial primary key)' -c 'insert into roprof_visits default values' -c 'select count(*) from roprof_visits'"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "127.0.0.1:\(port)", "--while", sql, "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("destination=/run/postgresql,"), "narrowed to /run/postgresql, never /run:\n\(docker)")
        #expect(!docker.contains("destination=/run,") && !docker.contains("destination=/var/run,"), "\(docker)")
        #expect(docker.contains("--mount=type=volume,source=") && docker.contains("destination=\(data)"), "\(docker)")
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "127.0.0.1:\(port)",
                                 "--while", sql + " >> \(counts)", "--"] + cmd)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS") && v.stdout.contains("restart"), "\(v.stdout)")
        let rows = try String(contentsOfFile: counts, encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
        #expect(rows.count == 2 && rows[1] == rows[0] + 1, "the second start found the first one's row: \(rows)")
    }

    @Test func apacheStartsUnderTheSuggestedSettings() throws {
        let ctl = try Support.which("apache2ctl")
        // As in a fresh container: the package ships neither; apache2ctl creates them at start.
        for leftover in ["/run/apache2", "/run/lock/apache2"] { try? FileManager.default.removeItem(atPath: leftover) }
        let dir = Support.scratch("apache"), rec = dir + "/apache.json"
        let work = (1...3).map { _ in Self.fetch("http://127.0.0.1:80/") }.joined(separator: " && ")
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "http://127.0.0.1:80/", "--while", work, "--", ctl, "-D", "FOREGROUND"])
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("destination=/run/apache2,") && docker.contains("destination=/run/lock,"), "narrowed, one name per place:\n\(docker)")
        #expect(!docker.contains("destination=/run,") && !docker.contains("destination=/var/run") && !docker.contains("destination=/var/lock"), "\(docker)")
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "http://127.0.0.1:80/",
                                 "--while", Self.fetch("http://127.0.0.1:80/"), "--", ctl, "-D", "FOREGROUND"])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS"))
    }

    /// lighttpd's mod_deflate keeps compressed copies under /var/cache/lighttpd/compress, in a tree
    /// that copies the docroot's path, renamed into place. It is a cache at the cache's root: a tmpfs
    /// there serves a file the recording never asked for, not a volume at a copy of the docroot.
    @Test func lighttpdCompressionCacheIsATmpfsAtItsRoot() throws {
        let server = try Support.which("lighttpd")
        let root = "/srv/roprof-test-lighttpd", port = 8391
        try? FileManager.default.removeItem(atPath: root)
        for d in ["www/css", "www/js"] { try FileManager.default.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true) }
        try ("<h1>hello</h1>\n" + String(repeating: "<p>text</p>\n", count: 300)).write(toFile: "\(root)/www/index.html", atomically: true, encoding: .utf8)
        try String(repeating: "body { color: red }\n", count: 300).write(toFile: "\(root)/www/css/site.css", atomically: true, encoding: .utf8)
        try String(repeating: "var a = 1;\n", count: 300).write(toFile: "\(root)/www/js/app.js", atomically: true, encoding: .utf8)
        try """
        server.modules = ( "mod_deflate" )
        server.document-root = "\(root)/www"
        server.port = \(port)
        server.bind = "127.0.0.1"
        server.username = "www-data"
        server.groupname = "www-data"
        server.pid-file = "/run/lighttpd-roprof-test.pid"
        mimetype.assign = ( ".html" => "text/html", ".css" => "text/css", ".js" => "application/javascript" )
        deflate.cache-dir = "/var/cache/lighttpd/compress/"
        deflate.mimetypes = ( "text/html", "text/css", "application/javascript" )
        deflate.allowed-encodings = ( "gzip" )

        """.write(toFile: "\(root)/lighttpd.conf", atomically: true, encoding: .utf8)
        // As the package ships it: an empty cache.
        let cache = "/var/cache/lighttpd/compress"
        for e in (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [] { try? FileManager.default.removeItem(atPath: "\(cache)/\(e)") }
        let dir = Support.scratch("lighttpd"), rec = dir + "/lighttpd.json", encodings = dir + "/encodings"
        /// GETs a path with gzip accepted and appends the response's Content-Encoding to `encodings`.
        func gzipGet(_ path: String) -> String {
            "python3 -c \"import urllib.request as u; r=u.urlopen(u.Request('http://127.0.0.1:\(port)\(path)', headers={'Accept-Encoding': 'gzip'})); r.read(); open('\(encodings)','a').write(str(r.headers.get('Content-Encoding'))+'\\\\n')\""
        }
        let cmd = [server, "-D", "-f", "\(root)/lighttpd.conf"]
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "http://127.0.0.1:\(port)/",
                                 "--while", gzipGet("/css/site.css") + " && " + gzipGet("/index.html"), "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("--mount=type=tmpfs,destination=\(cache),"), "a tmpfs at the cache's root:\n\(docker)")
        #expect(!docker.contains("\(cache)/srv") && !docker.contains("type=volume"), "not a volume at a copy of the docroot:\n\(docker)")
        let report = try Support.run([roprof, "report", "--runtime", "docker", rec]).stdout
        #expect(report.contains("cache: the app rebuilds it"), "\(report)")

        try? FileManager.default.removeItem(atPath: encodings)
        // Another file than the recorded ones: a directory of the cache the recording never saw.
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "http://127.0.0.1:\(port)/",
                                 "--while", gzipGet("/js/app.js") + " && " + gzipGet("/css/site.css"), "--"] + cmd)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("PASS"), "\(v.stdout)")
        #expect(!(v.stdout + v.stderr).contains("Read-only file system"), "the cache was writable:\n\(v.stdout)\(v.stderr)")
        let got = (try? String(contentsOfFile: encodings, encoding: .utf8)) ?? ""
        #expect(got.split(separator: "\n") == ["gzip", "gzip"], "compressed through the cache in the sandbox: \(got)")
    }

    /// Debian's Mosquitto with the package's own configuration. As in a fresh container its pid
    /// directory is missing: the start fails, and record says so (a failed start, not a read-only
    /// problem "the app carried on"), with /run/mosquitto as the mount. Given the directory, a retained
    /// message published on the first start is there after the restart under the printed settings.
    @Test func mosquittoKeepsARetainedMessageAcrossARestart() throws {
        let server = try Support.which("mosquitto"), pub = try Support.which("mosquitto_pub"), sub = try Support.which("mosquitto_sub")
        let dir = Support.scratch("mosquitto"), rec = dir + "/mq.json", got = dir + "/got"
        let cmd = [server, "-c", "/etc/mosquitto/mosquitto.conf"]
        try? FileManager.default.removeItem(atPath: "/run/mosquitto")
        try? FileManager.default.removeItem(atPath: "/var/lib/mosquitto/mosquitto.db")
        let failed = try Support.run([roprof, "record", "--quiet", "-o", dir + "/failed.json", "--ready-url", "127.0.0.1:1883", "--while", "\(pub) -t t/1 -m x", "--"] + cmd)
        #expect(failed.status == 1 && failed.stderr.contains("failed start"), "\(failed.stderr)")
        let failedReport = try Support.run([roprof, "report", "--runtime", "docker", dir + "/failed.json"]).stdout
        #expect(failedReport.contains("/run/mosquitto") && !failedReport.contains("carried on"), "\(failedReport)")

        _ = try Support.run(["install", "-d", "-o", "mosquitto", "/run/mosquitto"])
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "127.0.0.1:1883", "--while", "\(pub) -t t/1 -m hello -r -q 1", "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("--mount=type=volume,source=roprof-var-lib-mosquitto,destination=/var/lib/mosquitto"), "\(docker)")
        #expect(docker.contains("--mount=type=tmpfs,destination=/run/mosquitto,"), "\(docker)")
        // First start: publish a retained message; restart: read it back.
        let exercise = "if [ \"$ROPROF_PHASE\" = first ]; then \(pub) -t t/1 -m kept -r -q 1; else \(sub) -t t/1 -C 1 -W 10 >> \(got); fi"
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "127.0.0.1:1883", "--while", exercise, "--"] + cmd)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("restart"), "\(v.stdout)\(v.stderr)")
        #expect((try? String(contentsOfFile: got, encoding: .utf8)) == "kept\n", "the retained message survived the restart")
    }

    /// Debian's beanstalkd with its binlog: a queued job survives restarts, and the binlog's old
    /// segments are removed on a later start — a call the recorded starts never made, which the
    /// printed seccomp profile allows from the evidence (numbered durable segments), saying why.
    @Test func beanstalkdKeepsItsJobsAndMayDropOldSegments() throws {
        let server = try Support.which("beanstalkd")
        let dir = Support.scratch("beanstalkd"), rec = dir + "/bs.json", got = dir + "/got", client = dir + "/client.py"
        try """
        import os, socket, sys
        f = socket.create_connection(("127.0.0.1", 11301)).makefile("rwb")
        def cmd(c, body=None):
            f.write(c.encode() + b"\\r\\n" + (body + b"\\r\\n" if body is not None else b"")); f.flush()
            return f.readline().decode().strip()
        if os.environ.get("ROPROF_PHASE", "first") == "first":
            print(cmd("put 0 0 60 4", b"job1"))
        else:
            found = cmd("peek-ready")
            open(sys.argv[1], "a").write((f.readline().decode().strip() if found.startswith("FOUND") else found) + "\\n")

        """.write(toFile: client, atomically: true, encoding: .utf8)
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/var/lib/beanstalkd")) ?? [] { try? FileManager.default.removeItem(atPath: "/var/lib/beanstalkd/" + e) }
        let cmd = ["setpriv", "--reuid=beanstalkd", "--regid=beanstalkd", "--init-groups", server, "-l", "127.0.0.1", "-p", "11301", "-b", "/var/lib/beanstalkd"]
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "127.0.0.1:11301", "--while", "/usr/bin/python3 \(client) \(got)", "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("--mount=type=volume,source=roprof-var-lib-beanstalkd,destination=/var/lib/beanstalkd"), "\(docker)")
        let report = try Support.run([roprof, "report", "--runtime", "docker", rec]).stdout
        #expect(report.contains("allows unlink, unlinkat although unseen") && report.contains("binlog.1"), "\(report)")
        let profile = try Support.run([roprof, "suggest", "--format", "seccomp", rec]).stdout
        #expect(profile.contains("\"unlinkat\""), "the printed profile allows it")
        // The volume starts with what the recorded starts left (as a named volume of a used image
        // does), so this start replays two segments and drops one.
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "127.0.0.1:11301",
                                 "--while", "/usr/bin/python3 \(client) \(got)", "--"] + cmd)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("restart"), "\(v.stdout)\(v.stderr)")
        #expect((try? String(contentsOfFile: got, encoding: .utf8))?.contains("job1") == true, "the job survived the restart")
    }

    /// Debian's HAProxy with the package's configuration (it chroots to /var/lib/haproxy and keeps a
    /// stats socket in /run/haproxy): the printed settings add SYS_CHROOT, and verify runs it with
    /// exactly the printed capabilities — without SYS_CHROOT it fails there, as it would in Docker.
    @Test func haproxyChrootsWithThePrintedCapabilities() throws {
        let server = try Support.which("haproxy")
        let dir = Support.scratch("haproxy"), rec = dir + "/hp.json", front = dir + "/front.cfg"
        try "frontend web\n\tbind 127.0.0.1:8394\n\thttp-request return status 200 content-type text/plain string ok\n".write(toFile: front, atomically: true, encoding: .utf8)
        _ = try Support.run(["install", "-d", "-o", "haproxy", "/run/haproxy"])
        let cmd = [server, "-db", "-f", "/etc/haproxy/haproxy.cfg", "-f", front]
        let drive = ["--ready-url", "http://127.0.0.1:8394/", "--while", Self.fetch("http://127.0.0.1:8394/")]
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec] + drive + ["--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("--cap-add=SYS_CHROOT") && docker.contains("destination=/run/haproxy,"), "\(docker)")
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec] + drive + ["--"] + cmd)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("SYS_CHROOT"), "\(v.stdout)\(v.stderr)")
        // A recording that never saw the chroot: the printed settings lack the capability, and verify
        // (seccomp aside) says FAIL instead of a PASS that Docker would contradict.
        var blind = try Recording.load(path: rec)
        for arch in blind.syscalls.keys { blind.syscalls[arch]?["chroot"] = nil }
        try blind.write(to: dir + "/blind.json")
        let b = try Support.run([roprof, "verify", "--quiet", "--no-seccomp", "--runtime", "docker", "--from", dir + "/blind.json"] + drive + ["--"] + cmd)
        #expect(b.status == 1 && b.stdout.contains("FAIL"), "\(b.stdout)\(b.stderr)")
    }

    /// Debian's MariaDB, started as an entrypoint would: the socket directory made and handed over with
    /// `install -d`, the server dropping to mysql by itself. While recording, ptrace answers its
    /// io_uring and AIO setup ENOSYS and it falls back to plain I/O; the printed profile must answer
    /// the same (allowing the setup alone would let it start io_uring and then deny io_uring_enter).
    /// It serves over TCP under the printed settings and its rows survive the restart.
    @Test func mariadbKeepsItsRowsAndGetsTheAnswerItFellBackOn() throws {
        let server = try Support.which("mariadbd"), client = try Support.which("mariadb"), installDB = try Support.which("mariadb-install-db")
        let data = "/var/lib/roprof-test-mariadb", port = 3319, dir = Support.scratch("mariadb"), rec = dir + "/rec.json", counts = dir + "/rows"
        try? FileManager.default.removeItem(atPath: data)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let inst = try Support.run([installDB, "--user=mysql", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"])
        #expect(inst.status == 0, "\(inst.stdout)\(inst.stderr)")
        try? FileManager.default.removeItem(atPath: "/run/mysqld")  // as in a fresh container
        let entry = "install -d -o mysql -g mysql -m 0755 /run/mysqld && exec \(server) --user=mysql --datadir=\(data) --port=\(port) --bind-address=127.0.0.1"
        let sql = "\(client) -h 127.0.0.1 -P \(port) -uroot -N -e \"create database if not exists shop; create table if not exists shop.items(id int primary key auto_increment, name text); insert into shop.items(name) values ('a'); select count(*) from shop.items\""
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--ready-url", "tcp://127.0.0.1:\(port)", "--while", sql, "--", "/bin/sh", "-c", entry])
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try suggestedDocker(rec)
        #expect(docker.contains("destination=/run/mysqld,") && docker.contains("destination=\(data)"), "\(docker)")
        #expect(docker.contains("--cap-add=FOWNER"), "install -d sets the mode after handing the directory over: \(docker)")
        // The profile: io_uring_setup and io_setup answered ENOSYS, not allowed.
        let profile = try Support.run([roprof, "suggest", "--format", "seccomp", rec])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(profile.stdout.utf8)) as? [String: Any])
        let rules = json["syscalls"] as? [[String: Any]] ?? []
        let allowed = Set(rules.filter { $0["action"] as? String == "SCMP_ACT_ALLOW" }.flatMap { $0["names"] as? [String] ?? [] })
        let enosys = Set(rules.filter { $0["errnoRet"] as? Int == 38 }.flatMap { $0["names"] as? [String] ?? [] })
        #expect(enosys.isSuperset(of: ["io_uring_setup", "io_setup"]) && allowed.isDisjoint(with: ["io_uring_setup", "io_setup"]), "\(rules)")
        try? FileManager.default.removeItem(atPath: "/run/mysqld")
        let v = try Support.run([roprof, "verify", "--quiet", "--runtime", "docker", "--from", rec, "--ready-url", "tcp://127.0.0.1:\(port)",
                                 "--while", sql + " >> \(counts)", "--", "/bin/sh", "-c", entry])
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("restart"), "\(v.stdout)\(v.stderr)")
        let rows = ((try? String(contentsOfFile: counts, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int($0) }
        #expect(rows.count == 2 && rows[1] == rows[0] + 1, "the second start found the first one's rows: \(rows)")
    }
}
