import Foundation
import Testing
@testable import Emitters
@testable import Hardening
@testable import TraceModel
import Analysis
@testable import Seccomp

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

/// Families: allowing an operation allows its equivalent entry points, never a call that matters for
/// security that was not seen.
@Suite struct SeccompFamilyTests {
    let catalog = try! ProfileCatalog.load()

    func plan(_ calls: [String]) -> SeccompPlan {
        let run = RunInfo(id: "r", command: ["app"], cwd: "/", mode: .full, host: HostFacts(arch: "x86_64", kernel: "6", uid: 0, gid: 0),
                          startedAt: "2026-01-01T00:00:00Z", durationSeconds: 1, exit: ExitInfo(code: 0), attachedPid: nil, complete: true, processes: [])
        let rec = Recording(runs: [run], files: [], syscalls: ["x86_64": Dictionary(uniqueKeysWithValues: calls.map { ($0, 1) })], blindSpots: [])
        return SeccompPlan.build(rec, baseline: catalog.seccompBaseline, target: .x86_64, families: catalog.seccompFamilies,
                                 dockerDefault: catalog.dockerDefault)
    }

    /// The report compares the profile with Docker's default: an ordinary app's profile stays inside
    /// it; a call Docker's default denies shows up by name only when the app made it.
    @Test func theProfileIsMeasuredAgainstDockersDefault() {
        let ordinary = plan(["read", "write", "openat", "clone", "accept4", "epoll_wait"])
        #expect((280...340).contains(ordinary.dockerDefaultCount), "\(ordinary.dockerDefaultCount)")
        #expect(ordinary.beyondDockerDefault.isEmpty, "\(ordinary.beyondDockerDefault)")
        #expect(ordinary.names.count < ordinary.dockerDefaultCount)
        let mounting = plan(["read", "mount", "unshare"])
        #expect(mounting.beyondDockerDefault == ["mount", "unshare"], "\(mounting.beyondDockerDefault)")
    }

    @Test func everyMemberOfAFamilyIsAllowedWhenOneIs() throws {
        #expect(!catalog.seccompFamilies.isEmpty)
        let table = SyscallTable(arch: .x86_64)
        for f in catalog.seccompFamilies {
            for seen in f.calls where table.number(seen) != nil {
                let p = plan([seen])
                for member in f.calls where table.number(member) != nil {
                    #expect(p.names.contains(member), "\(f.name): \(seen) seen, \(member) must be allowed")
                }
            }
        }
    }

    @Test func theCasesThatBrokeRestarts() {
        #expect(plan(["rename", "symlinkat", "unlink"]).names.contains("renameat"), "ln -sfn on an existing link")
        #expect(plan(["truncate"]).names.contains("ftruncate"), "etcd repairing its WAL on a restart")
        #expect(plan(["uname"]).names.contains("sysinfo"), "lighttpd with an existing cache")
        #expect(plan(["getuid", "geteuid"]).names.contains("getegid"), "the JVM under -XX:-UsePerfData")
    }

    @Test func noCallThatMattersForSecurityIsAllowedUnseen() {
        let all = catalog.seccompFamilies.flatMap(\.calls)
        #expect(Set(all).isDisjoint(with: Recording.dangerousSyscalls), "a family lists a dangerous call")
        let p = plan(all)
        #expect(p.names.filter { Recording.dangerousSyscalls.contains($0) }.isEmpty)
        #expect(Set(catalog.seccompBaseline).isDisjoint(with: Recording.dangerousSyscalls))
        let seen = plan(["read", "mount"])
        #expect(seen.names.contains("mount"), "seen: allowed, and named in a warning")
        #expect(seen.warnings.contains { $0.hasPrefix("mount is allowed because") })
        #expect(!seen.names.contains("umount2"))
    }
}

/// Shell words in printed commands: `$PWD` expands, everything else is literal.
@Suite struct ShellWordTests {
    func shell(_ script: String, cwd: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func pwdExpandsAndTheRestStaysLiteral() throws {
        let arg = "--mount=type=bind,source=$PWD/roprof-files/app's $(x),destination=/etc/app's $(x)"
        let word = DockerEmitter.shellWord(arg)
        let out = try shell("printf '%s' " + word, cwd: "/tmp")
        #expect(out == "--mount=type=bind,source=/tmp/roprof-files/app's $(x),destination=/etc/app's $(x)", "\(word) → \(out)")
        #expect(DockerEmitter.shellWord("--read-only") == "--read-only")
    }
}

/// The kernel's seccomp records, as dmesg, journalctl -k and the audit log print them.
@Suite struct KernelSeccompLogTests {
    @Test func readsTheCallTheArchitectureAndTheProgram() {
        let text = """
        [10434.428975] audit: type=1326 audit(1796234003.077:4): auid=4294967295 uid=10001 gid=10001 ses=4294967295 pid=29926 comm="cat" exe="/usr/bin/cat" sig=0 arch=c000003e syscall=221 compat=0 ip=0x7ff0162993ca code=0x7ffc0000
        Dec 02 17:50:01 host kernel: audit: type=1326 audit(1796234003.085:5): pid=29927 comm="python3" exe="/usr/bin/python3.11" sig=0 arch=c000003e syscall=140 compat=0 ip=0x7fb55b3c9b67 code=0x7ffc0000
        type=SECCOMP msg=audit(1796234003.085:6): pid=29927 comm="python3" exe="/usr/bin/python3.11" sig=0 arch=c000003e syscall=140 compat=0 ip=0x7fb55b3c9b67 code=0x7ffc0000
        type=SECCOMP msg=audit(1796234003.085:7): pid=1 comm="x" exe="/x" sig=0 arch=deadbeef syscall=1 compat=0
        [1.0] docker0: port 1 entered disabled state
        """
        let log = KernelSeccompLog.parse(text)
        #expect(log.calls[.init(arch: .x86_64, name: "fadvise64", exe: "/usr/bin/cat")] == 1)
        #expect(log.calls[.init(arch: .x86_64, name: "getpriority", exe: "/usr/bin/python3.11")] == 2)
        #expect(log.calls.count == 2 && log.unknown == 1)
    }
}
