import Foundation
import Testing
import TestSupport
@testable import Analysis
@testable import Emitters
@testable import TraceModel
@testable import Workflows

/// Every report format and every `suggest` format on checked-in recordings, in process: the bytes
/// the CLI prints (stdout, then its notes as `roprof: …` lines on stderr) against golden files.
/// RECORD_SNAPSHOTS=1 re-records them.
@Suite struct GoldenTests {
    static let recordings = ["webapp", "nasty"]
    static let formats = SuggestFormat.allCases.map(\.rawValue)
    static func recording(_ name: String) -> String { "Tests/Data/Recordings/\(name).json" }
    static func absolute(_ relative: String) -> String { Support.packageRoot.appendingPathComponent(relative).path }

    func compare(_ actual: String, golden name: String) throws {
        let golden = Self.absolute("Tests/Data/Golden/\(name).txt")
        if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] != nil || !FileManager.default.fileExists(atPath: golden) {
            try actual.write(toFile: golden, atomically: true, encoding: .utf8)
        }
        #expect(actual == (try String(contentsOfFile: golden, encoding: .utf8)), "output drifted from \(golden) (re-record with RECORD_SNAPSHOTS=1 swift test if intended)")
    }

    @Test("golden report", arguments: recordings, ["text", "markdown", "json"])
    func goldenReport(_ rec: String, _ format: String) throws {
        let r = try Recording.load(path: Self.absolute(Self.recording(rec)))
        let text = try Reporter.render(r, runtime: "kubernetes", format: try #require(Reporter.Format(rawValue: format)),
                                       recordingPath: Self.recording(rec), style: TextStyle(color: false))
        try compare(text, golden: "\(rec).report-\(format)")
    }

    @Test("golden output", arguments: recordings, formats)
    func golden(_ rec: String, _ format: String) throws {
        let f = try #require(SuggestFormat(rawValue: format))
        var req = SuggestRequest(recordingPath: Self.absolute(Self.recording(rec)))
        req.options.recordingPath = Self.recording(rec)  // as a user in the checkout names it
        let render = { try Suggester(req).render(f) }
        let out = try render()
        let actual = (out.text ?? "") + "--- stderr ---\n" + out.notes.map { "roprof: \($0)\n" }.joined()
        try compare(actual, golden: "\(rec).\(format)")
        #expect(try render().text == out.text, "same recording, same bytes")
    }
}

/// The report's tree of written paths: one row per shape of name, not one per run-specific name.
@Suite struct ReportTreeTests {
    @Test func pythonTemporaryNamesInTmpShareOneRow() throws {
        // tempfile.mkstemp() in /tmp: 8 characters of [a-z0-9_], here all letters.
        let names = ["abcdefgh", "qwertyui", "zxcvbnml", "k_mnopqr"]
        let files = names.map { FileMutation(path: "/tmp/\($0)", operation: .create, count: 1, succeeded: 1, flags: ["O_CREAT", "O_EXCL", "O_RDWR"],
                                             syscalls: ["openat"], processes: ["/usr/bin/python3"], pids: [10], bytes: 100, existedBefore: false, runs: ["run-t"]) }
        let run = RunInfo(id: "run-t", command: ["python3", "app.py"], cwd: "/", mode: .full, host: HostFacts(arch: "x86_64", kernel: "6", uid: 0, gid: 0),
                          startedAt: "2026-12-03T00:00:00Z", durationSeconds: 1, exit: ExitInfo(code: 0), attachedPid: nil, complete: true, processes: [])
        let r = Recording(runs: [run], files: files, syscalls: ["x86_64": ["openat": 4]], blindSpots: [])
        let text = try Reporter.render(r, runtime: "kubernetes", format: .text, recordingPath: "r.json", style: TextStyle(color: false))
        #expect(text.contains("/tmp"), "\(text)")
        for n in names { #expect(!text.contains(n), "\(n) is a per-run name: \(text)") }
        let rows = text.split(separator: "\n").filter { $0.contains("create") && $0.contains("python3") }
        #expect(rows.count == 1, "one row for the four names: \(text)")
        #expect(rows.first?.contains("4×") == true, "\(text)")
    }
}
