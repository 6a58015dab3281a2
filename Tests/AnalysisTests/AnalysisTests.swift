import Foundation
import Testing
import TestSupport
@testable import Analysis
@testable import TraceModel


@Suite struct AnalysisTests {
    let catalog = try! ProfileCatalog.load()

    func analyze(_ r: Recording, runtime: String = "kubernetes", dirs: [String: [String]] = [:]) throws -> Analysis {
        var r = r
        if !dirs.isEmpty { r.filesystem = RecordingFixture.facts(dirs) }
        return try Analyzer(runtime: catalog.runtime(named: runtime), catalog: catalog).analyze(r)
    }

    @Test func classifiesHarmlessBreakingAndUnresolved() throws {
        var unresolved = RecordingFixture.m("sub/x", .create)
        unresolved.unresolved = "the working directory could not be read (ENAMETOOLONG)"
        let r = RecordingFixture.recording([
            RecordingFixture.m("/dev/null", .write), RecordingFixture.m("/dev/shm/sem.x", .create),
            RecordingFixture.m("/tmp/a.txt", .create, bytes: 100), unresolved,
            RecordingFixture.m("/sys/kernel/mm/x", .write),
        ])
        let a = try analyze(r)
        #expect(a.harmless.map(\.path) == ["/dev/null", "/dev/shm/sem.x"])
        #expect(a.breaking.map(\.path) == ["/tmp/a.txt"])
        #expect(a.unknown.map(\.path) == ["sub/x"])
        #expect(a.unfixable.map(\.path) == ["/sys/kernel/mm/x"])
        #expect(a.mounts.map(\.path) == ["/tmp"])
    }

    @Test func tmpIsWritableInPodmanButNotInKubernetes() throws {
        let r = RecordingFixture.recording([RecordingFixture.m("/tmp/a", .create)])
        #expect(try analyze(r, runtime: "kubernetes").breaking.count == 1)
        #expect(try analyze(r, runtime: "podman").breaking.isEmpty)
        #expect(try analyze(r, runtime: "systemd").breaking.isEmpty)
        #expect(try analyze(r, runtime: "docker").breaking.count == 1)
    }

    @Test func failedWritesStillCountAndAreMarked() throws {
        // Refused with EROFS (a read-only place already): it breaks, and is marked as failed.
        let r = RecordingFixture.recording([RecordingFixture.m("/app/cache/x", .create, errors: ["EROFS": 2])])
        let a = try analyze(r)
        #expect(a.breaking.count == 1)
        #expect(a.breaking[0].allFailed)
        // Refused with EACCES on every attempt: still advice (a read-only root changes the error the app
        // logs, EACCES → EROFS, and gunicorn's control socket shows that can matter).
        let denied = try analyze(RecordingFixture.recording([RecordingFixture.m("/app/cache/x", .create, errors: ["EACCES": 2])]))
        #expect(denied.breaking.count == 1 && denied.breaking[0].allFailed)
        #expect(denied.breaking[0].failsToday && denied.verdict.hasPrefix("nothing new breaks"), "\(denied.verdict)")
        // A pid file in a directory the image lacks (mosquitto's /run/mosquitto): ENOENT is no
        // permission problem — the suggested mount makes the directory — and the start failed.
        var missing = RecordingFixture.recording([RecordingFixture.m("/run/mosquitto/mosquitto.pid", .create, errors: ["ENOENT": 1])])
        missing.runs[0].exit = ExitInfo(code: 1)
        let m = try analyze(missing)
        #expect(!m.breaking[0].failsToday && m.mounts.map(\.path) == ["/run/mosquitto"], "\(m.mounts.map(\.path))")
        #expect(m.verdict.hasPrefix("1 path breaks"), "\(m.verdict)")
        #expect(m.appFailedStatus == 1)
        var deniedThenExit = RecordingFixture.recording([RecordingFixture.m("/app/cache/x", .create, errors: ["EACCES": 2])])
        deniedThenExit.runs[0].exit = ExitInfo(code: 3)
        #expect(try analyze(deniedThenExit).verdict.hasSuffix("and the app exited with status 3"), "never 'carried on' for an app that failed")
    }

    @Test func foldsIntoTheDeepestExistingScratchDirectory() throws {
        let r = RecordingFixture.recording([
            RecordingFixture.m("/run/myapp", .mkdir), RecordingFixture.m("/run/myapp/app.pid", .create, bytes: 6),
            RecordingFixture.m("/run/myapp/app.sock", .bind),
            RecordingFixture.m("/tmp/tmpa8f3k2x", .create, bytes: 1 << 20), RecordingFixture.m("/tmp/tmpa8f3k2x", .unlink),
        ])
        let a = try analyze(r)
        #expect(a.mounts.map(\.path) == ["/run", "/tmp"])
        #expect(a.mounts.allSatisfy { $0.kind == .tmpfs })
        #expect(a.mounts[1].covers == ["tmp*"])
    }

    /// O_TMPFILE opens the directory: /tmp written that way is a tmpfs on /tmp, not a single file in /
    /// (seen with Starlette's SpooledTemporaryFile under a non-root user).
    @Test func tmpfileInTmpMountsTmpItself() throws {
        let a = try analyze(RecordingFixture.recording([RecordingFixture.m("/tmp", .tmpfile), RecordingFixture.m("/tmp/g82aikkq", .create, bytes: 4)]))
        #expect(a.mounts.map(\.path) == ["/tmp"])
        #expect(a.mounts.first?.kind == .tmpfs, "\(a.mounts)")
        let b = try analyze(RecordingFixture.recording([RecordingFixture.m("/srv/app/spool", .tmpfile)]), dirs: ["/srv/app/spool": []])
        #expect(b.mounts.map(\.path) == ["/srv/app/spool"])
        #expect(b.mounts.first?.kind == .tmpfs)
    }

    @Test func neverMountsRootOrSystemDirectories() throws {
        let r = RecordingFixture.recording([
            RecordingFixture.m("/etc/myapp.conf", .write, existed: true),
            RecordingFixture.m("/usr/lib/app/state.bin", .create),
            RecordingFixture.m("/hello.txt", .create),
        ])
        let a = try analyze(r, dirs: ["/usr/lib/app": ["lib.so"]])
        for m in a.mounts {
            #expect(!["/", "/etc", "/usr", "/usr/lib", "/var"].contains(m.path), "mounted \(m.path)")
        }
        #expect(a.mounts.first { $0.path == "/etc/myapp.conf" }?.kind == .file)
        #expect(a.mounts.first { $0.path == "/hello.txt" }?.kind == .file)
        // /usr/lib/app holds image content: the mount says so and how to keep it.
        let app = try #require(a.mounts.first { $0.path == "/usr/lib/app" })
        #expect(app.hidesContent == ["lib.so"])
        #expect(app.alternatives.contains { $0.contains("init step") })
    }

    @Test func createdDirectoryIsMountedItselfNotItsParent() throws {
        let r = RecordingFixture.recording([
            RecordingFixture.m("/app/uploads", .mkdir), RecordingFixture.m("/app/uploads/a.png", .create, bytes: 5000),
        ])
        let a = try analyze(r, dirs: ["/app": ["main.py", "uploads"]])
        #expect(a.mounts.map(\.path) == ["/app/uploads"])
        #expect(a.mounts[0].kind == .persistent)
        #expect(a.mounts[0].hidesContent.isEmpty)
    }

    /// `ln -sfn /opt/bots/grammars $STATE/usersys` (Django entrypoint) and Dovecot's
    /// `/run/dovecot/dovecot.conf` → `/etc/dovecot/dovecot.conf`: making, replacing or removing a
    /// link writes the directory holding it, never its target.
    @Test func aLinkIsAWriteToItsDirectoryNeverToItsTarget() throws {
        var r = RecordingFixture.recording([
            RecordingFixture.m("/var/lib/bots/usersys.tmp", .symlink), RecordingFixture.m("/var/lib/bots/usersys.tmp", .renameFrom),
            RecordingFixture.m("/var/lib/bots/usersys", .renameTo, existed: true),
            RecordingFixture.m("/run/dovecot/dovecot.conf", .unlink), RecordingFixture.m("/run/dovecot/dovecot.conf", .symlink),
            RecordingFixture.m("/var/run/dovecot/master.pid", .create),
        ])
        r.filesystem = RecordingFixture.facts(["/var/lib/bots": ["usersys"], "/opt/bots/grammars": ["x12.py"], "/opt/bots": ["grammars", "bots.py"],
                                               "/run/dovecot": ["dovecot.conf", "master.pid"], "/etc/dovecot": ["dovecot.conf", "conf.d"]],
                                              code: ["/opt/bots": ["bots.py"]],
                                              symlinks: ["/var/lib/bots/usersys": "/opt/bots/grammars", "/run/dovecot/dovecot.conf": "/etc/dovecot/dovecot.conf",
                                                         "/var/run": "/run"])
        let a = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(r)
        #expect(a.mounts.map(\.path) == ["/run/dovecot", "/var/lib/bots"], "\(a.mounts.map(\.path))")
        // What the run made is not image content the mount hides.
        #expect(a.mounts.first { $0.path == "/run/dovecot" }?.hidesContent == [])
        #expect(!a.breaking.contains { $0.path.hasPrefix("/opt") || $0.path.hasPrefix("/etc") })
    }

    /// lighttpd's mod_deflate: its cache below /var/cache copies the docroot's layout and renames each
    /// compressed file into place. A cache by FHS, mounted where the image's directory is.
    @Test func aCacheBelowVarCacheIsDisposableAtTheImagesDirectory() throws {
        var files: [FileMutation] = []
        for dir in ["/var/cache/lighttpd/compress/srv", "/var/cache/lighttpd/compress/srv/www", "/var/cache/lighttpd/compress/srv/www/css"] {
            files.append(RecordingFixture.m(dir, .mkdir))
        }
        files.append(RecordingFixture.m("/var/cache/lighttpd/compress/srv/www/css/site.css-gzip-1234.tmp", .create, bytes: 900, exe: "/usr/sbin/lighttpd"))
        files.append(RecordingFixture.m("/var/cache/lighttpd/compress/srv/www/css/site.css-gzip-1234.tmp", .renameFrom, exe: "/usr/sbin/lighttpd"))
        var renamed = RecordingFixture.m("/var/cache/lighttpd/compress/srv/www/css/site.css-gzip", .renameTo, exe: "/usr/sbin/lighttpd")
        renamed.existsAfter = true
        files.append(renamed)
        let a = try analyze(RecordingFixture.recording(files), dirs: ["/var/cache/lighttpd": ["compress"], "/var/cache/lighttpd/compress": ["srv"]])
        #expect(a.mounts.map(\.path) == ["/var/cache/lighttpd/compress"], "\(a.mounts.map(\.path))")
        #expect(a.mounts.first?.kind == .tmpfs && a.mounts.first?.purpose == .cache, "\(a.mounts.first?.reason ?? "")")
    }

    /// `python manage.py collectstatic` at start-up: build output, never a volume of "database files".
    @Test func collectstaticIsABuildStepNotState() throws {
        var r = RecordingFixture.recording([
            RecordingFixture.m("/app/staticfiles", .mkdir),
            RecordingFixture.m("/app/staticfiles/admin/js/DateTimeShortcuts.js", .create, bytes: 19000),
            RecordingFixture.m("/app/staticfiles/LICENSE", .create, bytes: 1000),
            RecordingFixture.m("/app/media/avatar.png", .create, bytes: 5000),
        ])
        r.runs[0].processes[0].execs[0].argv = ["python3", "manage.py", "collectstatic", "--noinput"]
        r.filesystem = RecordingFixture.facts(["/app": ["manage.py", "staticfiles", "media"]], code: ["/app": ["manage.py"]])
        let a = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(r)
        let st = a.mounts.first { $0.path == "/app/staticfiles" }
        #expect(st?.kind == .tmpfs && st?.reason.contains("database") == false, "\(a.mounts.map { ($0.path, $0.reason) })")
        #expect(a.remedies.contains { $0.id == "django-collectstatic" && $0.fix?.contains("image build") == true })
        // The same writes by a server (no collectstatic on its command line) are not that remedy.
        r.runs[0].processes[0].execs[0].argv = ["gunicorn", "app.wsgi"]
        let b = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(r)
        #expect(!b.remedies.contains { $0.id == "django-collectstatic" })
    }

    /// Dovecot delivering mail for alice: /var/mail/eval/alice is one user's directory of many; the
    /// volume is the mail root the image has, so bob's mail has a place too. A tenant named on the
    /// command line widens the same way; a system directory never does.
    @Test func perUserAndPerTenantDirectoriesWidenToWhereTheyAllGo() throws {
        var r = RecordingFixture.recording([
            RecordingFixture.m("/var/mail/eval/alice", .mkdir), RecordingFixture.m("/var/mail/eval/alice/Maildir", .mkdir),
            RecordingFixture.m("/var/mail/eval/alice/Maildir/new/1700000000.M1P2.host", .create, bytes: 900),
        ])
        r.runs[0].processes[0].execs[0] = ExecRecord(exe: "/usr/lib/dovecot/dovecot-lda", argv: ["dovecot-lda", "-d", "alice"])
        var facts = RecordingFixture.facts(["/var/mail": ["eval"], "/var/mail/eval": ["alice", "bob"]])
        facts.users = ["alice", "bob"]
        r.filesystem = facts
        let a = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(r)
        #expect(a.mounts.map(\.path) == ["/var/mail/eval"], "\(a.mounts.map(\.path))")
        #expect(a.mounts.first?.reason.contains("alice is a login user of the image") == true, "\(a.mounts.first?.reason ?? "")")

        var t = RecordingFixture.recording([RecordingFixture.m("/srv/tenants/acme", .mkdir), RecordingFixture.m("/srv/tenants/acme/db.sqlite", .create, bytes: 4096)])
        t.runs[0].processes[0].execs[0].argv = ["app", "--tenant", "acme"]
        t.filesystem = RecordingFixture.facts(["/srv/tenants": []])
        let b = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(t)
        #expect(b.mounts.map(\.path) == ["/srv/tenants"], "\(b.mounts.map(\.path))")
        #expect(b.mounts.first?.reason.contains("--tenant acme") == true)

        // A tenant named by the app's environment (TENANT=acme): the recording keeps that much of it.
        var e = RecordingFixture.recording([RecordingFixture.m("/srv/tenants/acme", .mkdir), RecordingFixture.m("/srv/tenants/acme/db.sqlite", .create, bytes: 4096)])
        e.filesystem = RecordingFixture.facts(["/srv/tenants": []])
        e.notePathInputs(environment: ["PATH=/usr/bin:/bin", "TENANT=acme", "LANG=C.UTF-8", "HOME=/root", "EMPTY="])
        #expect(e.runs[0].pathInputs == ["acme": "TENANT"], "only the values that name a written directory: \(e.runs[0].pathInputs ?? [:])")
        let d = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(e)
        #expect(d.mounts.map(\.path) == ["/srv/tenants"], "\(d.mounts.map(\.path))")
        #expect(d.mounts.first?.reason.contains("value of TENANT in the app's environment") == true, "\(d.mounts.first?.reason ?? "")")
        // Without that, the tenant's own directory is all the evidence says.
        e.runs[0].pathInputs = nil
        let f = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(e)
        #expect(f.mounts.map(\.path) == ["/srv/tenants/acme"], "\(f.mounts.map(\.path))")

        // A home directory stays one user's: /home is a system directory.
        var h = RecordingFixture.recording([RecordingFixture.m("/home/alice/.cache/x", .create)])
        var hf = RecordingFixture.facts(["/home": ["alice"], "/home/alice": [".cache"], "/home/alice/.cache": []])
        hf.users = ["alice"]
        h.filesystem = hf
        let c = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(h)
        #expect(!c.mounts.contains { $0.path == "/home" }, "\(c.mounts.map(\.path))")
    }

    @Test func sqliteIsPersistentWithItsJournals() throws {
        let r = RecordingFixture.recording([
            RecordingFixture.m("/data/db", .mkdir),
            RecordingFixture.m("/data/db/app.sqlite", .create, bytes: 40960),
            RecordingFixture.m("/data/db/app.sqlite-wal", .create, bytes: 8192),
            RecordingFixture.m("/data/db/app.sqlite-shm", .create, bytes: 32768),
        ])
        let a = try analyze(r, dirs: ["/data": ["db"]])
        #expect(a.mounts.count == 1)
        #expect(a.mounts[0].kind == .persistent)
        #expect(a.mounts[0].reason.contains("must survive restarts"))
        #expect(a.remedies.contains { $0.id == "sqlite-database" })
    }

    @Test func dataUnderTmpKeepsItsOwnPersistentMountAndTmpStaysTmpfs() throws {
        let r = RecordingFixture.recording([
            RecordingFixture.m("/tmp/scratch-file", .create),
            RecordingFixture.m("/tmp/app/data", .mkdir), RecordingFixture.m("/tmp/app/data/app.sqlite", .create, bytes: 8192),
            RecordingFixture.m("/tmp/app/data/app.sqlite-journal", .create),
        ])
        let a = try analyze(r)
        #expect(a.mounts.map(\.path) == ["/tmp", "/tmp/app/data"], "\(a.mounts.map(\.path))")
        #expect(a.mounts.first { $0.path == "/tmp" }?.kind == .tmpfs)
        #expect(a.mounts.first { $0.path == "/tmp/app/data" }?.kind == .persistent)
    }

    @Test func siblingsMergeOnlyWhenTheParentHoldsNothingElse() throws {
        let files = [RecordingFixture.m("/srv/app/a", .mkdir), RecordingFixture.m("/srv/app/a/x", .create),
                     RecordingFixture.m("/srv/app/b", .mkdir), RecordingFixture.m("/srv/app/b/y", .create)]
        let merged = try analyze(RecordingFixture.recording(files), dirs: ["/srv/app": ["a", "b"]])
        #expect(merged.mounts.map(\.path) == ["/srv/app"])
        let kept = try analyze(RecordingFixture.recording(files), dirs: ["/srv/app": ["a", "b", "server.py"]])
        #expect(kept.mounts.map(\.path) == ["/srv/app/a", "/srv/app/b"])
    }

    @Test func envRemedyRemovesTheNeedForAMount() throws {
        let r = RecordingFixture.recording([
            RecordingFixture.m("/app/__pycache__", .mkdir), RecordingFixture.m("/app/__pycache__/m.cpython-311.pyc", .create),
        ])
        let a = try analyze(r, dirs: ["/app": ["m.py", "__pycache__"]])
        #expect(a.mounts.isEmpty)
        #expect(a.env == ["PYTHONDONTWRITEBYTECODE": "1"])
        #expect(a.breaking.allSatisfy { $0.fixedBy == "remedy:cpython-pycache" })
    }

    @Test func gunicornHeartbeatGetsItsAdvice() throws {
        let r = RecordingFixture.recording([RecordingFixture.m("/tmp/wgunicorn-k2j3h4g5", .create, exe: "/venv/bin/gunicorn"),
                                            RecordingFixture.m("/tmp/wgunicorn-k2j3h4g5", .unlink, exe: "/venv/bin/gunicorn")])
        let a = try analyze(r)
        #expect(a.mounts.map(\.path) == ["/tmp"])
        #expect(a.mounts[0].remedies.contains("gunicorn-worker-tmp"))
        #expect(a.remedies.first { $0.id == "gunicorn-worker-tmp" }?.fix?.contains("--worker-tmp-dir /dev/shm") == true)
    }

    @Test(arguments: [(0, "16Mi"), (1000, "16Mi"), (9 << 20, "32Mi"), (40 << 20, "128Mi")])
    func tmpfsSizing(observed: Int, expected: String) {
        #expect(Analyzer.size(observed: observed, persistent: false).label == expected)
    }

    @Test func persistentSizingHasAFloorOfOneGi() {
        #expect(Analyzer.size(observed: 10, persistent: true).label == "1Gi")
        #expect(Analyzer.size(observed: 3 << 30, persistent: true).label == "8Gi")
    }

    @Test func pythonTempNamesOfLettersOnlyAreGlobbedInTempDirs() {
        #expect(NameShape.shapePath("/tmp/amvwnnoz") == "/tmp/*")
        #expect(NameShape.shapePath("/var/tmp/qwerasdf") == "/var/tmp/*")
        #expect(NameShape.shapePath("/srv/app/settings") == "/srv/app/settings", "elsewhere a word stays a word")
    }

    @Test(arguments: [("tmpa8f3k2x", "tmp*"), ("quickstart-_ugspvpv.tmp", "quickstart-*.tmp"), ("app.pid", "app.pid"), ("CuWrmk3X", "Cu*"), ("Customer", "Customer"),
                      ("m.cpython-311.pyc.140682336532912", "m.cpython-311.pyc.*"), ("wgunicorn-k2j3h4g5", "wgunicorn-*"),
                      ("ccA1b2C3.s", "cc*.s"), ("settings.py", "settings.py"), ("hsperfdata_root", "hsperfdata_root"),
                      // names that differ on every run of a real server (Redis, PostgreSQL, Java)
                      ("temp-9103.rdb", "temp-*.rdb"), ("pgsql_tmp30095.0", "pgsql_tmp*.0"), ("pg_internal.init.30051", "pg_internal.init.*"),
                      ("upload1246625846273850080.tmp", "upload*.tmp"), ("__init__.cpython-311.pyc.140068440194480", "__init__.cpython-311.pyc.*"),
                      ("15-main.pid", "15-main.pid"), ("engine-20261124T114229.txt", "engine-*.txt"), ("python3.11", "python3.11"), ("PG_VERSION", "PG_VERSION"), ("sqlite3", "sqlite3")])
    func randomNamesAreGlobbed(name: String, shape: String) {
        #expect(NameShape.shape(name) == shape)
    }

    @Test(arguments: [("**/__pycache__/**", "/a/b/__pycache__/x.pyc", true), ("**/__pycache__", "/a/__pycache__", true),
                      ("/tmp/*", "/tmp/a/b", false), ("/tmp/**", "/tmp/a/b", true), ("**/*.db", "/x.db", true),
                      ("/run/*.pid", "/run/x.pid", true), ("python*", "python3.11", true), ("/root/.*", "/root/.cache", true)])
    func globs(pattern: String, path: String, expected: Bool) {
        #expect(PathGlob.matches(pattern, path) == expected)
    }

    @Test func unknownRuntimeIsAOneLineErrorListingTheChoices() {
        #expect(throws: ModelError.self) { try catalog.runtime(named: "nomad") }
        do { _ = try catalog.runtime(named: "nomad") } catch { #expect("\(error)".contains("kubernetes")) }
    }

    @Test func catalogHasTheRequiredRuntimesAndAtLeastThirtyRemedies() {
        #expect(Set(catalog.runtimes.keys).isSuperset(of: ["kubernetes", "docker", "podman", "ecs", "systemd"]))
        #expect(catalog.remedies.count >= 30)
    }

    @Test func userProfilesExtendTheCatalog() throws {
        let dir = Support.scratch("profiles")
        try FileManager.default.createDirectory(atPath: dir + "/remedies", withIntermediateDirectories: true)
        try """
        id: my-app-cache
        title: My app's cache
        match:
          paths: ["/opt/myapp/cache/**"]
        kind: env
        env:
          MYAPP_NO_CACHE: "1"
        why: "our app can run without its cache"
        """.write(toFile: dir + "/remedies/mine.yaml", atomically: true, encoding: .utf8)
        let c = try ProfileCatalog.load(extraDirectory: dir)
        let a = try Analyzer(runtime: c.runtime(named: "kubernetes"), catalog: c)
            .analyze(RecordingFixture.recording([RecordingFixture.m("/opt/myapp/cache/x", .create)]))
        #expect(a.env["MYAPP_NO_CACHE"] == "1")
        #expect(a.mounts.isEmpty)
        try "id: [broken".write(toFile: dir + "/remedies/bad.yaml", atomically: true, encoding: .utf8)
        #expect(throws: ModelError.self) { try ProfileCatalog.load(extraDirectory: dir) }
    }

    @Test func embeddedProfilesMatchTheProfilesDirectory() throws {
        let o = try Support.run([Support.packageRoot.appendingPathComponent("scripts/embed-profiles").path, "--check"])
        #expect(o.status == 0, "Sources/Analysis/EmbeddedProfiles+Generated.swift is stale: run scripts/embed-profiles")
    }
}


/// Names that differ on every run are generalised, so two identical runs diff cleanly.
@Suite struct NameShapeTests {
    @Test(arguments: [
        ("tmp.vVbnZEpRcP", "tmp.*"),
        ("1700000000.M123456P789Q1.mailhost", "*"),
        ("1700000000.M123456P789Q1.mailhost,S=1024:2,S", "*"),
        ("diff-CAA7ADAB", "diff-*"),
        ("app.db", "app.db"),
        ("nginx.conf", "nginx.conf"),
    ])
    func perRunNamesAreShaped(_ name: String, _ shaped: String) {
        #expect(NameShape.shape(name) == shaped)
    }

    /// A new write named by a short pid gets the same fingerprint in the next run (code scanning
    /// tracks one finding) and a glob in the baseline entry it suggests.
    @Test func aCheckFindingNamedByAPidIsStableAcrossRuns() throws {
        let catalog = try ProfileCatalog.load()
        func findings(_ pid: Int) throws -> [Regression] {
            var r = RecordingFixture.recording([RecordingFixture.m("/srv/cache/temp-\(pid).rdb", .create, exe: "/usr/bin/redis-server")])
            r.runs[0].processes.append(ProcessRecord(pid: pid, ppid: 10, execs: [], uid: 1000, exit: ExitInfo(code: 0)))
            let a = try Analyzer(runtime: catalog.runtime(named: "docker"), catalog: catalog).analyze(r)
            return RegressionCheck.check(a, r, baseline: Baseline(runtime: "docker", writes: [], syscalls: [:]), allowAppFailure: false)
                .filter { $0.kind == .newWrite }
        }
        let first = try findings(437), second = try findings(512)
        #expect(first.count == 1 && second.count == 1)
        #expect(first.first?.fingerprint == second.first?.fingerprint, "\(first) \(second)")
        #expect(first.first?.subject == "/srv/cache/temp-437.rdb", "the subject is the real path")
    }

    /// In a container pids are short: a name carrying a pid of the run is per run at any length,
    /// and only after a word and `-`/`_` (a version such as python3.11 stays).
    @Test func shortPidsOfTheRunAreShaped() {
        let pids: Set<String> = ["7", "11", "437"]
        #expect(NameShape.shape("temp-437.rdb", pids: pids) == "temp-*.rdb")
        #expect(NameShape.shape("temp-437.rdb") == "temp-437.rdb", "without the run's pids, a short number is kept")
        #expect(NameShape.shape("worker-7.sock", pids: pids) == "worker-*.sock")
        #expect(NameShape.shape("binlog-8", pids: pids) == "binlog-8", "not a pid of the run")
        #expect(NameShape.shapePath("/usr/local/lib/python3.11/__pycache__/x.pyc", pids: pids) == "/usr/local/lib/python3.11/__pycache__/x.pyc")
        #expect(NameShape.shapePath("/srv/7/data", pids: pids) == "/srv/7/data", "a bare number is a name")
    }
}


@Suite struct TempNameTests {
    @Test func pythonTempfileNamesInATempDirAreShaped() {
        #expect(NameShape.shapePath("/tmp/quickstart-wftqbfls.tmp") == "/tmp/quickstart-*.tmp")
        #expect(NameShape.shapePath("/tmp/quickstart-a8f3k2x9.tmp") == "/tmp/quickstart-*.tmp")
        #expect(NameShape.shapePath("/srv/app/settings.tmp") == "/srv/app/settings.tmp", "not in a temp directory")
        #expect(NameShape.shapePath("/tmp/database.sqlite") == "/tmp/database.sqlite", "an 8-letter first word is a name")
    }
}
