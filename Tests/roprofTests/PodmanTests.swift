import Foundation
import Testing
@testable import TraceModel

/// End to end in a real engine: the settings `roprof suggest --format podman` emits (read-only
/// root, tmpfs mounts, volumes, the generated seccomp profile) run the app in podman + runc on a
/// Debian root filesystem; the same app without them fails.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PodmanTests {
    static let rootfs = "/var/cache/roprof/rootfs-bookworm"
    static var conf: String { Support.packageRoot.appendingPathComponent("Fixtures/podman/containers.conf").path }

    /// A shell app that writes scratch files, a cache directory and a state file.
    static let app = """
    set -e
    mkdir -p /var/cache/roprof-e2e
    echo state > /var/cache/roprof-e2e/state
    tmp=$(mktemp /tmp/roprof-e2e.XXXXXX)
    echo scratch > "$tmp"
    rm "$tmp"
    cat /etc/hostname > /dev/null
    echo app-ok
    """

    func requireEngine() throws {
        _ = try Support.which("podman")
        _ = try Support.which("runc")
        guard FileManager.default.fileExists(atPath: Self.rootfs + "/usr/bin/sh") else {
            throw Support.MissingTool(tool: "debootstrap")
        }
    }

    /// The argv of the emitted `podman run` command, with IMAGE replaced by --rootfs.
    func podmanArgs(_ emitted: String) throws -> [String] {
        let script = emitted.replacingOccurrences(of: "podman run", with: "printf '%s\\n'")
        let o = try Support.run(["/bin/sh", "-c", script])
        var args = o.stdout.split(separator: "\n").map(String.init)
        guard let image = args.firstIndex(of: "IMAGE") else { throw ModelError("no IMAGE in \(emitted)") }
        args.removeSubrange(image...)  // the recorded command follows; we pass our own
        return args
    }

    func podman(_ args: [String], cwd: String) throws -> Support.Output {
        try Support.run(["podman", "run", "--rm"] + args + ["--rootfs", Self.rootfs, "/bin/sh", "-c", Self.app],
                        env: ["CONTAINERS_CONF": Self.conf], cwd: cwd)
    }

    @Test func suggestedFlagsRunTheAppAndWithoutThemItFails() throws {
        try requireEngine()
        let dir = Support.scratch("podman")
        defer { try? FileManager.default.removeItem(atPath: "/var/cache/roprof-e2e") }
        let rec = dir + "/rec.json"
        let r = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--", "/bin/sh", "-c", Self.app])
        #expect(r.status == 0, "\(r.stderr)")
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", "--runtime", "docker", rec])
        #expect(emitted.status == 0)
        let seccomp = try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec])
        try seccomp.stdout.write(toFile: dir + "/roprof-seccomp.json", atomically: true, encoding: .utf8)
        let args = try podmanArgs(emitted.stdout)
        #expect(args.contains("--read-only"))
        #expect(args.contains { $0.hasPrefix("--security-opt=seccomp=") })
        #expect(args.contains { $0.contains("destination=/tmp") } && args.contains { $0.contains("destination=/var/cache/roprof-e2e") })

        let ok = try podman(args, cwd: dir)
        #expect(ok.status == 0, "hardened run failed: \(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("app-ok"))

        // The same app with only a read-only root fails: the settings are what made it work.
        let bare = try podman(["--read-only", "--read-only-tmpfs=false"], cwd: dir)
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("Read-only file system"), "\(bare.stderr)")
    }

    @Test func theGeneratedSeccompProfileIsEnforced() throws {
        try requireEngine()
        let dir = Support.scratch("podman-seccomp")
        defer { try? FileManager.default.removeItem(atPath: "/var/cache/roprof-e2e") }
        let rec = dir + "/rec.json"
        _ = try Support.run([Support.roprof, "record", "--quiet", "-o", rec, "--", "/bin/sh", "-c", Self.app])
        let emitted = try Support.run([Support.roprof, "suggest", "--format", "podman", "--runtime", "docker", rec])
        let args = try podmanArgs(emitted.stdout)
        // Remove unlink from the profile: the app's `rm` must now fail inside the engine.
        var names = try JSONSerialization.jsonObject(with: Data(try Support.run([Support.roprof, "suggest", "--format", "seccomp", rec]).stdout.utf8)) as! [String: Any]
        var rules = names["syscalls"] as! [[String: Any]]
        rules[0]["names"] = (rules[0]["names"] as! [String]).filter { $0 != "unlink" && $0 != "unlinkat" }
        names["syscalls"] = rules
        try JSONSerialization.data(withJSONObject: names).write(to: URL(fileURLWithPath: dir + "/roprof-seccomp.json"))
        let denied = try podman(args, cwd: dir)
        #expect(denied.status != 0, "unlink should be denied by the edited profile: \(denied.stdout)")
        #expect(denied.stderr.contains("Operation not permitted"), "\(denied.stderr)")
    }
}
