import Foundation
import Testing
import TestSupport
@testable import Analysis
@testable import TraceModel

/// `roprof check`, `baseline`, `diff` and `merge`.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CheckTests {
    let roprof = Support.roprof
    static var venvPython: String { Support.packageRoot.appendingPathComponent(".build-py/bin/python").path }

    /// A scratch dir with a baseline made from a clean run of the check fixture.
    func prepared() throws -> (dir: String, app: String) {
        let app = try FixtureBuilder.binary("check/app.c")
        let dir = Support.scratch("check")
        let o = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/roprof-baseline.yaml", "--update", "--", app, dir])
        #expect(o.status == 0, "\(o.stderr)")
        return (dir, app)
    }

    func check(_ dir: String, _ cmd: [String], format: String = "text", extra: [String] = []) throws -> Support.Output {
        try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/roprof-baseline.yaml", "--format", format] + extra + ["--"] + cmd)
    }

    @Test func cleanRunPasses() throws {
        let (dir, app) = try prepared()
        let o = try check(dir, [app, dir])
        #expect(o.status == 0, "\(o.stdout)\(o.stderr)")
        #expect(o.stdout.contains("passed"))
    }

    @Test func newWriteFailsNamingPathAndProcess() throws {
        let (dir, app) = try prepared()
        try FileManager.default.createDirectory(atPath: dir + "/other", withIntermediateDirectories: true)
        let o = try check(dir, [app, dir, "--extra-write", "/var/tmp/roprof-check-new-\(getpid())"])
        #expect(o.status == 1)
        #expect(o.stdout.contains("/var/tmp/roprof-check-new-\(getpid())"))
        #expect(o.stdout.contains("by app"))
        #expect(o.stdout.contains("- path:"), "the baseline line to add")
        try? FileManager.default.removeItem(atPath: "/var/tmp/roprof-check-new-\(getpid())")
    }

    /// check skips the exit stop of writes the baseline allows; a symlinked directory inside an
    /// allowed place must still be followed to where the write really lands.
    @Test func aSymlinkOutOfAnAllowedPlaceIsCaught() throws {
        let base = "/srv/roprof-check-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        for d in ["allowed", "outside"] { try FileManager.default.createDirectory(atPath: base + "/" + d, withIntermediateDirectories: true) }
        let baseline = base + "/roprof-baseline.yaml"
        let write = "echo a > \(base)/allowed/f && echo b > \(base)/allowed/g && rm \(base)/allowed/g"
        let u = try Support.run([roprof, "check", "--quiet", "--baseline", baseline, "--update", "--", "/bin/sh", "-c", write])
        #expect(u.status == 0, "\(u.stderr)")
        let clean = try Support.run([roprof, "check", "--quiet", "--baseline", baseline, "--", "/bin/sh", "-c", write + " && echo c > \(base)/allowed/h"])
        #expect(clean.status == 0, "writes inside the allowed place pass: \(clean.stdout)")
        try FileManager.default.createSymbolicLink(atPath: base + "/allowed/sub", withDestinationPath: base + "/outside")
        let o = try Support.run([roprof, "check", "--quiet", "--baseline", baseline, "--", "/bin/sh", "-c", write + " && echo d > \(base)/allowed/sub/x"])
        #expect(o.status == 1, "\(o.stdout)")
        #expect(o.stdout.contains(base + "/outside"), "\(o.stdout)")
    }

    @Test func newSyscallFailsNamingIt() throws {
        let (dir, app) = try prepared()
        let o = try check(dir, [app, dir, "--extra-syscall"])
        #expect(o.status == 1)
        #expect(o.stdout.contains("getcpu"))
    }

    @Test func updateThenPasses() throws {
        let (dir, app) = try prepared()
        let cmd = [app, dir, "--extra-syscall"]
        #expect(try check(dir, cmd).status == 1)
        let u = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/roprof-baseline.yaml", "--update", "--"] + cmd)
        #expect(u.status == 0)
        #expect(try check(dir, cmd).status == 0)
        let b = try Baseline.load(path: dir + "/roprof-baseline.yaml")
        #expect(b.syscalls["x86_64"]?.contains("getcpu") == true)
    }

    @Test func appFailureIsARegressionUnlessAllowed() throws {
        let (dir, app) = try prepared()
        let failing = [app, dir, "--extra-write", "/nonexistent-dir/x"]
        let o = try check(dir, failing)
        #expect(o.status == 1)
        #expect(o.stdout.contains("exited with status 1"))
    }

    @Test func missingBaselineIsExit2WithTheFix() throws {
        let o = try Support.run([roprof, "check", "--baseline", "/nonexistent/b.yaml", "--", "true"])
        #expect(o.status == 2)
        #expect(o.stderr.contains("--update"))
    }

    @Test func junitParsesAsJUnitXML() throws {
        let (dir, app) = try prepared()
        let o = try check(dir, [app, dir, "--extra-syscall", "--extra-write", "/var/tmp/<&\"junit>-\(getpid())"], format: "junit")
        #expect(o.status == 1)
        let script = """
        import sys, xml.etree.ElementTree as ET
        root = ET.fromstring(sys.stdin.read())
        assert root.tag == 'testsuites', root.tag
        suite = root.find('testsuite')
        cases = suite.findall('testcase')
        fails = [c for c in cases if c.find('failure') is not None]
        assert int(suite.get('tests')) == len(cases) and int(suite.get('failures')) == len(fails), (suite.attrib, len(cases), len(fails))
        names = [c.get('name') for c in fails]
        assert any('<&"junit>' in n for n in names), names
        assert 'getcpu' in names, names
        print('ok', len(cases), len(fails))
        """
        let v = try Support.run(["python3", "-c", script], stdin: o.stdout)
        #expect(v.status == 0, "\(v.stderr)")
        try? FileManager.default.removeItem(atPath: "/var/tmp/<&\"junit>-\(getpid())")
    }

    @Test func sarifValidates() throws {
        let (dir, app) = try prepared()
        let o = try check(dir, [app, dir, "--extra-syscall"], format: "sarif")
        let script = """
        import json, sys
        from sarif_pydantic import Sarif
        doc = json.loads(sys.stdin.read())
        log = Sarif.model_validate(doc)
        assert doc['version'] == '2.1.0'
        run = doc['runs'][0]
        rules = {r['id'] for r in run['tool']['driver']['rules']}
        for r in run['results']:
            assert r['ruleId'] in rules and r['message']['text'] and r['level'] in ('error', 'warning', 'note', 'none')
            assert r['locations'][0]['physicalLocation']['artifactLocation']['uri']
        assert any('getcpu' in r['message']['text'] for r in run['results'])
        print('ok')
        """
        guard FileManager.default.isExecutableFile(atPath: Self.venvPython) else { throw Support.MissingTool(tool: "sarif-pydantic (bash .ci/setup)") }
        let v = try Support.run([Self.venvPython, "-c", script], stdin: o.stdout)
        #expect(v.status == 0, "\(v.stderr)")
    }

    @Test func githubAnnotationsFollowTheWorkflowCommandSyntax() throws {
        let (dir, app) = try prepared()
        let weird = "/var/tmp/a,b:c%d\nline-\(getpid())"
        let summary = dir + "/summary.md"
        FileManager.default.createFile(atPath: summary, contents: nil)
        let o = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/roprof-baseline.yaml", "--format", "github", "--",
                                 app, dir, "--extra-write", weird, "--extra-syscall"], env: ["GITHUB_STEP_SUMMARY": summary])
        #expect(o.status == 1)
        let lines = o.stdout.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count >= 2)
        let pattern = #"^::(error|warning|notice)( [a-z]+=[^,:\n]*(,[a-z]+=[^,:\n]*)*)?::[^\n]*$"#
        for l in lines { #expect(l.range(of: pattern, options: .regularExpression) != nil, "not a workflow command: \(l)") }
        #expect(o.stdout.contains("%0Aline"), "newline escaped as %0A")
        #expect(o.stdout.contains("%25d"), "percent escaped")
        #expect(try String(contentsOfFile: summary, encoding: .utf8).hasPrefix("## roprof check:"))
        try? FileManager.default.removeItem(atPath: weird)
    }

    @Test(arguments: [
        ("format: roprof-baseline\nversion: 1\nruntime: kubernetes\nwrites:\n  - path: relative/x\n", ":5", "must be absolute"),
        ("format: roprof-baseline\nversion: 1\nruntime: kubernetes\nwrites:\n  - path: /x\n    mount: floppy\n", ":6", "unknown mount"),
        ("format: roprof-baseline\nversion: 1\nruntime: kubernetes\nsyscalls:\n  x86_64: [read, 'bad name']\n", ":5", "not a syscall name"),
        ("format: roprof-baseline\nversion: 9\nruntime: kubernetes\n", ":2", "newer"),
        ("format: something\n", ":1", "format"),
        ("writes: [\n", "", "not valid YAML"),
    ])
    func malformedBaselinesNameTheLine(text: String, line: String, message: String) throws {
        let dir = Support.scratch("badbaseline")
        try text.write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        let o = try Support.run([roprof, "check", "--baseline", dir + "/b.yaml", "--", "true"])
        #expect(o.status == 2)
        #expect(o.stderr.contains(dir + "/b.yaml" + line), "\(o.stderr)")
        #expect(o.stderr.contains(message), "\(o.stderr)")
        #expect(o.stderr.split(separator: "\n").count == 1)
    }

    @Test func diffExitStatusFollowsWhatNewAdds() throws {
        let dir = Support.scratch("diff")
        let a = dir + "/a.json", b = dir + "/b.json"
        try Support.run([roprof, "record", "--quiet", "-o", a, "--", "sh", "-c", "echo > \(dir)/x"])
        try Support.run([roprof, "record", "--quiet", "-o", b, "--", "sh", "-c", "echo > \(dir)/x; mkdir \(dir)/newdir"])
        let same = try Support.run([roprof, "diff", a, a])
        #expect(same.status == 0)
        #expect(same.stdout.contains("no differences"))
        let added = try Support.run([roprof, "diff", a, b])
        #expect(added.status == 1)
        #expect(added.stdout.contains("+ write /tmp/diff-*/newdir"), "random names are shown by their shape: \(added.stdout)")
        let removed = try Support.run([roprof, "diff", b, a])
        #expect(removed.status == 0, "removing is not a regression")
        #expect(removed.stdout.contains("- write"))
        // A baseline against a recording.
        let base = try Support.run([roprof, "baseline", a])
        try base.stdout.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        #expect(try Support.run([roprof, "diff", dir + "/base.yaml", a]).status == 0)
        #expect(try Support.run([roprof, "diff", dir + "/base.yaml", b]).status == 1)
    }

    @Test func mergeOfRealRecordingsKeepsEveryRun() throws {
        let dir = Support.scratch("merge")
        try Support.run([roprof, "record", "--quiet", "-o", dir + "/1.json", "--", "sh", "-c", "echo > \(dir)/one"])
        try Support.run([roprof, "record", "--quiet", "-o", dir + "/2.json", "--", "sh", "-c", "echo > \(dir)/two; echo > \(dir)/one"])
        let o = try Support.run([roprof, "merge", "-o", dir + "/m.json", dir + "/1.json", dir + "/2.json"])
        #expect(o.status == 0)
        let m = try Recording.load(path: dir + "/m.json")
        #expect(m.runs.count == 2)
        let one = Set(m.files.filter { $0.path == dir + "/one" }.flatMap(\.runs))
        #expect(one.count == 2, "created in one run, truncated in the other")
        #expect(m.files.first { $0.path == dir + "/two" }?.runs.count == 1)
    }
}

