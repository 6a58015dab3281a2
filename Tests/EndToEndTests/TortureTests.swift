import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Each torture fixture prints the records it expects; roprof's recording must contain them.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct TortureTests {
    static let fixtures: [String] = {
        let dir = Support.packageRoot.appendingPathComponent("Fixtures/torture").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".c") && !$0.hasPrefix("22_") }.sorted()
    }()

    @Test("torture fixture", arguments: fixtures, ["full", "writes"])
    func fixture(_ source: String, mode: String) throws {
        let bin = try FixtureBuilder.binary("torture/\(source)")
        let dir = Support.scratch("torture")
        var command = [bin, dir]
        if source.hasPrefix("11_") {  // fd 3 must be open for writing before tracing starts
            command = ["/bin/sh", "-c", "exec \"$@\" 3>>\(dir)/inherited.log", "sh", Support.roprof, "record", "--quiet",
                       "--mode", mode, "-o", dir + ".json", "--", bin, dir]
        }
        let recording: Recording
        let output: Support.Output
        if source.hasPrefix("11_") {
            output = try Support.run(command)
            recording = try Recording.load(path: dir + ".json")
        } else {
            (recording, output) = try Support.record(command, mode: mode)
        }
        let problems = Expectations.check(output.stdout, against: recording)
        #expect(problems.isEmpty, "\(source) [\(mode)]:\n\(problems.joined(separator: "\n"))\nstderr: \(output.stderr)")
        #expect(!output.stdout.isEmpty, "the fixture printed no expectations")
    }

    @Test("killing roprof kills the launched tree (PTRACE_O_EXITKILL)")
    func tracerKilled() throws {
        let bin = try FixtureBuilder.binary("torture/22_tracer_killed.c")
        let dir = Support.scratch("killed")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.roprof)
        p.arguments = ["record", "--quiet", "-o", dir + "/rec.json", "--", bin, dir]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        var appPid: Int32?
        for _ in 0..<100 {
            if let s = try? String(contentsOfFile: dir + "/pid", encoding: .utf8), let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) { appPid = pid; break }
            usleep(50_000)
        }
        let pid = try #require(appPid, "the fixture never started")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        var alive = true
        for _ in 0..<50 {
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
            if state == nil || state == "Z" || state == "X" { alive = false; break }
            usleep(50_000)
        }
        #expect(!alive, "the app (pid \(pid)) kept running after roprof was killed")
        #expect(!FileManager.default.fileExists(atPath: dir + "/rec.json"), "a killed roprof must not leave a partial recording")
    }
}

/// The fixture protocol (see Fixtures/torture/fixture.h).
enum Expectations {
    static func check(_ stdout: String, against r: Recording) -> [String] {
        var byKey: [String: FileMutation] = [:]
        for f in r.files { byKey["\(f.operation.rawValue) \(f.path)"] = f }
        let blind = Set(r.blindSpots.map(\.kind.rawValue))
        var problems: [String] = []
        for line in stdout.split(separator: "\n").map(String.init) {
            let w = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard let kind = w.first else { continue }
            switch kind {
            case "FAIL":
                problems.append(line)
            case "EXPECT":
                if (byKey["\(w[1]) \(w[2])"]?.succeeded ?? 0) < 1 { problems.append("missing: \(line)") }
            case "EXPECT-FAIL":
                let parts = line.split(separator: " ").map(String.init)
                let f = byKey["\(parts[1]) \(parts[2])"]
                if (f?.errors[parts[3]] ?? 0) < 1 { problems.append("missing: \(line) (got \(String(describing: f?.errors)))") }
            case "EXPECT-COUNT":
                let parts = line.split(separator: " ").map(String.init)
                let f = byKey["\(parts[1]) \(parts[2])"]
                if f?.count != Int(parts[3]) { problems.append("\(line): got \(f?.count ?? 0)") }
            case "EXPECT-BLIND":
                if !blind.contains(w[1]) { problems.append("missing blind spot: \(w[1]) (have \(blind.sorted()))") }
            case "EXPECT-ROOT":
                let parts = line.split(separator: " ").map(String.init)
                if !r.files.contains(where: { $0.operation.rawValue == parts[1] && $0.path == parts[2] && $0.root == parts[3] }) {
                    problems.append("missing: \(line)")
                }
            case "EXPECT-UNRESOLVED-OR":
                let parts = line.split(separator: " ").map(String.init)
                if byKey["\(parts[1]) \(parts[2])"] == nil &&
                    !r.files.contains(where: { $0.operation.rawValue == parts[1] && $0.unresolved != nil }) {
                    problems.append("neither resolved nor marked unresolved: \(line.prefix(120))…")
                }
            case "EXPECT-ABSENT-PREFIX":
                if let f = r.files.first(where: { $0.path.contains(w[1]) }) { problems.append("should not be recorded: \(f.path)") }
            default:
                continue
            }
        }
        return problems
    }
}
