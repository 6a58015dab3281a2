import FoundationEssentials
import Glibc
import TraceModel

/// One process (thread group) of the traced tree.
final class ProcessState {
    let pid: pid_t
    var ppid: pid_t?
    var execs: [ExecRecord] = []
    var exe: String
    var root: String?           // nil: "/"
    var uid: Int?
    var gid: Int?
    var exit: ExitInfo?
    var compatNoted = false
    /// The process made an O_TMPFILE file or unlinked a file: it may write through a file with no name,
    /// whose size (ptrace, full mode) is read when the fd closes or the process exits.
    var mayHoldUnnamed = false
    /// It called setuid/setresuid/setreuid/setfsuid: its filesystem uid is read again (lazily, at its
    /// next recorded call) — a daemon started as root that dropped to its user without an exec.
    var uidMayChange = false
    /// Recorded as root (its uid at start or exec) but acting as another user now (see `uidMayChange`).
    var droppedRoot = false
    init(pid: pid_t, ppid: pid_t?, exe: String) { self.pid = pid; self.ppid = ppid; self.exe = exe }

    /// A child of `parent` seen before its first exec: it runs the parent's program, as the parent's user.
    static func child(_ pid: pid_t, of parent: ProcessState?, ppid: pid_t?) -> ProcessState {
        let p = ProcessState(pid: pid, ppid: ppid, exe: parent?.exe ?? "?")
        p.root = parent?.root
        p.uid = parent?.uid
        p.gid = parent?.gid
        return p
    }
}

/// The processes of one run, for both backends: registration in order of appearance, and the one
/// way a process that roprof did not see start is read from /proc.
final class ProcessTable {
    private(set) var byPid: [pid_t: ProcessState] = [:]
    /// Every process in the order it appeared (a pid reused later is a second entry).
    private(set) var all: [ProcessState] = []

    subscript(pid: pid_t) -> ProcessState? { byPid[pid] }
    var count: Int { all.count }

    func register(_ p: ProcessState) {
        if byPid[p.pid] !== p { all.append(p) }
        byPid[p.pid] = p
    }

    /// A running process as /proc describes it: parent, program (as it sees it), argv, root, and
    /// the effective uid and gid (what the kernel checks a write against, also after a setuid
    /// program or a privilege-dropping wrapper). `viewRoot`: its files are seen through this
    /// directory (a container watched from the host), so paths stay as the process sees them.
    @discardableResult
    func registerFromProc(_ pid: pid_t, viewRoot: String? = nil, withExec: Bool = true) -> ProcessState {
        let ppid = ProcFS.statusField(pid: pid, "PPid").flatMap { pid_t($0) }
        var exe = ProcFS.readlinkBytes("/proc/\(pid)/exe").map { String(decoding: $0, as: UTF8.self) } ?? byPid[ppid ?? 0]?.exe ?? "?"
        let root = ProcFS.readlinkBytes("/proc/\(pid)/root").map { String(decoding: $0, as: UTF8.self) }
        if let r = root, r != "/", viewRoot == nil, exe.hasPrefix(r + "/") { exe = String(exe.dropFirst(r.count)) }
        let p = ProcessState(pid: pid, ppid: ppid, exe: exe)
        if withExec { p.execs = [ExecRecord(exe: exe, argv: ProcFS.argv(pid: pid))] }
        (p.uid, p.gid) = ProcFS.effectiveIDs(pid: pid)
        if viewRoot == nil { p.root = root == "/" ? nil : root } else { p.root = nil }
        if p.uid == nil, let parent = byPid[ppid ?? 0] { p.uid = parent.uid; p.gid = parent.gid }
        register(p)
        return p
    }

    /// After an exec: the program as it was run, its argv, and who it runs as now.
    func noteExec(_ p: ProcessState, resolved: String, argv: [String], cwdLink: String?, ids: (uid: Int?, gid: Int?)) {
        // The program as it was run (redis-server), not only the file the kernel resolved (redis-check-rdb).
        let asRun = cwdLink.map { ProcFS.pathAsRun(argv0: argv.first, resolved: resolved, cwd: $0) } ?? resolved
        p.exe = asRun
        var record = ExecRecord(exe: asRun, argv: argv)
        if asRun != resolved { record.resolved = resolved }
        p.execs.append(record)
        // The ids the program runs as (a wrapper such as setpriv or gosu may have dropped root).
        if let u = ids.uid { p.uid = u }
        if let g = ids.gid { p.gid = g }
    }
}
