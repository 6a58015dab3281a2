import FoundationEssentials
import Glibc

/// A cgroup (v2) of one launched run, with a watchdog that kills everything in it when roprof ends —
/// SIGKILL of roprof included. The ptrace backend gets that from PTRACE_O_EXITKILL; the eBPF backend
/// stops nothing, so a server's children (`sh -c 'server & wait'`, a daemon that forked away) would
/// otherwise outlive a cancelled CI job. Every descendant stays in the cgroup whatever it does with
/// sessions and process groups; `cgroup.kill` ends them all at once.
///
/// The watchdog is `sh`, reading a pipe whose only writer is roprof (close-on-exec, so the app never
/// holds it): when roprof exits for any reason the read returns, and the watchdog kills the cgroup and
/// removes it. Where there is no writable cgroup v2 hierarchy, `make` returns nil and the run goes on
/// as before (the launched command alone dies with roprof).
final class RunCgroup {
    let path: String
    private var writeEnd: Int32
    private let watchdog: pid_t

    private init(path: String, writeEnd: Int32, watchdog: pid_t) { self.path = path; self.writeEnd = writeEnd; self.watchdog = watchdog }

    /// Where cgroup v2 is mounted here (a unified or a hybrid hierarchy), and roprof's own cgroup in it.
    static func ownCgroupDirectory() -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        var root: String?
        for line in mounts.split(separator: "\n") {
            let parts = line.split(separator: " - ", maxSplits: 1)
            guard parts.count == 2, parts[1].hasPrefix("cgroup2 ") else { continue }
            let fields = parts[0].split(separator: " ")
            if fields.count > 4 { root = String(fields[4]); break }
        }
        guard let mount = root, let own = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = own.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        let rel = String(line.dropFirst(3))
        return rel == "/" ? mount : mount + rel
    }

    /// A fresh cgroup next to roprof's own, and its watchdog; nil where that cannot be made.
    static func make() -> RunCgroup? {
        guard let parent = ownCgroupDirectory(), FileManager.default.fileExists(atPath: parent + "/cgroup.procs") else { return nil }
        let path = parent + "/roprof-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(path, 0o755) == 0 else { return nil }
        guard FileManager.default.fileExists(atPath: path + "/cgroup.kill") else { rmdir(path); return nil }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { rmdir(path); return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)   // dup2 clears close-on-exec on fd 0
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Wait for roprof to end (EOF), then kill what is left and remove the cgroup.
        let script = "read _; echo 1 > \"$0/cgroup.kill\"; for i in 1 2 3 4 5 6 7 8 9 10; do rmdir \"$0\" 2>/dev/null && exit 0; sleep 0.2; done"
        let argv = ["/bin/sh", "-c", script, path]
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))  // a group of its own: a Ctrl-C to the app's group does not reach it
        posix_spawnattr_setpgroup(&attr, 0)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, &cargs, environ)
        close(fds[0])
        guard rc == 0 else { close(fds[1]); rmdir(path); return nil }
        return RunCgroup(path: path, writeEnd: fds[1], watchdog: pid)
    }

    /// Moves a (stopped, not yet exec'd) process into the cgroup; its descendants follow.
    func adopt(_ pid: pid_t) -> Bool {
        let fd = open(path + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let text = "\(pid)\n"
        return text.withCString { write(fd, $0, strlen($0)) } > 0
    }

    /// The run is over: the watchdog kills whatever is left and removes the cgroup. When nothing is
    /// left, roprof does not wait for that (a millisecond or two of every run): the watchdog removes
    /// the empty cgroup on its own and is reaped later.
    func finish() {
        guard writeEnd >= 0 else { return }
        let empty = ((try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? "x").trimmed().isEmpty
        close(writeEnd)
        writeEnd = -1
        var st: Int32 = 0
        if empty { reapLater = true; return }
        while waitpid(watchdog, &st, 0) < 0 && errno == EINTR {}
    }
    private var reapLater = false

    deinit {
        finish()
        var st: Int32 = 0
        if reapLater { _ = waitpid(watchdog, &st, WNOHANG) }
    }
}
