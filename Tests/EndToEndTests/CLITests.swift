import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// The command-line contract: exit statuses, one-line errors, no half-written files.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CLITests {
    let roprof = Support.roprof

    @Test func runShowsAPythonWriteAsCreated() throws {
        let dir = Support.scratch("cli")
        let target = dir + "/x"
        let o = try Support.run([roprof, "run", "--quiet", "-o", dir + "/r.json", "--", "python3", "-c", "open('\(target)','w').write('1')"])
        #expect(o.status == 0, "\(o.stderr)")
        let r = try Recording.load(path: dir + "/r.json")
        #expect(r.files.contains { $0.path == target && $0.operation == .create && $0.succeeded == 1 && $0.bytes == 1 })
        #expect(o.stdout.contains("break"), "the report is printed: \(o.stdout)")
    }

    @Test func countsAreWrittenAsPeopleWriteThem() throws {
        let dir = Support.scratch("cli")
        let o = try Support.run([roprof, "record", "-o", dir + "/r.json", "--", "true"])
        #expect(o.stderr.contains("(0 paths, 1 process)"), "\(o.stderr)")
    }

    @Test func recordListsDirectoriesAndFile() throws {
        let dir = Support.scratch("cli")
        let o = try Support.run([roprof, "record", "--quiet", "-o", dir + "/r.json", "--", "sh", "-c", "mkdir -p \(dir)/a/b && echo hi > \(dir)/a/b/c"])
        #expect(o.status == 0)
        let r = try Recording.load(path: dir + "/r.json")
        let ops = Set(r.files.filter { $0.succeeded > 0 }.map { "\($0.operation.rawValue) \($0.path)" })
        #expect(ops.isSuperset(of: ["mkdir \(dir)/a", "mkdir \(dir)/a/b", "create \(dir)/a/b/c"]))
        #expect(r.runs[0].processes.count >= 2, "sh and mkdir")
        #expect(r.runs[0].processes.contains { $0.execs.contains { $0.argv.first == "mkdir" } })
    }

    @Test(arguments: [(["sh", "-c", "exit 7"], Int32(7)), (["sh", "-c", "kill -TERM $$"], Int32(143)), (["true"], Int32(0))])
    func exitStatusIsTheApps(command: [String], expected: Int32) throws {
        let dir = Support.scratch("cli")
        let o = try Support.run([roprof, "record", "--quiet", "-o", dir + "/r.json", "--"] + command)
        #expect(o.status == expected)
        let r = try Recording.load(path: dir + "/r.json")
        #expect(r.runs[0].exit.shellStatus == Int(expected))
        #expect(o.stdout.isEmpty, "record -o FILE writes nothing of its own to standard output: \(o.stdout.debugDescription)")
    }

    @Test func missingCommandIs127WithOneLineAndNoFile() throws {
        let dir = Support.scratch("cli")
        let o = try Support.run([roprof, "record", "-o", dir + "/r.json", "--", "no-such-command-xyz"])
        #expect(o.status == 127)
        #expect(o.stderr.split(separator: "\n").count == 1)
        #expect(o.stderr.contains("no-such-command-xyz"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/r.json"))
    }

    @Test func unwritableOutputIsExit2BeforeRunning() throws {
        let dir = Support.scratch("cli")
        let o = try Support.run([roprof, "record", "-o", "/nonexistent-dir/r.json", "--", "touch", dir + "/ran"])
        #expect(o.status == 2)
        #expect(o.stderr.contains("/nonexistent-dir"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran"), "the app must not run when the output cannot be written")
    }

    @Test(arguments: [["record", "--mode", "bogus", "--", "true"], ["record"], ["report", "--format", "yaml", "x.json"],
                      ["report", "--runtime", "nomad", "/dev/null"], ["frobnicate"],
                      ["record", "--name", "Bad_Name", "--", "true"], ["suggest", "--format", "docker", "--workloads", "x.json"],
                      ["suggest", "--format", "kubernetes", "--workloads", "--schedule", "engine=hourly", "x.json"],
                      ["suggest", "--format", "kubernetes", "--schedule", "engine=@hourly", "x.json"]])
    func usageErrorsExit2(args: [String]) throws {
        let o = try Support.run([roprof] + args)
        #expect(o.status == 2, "\(args): \(o.stderr)")
        #expect(!o.stderr.isEmpty)
        #expect(!o.stderr.contains("Fatal error"), "no Swift crash")
    }

    @Test(arguments: [
        ("not json at all", "not valid JSON"),
        ("{\"format\": \"something-else\", \"version\": 1}", "not a roprof recording"),
        ("{\"format\": \"roprof-recording\", \"version\": 99}", "newer than this roprof"),
        ("{\"format\": \"roprof-recording\", \"version\": 1, \"runs\": 5}", "corrupt"),
    ])
    func badRecordingsAreOneLineExit2(content: String, message: String) throws {
        let dir = Support.scratch("cli")
        try content.write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let o = try Support.run([roprof, "report", dir + "/bad.json"])
        #expect(o.status == 2)
        #expect(o.stderr.contains(message), "\(o.stderr)")
        #expect(o.stderr.split(separator: "\n").count == 1, "one line: \(o.stderr)")
        #expect(o.stderr.contains(dir + "/bad.json"))
    }

    @Test func reportFormatsOnARealRecording() throws {
        let dir = Support.scratch("cli")
        try Support.run([roprof, "record", "--quiet", "-o", dir + "/r.json", "--", "sh", "-c", "echo x > /tmp/roprof-cli-$$; rm /tmp/roprof-cli-$$"])
        let text = try Support.run([roprof, "report", dir + "/r.json"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("/tmp"))
        #expect(text.stdout.contains("emptyDir"))
        #expect(!text.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
        let md = try Support.run([roprof, "report", "--format", "markdown", dir + "/r.json"])
        #expect(md.stdout.hasPrefix("## roprof:"))
        #expect(md.stdout.contains("| `/tmp` |"))
        let json = try Support.run([roprof, "report", "--format", "json", dir + "/r.json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(obj?["format"] as? String == "roprof-analysis")
        #expect(obj?["version"] as? Int == 2)
        let docker = try Support.run([roprof, "report", "--runtime", "podman", dir + "/r.json"])
        #expect(docker.stdout.contains("nothing breaks"), "podman's --read-only-tmpfs makes /tmp writable")
    }

    @Test func twoIdenticalRunsDifferOnlyInTimestampsAndPids() throws {
        let dir = Support.scratch("cli")
        let script = "mkdir -p \(dir)/d && echo a > \(dir)/d/f && mv \(dir)/d/f \(dir)/d/g && rm -r \(dir)/d"
        try Support.run([roprof, "record", "--quiet", "-o", dir + "/1.json", "--", "sh", "-c", script])
        try Support.run([roprof, "record", "--quiet", "-o", dir + "/2.json", "--", "sh", "-c", script])
        func scrub(_ path: String) throws -> Recording {
            var r = try Recording.load(path: path)
            for i in r.runs.indices { r.runs[i].id = ""; r.runs[i].startedAt = ""; r.runs[i].durationSeconds = 0; r.runs[i].processes = [] }
            for i in r.files.indices { r.files[i].pids = []; r.files[i].runs = [] }
            for i in r.blindSpots.indices { r.blindSpots[i].runs = [] }
            return r
        }
        #expect(try scrub(dir + "/1.json").files == (try scrub(dir + "/2.json")).files)
        #expect(try scrub(dir + "/1.json").syscalls.keys == (try scrub(dir + "/2.json")).syscalls.keys)
    }
}
