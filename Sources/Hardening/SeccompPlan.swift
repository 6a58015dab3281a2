import Analysis
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// The seccomp allow-list for a target architecture.
public struct SeccompPlan: Equatable {
    public var arch: SeccompArch
    public var architectures: [SeccompArch]
    public var names: [String]
    public var warnings: [String]
    public var dropped: [String]
    /// Calls the profile answers with ENOSYS instead of EPERM: newer entry points the run never
    /// made (an engine's own profile may have answered them ENOSYS while recording, as Docker's
    /// does for clone3) whose older equivalent it did make. libc falls back on ENOSYS, never on EPERM.
    public var enosys: [String] = []
    /// Of `enosys`: io_uring_setup / io_setup, answered ENOSYS because the recording's tracer did so
    /// (the app's fallback to plain calls is what was recorded). Never allowed where a format cannot
    /// answer ENOSYS (systemd): there they stay denied.
    public var asyncDenied: [String] = []
    /// First rollout: log what the profile would deny instead of denying it (SCMP_ACT_LOG).
    public var logOnly = false

    /// Newer entry point → the older one libc falls back to when the newer answers ENOSYS.
    static let fallbacks: [String: [String]] = [
        "clone3": ["clone"], "faccessat2": ["faccessat", "access"], "statx": ["newfstatat", "fstatat64", "stat", "lstat", "fstat"],
        "close_range": ["close"], "epoll_pwait2": ["epoll_pwait", "epoll_wait"], "fchmodat2": ["fchmodat", "chmod"],
    ]

    /// Legacy calls that newer architectures (aarch64, riscv64) replace with another.
    static let replacements: [String: [String]] = [
        "open": ["openat"], "creat": ["openat"], "mkdir": ["mkdirat"], "mknod": ["mknodat"], "rename": ["renameat2", "renameat"],
        "unlink": ["unlinkat"], "rmdir": ["unlinkat"], "link": ["linkat"], "symlink": ["symlinkat"], "readlink": ["readlinkat"],
        "chmod": ["fchmodat"], "chown": ["fchownat"], "lchown": ["fchownat"], "access": ["faccessat", "faccessat2"],
        "stat": ["newfstatat"], "lstat": ["newfstatat"], "fork": ["clone"], "vfork": ["clone"], "dup2": ["dup3"],
        "pipe": ["pipe2"], "poll": ["ppoll"], "select": ["pselect6"], "epoll_wait": ["epoll_pwait"], "epoll_create": ["epoll_create1"],
        "getdents": ["getdents64"], "utimes": ["utimensat"], "utime": ["utimensat"], "futimesat": ["utimensat"],
        "time": ["clock_gettime"], "alarm": ["setitimer"], "eventfd": ["eventfd2"], "signalfd": ["signalfd4"],
        "inotify_init": ["inotify_init1"], "getpgrp": ["getpgid"], "pause": ["ppoll"], "uselib": [], "sysfs": [],
    ]

    /// The families a plan widened the recorded calls with, and what each added (for the report).
    public var familiesAdded: [String: [String]] = [:]
    /// Calls allowed although unseen, from what the recording shows the app will do later: each
    /// with the evidence (for the report).
    public var foreseen: [Foreseen] = []
    public struct Foreseen: Equatable, Sendable { public var calls: [String]; public var why: String }
    /// How many calls Docker's default profile allows on this architecture (0: not known), and which
    /// calls this profile allows that Docker's default does not.
    public var dockerDefaultCount = 0
    public var beyondDockerDefault: [String] = []

    public static func build(_ r: Recording, baseline: [String], target: SeccompArch?, families: [SyscallFamily] = [],
                             dockerDefault: [String] = []) -> SeccompPlan {
        let native = SeccompArch(rawValue: r.runs.first?.host.arch ?? "") ?? .native
        let arch = target ?? native
        let table = SyscallTable(arch: arch)
        var names = Set<String>(), dropped: [String] = [], warnings: [String] = []
        for name in r.allSyscallNames.union(baseline).sorted() where !name.hasPrefix("syscall_") {
            if table.number(name) != nil { names.insert(name); continue }
            let repl = (replacements[name] ?? []).filter { table.number($0) != nil }
            if repl.isEmpty {
                if r.allSyscallNames.contains(name) { dropped.append(name) }
            } else { names.formUnion(repl) }
        }
        // Families: one member seen allows every member this architecture has, never a call that
        // matters for security (those are allowed only when seen).
        var familiesAdded: [String: [String]] = [:]
        for f in families where !names.isDisjoint(with: f.calls) {
            let add = f.calls.filter { !names.contains($0) && table.number($0) != nil && !Recording.dangerousSyscalls.contains($0) }
            if !add.isEmpty { familiesAdded[f.name] = add.sorted(); names.formUnion(add) }
        }
        // A durable log kept in numbered segments (binlog.1, binlog.2; WAL files) drops old segments
        // once their records are compacted or no longer live: on a later start, not always in the
        // recorded ones. Its remove calls are foreseen, with the evidence.
        var foreseen: [Foreseen] = []
        if let log = segmentLog(r) {
            let add = ["unlink", "unlinkat"].filter { !names.contains($0) && table.number($0) != nil }
            if !add.isEmpty {
                names.formUnion(add)
                foreseen.append(Foreseen(calls: add, why: "\(log.writer) keeps a durable log of numbered segments in \(log.dir) (\(log.names.prefix(3).joined(separator: ", "))) and removes old segments on a later start"))
            }
        }
        let recorded = r.allSyscallNames
        if recorded.contains("listen") && recorded.isDisjoint(with: ["accept", "accept4"]) {
            warnings.append("the app listened for connections but accepted none while it was recorded, so the seccomp profile lacks accept/accept4: record it serving real requests (--ready-url URL --while 'CMD'), or it will be denied its first connection")
        }
        if !dropped.isEmpty {
            warnings.append("\(arch.rawValue) has no \(dropped.joined(separator: ", ")); dropped from the profile")
        }
        for name in names.intersection(Recording.dangerousSyscalls).sorted() where r.allSyscallNames.contains(name) {
            let who = (r.dangerousCallers?[name] ?? []).map { Paths.lastComponent($0) }
            warnings.append("\(name) is allowed because \(who.isEmpty ? "the app" : who.joined(separator: ", ")) used it; it widens what the container can do: remove it unless the app needs it")
        }
        var plan = SeccompPlan(arch: arch, architectures: [arch] + arch.compatArches, names: names.sorted(), warnings: warnings, dropped: dropped)
        plan.familiesAdded = familiesAdded
        plan.foreseen = foreseen
        let docker = Set(dockerDefault.filter { table.number($0) != nil })
        if !docker.isEmpty {
            plan.dockerDefaultCount = docker.count
            plan.beyondDockerDefault = names.subtracting(docker).sorted()
        }
        plan.enosys = fallbacks.keys.filter { new in
            !names.contains(new) && table.number(new) != nil && !names.isDisjoint(with: fallbacks[new]!)
        }.sorted()
        // io_uring_setup / io_setup that the ptrace backend answered ENOSYS while recording: the app was
        // seen falling back to plain calls on that answer, so the profile gives the same one. Allowing
        // the setup alone would break the app (io_uring_enter, io_submit stay denied), and allowing the
        // whole interface would hide its file I/O from seccomp (Docker 25 and later deny it too).
        plan.asyncDenied = Self.asyncDeniedWhileRecording(r).filter { table.number($0) != nil }
        if !plan.asyncDenied.isEmpty {
            plan.names.removeAll { plan.asyncDenied.contains($0) }
            plan.enosys = Array(Set(plan.enosys).union(plan.asyncDenied)).sorted()
        }
        return plan
    }

    /// The asynchronous-I/O setup calls the recording's tracer denied with ENOSYS (its blind spots say so).
    static func asyncDeniedWhileRecording(_ r: Recording) -> [String] {
        let setups: Set<String> = ["io_uring_setup", "io_setup"]
        return Set(r.blindSpots.compactMap { b -> String? in
            guard b.kind == .ioUring || b.kind == .linuxAIO, let call = b.callDeniedWhileRecording, setups.contains(call) else { return nil }
            return call
        }).sorted()
    }

    /// A directory where the app created, durably (fsync, O_SYNC), at least two files whose names
    /// differ only in a number: the segments of a log. nil when there is none.
    static func segmentLog(_ r: Recording) -> (dir: String, names: [String], writer: String)? {
        var groups: [String: (names: Set<String>, durable: Bool, writer: String)] = [:]
        for f in r.files where f.succeeded > 0 && (f.operation == .create || f.operation == .sync || f.operation == .write) {
            let name = PathGlob.name(f.path)
            guard name.contains(where: \.isNumber) else { continue }
            var shape = "", inDigits = false
            for c in name {
                if c.isNumber { if !inDigits { shape.append("#") }; inDigits = true } else { shape.append(c); inDigits = false }
            }
            let key = PathGlob.parent(f.path) + "\u{0}" + shape
            var g = groups[key] ?? ([], false, f.processes.first.map { PathGlob.name($0) } ?? "the app")
            if f.operation == .create { g.names.insert(name) }
            g.durable = g.durable || f.isDurable
            groups[key] = g
        }
        guard let hit = groups.filter({ $0.value.durable && $0.value.names.count >= 2 }).min(by: { $0.key < $1.key }) else { return nil }
        let dir = String(hit.key.split(separator: "\u{0}", maxSplits: 1)[0])
        return (dir, hit.value.names.sorted(), hit.value.writer)
    }

    /// The calls a Docker/OCI seccomp profile allows (a user's own profile given to `verify --seccomp`).
    public static func allowedNames(fromJSON data: Data) throws -> Set<String> {
        struct Rule: Decodable { var names: [String]; var action: String }
        struct Profile: Decodable { var syscalls: [Rule] }
        let p = try JSONDecoder().decode(Profile.self, from: data)
        return Set(p.syscalls.filter { $0.action == "SCMP_ACT_ALLOW" }.flatMap(\.names))
    }
}
