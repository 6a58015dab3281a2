import Foundation
import Testing
@testable import TraceModel

/// merge is associative and commutative, on generated recordings.
@Suite struct MergeLawTests {
    struct Rng { var s: UInt64; mutating func next(_ n: Int) -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int((s >> 33) % UInt64(n)) } }

    static func random(_ seed: UInt64) -> Recording {
        var g = Rng(s: seed)
        let paths = ["/tmp/a", "/tmp/b", "/var/x", "/app/data/db", "/run/p.pid"]
        let ops: [FileOperation] = [.create, .write, .unlink, .mkdir]
        var files: [FileMutation] = []
        for _ in 0..<g.next(6) {
            let n = 1 + g.next(5)
            var f = FileMutation(path: paths[g.next(paths.count)], operation: ops[g.next(ops.count)], count: n, succeeded: n,
                                 syscalls: ["openat"], processes: ["/bin/p\(g.next(3))"], pids: [g.next(100)],
                                 bytes: g.next(2) == 0 ? nil : g.next(5000), runs: ["run-\(seed)"])
            if g.next(3) == 0 { f.errors = ["EACCES": 1]; f.count += 1 }
            files.append(f)
        }
        let run = RunInfo(id: "run-\(seed)", command: ["cmd\(seed)"], cwd: "/", mode: .full, host: HostFacts(arch: "x86_64", kernel: "6", uid: 0, gid: 0),
                          startedAt: "t\(seed)", durationSeconds: 1, exit: ExitInfo(code: 0), attachedPid: nil, complete: true, processes: [])
        let sys = ["read": 1 + g.next(9), "openat": g.next(9) + 1, "sys\(g.next(4))": 1]
        return Recording.merged([Recording(runs: [run], files: files, syscalls: ["x86_64": sys],
                                           blindSpots: g.next(2) == 0 ? [] : [BlindSpot(kind: .ioUring, detail: "d", processes: ["/bin/p"], runs: ["run-\(seed)"])])])
    }

    @Test(arguments: 0..<40)
    func commutativeAndAssociative(seed: Int) {
        let a = Self.random(UInt64(seed * 3 + 1)), b = Self.random(UInt64(seed * 3 + 2)), c = Self.random(UInt64(seed * 3 + 3))
        #expect(Recording.merged([a, b]) == Recording.merged([b, a]))
        #expect(Recording.merged([Recording.merged([a, b]), c]) == Recording.merged([a, Recording.merged([b, c])]))
        #expect(Recording.merged([a, a]).files.map(\.count) == a.files.map { $0.count * 2 }, "merging a run with itself doubles counts")
    }

    /// `roprof merge` writes while it merges; the bytes are those of the whole merged recording, and
    /// the entries those of absorbing every entry of a key into the first (duplicates and unsorted
    /// input lists included).
    @Test(arguments: 0..<20)
    func streamedMergeIsTheWholeMerge(seed: Int) throws {
        var inputs = (0..<3).map { Self.random(UInt64(seed * 7 + $0)) }
        inputs[1].files = inputs[1].files.reversed() + inputs[1].files.prefix(2)  // unsorted, duplicate keys
        var streamed = Data()
        let counts = try Recording.encodeMerged(inputs, into: { streamed.append($0) })
        let whole = Recording.merged(inputs)
        #expect(streamed == (try whole.encoded()))
        #expect(counts.files == whole.files.count && counts.runs == whole.runs.count)
        var byKey: [MutationKey: FileMutation] = [:]
        for f in inputs.flatMap(\.files) {
            if var e = byKey[f.key] { e.absorb(f); byKey[f.key] = e } else { byKey[f.key] = f }
        }
        let reference = byKey.values.map { var f = $0; f.normalize(); return f }.sorted { $0.key < $1.key }
        #expect(whole.files == reference)
    }
}

/// Secrets in argv never reach a recording unless asked.
@Suite struct ArgvRedactionTests {
    @Test(arguments: [
        (["app", "--password=hunter2", "--port=80"], ["app", "--password=<redacted>", "--port=80"]),
        (["app", "--db-password", "hunter2", "-v"], ["app", "--db-password", "<redacted>", "-v"]),
        (["env", "AWS_SECRET_ACCESS_KEY=abc", "MONKEY=1", "run"], ["env", "AWS_SECRET_ACCESS_KEY=<redacted>", "MONKEY=1", "run"]),
        (["mysql", "-p", "s3cret", "db"], ["mysql", "-p", "<redacted>", "db"]),
        (["redis-cli", "-p", "6379"], ["redis-cli", "-p", "6379"]),
        (["psql", "postgres://app:pw@db:5432/x"], ["psql", "postgres://app:<redacted>@db:5432/x"]),
        (["sh", "-c", "echo hi"], ["sh", "-c", "echo hi"]),
        (["app", "--api-key", "--verbose"], ["app", "--api-key", "--verbose"]),
    ])
    func redacts(_ argv: [String], _ expected: [String]) {
        #expect(ArgvRedaction.redact(argv) == expected)
    }
}

/// What reaches a terminal: no file name can move the cursor, recolour, reorder or hide text.
@Suite struct PrintableTests {
    @Test func controlsBidiAndZeroWidthAreEscaped() {
        #expect(Human.printable("a\nb\u{1b}[2Jc") == "a\\nb\\x1b[2Jc")
        #expect(Human.printable("x\u{9b}31my") == "x\\u{009b}31my", "C1 CSI")
        #expect(Human.printable("invoice\u{202e}fdp.exe") == "invoice\\u{202e}fdp.exe", "right-to-left override")
        #expect(Human.printable("a\u{200b}b\u{2066}c\u{feff}") == "a\\u{200b}b\\u{2066}c\\u{feff}")
        #expect(Human.printable("café/日本語") == "café/日本語", "ordinary text is kept")
    }
}
