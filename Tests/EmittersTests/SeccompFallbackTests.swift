import Foundation
import Testing
@testable import Emitters
@testable import Hardening
@testable import TraceModel

/// ENOSYS is not EPERM: a newer entry point the run never made, whose older equivalent it made, is
/// answered ENOSYS so libc falls back (clone3 under Docker's default profile is the case that broke threads).
@Suite struct SeccompFallbackTests {
    func plan(_ calls: [String]) -> SeccompPlan {
        let run = RunInfo(id: "r", command: ["app"], cwd: "/", mode: .full, host: HostFacts(arch: "x86_64", kernel: "6", uid: 0, gid: 0),
                          startedAt: "2026-01-01T00:00:00Z", durationSeconds: 1, exit: ExitInfo(code: 0), attachedPid: nil, complete: true, processes: [])
        let rec = Recording(runs: [run], files: [], syscalls: ["x86_64": Dictionary(uniqueKeysWithValues: calls.map { ($0, 1) })], blindSpots: [])
        return SeccompPlan.build(rec, baseline: [], target: .x86_64)
    }

    @Test func clone3IsAnsweredENOSYSWhenOnlyCloneWasSeen() throws {
        let p = plan(["clone", "read", "write", "exit_group"])
        #expect(p.enosys.contains("clone3"))
        #expect(!p.names.contains("clone3"))
        let json = try SeccompEmitter.json(p)
        #expect(json.contains("\"errnoRet\" : 38"))
        let spo = try SeccompEmitter.spo(p, name: "app", namespace: nil)
        #expect(spo.contains("errnoRet: 38"))
    }

    @Test func aCallSeenIsAllowedAndNothingUnrelatedIsAnsweredENOSYS() {
        let p = plan(["clone3", "clone", "read"])
        #expect(p.names.contains("clone3"))
        #expect(!p.enosys.contains("clone3"))
        #expect(plan(["read", "write"]).enosys.isEmpty, "no fallback target seen: nothing but the default EPERM")
        #expect(p.enosys.allSatisfy { !Recording.dangerousSyscalls.contains($0) })
    }
}
