import Foundation
import Testing
import TestSupport
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

    @Test("the strace oracle workloads: every path strace sees mutated, and strace's syscall set", arguments: OracleTests.workloads)
    func oracle(_ w: OracleTests.Workload) throws {
        let strace = try Support.which("strace")
        let sdir = Support.scratch("ebpf-oracle-s"), rdir = Support.scratch("ebpf-oracle-r")
        let scmd = try w.prepare(sdir), rcmd = try w.prepare(rdir)
        _ = try Support.run([strace, "-f", "-qq", "-y", "-e", "trace=\(StraceOracle.traceSet)", "-e", "status=successful",
                             "-o", sdir + "/strace.log"] + scmd, cwd: sdir)
        let expected = StraceOracle.parse((try? String(contentsOfFile: sdir + "/strace.log", encoding: .utf8)) ?? "", cwd: sdir)
        let (rec, out) = try Support.record(rcmd, extra: ["--backend", "ebpf"], cwd: rdir)
        #expect(out.status == 0 && rec.runs.first?.backend == "ebpf", "\(out.stderr)")
        func shape(_ p: String) -> String {
            p.replacingOccurrences(of: "[0-9]{6,}", with: "#", options: .regularExpression)
             .replacingOccurrences(of: "/tmp/cc[A-Za-z0-9]{6}", with: "/tmp/cc#", options: .regularExpression)
        }
        let have = Set(rec.files.filter { $0.succeeded > 0 }.map { "\($0.operation.rawValue) \(shape($0.path))" })
        let missing = expected.compactMap { m -> String? in
            let path = shape(m.path.replacingOccurrences(of: sdir, with: rdir))
            let ops = StraceOracle.families[m.family] ?? [m.family]
            return ops.contains { have.contains("\($0) \(path)") } ? nil : "\(m.family) \(path)"
        }
        #expect(expected.count >= 2 && missing.isEmpty, "recorded by strace, missing under eBPF:\n\(missing.sorted().prefix(20).joined(separator: "\n"))")

        // The full inventory: strace -f -c's set (timing-dependent calls aside; the launched command is
        // recorded from its own execve on, never roprof's launcher before it).
        let cdir = Support.scratch("ebpf-oracle-c"), crdir = Support.scratch("ebpf-oracle-cr")
        let ccmd = try w.prepare(cdir), crcmd = try w.prepare(crdir)
        try Support.run([strace, "-f", "-qq", "-c", "-o", cdir + "/summary.txt"] + ccmd, cwd: cdir)
        let straceNames = StraceOracle.summaryNames(try String(contentsOfFile: cdir + "/summary.txt", encoding: .utf8))
        let (crec, _) = try Support.record(crcmd, extra: ["--backend", "ebpf"], cwd: crdir)
        let timing: Set<String> = ["restart_syscall", "rt_sigreturn", "futex", "sched_yield", "exit", "exit_group"]
        let ours = crec.allSyscallNames
        let (prec, _) = try Support.record(try w.prepare(Support.scratch("ebpf-oracle-p")), extra: ["--backend", "ptrace"], cwd: crdir)
        #expect(prec.allSyscallNames.subtracting(timing) == ours.subtracting(timing), "the two backends' inventories differ: ptrace only \(prec.allSyscallNames.subtracting(ours).sorted()), eBPF only \(ours.subtracting(prec.allSyscallNames).sorted())")
        #expect(straceNames.subtracting(ours).subtracting(timing).isEmpty, "strace saw syscalls eBPF did not: \(straceNames.subtracting(ours).subtracting(timing).sorted())")
        #expect(ours.subtracting(straceNames).subtracting(timing).isEmpty, "eBPF saw syscalls strace did not: \(ours.subtracting(straceNames).subtracting(timing).sorted())")
    }

    /// Without the privilege, auto falls back to ptrace with one line saying why; --backend ebpf
    /// fails with one line naming what is missing, exit 2, and runs nothing.
    @Test func withoutPrivilegeAutoFallsBackAndEbpfFails() throws {
        let capsh = try Support.which("capsh")
        let dir = Support.scratch("ebpf-noprivs")
        let drop = [capsh, "--drop=cap_bpf,cap_perfmon,cap_sys_admin", "--"]
        func quoted(_ a: [String]) -> String { a.map { "'\($0)'" }.joined(separator: " ") }
        let base = try Support.run([Support.roprof, "record", "--quiet", "--backend", "ptrace", "-o", dir + "/base.json", "--",
                                    "/bin/sh", "-c", "echo x > \(dir)/out"])
        #expect(base.status == 0)
        try Support.run([Support.roprof, "baseline", dir + "/base.json"]).stdout.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        // auto picks by measured cost: a cache (its own, here) where a ptrace stop is dear makes eBPF the
        // choice once this command's stops are known; without the privilege it falls back, saying why.
        let cache = dir + "/cache"
        try FileManager.default.createDirectory(atPath: cache + "/roprof", withIntermediateDirectories: true)
        let kernel = try Support.run(["uname", "-r"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try "{\"kernel\":\"\(kernel)\",\"ptraceStopUs\":[100000],\"ebpfLoadMs\":[50],\"commands\":{}}".write(toFile: cache + "/roprof/backend-costs.json", atomically: true, encoding: .utf8)
        let check = [Support.roprof, "check", "--quiet", "--baseline", dir + "/base.yaml", "--", "/bin/sh", "-c", "echo x > \(dir)/out"]
        let first = try Support.run(drop + ["-c", quoted(check.dropLast(4) + ["--verbose"] + check.suffix(4))], env: ["XDG_CACHE_HOME": cache])
        #expect(first.status == 0 && first.stderr.contains("backend: ptrace: this command has not been measured"), "\(first.stderr)")
        let auto = try Support.run(drop + ["-c", quoted(check)], env: ["XDG_CACHE_HOME": cache])
        let lines = auto.stderr.split(separator: "\n").filter { $0.contains("eBPF") }
        #expect(auto.status == 0, "\(auto.stdout)\(auto.stderr)")
        #expect(lines.count == 1 && lines[0].contains("recording with ptrace") && lines[0].contains("CAP_BPF"), "\(auto.stderr)")
        let forced = try Support.run(drop + ["-c", quoted([Support.roprof, "record", "--quiet", "--backend", "ebpf", "-o", dir + "/e.json", "--",
                                                          "/bin/sh", "-c", "echo x > \(dir)/ran"])])
        #expect(forced.status == 2, "\(forced.stderr)")
        #expect(forced.stderr.split(separator: "\n").count == 1 && forced.stderr.contains("CAP_BPF"), "\(forced.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran") && !FileManager.default.fileExists(atPath: dir + "/e.json"))
    }

    static let probeNames = ["on_sys_enter", "on_sys_exit", "on_fork", "on_exec", "on_exit"]

    /// The probe's programs attached right now: bpftool's links whose program is one of the probe's.
    static func attachedProbeLinks() throws -> [String] {
        let bpftool = try Support.which("bpftool")
        let progs = (try? JSONSerialization.jsonObject(with: Data(try Support.run([bpftool, "-j", "prog", "show"]).stdout.utf8))) as? [[String: Any]] ?? []
        let names = Dictionary(progs.compactMap { p -> (Int, String)? in
            guard let id = p["id"] as? Int, let n = p["name"] as? String else { return nil }
            return (id, n)
        }, uniquingKeysWith: { a, _ in a })
        let links = (try? JSONSerialization.jsonObject(with: Data(try Support.run([bpftool, "-j", "link", "show"]).stdout.utf8))) as? [[String: Any]] ?? []
        return links.compactMap { l in (l["prog_id"] as? Int).flatMap { names[$0] } }.filter { probeNames.contains($0) }
    }

    /// Waits until no program of the probe is attached (a link of an earlier run is released as
    /// its descriptor closes; the kernel may take a moment).
    static func waitUntilDetached() throws -> [String] {
        var left = try attachedProbeLinks()
        for _ in 0..<50 where !left.isEmpty { usleep(100_000); left = try attachedProbeLinks() }
        return left
    }

    /// SIGKILL to roprof mid-run: no program of the probe stays attached or loaded, the launched app
    /// dies with roprof (as under ptrace), and no recording is left half-written.
    /// `sh -c 'server & wait'` (and a daemon that left the session) under eBPF, then SIGKILL of roprof:
    /// the whole tree dies with it, as under ptrace (a cancelled CI job leaves nothing running).
    @Test func killedRoprofLeavesNoProcessOfTheTree() throws {
        let dir = Support.scratch("ebpf-tree")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.roprof)
        p.arguments = ["record", "--quiet", "--backend", "ebpf", "-o", dir + "/rec.json", "--", "/bin/sh", "-c",
                       "sleep 300 & echo $! > \(dir)/child; setsid sleep 301 & echo $! > \(dir)/daemon; wait"]
        try p.run()
        func pid(_ name: String) -> Int32? {
            (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        var child: Int32?, daemon: Int32?
        for _ in 0..<100 where child == nil || daemon == nil { child = pid("child"); daemon = pid("daemon"); if child == nil || daemon == nil { usleep(50_000) } }
        let c = try #require(child), d = try #require(daemon)
        #expect(kill(c, 0) == 0 && kill(d, 0) == 0, "both run while recording")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        func gone(_ pid: Int32) -> Bool {
            kill(pid, 0) != 0 || ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") ?? true)
        }
        var left = true
        for _ in 0..<100 where left { left = !gone(c) || !gone(d); if left { usleep(50_000) } }
        #expect(gone(c), "the server's child outlived roprof")
        #expect(gone(d), "the daemon that left the session outlived roprof")
    }

    /// Nothing of the probe stays attached after a run that ends by itself, or that roprof is told
    /// to stop (SIGINT, SIGTERM); SIGKILL is the next test. The programs stay loaded, pinned and
    /// unattached, for the next run.
    @Test(arguments: [0, SIGINT, SIGTERM])
    func noProgramStaysAttachedAfterARun(_ signal: Int32) throws {
        #expect(try Self.waitUntilDetached().isEmpty, "a probe program was attached before the test")
        let dir = Support.scratch("ebpf-exit")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.roprof)
        p.arguments = ["record", "--quiet", "--backend", "ebpf", "-o", dir + "/rec.json", "--", "/bin/sh", "-c",
                       signal == 0 ? "echo x > \(dir)/out" : "echo x > \(dir)/out; exec sleep 30"]
        try p.run()
        if signal != 0 {
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir + "/out") { usleep(50_000) }
            usleep(100_000)
            #expect(try Set(Self.attachedProbeLinks()) == Set(Self.probeNames), "the run's links are attached while it records")
            kill(p.processIdentifier, signal)
        }
        p.waitUntilExit()
        let left = try Self.waitUntilDetached()
        #expect(left.isEmpty, "programs left attached after the run (signal \(signal)): \(left)")
        #expect(FileManager.default.fileExists(atPath: dir + "/rec.json"), "the recording is written (signal \(signal))")
        let pins = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf/roprof")) ?? []
        #expect(pins.count == 1, "one pinned probe, for this roprof and kernel: \(pins)")
        if let key = pins.first {
            let pinned = Set((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf/roprof/\(key)")) ?? [])
            #expect(pinned.isSuperset(of: Self.probeNames), "\(pinned)")
        }
    }

    @Test func killedRoprofLeavesNoProgramAttached() throws {
        #expect(try Self.waitUntilDetached().isEmpty, "a probe program was attached before the test")
        let dir = Support.scratch("ebpf-killed")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.roprof)
        p.arguments = ["record", "--quiet", "--backend", "ebpf", "-o", dir + "/rec.json", "--", "/bin/sh", "-c", "echo $$ > \(dir)/pid; exec sleep 60"]
        try p.run()
        var appPid: Int32?
        for _ in 0..<100 where appPid == nil {
            appPid = (try? String(contentsOfFile: dir + "/pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if appPid == nil { usleep(50_000) }
        }
        let pid = try #require(appPid)
        #expect(try Set(Self.attachedProbeLinks()) == Set(Self.probeNames), "the probe is not attached while recording")
        let state = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        #expect(state.contains("TracerPid:\t0") && !state.contains("State:\tt") && !state.contains("State:\tT"), "the app is traced or stopped:\n\(state)")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let left = try Self.waitUntilDetached()
        #expect(left.isEmpty, "programs left attached after roprof was killed: \(left)")
        var alive = true
        for _ in 0..<50 where alive { alive = kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") ?? true); if alive { usleep(50_000) } }
        #expect(!alive, "the app outlived roprof")
        #expect(!FileManager.default.fileExists(atPath: dir + "/rec.json"))
        // The killed run's slot is free again and the next run records normally.
        let next = try Support.run([Support.roprof, "record", "--quiet", "--backend", "ebpf", "-o", dir + "/next.json", "--", "/bin/sh", "-c", "echo y > \(dir)/after"])
        #expect(next.status == 0, "\(next.stderr)")
        let r = try Recording.load(path: dir + "/next.json")
        #expect(r.files.contains { $0.path == dir + "/after" }, "\(r.files.map(\.path))")
        #expect(!r.files.contains { $0.path.hasSuffix("/pid") }, "nothing of the killed run leaks into the next one")
    }

    /// Two runs at once share the pinned probe: each has its own slot (its links carry it), and each
    /// recording holds its own app's writes only.
    @Test func concurrentRunsRecordOnlyTheirOwnProcesses() throws {
        let dir = Support.scratch("ebpf-two")
        func start(_ name: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Support.roprof)
            p.arguments = ["record", "--quiet", "--backend", "ebpf", "-o", "\(dir)/\(name).json", "--", "/bin/sh", "-c",
                           "i=0; while [ $i -lt 20 ]; do echo $i > \(dir)/\(name)-$i; i=$((i+1)); sleep 0.05; done"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let a = try start("a"), b = try start("b")
        a.waitUntilExit(); b.waitUntilExit()
        #expect(a.terminationStatus == 0 && b.terminationStatus == 0)
        for (mine, other) in [("a", "b"), ("b", "a")] {
            let r = try Recording.load(path: "\(dir)/\(mine).json")
            let written = Set(r.files.map(\.path).filter { $0.hasPrefix(dir + "/") && !$0.hasSuffix(".json") })
            #expect(written == Set((0..<20).map { "\(dir)/\(mine)-\($0)" }), "\(mine): \(written.sorted())")
            #expect(!r.files.contains { $0.path.hasPrefix("\(dir)/\(other)-") }, "\(mine) holds \(other)'s writes")
        }
        #expect(try Self.waitUntilDetached().isEmpty)
    }

    /// A pin of another roprof or kernel is replaced, and a damaged pin (a program missing) is
    /// loaded anew; ROPROF_EBPF_PIN=0 loads the probe for the run alone and pins nothing.
    @Test func staleOrDamagedPinsAreReplaced() throws {
        let root = "/sys/fs/bpf/roprof", dir = Support.scratch("ebpf-pins")
        func record(_ name: String, env: [String: String] = [:]) throws {
            let o = try Support.run([Support.roprof, "record", "--quiet", "--backend", "ebpf", "-o", "\(dir)/\(name).json", "--", "/bin/sh", "-c", "echo x > \(dir)/\(name)"], env: env)
            #expect(o.status == 0, "\(o.stderr)")
            #expect(try Recording.load(path: "\(dir)/\(name).json").files.contains { $0.path == "\(dir)/\(name)" })
        }
        try record("first")
        let key = try #require(((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).first)
        // Damaged: one program's pin gone.
        unlink("\(root)/\(key)/on_exit")
        try record("damaged")
        #expect(FileManager.default.fileExists(atPath: "\(root)/\(key)/on_exit"), "the probe was pinned anew")
        // Foreign: another version's directory, removed when the probe is pinned anew.
        let bpftool = try Support.which("bpftool")
        try FileManager.default.createDirectory(atPath: "\(root)/0000000000stale", withIntermediateDirectories: true)
        _ = try Support.run([bpftool, "map", "create", "\(root)/0000000000stale/tracked", "type", "array", "key", "4", "value", "4", "entries", "1", "name", "stale"])
        Support.removePinned("\(root)/\(key)")
        try record("foreign")
        let now = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        #expect(now == [key], "only this roprof's probe is pinned: \(now)")
        // Not pinned at all on request.
        Support.removePinned("\(root)/\(key)")
        try record("unpinned", env: ["ROPROF_EBPF_PIN": "0"])
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).isEmpty)
        #expect(try Self.waitUntilDetached().isEmpty)
    }

    /// --attach with eBPF (the default there): a live server is recorded without ever being
    /// stopped, keeps serving, and what it wrote while recorded is in the recording.
    @Test func attachRecordsALiveServerWithoutStoppingIt() throws {
        let dir = Support.scratch("ebpf-attach"), port = ServerTests.port()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [ServerTests.app("server.py"), "\(port)", dir]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let get = { (path: String) in "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:\(port)\(path)').read()\"" }
        var up = false
        for _ in 0..<100 where !up { up = (try? Support.run(["/bin/sh", "-c", get("/up")]))?.status == 0; if !up { usleep(100_000) } }
        try #require(up, "the server did not start")
        let out = dir + "/attach.json"
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", out, "--attach", "\(server.processIdentifier)",
                                 "--ready-url", "127.0.0.1:\(port)", "--while", get("/during1") + "; " + get("/during2")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("eBPF"), "auto picks eBPF for --attach: \(r.stderr)")
        let rec = try Recording.load(path: out)
        #expect(rec.runs.first?.backend == "ebpf" && rec.runs.first?.attachedPid == Int(server.processIdentifier))
        #expect(rec.files.contains { $0.path.hasPrefix(dir) && $0.succeeded > 0 }, "the server's writes while recorded: \(rec.files.map(\.path))")
        #expect(server.isRunning, "the server must keep running after the recording")
        #expect(try Support.run(["/bin/sh", "-c", get("/after")]).status == 0, "the server must keep serving")
    }

    /// The mounts and environment a recording leads to (what a user pastes).
    static func fixes(_ recording: String) throws -> String {
        let o = try Support.run([Support.roprof, "report", "--format", "json", "--runtime", "docker", recording])
        let a = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as! [String: Any]
        let mounts = (a["mounts"] as? [[String: Any]] ?? []).map { "\($0["path"]!) \($0["kind"]!)" }.sorted()
        let env = (a["env"] as? [String: Any] ?? [:]).keys.sorted()
        return (mounts + env.map { "env " + $0 }).joined(separator: "\n")
    }

    /// --container: a podman container of the fixture images, recorded from its start (created, so
    /// roprof starts it) and while it runs, gives the same mounts as the launch recording of the
    /// same image (record --image); nothing is stopped, and the container serves on afterwards.
    @Test("--container gives the launch recording's mounts", arguments: ["pyweb", "gunicorn"])
    func containerMatchesLaunch(_ name: String) throws {
        _ = try Support.which("podman")
        let image = "localhost/roprof-test/\(name):1", env = ImageTests.env
        guard Support.spawnAndWait(["podman", "image", "exists", image], env: env) == 0 else {
            throw Support.MissingTool(tool: "the test image \(image) (bash .ci/setup builds it)")
        }
        let dir = Support.scratch("ebpf-container")
        let port = 18100 + Int(getpid() % 500)
        func exercise(_ p: Int) -> String {
            let path = name == "pyweb" ? "/items/a" : "/"
            return "python3 -c \"import urllib.request as u; [u.urlopen('http://127.0.0.1:\(p)\(path)').read() for i in range(3)]\""
        }
        let launch = try Support.run([Support.roprof, "record", "--quiet", "-o", dir + "/launch.json", "--image", image,
                                      "--ready-url", "http://127.0.0.1:8000/health", "--while", exercise(8000)], env: env)
        #expect(launch.status == 0, "\(launch.stderr)")
        let expected = try Self.fixes(dir + "/launch.json")
        #expect(expected.contains(name == "pyweb" ? "/data/db persistent" : "/tmp tmpfs"), "\(expected)")

        let container = "roprof-watch-\(name)-\(getpid())"
        defer { _ = Support.spawnAndWait(["podman", "rm", "-f", "-t", "0", container], env: env) }
        #expect(Support.spawnAndWait(["podman", "create", "--name", container, "-p", "127.0.0.1:\(port):8000", image], env: env) == 0)
        let started = try Support.run([Support.roprof, "record", "--quiet", "-o", dir + "/start.json", "--container", container,
                                       "--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise(port)], env: env)
        #expect(started.status == 0 && started.stderr.contains("still running"), "\(started.stderr)")
        let fromStart = try Recording.load(path: dir + "/start.json")
        #expect(fromStart.runs.first?.backend == "ebpf" && fromStart.runs.first?.image?.reference == image)
        #expect(try Self.fixes(dir + "/start.json") == expected, "from its start vs launch")
        #expect(!fromStart.runs[0].processes.contains { $0.execs.contains { $0.exe.contains("podman") || $0.exe.contains("conmon") || $0.exe.contains("runc") } },
                "the engine's own processes are not part of the recording: \(fromStart.runs[0].processes.map { $0.execs.map(\.exe) })")

        if name == "pyweb" {
            // Its data is written on every request, so a recording of the running container finds the
            // same mounts; what happened only at start-up (the bytecode cache, fixed by an environment
            // variable) is what a recording from the start is for.
            let live = try Support.run([Support.roprof, "record", "--quiet", "-o", dir + "/live.json", "--container", container,
                                        "--ready-url", "http://127.0.0.1:\(port)/health", "--while", exercise(port)], env: env)
            #expect(live.status == 0, "\(live.stderr)")
            let mountsOnly = { (s: String) in s.split(separator: "\n").filter { !$0.hasPrefix("env ") }.joined(separator: "\n") }
            #expect(mountsOnly(try Self.fixes(dir + "/live.json")) == mountsOnly(expected), "while running vs launch")
            let rec = try Recording.load(path: dir + "/live.json")
            #expect(rec.blindSpots.contains { $0.kind == .attached && $0.detail.contains("before is unseen") })
        }
        let running = try Support.run(["podman", "inspect", "--format", "{{.State.Running}}", container], env: env)
        #expect(running.stdout.hasPrefix("true"), "the container must run on after the recording")
        #expect(try Support.run(["/bin/sh", "-c", exercise(port)]).status == 0, "the container must serve on after the recording")
    }

    /// --cgroup: every process of a cgroup (v2), including ones started while recording; nothing else.
    @Test func cgroupRecordsItsProcessesOnly() throws {
        let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"
        let cg = unified + "/roprof-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: cg, withIntermediateDirectories: true)
        defer { rmdir(cg) }
        let dir = Support.scratch("ebpf-cgroup")
        // Inside: a loop that writes; outside: one that writes next to it and must not be recorded.
        let inside = Process(), outside = Process()
        inside.executableURL = URL(fileURLWithPath: "/bin/sh")
        inside.arguments = ["-c", "echo $$ > \(cg)/cgroup.procs; for i in $(seq 30); do echo x > \(dir)/in-$i; sleep 0.1; done"]
        outside.executableURL = URL(fileURLWithPath: "/bin/sh")
        outside.arguments = ["-c", "for i in $(seq 30); do echo x > \(dir)/out-$i; sleep 0.1; done"]
        try inside.run(); try outside.run()
        defer { inside.waitUntilExit(); outside.waitUntilExit() }
        usleep(300_000)
        let r = try Support.run([Support.roprof, "record", "--quiet", "--cgroup", cg, "--for", "1", "-o", dir + "/cg.json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rec = try Recording.load(path: dir + "/cg.json")
        let paths = rec.files.map(\.path)
        #expect(paths.contains { $0.hasPrefix(dir + "/in-") }, "\(paths)")
        #expect(!paths.contains { $0.hasPrefix(dir + "/out-") }, "a process outside the cgroup was recorded: \(paths)")
        #expect(rec.runs[0].processes.contains { $0.execs.contains { $0.exe.hasSuffix("/sleep") } }, "processes started while recording are followed")
        let bad = try Support.run([Support.roprof, "record", "--quiet", "--cgroup", dir, "--for", "1", "-o", dir + "/bad.json"])
        #expect(bad.status == 2 && bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("cgroup"), "\(bad.stderr)")
    }

    @Test func containerAndBackendErrorsAreOneLine() throws {
        _ = try Support.which("podman")
        let missing = try Support.run([Support.roprof, "record", "--quiet", "--container", "roprof-no-such-container", "--for", "1", "-o", "/tmp/x.json"], env: ImageTests.env)
        #expect(missing.status == 2 && missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("podman ps"), "\(missing.stderr)")
        let ptrace = try Support.run([Support.roprof, "record", "--backend", "ptrace", "--container", "x", "-o", "/tmp/x.json"])
        #expect(ptrace.status == 2 && ptrace.stderr.contains("eBPF"), "\(ptrace.stderr)")
        let both = try Support.run([Support.roprof, "record", "--container", "x", "-o", "/tmp/x.json", "--", "true"])
        #expect(both.status == 2 && both.stderr.contains("no command"), "\(both.stderr)")
        // What only ptrace can do says so, in one line.
        for args in [["record", "--backend", "ebpf", "--image", "x", "-o", "/tmp/x.json"],
                     ["verify", "--backend", "ebpf", "--from", "/tmp/x.json", "--", "true"],
                     ["diagnose", "--backend", "ebpf", "--", "true"]] {
            let o = try Support.run([Support.roprof] + args)
            #expect(o.status == 2 && o.stderr.split(separator: "\n").count == 1 && o.stderr.contains("ptrace"), "\(args): \(o.stderr)")
        }
    }
}
