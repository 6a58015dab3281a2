import Foundation
import Testing
@testable import Tracer
@testable import TraceModel

/// The one interpreter of calls, in process: the facts a backend fetched in, recording items and
/// blind spots out — the same for ptrace and eBPF (only what each cannot see is worded apart).
@Suite struct CallInterpreterTests {
    func run(_ facts: [CallFacts], backend: BackendKind = .ptrace, root: String? = nil) -> (files: [FileMutation], blind: [BlindSpot], hints: [String: [String]]) {
        let builder = RecordingBuilder()
        builder.runID = "run-test"
        let proc = ProcessState(pid: 42, ppid: 1, exe: "/usr/bin/app")
        proc.root = root
        let i = CallInterpreter(backend: backend, builder: builder)
        for f in facts { i.interpret(f, process: proc) }
        let rec = builder.build(run: RunInfo(id: "run-test", command: ["app"], cwd: "/", mode: .full,
                                             host: HostFacts(arch: "x86_64", kernel: "6", uid: 0, gid: 0), startedAt: "2026-01-01T00:00:00Z",
                                             durationSeconds: 0, exit: ExitInfo(code: 0), attachedPid: nil, complete: true, processes: []))
        return (rec.files, rec.blindSpots, (rec.capabilityHints ?? [:]).mapValues { $0 })
    }

    func path(_ s: String) -> TracedPath { TracedPath(bytes: Array(s.utf8)) }

    func facts(_ name: String, _ args: [UInt64] = [0, 0, 0, 0, 0, 0]) -> CallFacts {
        CallFacts(name: name, call: MutatingCall.catalog[name]!, args: args)
    }

    @Test(arguments: [BackendKind.ptrace, .ebpf])
    func renameFlagsDecideTheOperations(_ backend: BackendKind) {
        var exchange = facts("renameat2", [0, 0, 0, 0, 2, 0])
        exchange.paths = [path("/srv/a"), path("/srv/b")]
        var plain = facts("rename")
        plain.paths = [path("/srv/tmp.1"), path("/srv/data")]
        plain.bytes = 7
        let files = run([exchange, plain], backend: backend).files
        let ops = Dictionary(grouping: files, by: \.path).mapValues { Set($0.map(\.operation)) }
        #expect(ops["/srv/a"] == [.exchange] && ops["/srv/b"] == [.exchange])
        #expect(files.first { $0.path == "/srv/a" }?.flags == ["RENAME_EXCHANGE"])
        #expect(ops["/srv/tmp.1"] == [.renameFrom] && ops["/srv/data"] == [.renameTo])
        #expect(files.first { $0.path == "/srv/data" }?.bytes == 7)
    }

    @Test func aLinkNamingAnUnnamedFileIsACreate() {
        var named = facts("linkat", [0, 0, 0, 0, 0x1000, 0])
        named.paths = [path("/data/upload.bin")]
        named.namesUnnamedFile = true
        var hard = facts("link")
        hard.paths = [path("/data/other")]
        let files = run([named, hard]).files
        #expect(files.first { $0.path == "/data/upload.bin" }?.operation == .create)
        #expect(files.first { $0.path == "/data/upload.bin" }?.flags == ["O_TMPFILE"])
        #expect(files.first { $0.path == "/data/other" }?.operation == .link)
    }

    @Test func openOperationsFromFlagsExistenceAndErrno() {
        let oCreat: UInt64 = 0o100, oExcl: UInt64 = 0o200, oWronly: UInt64 = 1, oTrunc: UInt64 = 0o1000
        var created = facts("openat"); created.openFlags = oCreat | oWronly; created.existed = false; created.paths = [path("/tmp/new")]
        var exclExisting = facts("openat"); exclExisting.openFlags = oCreat | oExcl | oWronly; exclExisting.errno = EEXIST; exclExisting.paths = [path("/tmp/lock")]
        var truncated = facts("openat"); truncated.openFlags = oTrunc | oWronly; truncated.paths = [path("/etc/x")]
        truncated.opened = path("/etc/real-x")  // the kernel's own name wins on success
        let files = run([created, exclExisting, truncated]).files
        #expect(files.first { $0.path == "/tmp/new" }?.operation == .create)
        #expect(files.first { $0.path == "/tmp/lock" }?.operation == .write)
        #expect(files.first { $0.path == "/tmp/lock" }?.existedBefore == true)
        #expect(files.first { $0.path == "/etc/real-x" }?.operation == .truncate)
        #expect(!files.contains { $0.path == "/etc/x" })
    }

    @Test(arguments: [BackendKind.ptrace, .ebpf])
    func bindHintsOnlyOnSuccessAndNamesUnixSockets(_ backend: BackendKind) {
        var low = facts("bind"); low.sockaddr = [2, 0, 0, 80]  // AF_INET, port 80
        var refused = facts("bind"); refused.sockaddr = [2, 0, 0x01, 0xBB]; refused.errno = EACCES  // 443, refused
        var unix = facts("bind"); unix.sockaddr = [1, 0] + Array("/run/app.sock".utf8) + [0]; unix.paths = [path("/run/app.sock")]
        let r = run([low, refused, unix], backend: backend)
        #expect(r.hints["NET_BIND_SERVICE"] == ["/usr/bin/app"])
        #expect(r.files.map(\.path) == ["/run/app.sock"])
        #expect(r.files.first?.operation == .bind)
    }

    @Test func asyncIOIsWordedByWhatEachBackendDid() {
        var denied = facts("io_uring_setup"); denied.deniedByTracer = true; denied.errno = ENOSYS
        var used = facts("io_uring_setup")
        let p = run([denied]).blind.map(\.detail)
        let e = run([used], backend: .ebpf).blind.map(\.detail)
        #expect(p.count == 1 && p[0].contains("denied with ENOSYS"))
        #expect(e.count == 1 && e[0].contains("not seen"))
        used.errno = EPERM
        #expect(run([used], backend: .ebpf).blind.isEmpty)
    }

    @Test func chrootChangesTheProcessRootAndPathsStayAsItSeesThem() {
        let builder = RecordingBuilder()
        let proc = ProcessState(pid: 7, ppid: 1, exe: "/sbin/jail")
        let i = CallInterpreter(backend: .ebpf, builder: builder)
        var c = facts("chroot"); c.paths = [path("/srv/jail")]
        i.interpret(c, process: proc)
        #expect(proc.root == "/srv/jail")
        var read = facts("chroot"); read.paths = [path("/inner")]; read.newRoot = .some("/srv/jail/inner")
        i.interpret(read, process: proc)
        #expect(proc.root == "/srv/jail/inner")
    }

    @Test func aCallCutShortByDeathIsRecordedWithAnUnknownOutcome() {
        var f = facts("unlink"); f.paths = [path("/tmp/x")]; f.outcomeKnown = false
        let r = run([f])
        #expect(r.files.first?.unknownOutcome == 1)
        #expect(r.blind.contains { $0.kind == .unknownOutcome })
    }

    @Test func theEntryFilterMatchesTheProbeDescriptors() {
        #expect(!CallInterpreter.matters(MutatingCall.catalog["openat"]!, name: "openat", args: [0, 0, 0, 0, 0, 0]))  // O_RDONLY
        #expect(CallInterpreter.matters(MutatingCall.catalog["openat"]!, name: "openat", args: [0, 0, 0o101, 0, 0, 0]))
        #expect(!CallInterpreter.matters(MutatingCall.catalog["unshare"]!, name: "unshare", args: [0x4000_0000, 0, 0, 0, 0, 0]))
        #expect(CallInterpreter.matters(MutatingCall.catalog["unshare"]!, name: "unshare", args: [0x0002_0000, 0, 0, 0, 0, 0]))
        #expect(!CallInterpreter.matters(MutatingCall.catalog["mq_open"]!, name: "mq_open", args: [0, 0, 0, 0, 0, 0]))
    }

    @Test func processesFromProcRecordTheEffectiveIDs() throws {
        let table = ProcessTable()
        let me = table.registerFromProc(getpid())
        #expect(me.uid == Int(geteuid()))
        #expect(me.gid == Int(getegid()))
        #expect(table.count == 1)
        #expect(table[getpid()] === me)
    }

    @Test func pathsAreTidiedTheSameWay() {
        #expect(PathText.tidy(Array("//a/./b/".utf8)) == Array("/a/b".utf8))
        #expect(PathText.join(Array("/srv".utf8), Array("x/../y".utf8)) == Array("/srv/x/../y".utf8))
        #expect(PathText.stripRoot(Array("/jail/etc".utf8), "/jail") == Array("/etc".utf8))
    }
}

/// --ready-url as users write it.
@Suite struct ReadyURLTests {
    @Test func tcpHttpAndBareFormsParse() throws {
        #expect(try ReadinessProbe.Target.parse("tcp://127.0.0.1:3306").get() == .init(host: "127.0.0.1", port: 3306, httpPath: nil))
        #expect(try ReadinessProbe.Target.parse("127.0.0.1:3306").get() == .init(host: "127.0.0.1", port: 3306, httpPath: nil))
        #expect(try ReadinessProbe.Target.parse("http://[::1]:8080/health").get() == .init(host: "::1", port: 8080, httpPath: "/health"))
        guard case .failure(let e) = ReadinessProbe.Target.parse("udp://127.0.0.1:53") else { Issue.record("udp accepted"); return }
        #expect("\(e)".contains("'udp://' is not supported") && "\(e)".contains("tcp://HOST:PORT"), "\(e)")
        guard case .failure = ReadinessProbe.Target.parse("tcp://host:99999") else { Issue.record("a bad port accepted"); return }
    }
}
