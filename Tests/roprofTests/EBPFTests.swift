import Foundation
import Testing
@testable import TraceModel

/// The eBPF backend (--backend ebpf): the torture fixtures and the strace oracle for what it claims
/// to see, the same recordings as ptrace on the fixture apps, and its failure and cleanup paths.
@Suite(.serialized, .timeLimit(.minutes(8)))
struct EBPFTests {
    /// Fixtures whose expectations this backend cannot meet, and why (the README's blind-spot table).
    static let beyondEBPF: [String: String] = [
        "09_io_uring.c": "io_uring: ptrace makes io_uring_setup fail so the app falls back to plain calls; eBPF cannot change a call, so I/O submitted through the ring is unseen (reported as a blind spot)",
        "21_nested_tracer.c": "no tracer holds the app: its own ptrace succeeds, so there is no nested-tracer conflict to report",
    ]

    static let fixtures: [String] = TortureTests.fixtures

    @Test("torture fixture under --backend ebpf", arguments: fixtures)
    func fixture(_ source: String) throws {
        let bin = try FixtureBuilder.binary("torture/\(source)")
        let dir = Support.scratch("ebpf-torture")
        let recording: Recording
        let output: Support.Output
        if source.hasPrefix("11_") {  // fd 3 must be open for writing before tracing starts
            output = try Support.run(["/bin/sh", "-c", "exec \"$@\" 3>>\(dir)/inherited.log", "sh", Support.roprof, "record", "--quiet",
                                      "--backend", "ebpf", "-o", dir + ".json", "--", bin, dir])
            recording = try Recording.load(path: dir + ".json")
        } else {
            (recording, output) = try Support.record([bin, dir], extra: ["--backend", "ebpf"])
        }
        #expect(recording.runs.first?.backend == "ebpf")
        let problems = Expectations.check(output.stdout, against: recording)
        if let why = Self.beyondEBPF[source] {
            #expect(!problems.isEmpty, "\(source) now passes under eBPF: take it off the blind-spot list (\(why))")
            if source.hasPrefix("09_") {
                #expect(recording.blindSpots.contains { $0.kind == .ioUring }, "io_uring use must be reported as a blind spot")
            }
        } else {
            #expect(problems.isEmpty, "\(source) [ebpf]:\n\(problems.joined(separator: "\n"))\nstderr: \(output.stderr)")
        }
        #expect(!output.stdout.isEmpty, "the fixture printed no expectations")
    }
}
