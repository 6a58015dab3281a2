import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// roprof against strace on real workloads: every path strace shows mutated is in the recording
/// with the same kind of operation, and full mode's syscall set equals strace -c's.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OracleTests {
    struct Workload: CustomStringConvertible, Sendable {
        var name: String
        var description: String { name }
        /// Prepares the scratch directory and returns the command to run in it.
        var prepare: @Sendable (String) throws -> [String]
    }

    static let workloads: [Workload] = [
        Workload(name: "python-import") { dir in
            let py = try Support.which("python3")
            return ["/usr/bin/env", "-u", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX=\(dir)/pycache", py, "-c",
                    "import json, csv, decimal, fractions, statistics, sqlite3, email.parser, http.client, xml.dom.minidom, argparse, logging.handlers, difflib"]
        },
        Workload(name: "tar-extract") { dir in
            let src = dir + "/src"
            for i in 0..<200 {
                let sub = "\(src)/d\(i % 10)"
                try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
                try "file \(i)\n".write(toFile: "\(sub)/f\(i).txt", atomically: false, encoding: .utf8)
            }
            try Support.run([try Support.which("tar"), "-cf", dir + "/t.tar", "-C", src, "."])
            try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
            return [try Support.which("tar"), "-xf", dir + "/t.tar", "-C", dir + "/out"]
        },
        Workload(name: "gcc-compile") { dir in
            try "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n".write(toFile: dir + "/hello.c", atomically: false, encoding: .utf8)
            return [try Support.which("gcc"), "-c", dir + "/hello.c", "-o", dir + "/hello.o"]
        },
    ]

    @Test("every path strace sees mutated is recorded", arguments: workloads)
    func mutationsMatchStrace(_ w: Workload) throws {
        let strace = try Support.which("strace")
        let sdir = Support.scratch("oracle-s"), rdir = Support.scratch("oracle-r")
        let scmd = try w.prepare(sdir), rcmd = try w.prepare(rdir)
        let so = try Support.run([strace, "-f", "-qq", "-y", "-e", "trace=\(StraceOracle.traceSet)", "-e", "status=successful",
                                  "-o", sdir + "/strace.log"] + scmd, cwd: sdir)
        let log = (try? String(contentsOfFile: sdir + "/strace.log", encoding: .utf8)) ?? ""
        let expected = StraceOracle.parse(log, cwd: sdir)
        #expect(expected.count >= 2, "strace saw too little (status \(so.status), stderr: \(so.stderr.prefix(400)); log: \(log.prefix(600)))")
        let (rec, out) = try Support.record(rcmd, cwd: rdir)
        #expect(out.status == 0, "\(out.stderr)")
        // Temp names that differ between two runs (Python's `.pyc.<id>`, gcc's /tmp/ccXXXXXX) compare by shape.
        func shape(_ p: String) -> String {
            p.replacingOccurrences(of: "[0-9]{6,}", with: "#", options: .regularExpression)
             .replacingOccurrences(of: "/tmp/cc[A-Za-z0-9]{6}", with: "/tmp/cc#", options: .regularExpression)
        }
        var have = Set<String>()
        for f in rec.files where f.succeeded > 0 { have.insert("\(f.operation.rawValue) \(shape(f.path))") }
        var missing: [String] = []
        for m in expected {
            let path = shape(m.path.replacingOccurrences(of: sdir, with: rdir))
            let ops = StraceOracle.families[m.family] ?? [m.family]
            if !ops.contains(where: { have.contains("\($0) \(path)") }) { missing.append("\(m.family) \(path)") }
        }
        #expect(missing.isEmpty, "recorded by strace, missing in roprof:\n\(missing.sorted().prefix(20).joined(separator: "\n"))")
        if w.name == "gcc-compile" {
            #expect(rec.files.contains { $0.path.hasPrefix("/tmp/cc") && $0.operation == .create }, "gcc's temp files in /tmp")
        }
    }

    @Test("full mode's syscall set equals strace -f -c's", arguments: workloads)
    func syscallSetMatchesStrace(_ w: Workload) throws {
        let strace = try Support.which("strace")
        let sdir = Support.scratch("oracle-c"), rdir = Support.scratch("oracle-cr")
        let scmd = try w.prepare(sdir), rcmd = try w.prepare(rdir)
        try Support.run([strace, "-f", "-qq", "-c", "-o", sdir + "/summary.txt"] + scmd, cwd: sdir)
        let straceNames = StraceOracle.summaryNames(try String(contentsOfFile: sdir + "/summary.txt", encoding: .utf8))
        let (rec, _) = try Support.record(rcmd, cwd: rdir)
        let ours = rec.allSyscallNames
        #expect(straceNames.count > 10)
        // Allowed differences: calls that depend on run-to-run timing (signals, restarts), and the
        // calls that never return, which strace -c does not count (it counts at syscall exit).
        let timing: Set<String> = ["restart_syscall", "rt_sigreturn", "futex", "sched_yield", "exit", "exit_group"]
        let onlyStrace = straceNames.subtracting(ours).subtracting(timing)
        let onlyOurs = ours.subtracting(straceNames).subtracting(timing)
        #expect(onlyStrace.isEmpty, "strace saw syscalls roprof did not: \(onlyStrace.sorted())")
        #expect(onlyOurs.isEmpty, "roprof saw syscalls strace did not: \(onlyOurs.sorted())")
    }
}

/// The strace log parser itself, on the line shapes strace prints.
@Suite struct StraceOracleParserTests {
    @Test(arguments: ["5682  openat(AT_FDCWD</d>, \"x\", O_WRONLY|O_CREAT, 0666) = 3</d/x>",
                      "10546 openat(AT_FDCWD</d>, \"x\", O_WRONLY|O_CREAT, 0666) = 3</d/x>",
                      "openat(AT_FDCWD</d>, \"x\", O_WRONLY|O_CREAT, 0666) = 3</d/x>"])
    func padsAndPidsAreSkipped(_ line: String) {
        #expect(StraceOracle.parse(line, cwd: "/d") == [StraceOracle.Mutation(family: "open-write", path: "/d/x")])
    }
}
