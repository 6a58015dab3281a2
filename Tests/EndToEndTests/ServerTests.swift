import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Long-running servers: --for, --ready-url, --while, --attach, and Ctrl-C in both modes.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ServerTests {
    let roprof = Support.roprof
    static func app(_ name: String) -> String { Support.packageRoot.appendingPathComponent("Fixtures/apps/logserver/\(name)").path }
    static var nextPort: UInt16 = UInt16(20000 + getpid() % 20000)
    static func port() -> UInt16 { nextPort += 1; return nextPort }

    @Test func forWindowRecordsStartupAndShutdownWrites() throws {
        let dir = Support.scratch("life"), port = Self.port()
        let (rec, o) = try Support.record(["python3", Self.app("lifecycle.py"), "\(port)", dir], mode: "writes",
                                          extra: ["--for", "1", "--ready-url", "http://127.0.0.1:\(port)/health"])
        #expect(o.status == 0, "the server exits 0 on SIGTERM: \(o.stderr)")
        let paths = Set(rec.files.filter { $0.succeeded > 0 }.map(\.path))
        #expect(paths.contains(dir + "/server.pid"), "start-up write")
        #expect(paths.contains(dir + "/shutdown.state"), "shutdown write after SIGTERM")
        #expect(rec.runs[0].durationSeconds >= 1)
    }

    @Test func whileEndsTheRunWhenTheExerciseEnds() throws {
        let dir = Support.scratch("while"), port = Self.port()
        let start = Date()
        let exercise = "for i in 1 2 3; do python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:\(port)/r$i').read()\"; done; exit 3"
        let (rec, o) = try Support.record(["python3", Self.app("server.py"), "\(port)", dir], mode: "writes",
                                          extra: ["--ready-url", "127.0.0.1:\(port)", "--while", exercise])
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(o.stderr.contains("--while exercise exited with status 3"))
        #expect(rec.files.filter { $0.path.hasPrefix(dir + "/request-") && $0.operation == .create }.count == 3)
        #expect(rec.runs[0].exit.signal == Int(SIGTERM), "stopped like a container runtime stops it")
    }

    @Test func readyUrlTimesOutWithAClearError() throws {
        let dir = Support.scratch("timeout")
        let o = try Support.run([roprof, "record", "--quiet", "-o", dir + "/r.json", "--ready-url", "127.0.0.1:9", "--ready-timeout", "1",
                                 "--", "sleep", "30"])
        #expect(o.status == 2)
        #expect(o.stderr.contains("did not answer within 1s"))
    }

    /// Runs Fixtures/apps/logserver/attach-scenario.sh and returns its key=value report.
    func attachScenario(_ mode: String) throws -> (dir: String, report: [String: [String]]) {
        let dir = Support.scratch("attach")
        let o = try Support.run([Self.app("attach-scenario.sh"), roprof, dir, "\(Self.port())", mode])
        var report: [String: [String]] = [:]
        for line in o.stdout.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { report[kv[0], default: []].append(kv[1]) }
        }
        #expect(report["error"] == nil, "\(o.stdout)\(o.stderr)")
        return (dir, report)
    }

    @Test func attachRecordsRequestsDetachesAndTheServerStillAnswers() throws {
        let (dir, report) = try attachScenario("ctrl-c")
        #expect(report["roprof_status"] == ["0"], "Ctrl-C detaches cleanly: \(report)")
        #expect(report["tracer"] == ["0"], "no tracer left attached")
        let during = (report["during"] ?? []).compactMap { Int($0.split(separator: " ").last ?? "") }
        #expect(during.count == 3)
        #expect(report["after"]?.first?.hasPrefix("request ") == true, "the server still answers after detach")
        let rec = try Recording.load(path: dir + "/attach.json")
        for n in during { #expect(rec.files.contains { $0.path == dir + "/request-\(n).log" && $0.operation == .create }, "request-\(n).log") }
        #expect(rec.blindSpots.contains { $0.kind == .attached })
        #expect(rec.runs[0].attachedPid == Int(report["server"]?.first ?? ""))
    }

    @Test func attachForWindowDetachesByItself() throws {
        let (_, report) = try attachScenario("for")
        #expect(report["roprof_status"] == ["0"])
        #expect(report["tracer"] == ["0"])
        #expect(report["after"]?.first?.hasPrefix("request ") == true)
    }

    @Test func attachErrorsAreClear() throws {
        let o = try Support.run([roprof, "record", "--attach", "999999"])
        #expect(o.status == 2)
        #expect(o.stderr.contains("no such process: 999999"))
        let both = try Support.run([roprof, "record", "--attach", "1", "--", "true"])
        #expect(both.status == 2)
    }

    @Test func ctrlCInLaunchModeStillWritesTheRecording() throws {
        let dir = Support.scratch("ctrlc")
        let r = Process()
        r.executableURL = URL(fileURLWithPath: roprof)
        r.arguments = ["record", "--quiet", "-o", dir + "/r.json", "--", "sh", "-c", "echo x > \(dir)/before; sleep 30"]
        try r.run()
        usleep(500_000)
        kill(r.processIdentifier, SIGTERM)  // passed on to the app, as a container runtime would
        r.waitUntilExit()
        #expect(r.terminationStatus == 143)
        let rec = try Recording.load(path: dir + "/r.json")
        #expect(rec.files.contains { $0.path == dir + "/before" })
    }
}
