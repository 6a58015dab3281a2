import Foundation
import Testing
import TestSupport
@testable import Analysis
@testable import TraceModel
@testable import Hardening

/// `suggest --workloads`: which runs make which workload, and what each one mounts.
@Suite struct WorkloadPlanTests {
    let catalog = try! ProfileCatalog.load()

    func run(_ id: String, _ service: String, stopped: Bool, name: String? = nil, signal: Int? = nil) -> RunInfo {
        var r = RecordingFixture.run(id, command: ["tini", "-s", "--", "/app/entrypoint.sh", service])
        r.stoppedByRoprof = stopped
        r.name = name
        if let s = signal { r.exit = ExitInfo(signal: s) }
        return r
    }

    @Test func servicesGetOnlyTheirOwnMountsAndOneShotsBecomeCronJobs() throws {
        let rec = Recording(runs: [run("run-a", "webserver", stopped: true), run("run-b", "engine", stopped: false),
                                   run("run-c", "webserver", stopped: false, signal: 15)],  // a replica stopped by SIGTERM
                            files: [RecordingFixture.m("/run/web.pid", .create, runs: ["run-a", "run-c"]),
                                    RecordingFixture.m("/srv/data/jobs.db", .create, runs: ["run-a", "run-b"]),
                                    RecordingFixture.m("/tmp/engine-report.txt", .create, runs: ["run-b"])],
                            syscalls: ["x86_64": ["read": 1]], blindSpots: []).normalized()
        let a = try Analyzer(runtime: catalog.runtime(named: "kubernetes"), catalog: catalog).analyze(rec)
        let plan = Workload.plan(a, rec)
        #expect(plan.map(\.name) == ["engine", "webserver"], "names come from the command's last word when runs have no --name")
        let web = try #require(plan.first { $0.name == "webserver" })
        let engine = try #require(plan.first { $0.name == "engine" })
        #expect(web.kind == .deployment && web.runIDs == ["run-a", "run-c"])
        #expect(engine.kind == .cronJob, "it exited by itself")
        #expect(web.mountPaths == ["/run", "/srv/data"], "\(web.mountPaths)")
        #expect(engine.mountPaths == ["/srv/data", "/tmp"], "\(engine.mountPaths)")
    }

    @Test(arguments: [("Web_Server", "web-server"), ("9lives", "svc-9lives"), ("--", "svc")])
    func derivedNamesAreDNSLabels(_ raw: String, _ label: String) {
        #expect(Workload.dnsLabel(raw) == label)
    }
}

/// Calls the seccomp profile allows although the recording never saw them, from evidence.
@Suite struct ForeseenCallsTests {
    @Test func numberedDurableSegmentsForeseeTheirRemoval() {
        let log = RecordingFixture.recording([
            RecordingFixture.m("/var/lib/q/binlog.1", .create, exe: "/usr/bin/beanstalkd"), RecordingFixture.m("/var/lib/q/binlog.1", .sync, exe: "/usr/bin/beanstalkd"),
            RecordingFixture.m("/var/lib/q/binlog.2", .create, exe: "/usr/bin/beanstalkd"),
        ])
        let plan = SeccompPlan.build(log, baseline: [], target: .x86_64)
        #expect(plan.names.contains("unlink") && plan.names.contains("unlinkat"))
        #expect(plan.foreseen.first?.why.contains("/var/lib/q (binlog.1, binlog.2)") == true, "\(plan.foreseen)")
        // One durable file, or numbered files never synced: no log of segments, nothing foreseen.
        let single = RecordingFixture.recording([RecordingFixture.m("/var/lib/r/dump.rdb", .create), RecordingFixture.m("/var/lib/r/dump.rdb", .sync)])
        #expect(SeccompPlan.build(single, baseline: [], target: .x86_64).foreseen.isEmpty)
        let notDurable = RecordingFixture.recording([RecordingFixture.m("/srv/out/part-1.csv", .create), RecordingFixture.m("/srv/out/part-2.csv", .create)])
        #expect(SeccompPlan.build(notDurable, baseline: [], target: .x86_64).foreseen.isEmpty)
    }
}

/// Asynchronous-I/O setup the tracer answered ENOSYS while recording gets the same answer from the
/// profile, never an allow of the setup alone.
@Suite struct AsyncSetupAnswerTests {
    @Test func deniedWhileRecordingIsAnsweredENOSYS() {
        var r = RecordingFixture.recording([RecordingFixture.m("/var/lib/db/ibdata1", .write)],
                                           syscalls: ["read": 9, "pwrite64": 4, "io_uring_setup": 1, "io_setup": 1, "openat": 3])
        r.blindSpots = [BlindSpot(kind: .ioUring, detail: "io_uring_setup denied with ENOSYS while recording, so the app falls back to plain syscalls (which are recorded)"),
                        BlindSpot(kind: .linuxAIO, detail: "io_setup denied with ENOSYS while recording, so the app falls back to plain syscalls (which are recorded)")]
        let plan = SeccompPlan.build(r, baseline: [], target: .x86_64)
        #expect(plan.asyncDenied == ["io_setup", "io_uring_setup"])
        #expect(plan.enosys.contains("io_uring_setup") && plan.enosys.contains("io_setup"))
        #expect(!plan.names.contains("io_uring_setup") && !plan.names.contains("io_setup"), "\(plan.names)")
        // Used by an attached or eBPF recording (not denied): allowed as seen, nothing answered for it.
        var used = r
        used.blindSpots = [BlindSpot(kind: .ioUring, detail: "io_uring_setup used: the file I/O submitted through it is not seen")]
        let usedPlan = SeccompPlan.build(used, baseline: [], target: .x86_64)
        #expect(usedPlan.names.contains("io_uring_setup") && usedPlan.asyncDenied.isEmpty)
    }
}

/// Capabilities the printed settings add, from evidence.
@Suite struct CapabilityEvidenceTests {
    func rootRecording(_ files: [FileMutation], dirOwner: Int, mode: Int) -> Recording {
        var r = RecordingFixture.recording(files, uid: 0)
        for i in r.runs[0].processes.indices { r.runs[0].processes[i].uid = 0 }
        let pid = r.runs[0].processes[0].pid
        for i in r.files.indices { r.files[i].pids = [pid] }
        r.filesystem = FilesystemFacts(directories: ["/var/lib/app": DirectoryFacts(uid: dirOwner, gid: dirOwner, mode: mode, entries: [], entryCount: 0)])
        return r
    }

    @Test func rootChangingAnotherUsersDirectoryNeedsDacOverride() {
        let r = rootRecording([RecordingFixture.m("/var/lib/app/state.db", .create)], dirOwner: 105, mode: 0o755)
        #expect(Hardening.dacOverrideEvidence(r) == "/var/lib/app")
        // Its own directory, one open to others, or one it made itself: no override needed.
        #expect(Hardening.dacOverrideEvidence(rootRecording([RecordingFixture.m("/var/lib/app/state.db", .create)], dirOwner: 0, mode: 0o755)) == nil)
        #expect(Hardening.dacOverrideEvidence(rootRecording([RecordingFixture.m("/var/lib/app/state.db", .create)], dirOwner: 105, mode: 0o777)) == nil)
        let madeHere = rootRecording([RecordingFixture.m("/var/lib/app", .mkdir), RecordingFixture.m("/var/lib/app/state.db", .create)], dirOwner: 105, mode: 0o755)
        #expect(Hardening.dacOverrideEvidence(madeHere) == nil)
    }
}
