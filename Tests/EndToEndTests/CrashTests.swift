import Foundation
import Testing
import TestSupport
@testable import Analysis
@testable import TraceModel

/// How trusted tools test themselves: roprof killed at every point, signalled once, twice and thrice,
/// pointed at hostile output targets, and fed thousands of corrupted recordings and baselines.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct CrashTests {
    let roprof = Support.roprof

    // MARK: - Helpers

    /// Starts a program in its own process group (so a test can signal the group), stdio to files.
    static func spawn(_ args: [String], dir: String, newGroup: Bool = true) -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var flags = Int16(POSIX_SPAWN_SETSIGMASK)
        if newGroup { flags |= Int16(POSIX_SPAWN_SETPGROUP) }
        posix_spawnattr_setflags(&attr, flags)
        posix_spawnattr_setpgroup(&attr, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, dir + "/stdout", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&fa, 2, dir + "/stderr", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        var cargs = args.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &fa, &attr, &cargs, environ)
        return rc == 0 ? pid : -1
    }

    /// Waits for our own child; nil when it did not exit within `timeout` seconds.
    static func wait(_ pid: pid_t, timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if r < 0 && errno != EINTR { return nil }
            usleep(10_000)
        }
        return nil
    }

    /// Processes whose command line contains `marker` (the traced app is given one as an argument).
    static func processes(marked marker: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            return String(decoding: d, as: UTF8.self).contains(marker) ? pid : nil
        }
    }

    /// Waits until no marked process is left (they may take a moment to be reaped).
    static func noneLeft(_ marker: String) -> [pid_t] {
        for _ in 0..<300 {
            let left = processes(marked: marker)
            if left.isEmpty { return [] }
            usleep(10_000)
        }
        return processes(marked: marker)
    }

    static func mountPoints() -> Set<String> {
        Set(((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n").map { l in
            let f = l.split(separator: " "); return f.count > 4 ? String(f[4]) : ""
        })
    }

    /// An app that writes for about a second; `marker` makes its processes findable.
    static func app(_ dir: String, _ marker: String, forever: Bool = false) -> [String] {
        let loop = forever ? "while :; do" : "for i in 1 2 3 4 5 6 7 8 9 10; do"
        return ["/bin/sh", "-c", "\(loop) echo x > \(dir)/f; mkdir -p \(dir)/d; sleep 0.1; done", marker]
    }

    // MARK: - Kill at every point

    @Test func killedAtEveryPointLeavesNoProcessNoMountAndNoHalfWrittenOutput() throws {
        let dir = Support.scratch("kill")
        let mountsBefore = Self.mountPoints()
        // Valid old outputs that a killed write must leave intact.
        let rec = dir + "/old.json", base = dir + "/base.yaml"
        let marker0 = "roprof-crash-setup-\(getpid())"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--"] + Self.app(dir, marker0))
        #expect(r.status == 0, "\(r.stderr)")
        let b = try Support.run([roprof, "check", "--quiet", "--update", "--baseline", base, "--"] + Self.app(dir, marker0))
        #expect(b.status == 0, "\(b.stderr)")
        let delays: [Double] = [0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0]
        var points = 0
        for (name, args, output, isBaseline) in [
            ("record", ["record", "--quiet", "-o", dir + "/out.json", "--"], dir + "/out.json", false),
            ("run", ["run", "--quiet", "-o", dir + "/run.json", "--"], dir + "/run.json", false),
            ("check --update", ["check", "--quiet", "--update", "--baseline", dir + "/upd.yaml", "--"], dir + "/upd.yaml", true),
            ("verify", ["verify", "--quiet", "--no-seccomp", "--from", rec, "--"], "", false),
            ("merge -o", ["merge", "-o", dir + "/merged.json", rec, rec, rec], dir + "/merged.json", false),
        ] as [(String, [String], String, Bool)] {
            if !output.isEmpty {  // an old, valid file at the output path
                try FileManager.default.copyItem(atPath: isBaseline ? base : rec, toPath: output)
            }
            for (i, delay) in delays.enumerated() {
                let marker = "roprof-crash-\(getpid())-\(points)"
                let full = [roprof] + args + (name == "merge -o" ? [] : Self.app(dir, marker))
                let pid = Self.spawn(full, dir: dir)
                #expect(pid > 0)
                usleep(useconds_t(delay * (name == "merge -o" ? 10_000 : 1_000_000)))  // merge is quick: milliseconds apart
                kill(pid, SIGKILL)
                _ = Self.wait(pid, timeout: 10)
                points += 1
                let left = Self.noneLeft(marker)
                #expect(left.isEmpty, "\(name) killed at point \(i): processes of the traced tree left: \(left)")
                for p in left { kill(p, SIGKILL) }
                #expect(Self.mountPoints() == mountsBefore, "\(name) killed at point \(i): a mount was left behind")
                if !output.isEmpty {
                    if isBaseline { #expect(throws: Never.self, "\(name) point \(i): the baseline is intact or complete") { _ = try Baseline.load(path: output) } }
                    else { #expect(throws: Never.self, "\(name) point \(i): the recording is intact or complete") { _ = try Recording.load(path: output) } }
                }
            }
        }
        print("kill test: \(points) kill points over record, run, check --update, verify and merge -o")
        #expect(points >= 50)
        // Sandbox scratch directories of killed verifies are cleaned up by the next one.
        let v = try Support.run([roprof, "verify", "--quiet", "--no-seccomp", "--from", rec, "--"] + Self.app(dir, marker0))
        #expect(v.status == 0 || v.status == 1, "\(v.stderr)")
        let stale = ((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []).filter { $0.hasPrefix("roprof-sandbox-") }
        #expect(stale.isEmpty, "stale sandbox directories left: \(stale)")
        // No stray temporary file next to the outputs once a later write succeeded.
        _ = try Support.run([roprof, "merge", "-o", dir + "/merged.json", rec])
        let temps = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".merged.json.tmp-") }
        #expect(temps.isEmpty, "\(temps)")
    }

    /// The mount points a verify made on the host for its volumes (a directory the host lacks) are
    /// removed by the next verify when the first was killed before it could clean up.
    @Test func aKilledVerifysMountPointsAreRemovedByTheNextOne() throws {
        let dir = Support.scratch("stale"), rec = dir + "/rec.json"
        let base = "/srv/roprof-stale-\(getpid())", data = base + "/data"
        let app = ["/bin/sh", "-c", "mkdir -p \(data) && echo x > \(data)/f && sync \(data)/f && sleep 30"]
        let r = try Support.run([roprof, "record", "--quiet", "--no-restart", "--for", "1", "-o", rec, "--"] + app)
        #expect(r.status == 0, "\(r.stderr)")
        try FileManager.default.removeItem(atPath: base)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let pid = Self.spawn([roprof, "verify", "--quiet", "--no-seccomp", "--no-restart", "--from", rec, "--"] + app, dir: dir)
        var made = false
        for _ in 0..<100 where !made { usleep(50_000); made = FileManager.default.fileExists(atPath: base) }
        usleep(200_000)
        kill(pid, SIGKILL)
        _ = Self.wait(pid, timeout: 10)
        #expect(made, "verify made the mount point \(base) on the host")
        let v = try Support.run([roprof, "verify", "--quiet", "--no-seccomp", "--from", dir + "/rec.json", "--for", "1", "--", "/bin/true"])
        _ = v
        #expect(!FileManager.default.fileExists(atPath: data) && !FileManager.default.fileExists(atPath: base),
                "the killed verify's mount points are gone after the next verify")
    }

    // MARK: - Signals

    struct SignalCase: CustomStringConvertible, Sendable {
        var signal: Int32, times: Int, group: Bool, attach: Bool
        var description: String { "\(String(cString: strsignal(signal))) ×\(times) to \(group ? "the group" : "roprof") (\(attach ? "attach" : "launch"))" }
    }

    static let signalCases: [SignalCase] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT].flatMap { s in
        [1, 2, 3].flatMap { n in [false, true].flatMap { g in [false, true].map { a in SignalCase(signal: s, times: n, group: g, attach: a) } } }
    }

    @Test(arguments: signalCases)
    func signalsNeverLoseTheRecording(_ c: SignalCase) throws {
        let dir = Support.scratch("sig"), out = dir + "/rec.json", marker = "roprof-sig-\(getpid())-\(UUID().uuidString.prefix(6))"
        var app: pid_t = 0
        let pid: pid_t
        if c.attach {
            app = Self.spawn(Self.app(dir, marker, forever: true), dir: dir)
            usleep(100_000)
            pid = Self.spawn([roprof, "record", "--quiet", "-o", out, "--attach", "\(app)"], dir: dir)
        } else {
            pid = Self.spawn([roprof, "record", "--quiet", "-o", out, "--"] + Self.app(dir, marker, forever: true), dir: dir)
        }
        defer { if app > 0 { kill(app, SIGKILL); _ = Self.wait(app, timeout: 5) } }
        usleep(500_000)  // during the run
        for i in 0..<c.times {
            kill(c.group ? -pid : pid, c.signal)
            usleep(i == 0 ? 150_000 : 20_000)  // the later ones land while the first is handled, or during the write
        }
        let status = Self.wait(pid, timeout: 20)
        #expect(status != nil, "\(c): roprof did not exit")
        if status == nil { kill(pid, SIGKILL); _ = Self.wait(pid, timeout: 5) }
        let err = (try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? ""
        #expect(throws: Never.self, "\(c): the recording is there and valid (\(err))") { _ = try Recording.load(path: out) }
        if c.attach {
            // The app runs on, untraced and not stopped.
            let state = (try? String(contentsOfFile: "/proc/\(app)/stat", encoding: .utf8)).flatMap { s in s.split(separator: ")").last?.split(separator: " ").first }
            let tracer = (try? String(contentsOfFile: "/proc/\(app)/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("TracerPid:") }
            if c.group {
                #expect(state != nil, "\(c): the app (not in roprof's group) is still running")
            }
            if let s = state {
                #expect(s != "t" && s != "T", "\(c): the app is left stopped (\(s))")
                #expect(tracer?.hasSuffix("\t0") == true, "\(c): the app is still traced: \(tracer ?? "?")")
            }
        } else {
            let left = Self.noneLeft(marker)
            #expect(left.isEmpty, "\(c): processes left: \(left)")
            for p in left { kill(p, SIGKILL) }
        }
    }

    // MARK: - Output targets

    @Test func outputTargetsAreWrittenSafelyOrRefused() throws {
        let dir = Support.scratch("out"), rec = dir + "/r.json"
        #expect(try Support.run([roprof, "record", "--quiet", "-o", rec, "--", "true"]).status == 0)

        // A full device: an error, exit 2, and /dev/full is still a character device.
        let full = try Support.run([roprof, "merge", "-o", "/dev/full", rec])
        #expect(full.status == 2 && full.stderr.contains("/dev/full") && full.stderr.contains("No space left"), "\(full.stderr)")
        var st = stat()
        #expect(stat("/dev/full", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "the device node is intact")
        let rfull = try Support.run([roprof, "record", "--quiet", "-o", "/dev/full", "--", "true"])
        #expect(rfull.status == 2 && !rfull.stderr.contains("recording written"), "\(rfull.stderr)")
        // /dev/null: written directly, stays a device.
        #expect(try Support.run([roprof, "merge", "-o", "/dev/null", rec]).status == 0)
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
        // /dev/stdout and -: the recording on standard output, the app's own output on stderr.
        for target in ["-", "/dev/stdout"] {
            let o = try Support.run([roprof, "record", "--quiet", "-o", target, "--", "sh", "-c", "echo from-the-$((1+1))-app"])
            #expect(o.status == 0, "\(o.stderr)")
            #expect(throws: Never.self) { _ = try Recording.decode(Data(o.stdout.utf8), source: target) }
            #expect(!o.stdout.contains("from-the-2-app") && o.stderr.contains("from-the-2-app"), "the app's output goes to stderr")
        }
        // A FIFO: written directly while a reader reads it.
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let reader = Self.spawn(["/bin/sh", "-c", "cat \(fifo) > \(dir)/from-fifo.json"], dir: dir, newGroup: false)
        let f = try Support.run([roprof, "merge", "-o", fifo, rec])
        #expect(f.status == 0, "\(f.stderr)")
        _ = Self.wait(reader, timeout: 10)
        #expect(throws: Never.self) { _ = try Recording.load(path: dir + "/from-fifo.json") }
        #expect(stat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO is still a FIFO")
        // A symlink: its target is written (mode kept), the link stays a link.
        let target = dir + "/target.json", link = dir + "/link.json"
        try "old".write(toFile: target, atomically: false, encoding: .utf8)
        chmod(target, 0o640)
        #expect(symlink(target, link) == 0)
        #expect(try Support.run([roprof, "merge", "-o", link, rec]).status == 0)
        #expect(lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK, "the link is still a link")
        #expect(throws: Never.self) { _ = try Recording.load(path: target) }
        #expect(stat(target, &st) == 0 && st.st_mode & 0o777 == 0o640, "the target keeps its mode")
        // A read-only directory (a read-only bind of a tmpfs: root ignores mode bits) and a missing one.
        let ro = dir + "/ro"
        try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
        #expect(try Support.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", ro]).status == 0)
        defer { _ = try? Support.run(["umount", ro]) }
        let rodir = try Support.run([roprof, "merge", "-o", ro + "/x.json", rec])
        #expect(rodir.status == 2 && rodir.stderr.contains(ro) && rodir.stderr.split(separator: "\n").count == 1, "\(rodir.stderr)")
        let missing = try Support.run([roprof, "merge", "-o", dir + "/nope/x.json", rec])
        #expect(missing.status == 2 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let isDir = try Support.run([roprof, "merge", "-o", dir, rec])
        #expect(isDir.status == 2 && isDir.stderr.contains("is a directory"), "\(isDir.stderr)")
        // A full filesystem: ENOSPC is an error, and the old file is intact.
        let small = dir + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(try Support.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small]).status == 0)
        defer { _ = try? Support.run(["umount", small]) }
        try "{\"old\": true}".write(toFile: small + "/out.json", atomically: false, encoding: .utf8)
        _ = try Support.run(["/bin/sh", "-c", "dd if=/dev/zero of=\(small)/filler bs=4k 2>/dev/null; true"])
        let big = dir + "/big.json"
        var r = try Recording.load(path: rec)
        r.files = (0..<2000).map { FileMutation(path: "/tmp/file-\($0)-" + String(repeating: "x", count: 40), operation: .create, count: 1, succeeded: 1) }
        try r.encoded().write(to: URL(fileURLWithPath: big))
        let enospc = try Support.run([roprof, "merge", "-o", small + "/out.json", big])
        #expect(enospc.status == 2 && enospc.stderr.contains("No space left"), "\(enospc.stderr)")
        #expect(try String(contentsOfFile: small + "/out.json", encoding: .utf8) == "{\"old\": true}", "the old file is intact")
        #expect(try FileManager.default.contentsOfDirectory(atPath: small).sorted() == ["filler", "out.json"], "no temporary file left")
        // report on a directory says so.
        let rd = try Support.run([roprof, "report", dir])
        #expect(rd.status == 2 && rd.stderr.contains("is a directory"), "\(rd.stderr)")
    }

    // MARK: - Fuzzing the parsers

    /// SplitMix64: small, fast, and the same sequence for the same seed on every machine.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    static func mutate(_ input: [UInt8], _ rng: inout Rng, yaml: Bool) -> [UInt8] {
        var b = input
        switch rng.below(9) {
        case 0: b = Array(b.prefix(rng.below(b.count)))                            // truncated
        case 1: for _ in 0..<(1 + rng.below(8)) where !b.isEmpty { b[rng.below(b.count)] ^= UInt8(1 << rng.below(8)) }  // bits flipped
        case 2: for _ in 0..<(1 + rng.below(4)) where !b.isEmpty { b[rng.below(b.count)] = UInt8(rng.below(256)) }      // bytes replaced
        case 3:  // a type swapped: a number becomes a string, a string a number, a list an object
            let text = String(decoding: b, as: UTF8.self)
            let swaps = yaml ? [("- ", "- [1]: "), (": ", ": {x: 1} #"), ("'", "")] : [(": 1", ": \"1\""), (": \"", ": 1, \"z\": \""), ("[", "{"), ("true", "\"true\"")]
            let (from, to) = swaps[rng.below(swaps.count)]
            if let r = text.range(of: from) { b = Array(text.replacingCharacters(in: r, with: to).utf8) }
        case 4:  // a huge string
            let text = String(decoding: b, as: UTF8.self)
            let huge = String(repeating: "A", count: 1 << (16 + rng.below(5)))
            if let r = text.range(of: yaml ? "path: " : "\"path\" : \"") { b = Array(text.replacingCharacters(in: r, with: text[r] + huge).utf8) }
        case 5:  // deep nesting
            let depth = 1000 + rng.below(100_000)
            b = Array((yaml ? String(repeating: "[", count: depth) : String(repeating: "[", count: depth)).utf8) + b
        case 6 where yaml:  // aliases that expand exponentially
            var bomb = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n"
            var prev = "a"
            for name in ["b", "c", "d", "e", "f", "g", "h", "i"] { bomb += "\(name): &\(name) [" + Array(repeating: "*\(prev)", count: 9).joined(separator: ",") + "]\n"; prev = name }
            b = Array((bomb + "format: roprof-baseline\nversion: 1\nruntime: docker\nwrites: *i\nsyscalls: {x86_64: *i}\n").utf8)
        case 7: b = b.shuffled(using: &rng).prefix(rng.below(256) + 1).map { $0 }   // noise
        default:  // a duplicated slice
            if b.count > 2 { let i = rng.below(b.count - 1); b.insert(contentsOf: b[i..<min(b.count, i + rng.below(200))], at: rng.below(b.count)) }
        }
        return b
    }

    @Test func fuzzedRecordingsAndBaselinesAreRejectedCleanly() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["ROPROF_FUZZ_SEED"] ?? "") ?? 0x5EED_2026
        var rng = Rng(state: seed)
        let recText = try [UInt8](Data(contentsOf: Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/nasty.json")))
        let webapp = try Recording.load(path: Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/webapp.json").path)
        let catalog = try ProfileCatalog.load()
        let a = Analyzer(runtime: try catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(webapp)
        let baseText = Array(try Baseline.derive(from: a, recording: webapp).yaml().utf8)
        var accepted = 0, rejected = 0
        let cases = 3000
        let start = Date()
        for i in 0..<cases {
            let yaml = i % 3 == 2
            let input = Self.mutate(yaml ? baseText : recText, &rng, yaml: yaml)
            let t0 = Date()
            do {
                if yaml { _ = try Baseline.parse(String(decoding: input, as: UTF8.self), source: "fuzz.yaml") }
                else { _ = try Recording.decode(Data(input), source: "fuzz.json") }
                accepted += 1
            } catch let e as ModelError {
                rejected += 1
                #expect(!e.description.contains("\n"), "case \(i) (seed \(seed)): the error is one line: \(e.description.prefix(300))")
            } catch {
                Issue.record("case \(i) (seed \(seed)): not a ModelError: \(error)")
            }
            #expect(Date().timeIntervalSince(t0) < 2, "case \(i) (seed \(seed)) took \(Date().timeIntervalSince(t0)) s")
        }
        print("fuzz: seed \(seed) (set ROPROF_FUZZ_SEED to reproduce), \(cases) cases: \(rejected) rejected, \(accepted) accepted, \(Int(Date().timeIntervalSince(start) * 1000)) ms")
        #expect(rejected > cases / 2)

        // Through the command line: exit 2 and one line, never a crash or a hang.
        let dir = Support.scratch("fuzz")
        var cli = 0
        for i in 0..<120 {
            let yaml = i % 2 == 1
            let file = dir + (yaml ? "/b.yaml" : "/r.json")
            try Data(Self.mutate(yaml ? baseText : recText, &rng, yaml: yaml)).write(to: URL(fileURLWithPath: file))
            let args = yaml ? [roprof, "diff", file, file] : [roprof, "report", file]
            let o = try Support.run(args)
            if o.status != 0 {
                #expect(o.status == 2, "cli case \(i) (seed \(seed)): \(args.dropFirst().joined(separator: " ")) exited \(o.status): \(o.stderr.prefix(300))")
                #expect(o.stderr.split(separator: "\n").count == 1, "cli case \(i) (seed \(seed)): \(o.stderr.prefix(500))")
            }
            cli += 1
        }
        print("fuzz: \(cli) mutated files through the command line, seed \(seed)")
    }
}

extension Array where Element == UInt8 {
    func shuffled(using rng: inout CrashTests.Rng) -> [UInt8] {
        var a = self
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, rng.below(i + 1)) }
        return a
    }
}
