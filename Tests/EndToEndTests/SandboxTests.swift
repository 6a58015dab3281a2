import Foundation
import Testing
import TestSupport
import Hardening
@testable import Emitters
@testable import TraceModel

/// `verify` and `diagnose`, in the real sandbox: both directions (the suggested settings work;
/// without any one of them the app fails, and roprof names why).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SandboxTests {
    let roprof = Support.roprof
    static var quickstart: String { Support.packageRoot.appendingPathComponent("Fixtures/apps/quickstart").path }

    /// Records the quickstart app, copied (with its data directory) outside /tmp as in an image:
    /// the sandbox mounts a tmpfs on /tmp, which would hide an app that lives there.
    /// Runs from the app's directory (the checkout may live under /tmp, which the sandbox covers).
    func run(_ args: [String], env: [String: String]) throws -> Support.Output {
        try Support.run(args, env: env, cwd: (env["QUICKSTART_DATA"]! as NSString).deletingLastPathComponent)
    }

    func recordQuickstart() throws -> (rec: String, env: [String: String], cmd: [String]) {
        let dir = Support.scratch("qs")
        let base = "/srv/roprof-test-\(UUID().uuidString.prefix(8))"
        let data = base + "/data"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        for f in ["app.py", "helpers.py"] { try FileManager.default.copyItem(atPath: Self.quickstart + "/" + f, toPath: base + "/" + f) }
        let env = ["QUICKSTART_DATA": data, "PYTHONDONTWRITEBYTECODE": "1"]
        let cmd = [try Support.which("python3"), base + "/app.py"]
        let rec = dir + "/rec.json"
        let o = try Support.run([roprof, "record", "--quiet", "-o", rec, "--"] + cmd, env: env, cwd: base)
        #expect(o.status == 0, "\(o.stderr)")
        try? FileManager.default.removeItem(atPath: data)
        return (rec, env, cmd)
    }

    @Test func verifyPassesWithTheSuggestedSettings() throws {
        let (rec, env, cmd) = try recordQuickstart()
        defer { try? FileManager.default.removeItem(atPath: (env["QUICKSTART_DATA"]! as NSString).deletingLastPathComponent) }
        let o = try run([roprof, "verify", "--quiet", "--from", rec, "--"] + cmd, env: env)
        #expect(o.status == 0, "\(o.stdout)\(o.stderr)")
        #expect(o.stdout.contains("PASS"))
        #expect(o.stdout.contains("hello from the quickstart app"))
    }

    @Test func droppingAnySuggestedMountFailsAndNamesThePath() throws {
        let (rec, env, cmd) = try recordQuickstart()
        defer { try? FileManager.default.removeItem(atPath: (env["QUICKSTART_DATA"]! as NSString).deletingLastPathComponent) }
        let mounts = try Recording.load(path: rec)
        let suggestion = try Support.run([roprof, "report", "--format", "json", rec])
        let obj = try JSONSerialization.jsonObject(with: Data(suggestion.stdout.utf8)) as! [String: Any]
        let paths = (obj["mounts"] as! [[String: Any]]).map { $0["path"] as! String }
        #expect(paths.count >= 3, "\(paths) from \(mounts.files.count) files")
        for p in paths {
            let o = try run([roprof, "verify", "--quiet", "--from", rec, "--without", p, "--"] + cmd, env: env)
            #expect(o.status == 1, "verify without \(p) should fail: \(o.stdout)")
            #expect(o.stdout.contains("EROFS") && o.stdout.contains(p), "names \(p): \(o.stdout)")
        }
    }

    @Test func removingOneRecordedSyscallFailsAndNamesIt() throws {
        let (rec, env, cmd) = try recordQuickstart()
        defer { try? FileManager.default.removeItem(atPath: (env["QUICKSTART_DATA"]! as NSString).deletingLastPathComponent) }
        let profile = try Support.run([roprof, "suggest", "--format", "seccomp", rec])
        var names = try SeccompPlan.allowedNames(fromJSON: Data(profile.stdout.utf8))
        #expect(names.contains("getcwd"))
        names.remove("getcwd")
        let edited = Support.scratch("seccomp") + "/minus.json"
        let json = try JSONSerialization.data(withJSONObject: ["defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                                                               "syscalls": [["names": names.sorted(), "action": "SCMP_ACT_ALLOW"]]])
        try json.write(to: URL(fileURLWithPath: edited))
        let o = try run([roprof, "verify", "--quiet", "--from", rec, "--seccomp", edited, "--"] + cmd, env: env)
        #expect(o.status == 1)
        #expect(o.stdout.contains("seccomp denied getcwd"), "\(o.stdout)")
        let full = try run([roprof, "verify", "--quiet", "--from", rec, "--no-seccomp", "--"] + cmd, env: env)
        #expect(full.status == 0, "--no-seccomp isolates the read-only half: \(full.stdout)")
    }

    @Test func diagnoseNamesTheFailingWriteAndTheFix() throws {
        let dir = "/var/cache/roprof-diag-\(getpid())"
        let o = try Support.run([roprof, "diagnose", "--quiet", "--", "/bin/sh", "-c", "mkdir -p \(dir) && echo x > \(dir)/state"], cwd: "/")
        #expect(o.status == 1)
        #expect(o.stdout.contains("EROFS"))
        #expect(o.stdout.contains(dir))
        #expect(o.stdout.contains("fix: mount emptyDir"))
        #expect(o.stdout.contains("exited with status"))
        #expect(!FileManager.default.fileExists(atPath: dir), "the read-only root really refused it")
    }

    @Test func diagnoseOfAnAppThatWritesNothingBadPasses() throws {
        let o = try Support.run([roprof, "diagnose", "--quiet", "--", "/bin/sh", "-c", "echo hi > /dev/null; cat /etc/hostname >/dev/null"], cwd: "/")
        #expect(o.status == 0, "\(o.stdout)")
        #expect(o.stdout.contains("no write was refused"))
    }

    @Test func sandboxLeavesNoMountPointsBehind() throws {
        let (rec, env, cmd) = try recordQuickstart()
        defer { try? FileManager.default.removeItem(atPath: (env["QUICKSTART_DATA"]! as NSString).deletingLastPathComponent) }
        let dataDir = env["QUICKSTART_DATA"]!
        _ = try run([roprof, "verify", "--quiet", "--from", rec, "--"] + cmd, env: env)
        #expect(!FileManager.default.fileExists(atPath: dataDir), "the persistent mount point created for verify is removed")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains("roprof-sandbox"), "nothing leaks into the host mount namespace")
    }

    /// The verify sandbox is as tight as a container: the app is PID 1 of its own PID namespace and
    /// cannot see or signal host processes (nor write through /proc/PID/root); its hostname, /dev,
    /// /dev/shm and /etc/hosts are its own; the kernel's settings under /proc/sys are read-only.
    /// Nothing it does reaches the host, and a write to /proc/sys is reported, never a PASS.
    @Test func theSandboxIsAsTightAsAContainer() throws {
        let dir = Support.scratch("isolation"), rec = dir + "/true.json"
        #expect(try Support.run([roprof, "record", "--quiet", "-o", rec, "--", "/bin/true"]).status == 0)
        let tag = "roprof-isolation-\(getpid())"
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: "/bin/sleep")
        victim.arguments = ["60"]
        try victim.run()
        defer { victim.terminate() }
        let hostName = try Support.run(["hostname"]).stdout
        let hostsBefore = try String(contentsOfFile: "/etc/hosts", encoding: .utf8)
        let probe = """
        echo "pid=$$"
        kill -9 \(victim.processIdentifier) 2>/dev/null && echo "killed a host process"
        echo x > /proc/\(victim.processIdentifier)/root/tmp/\(tag) 2>/dev/null && echo "wrote through /proc/PID/root"
        hostname \(tag) && echo "hostname=$(hostname)"
        touch /dev/\(tag) /dev/shm/\(tag) && mknod /dev/\(tag)-null c 1 3 && echo "wrote /dev"
        echo "127.0.0.1 \(tag)" >> /etc/hosts && echo "wrote /etc/hosts"
        echo "processes=$(ls /proc | grep -c '^[0-9]')"
        echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || echo "proc-sys refused"
        exit 0
        """
        // With roprof's own capabilities (--no-cap-drop): what isolates is the namespaces, not a denial.
        let v = try Support.run([roprof, "verify", "--no-seccomp", "--no-cap-drop", "--runtime", "docker", "--from", rec, "--", "/bin/sh", "-c", probe])
        let out = v.stdout + v.stderr
        // What the app printed (the verdict repeats the script, so whole lines only).
        let said = Set(out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(said.contains("pid=1"), "the app is PID 1 of its own namespace: \(out)")
        #expect(!said.contains("killed a host process") && victim.isRunning, "a host process survives: \(out)")
        #expect(!said.contains("wrote through /proc/PID/root"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(tag)"))
        let hostNameAfter = try Support.run(["hostname"]).stdout
        #expect(said.contains("hostname=\(tag)") && hostNameAfter == hostName, "the hostname is its own")
        #expect(said.contains("wrote /dev") && said.contains("wrote /etc/hosts"), "a container's /dev and /etc/hosts are writable: \(out)")
        for p in ["/dev/\(tag)", "/dev/shm/\(tag)", "/dev/\(tag)-null"] { #expect(!FileManager.default.fileExists(atPath: p), "\(p) reached the host") }
        let hostsAfter = try String(contentsOfFile: "/etc/hosts", encoding: .utf8)
        #expect(hostsAfter == hostsBefore, "the host's /etc/hosts is untouched")
        #expect(out.contains("processes=") && !out.contains("processes=0"), "\(out)")
        if let n = out.split(separator: "\n").first(where: { $0.hasPrefix("processes=") }).flatMap({ Int($0.dropFirst(10)) }) {
            #expect(n < 10, "only its own processes are visible: \(n)")
        }
        #expect(said.contains("proc-sys refused") && v.status == 1 && v.stdout.contains("/proc/sys/vm/drop_caches"),
                "a write to the kernel's settings is refused and reported: \(out)")

        // As printed (--cap-drop=ALL, nothing added for /bin/true): no capability, as in the container.
        let capsProbe = "grep CapEff /proc/self/status; hostname \(tag) 2>/dev/null && echo renamed; mknod /dev/\(tag)-x c 1 3 2>/dev/null && echo mknod; exit 0"
        let dropped = try Support.run([roprof, "verify", "--no-seccomp", "--runtime", "docker", "--from", rec, "--", "/bin/sh", "-c", capsProbe])
        let lines = Set((dropped.stdout + dropped.stderr).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(lines.contains("CapEff:\t0000000000000000") || lines.contains("CapEff:  0000000000000000") || (dropped.stdout + dropped.stderr).contains("0000000000000000"),
                "no capability left: \(dropped.stdout)\(dropped.stderr)")
        #expect(!lines.contains("renamed") && !lines.contains("mknod"), "sethostname and mknod need capabilities the settings do not add")
        #expect(dropped.stdout.contains("no capabilities"), "the verdict says which capabilities the app had: \(dropped.stdout)")
    }
}

/// Capabilities root uses implicitly, inferred from the recording and proven by verify (which runs the
/// app with exactly the printed set). coreutils' `install -d -o USER -m MODE` — what packaging scripts
/// and entrypoints use for run-time directories — makes the directory, hands it over, then sets its
/// mode: a chmod of another user's directory, which needs CAP_FOWNER once capabilities are dropped.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ImplicitCapabilityTests {
    let roprof = Support.roprof

    @Test(arguments: ["ptrace", "ebpf"]) func aChmodAfterAChownNeedsFowner(backend: String) throws {
        let dir = Support.scratch("fowner-\(backend)"), target = "/run/roprof-fowner-\(backend)-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let cmd = ["install", "-d", "-o", "nobody", "-g", "nogroup", "-m", "0750", target + "/app"]
        // The kernel's side of it: without CAP_FOWNER the same command fails as root.
        let capsh = try Support.which("capsh")
        let denied = try Support.run([capsh, "--drop=cap_fowner", "--", "-c", cmd.joined(separator: " ")])
        #expect(denied.status != 0 && denied.stderr.contains("Operation not permitted"), "\(denied.stderr)")
        try? FileManager.default.removeItem(atPath: target)
        let r = try Support.run([roprof, "record", "--quiet", "--backend", backend, "-o", dir + "/rec.json", "--"] + cmd)
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try Support.run([roprof, "suggest", "--format", "docker", dir + "/rec.json"])
        #expect(docker.stdout.contains("--cap-add=FOWNER") && docker.stdout.contains("--cap-add=CHOWN"), "\(docker.stdout)")
        #expect(docker.stderr.contains("FOWNER is added because a root process changed the mode"), "the reason is printed: \(docker.stderr)")
        try? FileManager.default.removeItem(atPath: target)
        let v = try Support.run([roprof, "verify", "--from", dir + "/rec.json", "--"] + cmd)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("CHOWN, FOWNER"), "\(v.stdout)\(v.stderr)")
    }

    /// A root parent stopping a child that changed user (setpriv, as a root master and its workers
    /// do): the signal needs CAP_KILL once capabilities are dropped. ptrace sees the target.
    @Test func aRootParentSignallingAnotherUsersChildNeedsKill() throws {
        let dir = Support.scratch("kill-cap")
        // Exits 3 when the signal is refused: a verify without KILL would FAIL.
        let script = "setpriv --reuid=65534 --regid=65534 --clear-groups sleep 3 & sleep 0.3; kill $! || exit 3; echo signalled; wait; echo done"
        let capsh = try Support.which("capsh")
        let denied = try Support.run([capsh, "--drop=cap_kill", "--", "-c", script])
        #expect(denied.status == 3 && denied.stderr.contains("Operation not permitted"), "\(denied.stdout)\(denied.stderr)")
        let r = try Support.run([roprof, "record", "--quiet", "--backend", "ptrace", "-o", dir + "/rec.json", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0 && r.stdout.contains("signalled"), "\(r.stdout)\(r.stderr)")
        let docker = try Support.run([roprof, "suggest", "--format", "docker", dir + "/rec.json"])
        #expect(docker.stdout.contains("--cap-add=KILL") && docker.stderr.contains("KILL is added because /bin/sh"), "\(docker.stdout)\(docker.stderr)")
        let v = try Support.run([roprof, "verify", "--from", dir + "/rec.json", "--", "/bin/sh", "-c", script])
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("KILL"), "\(v.stdout)\(v.stderr)")
    }

    /// A daemon started as root that drops to its user by itself (setuid, no exec) and then writes in
    /// that user's directory needs no DAC_OVERRIDE; root writing there itself does.
    @Test(arguments: ["ptrace", "ebpf"]) func writesAfterDroppingRootNeedNoOverride(backend: String) throws {
        let dir = Support.scratch("dropped-root-\(backend)"), home = "/srv/roprof-dropped-\(backend)-\(getpid())"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        chown(home, 65534, 65534)
        chmod(home, 0o755)
        func caps(_ script: String, _ name: String) throws -> String {
            let r = try Support.run([roprof, "record", "--quiet", "--no-restart", "--backend", backend, "-o", dir + "/\(name).json", "--", "/usr/bin/python3", "-c", script])
            #expect(r.status == 0, "\(r.stderr)")
            return try Support.run([roprof, "suggest", "--format", "docker", dir + "/\(name).json"]).stdout
        }
        let dropped = try caps("import os; os.setgid(65534); os.setuid(65534); open('\(home)/a.pid', 'w').write('1')", "dropped")
        #expect(!dropped.contains("DAC_OVERRIDE") && dropped.contains("--cap-add=SETUID"), "\(dropped)")
        let asRoot = try caps("open('\(home)/b.pid', 'w').write('1')", "root")
        #expect(asRoot.contains("--cap-add=DAC_OVERRIDE"), "\(asRoot)")
    }

    /// Its own file: no FOWNER (the flag is only for another user's file at the moment of the call).
    @Test func aChmodOfItsOwnFileNeedsNothing() throws {
        let dir = Support.scratch("fowner-own"), target = "/run/roprof-fowner-own-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let r = try Support.run([roprof, "record", "--quiet", "--backend", "ptrace", "-o", dir + "/rec.json", "--", "install", "-d", "-m", "0750", target])
        #expect(r.status == 0, "\(r.stderr)")
        let docker = try Support.run([roprof, "suggest", "--format", "docker", dir + "/rec.json"])
        #expect(!docker.stdout.contains("FOWNER"), "\(docker.stdout)")
    }
}
