import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Hostile and mistaken inputs: one line, exit 2, never a crash, a hang or a silent loss.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct InputValidationTests {
    let roprof = Support.roprof
    static let webapp = Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/webapp.json").path

    func expectOneLineError(_ o: Support.Output, _ what: String, contains: String? = nil) {
        #expect(o.status == 2, "\(what): status \(o.status) (139 is a crash): \(o.stderr.prefix(300))")
        #expect(o.stderr.split(separator: "\n").count == 1, "\(what): \(o.stderr.prefix(500))")
        if let c = contains { #expect(o.stderr.contains(c), "\(what): \(o.stderr)") }
    }

    static let deepBlock = String(repeating: "- ", count: 5000) + "x\n"
    static let deepMapping = (0..<1500).map { String(repeating: "  ", count: $0) + "a:" }.joined(separator: "\n") + " x\n"
    static let aliasBomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + (1..<10).map { i in
        "\(Character(UnicodeScalar(97 + i)!)): &\(Character(UnicodeScalar(97 + i)!)) [" + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 9).joined(separator: ", ") + "]"
    }.joined(separator: "\n") + "\n"

    @Test(arguments: [("block", deepBlock), ("mapping", deepMapping), ("aliases", aliasBomb)])
    func everyYAMLInputIsBounded(_ kind: String, _ yaml: String) throws {
        let dir = Support.scratch("yaml")
        let file = dir + "/in.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        expectOneLineError(try Support.run([roprof, "check", "--baseline", file, "--", "true"]), "\(kind) baseline")
        expectOneLineError(try Support.run([roprof, "diff", file, file]), "\(kind) diff")
        expectOneLineError(try Support.run([roprof, "suggest", "--format", "kubernetes", "--manifest", file, Self.webapp]), "\(kind) manifest")
        try FileManager.default.createDirectory(atPath: dir + "/profiles/runtimes", withIntermediateDirectories: true)
        try yaml.write(toFile: dir + "/profiles/runtimes/bad.yaml", atomically: true, encoding: .utf8)
        expectOneLineError(try Support.run([roprof, "report", "--profiles", dir + "/profiles", Self.webapp]), "\(kind) profile")
        // A kustomize base is read for what it already sets: a hostile one is passed over, never a crash.
        try FileManager.default.createDirectory(atPath: dir + "/base", withIntermediateDirectories: true)
        try yaml.write(toFile: dir + "/base/deployment.yaml", atomically: true, encoding: .utf8)
        let k = try Support.run([roprof, "suggest", "--format", "kubernetes", "-o", dir + "/overlay/", Self.webapp])
        #expect(k.status == 0, "\(kind) base: \(k.status) \(k.stderr.prefix(300))")
    }

    func recording(_ edit: (inout Recording) -> Void) throws -> String {
        var r = try Recording.load(path: Self.webapp)
        edit(&r)
        let path = Support.scratch("badrec") + "/r.json"
        try r.encoded().write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func valuesNoRecordingHoldsAreRefusedByName() throws {
        let cases: [(String, String, (inout Recording) -> Void)] = [
            ("huge bytes", "files[0].bytes", { $0.files[0].bytes = Int.max }),
            ("negative count", "files[0].count", { $0.files[0].count = -1 }),
            ("relative path", "not an absolute path", { $0.files[0].path = "relative/x" }),
            ("empty path", "not an absolute path", { $0.files[0].path = "" }),
            ("dot-dot", "'..' component", { $0.files[0].path = "/srv/../../etc" }),
            ("NUL", "NUL", { $0.files[0].path = "/srv/a\u{0}b" }),
            ("duplicate", "repeats the path", { $0.files.append($0.files[0]) }),
            ("negative duration", "durationSeconds", { $0.runs[0].durationSeconds = -3 }),
        ]
        for (what, named, edit) in cases {
            let path = try recording(edit)
            expectOneLineError(try Support.run([roprof, "report", path]), what, contains: named)
        }
    }

    @Test func aBaselineTypoIsAnErrorNotALostAllowance() throws {
        let dir = Support.scratch("typo")
        let base = try Support.run([roprof, "baseline", Self.webapp])
        try base.stdout.replacingOccurrences(of: "writes:", with: "write:").write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        expectOneLineError(try Support.run([roprof, "check", "--baseline", dir + "/b.yaml", "--", "true"]), "typo", contains: "did you mean 'writes'")
        try base.stdout.replacingOccurrences(of: "x86_64:", with: "x86-64:").write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        expectOneLineError(try Support.run([roprof, "check", "--baseline", dir + "/c.yaml", "--", "true"]), "arch", contains: "unknown architecture")
        // `-` is standard input, as everywhere else.
        let stdin = try Support.run([roprof, "check", "--quiet", "--baseline", "-", "--", "true"], stdin: base.stdout)
        #expect(stdin.status == 0 || stdin.status == 1, "\(stdin.stderr)")
    }

    @Test(arguments: ["nan", "inf", "1e308", "-5", "0"])
    func durationsAreStrict(_ value: String) throws {
        expectOneLineError(try Support.run([roprof, "record", "--for", value, "-o", Support.scratch("d") + "/r.json", "--", "true"]), "--for \(value)")
        if value != "0" {
            expectOneLineError(try Support.run([roprof, "record", "--grace", value, "-o", Support.scratch("d") + "/r.json", "--", "true"]), "--grace \(value)")
        }
    }

    @Test func checkKeepsZeroOneTwo() throws {
        let dir = Support.scratch("check012")
        let base = dir + "/b.yaml"
        #expect(try Support.run([roprof, "check", "--quiet", "--baseline", base, "--update", "--", "true"]).status == 0)
        expectOneLineError(try Support.run([roprof, "check", "--quiet", "--baseline", base, "--", "no-such-command-roprof"]), "missing command")
        try "#!/bin/sh\n".write(toFile: dir + "/noexec", atomically: true, encoding: .utf8)
        expectOneLineError(try Support.run([roprof, "check", "--quiet", "--baseline", base, "--", dir + "/noexec"]), "not executable")
    }

    @Test func secretsInArgvAreRedactedUnlessKept() throws {
        let dir = Support.scratch("secret")
        let o = try Support.run([roprof, "record", "--quiet", "--mode", "writes", "-o", dir + "/r.json", "--",
                                 "/bin/sh", "-c", "true", "sh", "--password=hunter2", "API_TOKEN=abc123"])
        #expect(o.status == 0, "\(o.stderr)")
        let text = try String(contentsOfFile: dir + "/r.json", encoding: .utf8)
        #expect(!text.contains("hunter2") && !text.contains("abc123"), "secrets stored: \(text.prefix(400))")
        #expect(text.contains("--password=<redacted>"))
        let kept = try Support.run([roprof, "record", "--quiet", "--mode", "writes", "--keep-argv", "-o", dir + "/k.json", "--",
                                    "/bin/sh", "-c", "true", "sh", "--password=hunter2"])
        #expect(kept.status == 0)
        #expect(try String(contentsOfFile: dir + "/k.json", encoding: .utf8).contains("hunter2"))
    }

    @Test func aDanglingSymlinkOutputIsFollowedAsAShellWould() throws {
        let dir = Support.scratch("dangling")
        #expect(symlink(dir + "/target.json", dir + "/link.json") == 0)
        let o = try Support.run([roprof, "record", "--quiet", "--mode", "writes", "-o", dir + "/link.json", "--", "true"])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/target.json"), "the link's target is created")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.json")) == dir + "/target.json", "the link stays a link")
    }

    @Test(arguments: ["run", "record", "report", "suggest", "verify", "diagnose", "check", "baseline", "diff", "merge"])
    func everyCommandsHelpTeaches(_ command: String) throws {
        let o = try Support.run([roprof, command, "--help"])
        #expect(o.status == 0 && o.stdout.contains("OVERVIEW:") && o.stdout.contains("USAGE:") && o.stderr.isEmpty, "\(command): \(o.status) \(o.stderr)")
    }

    /// A recording is meant to be committed: it never lists the names in / or the shared temp
    /// directories (other users' temp files), only how many there were.
    @Test func recordingsDoNotListTheRootOrTheSharedTempDirectories() throws {
        let dir = Support.scratch("unlisted")
        let secret = "/tmp/someone-elses-\(getpid())"
        FileManager.default.createFile(atPath: secret, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", dir + "/rec.json", "--", "/bin/sh", "-c", "echo x > /tmp/mine-\(getpid())"])
        #expect(r.status == 0, "\(r.stderr)")
        try? FileManager.default.removeItem(atPath: "/tmp/mine-\(getpid())")
        let text = try String(contentsOfFile: dir + "/rec.json", encoding: .utf8)
        #expect(!text.contains("someone-elses"), "another user's temp file is named in the recording")
        let rec = try Recording.load(path: dir + "/rec.json")
        #expect(rec.filesystem?.directories["/tmp"]?.entries == [] && (rec.filesystem?.directories["/tmp"]?.entryCount ?? 0) > 0)
        #expect(rec.filesystem?.directories["/"]?.entries == [])
    }
}
