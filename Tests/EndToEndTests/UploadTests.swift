import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Uploads spooled through files without a name (Starlette's UploadFile: a SpooledTemporaryFile that
/// rolls over into an O_TMPFILE file in /tmp). The recording counts what they held at their peak, the
/// report says the size depends on the input, and the suggested /tmp holds an upload larger than the
/// recorded one (under the sandbox's real tmpfs size limit); one far past it fails.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct UploadTests {
    let roprof = Support.roprof

    func upload(_ mib: Int, port: Int) -> String {
        "/usr/bin/python3 -c \"import urllib.request as u; r=u.urlopen(u.Request('http://127.0.0.1:\(port)/upload', data=b'x'*(\(mib)<<20), method='POST')); print(r.read().decode())\""
    }

    @Test func anUploadSpooledWithoutANameSizesTmp() throws {
        // The app outside /tmp, as in an image: the suggested tmpfs covers /tmp (a checkout may live there).
        let home = "/srv/roprof-upload-\(getpid())", server = home + "/server.py"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        try FileManager.default.copyItem(atPath: Support.packageRoot.appendingPathComponent("Fixtures/apps/upload/server.py").path, toPath: server)
        let dir = Support.scratch("upload"), port = 24000 + Int(getpid() % 3000)
        let url = "http://127.0.0.1:\(port)/health", cmd = ["/usr/bin/python3", server, "\(port)"]
        let r = try Support.run([roprof, "record", "--quiet", "-o", dir + "/rec.json", "--ready-url", url, "--while", upload(12, port: port), "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let rec = try Recording.load(path: dir + "/rec.json")
        let held = rec.files.filter { $0.path == "/tmp" && $0.operation == .tmpfile }.compactMap(\.bytes).max() ?? 0
        #expect(held >= 12 << 20, "the O_TMPFILE file's peak is in the recording: \(held)")
        let report = try Support.run([roprof, "report", dir + "/rec.json"]).stdout
        #expect(report.contains("its size depends on the input") && report.contains("size 32Mi"), "\(report)")
        // Under the suggested mount (a 32Mi tmpfs): a larger upload than the recorded one fits …
        let ok = try Support.run([roprof, "verify", "--no-restart", "--from", dir + "/rec.json", "--ready-url", url, "--while", upload(20, port: port), "--"] + cmd)
        #expect(ok.status == 0 && ok.stdout.contains("PASS"), "\(ok.stdout)\(ok.stderr)")
        // … and one past the limit the report warns of does not.
        let big = try Support.run([roprof, "verify", "--no-restart", "--from", dir + "/rec.json", "--ready-url", url, "--while", upload(48, port: port), "--"] + cmd)
        #expect(big.status == 1 && big.stdout.contains("FAIL"), "\(big.stdout)\(big.stderr)")
    }

    /// SQLite unlinks its -shm index while still mapped, as the last connection closes: a file without
    /// a name at its close, but written under its name. The database's volume is sized from what was
    /// written, not called input-dependent (a spool grows after its name is gone; this one did not).
    @Test func aDatabaseIndexRemovedAtCloseIsNoSpool() throws {
        let dir = Support.scratch("sqlite-shm")
        let script = "import sqlite3\nc = sqlite3.connect('\(dir)/data/app.db')\nc.execute('pragma journal_mode=wal')\n"
            + "c.execute('create table if not exists t(x)')\nfor i in range(50):\n    c.execute('insert into t values (?)', (i,)); c.commit()\nc.close()\n"
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        let r = try Support.run([roprof, "record", "--quiet", "--no-restart", "-o", dir + "/rec.json", "--", "/usr/bin/python3", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        let rec = try Recording.load(path: dir + "/rec.json")
        #expect(rec.files.contains { $0.path.hasSuffix("/app.db-shm") && $0.operation == .unlink }, "SQLite removed its -shm: \(rec.files.map(\.path))")
        #expect(!rec.files.contains { $0.flags.contains("unnamed") }, "\(rec.files.filter { $0.flags.contains("unnamed") }.map(\.path))")
        let report = try Support.run([roprof, "report", dir + "/rec.json"]).stdout
        #expect(report.contains("SQLite needs the whole directory writable") && !report.contains("depends on the input"), "\(report)")
    }
}

/// A local delivery agent given the user on its command line (`dovecot-lda -d USER`): the recording
/// delivered for alice; the printed settings must hold for bob too, so the volume is the mail root,
/// not alice's directory.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PerUserTests {
    let roprof = Support.roprof

    @Test func aSecondUsersMailHasAPlace() throws {
        let deliver = Support.packageRoot.appendingPathComponent("Fixtures/apps/maildeliver/deliver.py").path
        let dir = Support.scratch("mail"), root = "/var/mail/roprof-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try Support.run(["/bin/sh", "-c", "echo 'Subject: hi' | \(roprof) record --quiet -o \(dir)/rec.json -- /usr/bin/python3 \(deliver) -d alice \(root)"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Support.run([roprof, "report", "--format", "json", dir + "/rec.json"]).stdout
        let json = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any]
        let mounts = (json?["mounts"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(mounts == [root], "the mail root is the volume, not alice's directory alone: \(mounts)")
        try FileManager.default.removeItem(atPath: root + "/alice")
        let v = try Support.run(["/bin/sh", "-c", "echo 'Subject: hi' | \(roprof) verify --from \(dir)/rec.json -- /usr/bin/python3 \(deliver) -d bob \(root)"])
        #expect(v.status == 0 && v.stdout.contains("PASS"), "bob's delivery under the settings recorded for alice: \(v.stdout)\(v.stderr)")
    }
}
