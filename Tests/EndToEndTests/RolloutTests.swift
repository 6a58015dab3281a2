import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// A first rollout as a platform engineer does it: the profile in log mode (SCMP_ACT_LOG), the app
/// doing work the recording never saw, the kernel's log of what the profile would have denied fed
/// back with `suggest --kernel-log`; the refined profile, in deny mode, then runs that work in podman
/// while the unrefined one refuses it.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RolloutTests {
    let roprof = Support.roprof
    static let image = "localhost/roprof-test/bookworm:latest"
    static var env: [String: String] { ["CONTAINERS_CONF": Support.packageRoot.appendingPathComponent("Fixtures/podman/containers.conf").path] }

    func kernelLogLines() -> [String] {
        ((try? Support.run(["dmesg"]))?.stdout ?? "").split(separator: "\n").map(String.init)
    }

    @Test func whatTheKernelLoggedRefinesTheProfile() throws {
        _ = try Support.which("podman")
        _ = try Support.which("dmesg")
        guard Support.spawnAndWait(["podman", "image", "exists", Self.image], env: Self.env) == 0 else {
            throw Support.MissingTool(tool: "the test image \(Self.image) (bash .ci/setup builds it)")
        }
        let dir = Support.scratch("rollout"), rec = dir + "/rec.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--image", Self.image, "--", "/bin/sh", "-c", "echo recorded"], env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        let logOnly = try Support.run([roprof, "suggest", "--format", "seccomp", "--seccomp-log-only", "-o", dir + "/log.json", rec])
        #expect(logOnly.status == 0, "\(logOnly.stderr)")
        // New work the recording never saw: nice(1) sets and reads a priority.
        let work = ["/bin/sh", "-c", "nice -n 5 sh -c 'echo niced'"]
        let deny = try Support.run([roprof, "suggest", "--format", "seccomp", "-o", dir + "/deny.json", rec])
        #expect(deny.status == 0)
        let denied = try Support.run(["podman", "run", "--rm", "--security-opt", "seccomp=\(dir)/deny.json", Self.image] + work, env: Self.env)
        #expect(denied.status != 0 || !denied.stdout.contains("niced"), "the unrefined profile refuses the new work: \(denied.stdout)")
        // As a rollout goes: log mode, read what the kernel logged, refine; again while something is still
        // refused (the kernel rate-limits its audit lines, so one pass may not hold every call).
        var kernelLog = "", added = ""
        var ok = try Support.run(["/bin/false"])
        for pass in 0..<3 {
            if pass > 0 { usleep(5_500_000) }  // past printk's rate-limit window (10 lines in 5 s)
            let before = kernelLogLines().count
            let logged = try Support.run(["podman", "run", "--rm", "--security-opt", "seccomp=\(dir)/log.json", Self.image] + work, env: Self.env)
            #expect(logged.status == 0 && logged.stdout.contains("niced"), "log mode denies nothing: \(logged.stderr)")
            let after = kernelLogLines()
            kernelLog += (after.count > before ? after.suffix(after.count - before) : after[...]).joined(separator: "\n") + "\n"
            try kernelLog.write(toFile: dir + "/kernel.log", atomically: true, encoding: .utf8)
            guard kernelLog.contains("type=1326") else { continue }
            let refined = try Support.run([roprof, "suggest", "--format", "seccomp", "--kernel-log", dir + "/kernel.log", "-o", dir + "/refined.json", rec])
            #expect(refined.status == 0, "\(refined.stderr)")
            added += refined.stderr
            ok = try Support.run(["podman", "run", "--rm", "--security-opt", "seccomp=\(dir)/refined.json", Self.image] + work, env: Self.env)
            if ok.status == 0 && ok.stdout.contains("niced") { break }
        }
        guard kernelLog.contains("type=1326") else {
            Issue.record("the kernel logged no seccomp record (is 'log' in /proc/sys/kernel/seccomp/actions_logged?): \(kernelLog.suffix(400))")
            return
        }
        #expect(added.contains("added from the kernel log") && added.contains("setpriority"), "\(added)")
        #expect(ok.status == 0 && ok.stdout.contains("niced"), "the refined profile runs it: \(ok.stderr)")
    }
}
