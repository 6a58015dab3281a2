/// A recording: everything one or more traced runs did, in a versioned, deterministic JSON form.
public struct Recording: Codable, Equatable, Sendable {
    public static let formatName = "roprof-recording"
    public static let currentVersion = 2
    /// Versions this roprof reads (version 1 had no filesystem facts, no `sync` operation and no `existsAfter`).
    public static let readableVersions = 1...2

    public var format: String = Recording.formatName
    public var version: Int = Recording.currentVersion
    /// One entry per traced run (several after `roprof merge`).
    public var runs: [RunInfo]
    /// Every file mutation, aggregated by (path, operation), sorted.
    public var files: [FileMutation]
    /// Syscall inventory: architecture name (libseccomp spelling) → syscall name → count.
    public var syscalls: [String: [String: Int]]
    /// What the tracer could not see, or saw only partly.
    public var blindSpots: [BlindSpot]
    /// Dangerous syscalls (ptrace, mount, bpf, unshare, keyctl, …) → executables that called them.
    public var dangerousCallers: [String: [String]]?
    /// Capabilities the run showed it needs (e.g. NET_BIND_SERVICE for a port below 1024) → executables.
    public var capabilityHints: [String: [String]]?
    /// What analysis needs to know about the filesystem where the app ran, captured at the end of the
    /// run (version 2): the directories on the written paths and the symlinks among them. nil in
    /// version 1 recordings (analysis then treats every directory's content as unknown).
    public var filesystem: FilesystemFacts?

    public init(runs: [RunInfo], files: [FileMutation], syscalls: [String: [String: Int]], blindSpots: [BlindSpot],
                dangerousCallers: [String: [String]]? = nil, capabilityHints: [String: [String]]? = nil,
                filesystem: FilesystemFacts? = nil) {
        self.runs = runs
        self.files = files
        self.syscalls = syscalls
        self.blindSpots = blindSpots
        self.dangerousCallers = dangerousCallers
        self.capabilityHints = capabilityHints
        self.filesystem = filesystem
    }

    /// Syscalls that widen what a container can do; kept in a generated profile only with a warning.
    public static let dangerousSyscalls: Set<String> = [
        "ptrace", "mount", "umount2", "bpf", "unshare", "setns", "keyctl", "add_key", "request_key", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "pivot_root", "chroot", "perf_event_open",
        "userfaultfd", "open_by_handle_at", "name_to_handle_at", "process_vm_writev", "reboot", "swapon", "swapoff",
        "syslog", "acct", "settimeofday", "clock_settime", "iopl", "ioperm", "fsopen", "fsmount", "move_mount",
        "open_tree", "fsconfig", "fspick", "lookup_dcookie", "quotactl", "vhangup", "personality",
    ]

    /// All syscall names recorded, over all architectures.
    public var allSyscallNames: Set<String> {
        var s = Set<String>()
        for (_, names) in syscalls { s.formUnion(names.keys) }
        return s
    }

    /// True when every run was recorded in full mode (the syscall inventory is complete).
    public var hasCompleteSyscallInventory: Bool { runs.allSatisfy { $0.mode == .full } }
}

/// One traced run: the command, the machine, and how it ended.
public struct RunInfo: Codable, Equatable, Sendable {
    public var id: String
    public var command: [String]
    public var cwd: String
    public var mode: TraceMode
    public var host: HostFacts
    public var startedAt: String
    public var durationSeconds: Double
    public var exit: ExitInfo
    /// The pid attached to (attach mode), nil when roprof launched the command.
    public var attachedPid: Int?
    /// False when tracing ended early (tracer interrupted, tracee escaped).
    public var complete: Bool
    public var processes: [ProcessRecord]
    /// The service this run belongs to (`record --name`); runs of one name are replicas of one workload.
    public var name: String?
    /// True when roprof ended the run (--for, --while, SIGTERM): a long-running service. False when the
    /// app exited by itself (a one-shot job). nil in recordings made before roprof recorded it.
    public var stoppedByRoprof: Bool?
    /// Recorded inside a container image (`record --image`): the image and how it defines its run.
    public var image: ImageRun?
    /// The backend that recorded the run: "ptrace" (also when absent: recordings before it was stored) or "ebpf".
    public var backend: String?
    /// The part of the app's life this run was: "first" (a first start) or "restart" (started again on
    /// the files the first run left, under the remedies roprof suggests). nil: a single run.
    public var phase: String?
    /// restart: the environment the suggested remedies set for it.
    public var remedyEnv: [String: String]?
    /// Environment variables whose value is the name of a directory the run wrote in (value → name,
    /// e.g. "acme" → "TENANT" for /srv/tenants/acme): a directory named by the app's input, one of
    /// many like it. Nothing else of the environment is kept.
    public var pathInputs: [String: String]?
    /// How the run was driven (`--ready-url`, `--while`): what `verify` needs to drive it the same way.
    public var readyURL: String?
    public var exercise: String?

    public init(id: String, command: [String], cwd: String, mode: TraceMode, host: HostFacts, startedAt: String,
                durationSeconds: Double, exit: ExitInfo, attachedPid: Int?, complete: Bool, processes: [ProcessRecord]) {
        self.id = id; self.command = command; self.cwd = cwd; self.mode = mode; self.host = host
        self.startedAt = startedAt; self.durationSeconds = durationSeconds; self.exit = exit
        self.attachedPid = attachedPid; self.complete = complete; self.processes = processes
    }
}

/// Facts about the machine a run happened on.
public struct HostFacts: Codable, Equatable, Sendable {
    public var arch: String
    public var kernel: String
    public var uid: Int
    public var gid: Int
    public init(arch: String, kernel: String, uid: Int, gid: Int) {
        self.arch = arch; self.kernel = kernel; self.uid = uid; self.gid = gid
    }
}

/// How a run (or a process) ended: an exit code or a signal.
public struct ExitInfo: Codable, Equatable, Sendable {
    public var code: Int?
    public var signal: Int?
    public init(code: Int? = nil, signal: Int? = nil) { self.code = code; self.signal = signal }
    /// The shell convention: the code, or 128+N for signal N.
    public var shellStatus: Int { if let s = signal { return 128 + s }; return code ?? 0 }
}

/// One process of the traced tree.
public struct ProcessRecord: Codable, Equatable, Sendable {
    public var pid: Int
    public var ppid: Int?
    /// Each program the process ran, in order (fork without exec leaves the parent's image).
    public var execs: [ExecRecord]
    public var uid: Int?
    /// The effective gid after the last exec (version 2; nil in version 1).
    public var gid: Int?
    public var exit: ExitInfo?
    public init(pid: Int, ppid: Int?, execs: [ExecRecord], uid: Int?, exit: ExitInfo?, gid: Int? = nil) {
        self.pid = pid; self.ppid = ppid; self.execs = execs; self.uid = uid; self.exit = exit; self.gid = gid
    }
}

/// One successful execve.
public struct ExecRecord: Codable, Equatable, Sendable {
    /// The program as it was run (argv[0] as a path, when it names the executed file through symlinks).
    public var exe: String
    public var argv: [String]
    /// The file the kernel executed, when it differs from `exe` (`/usr/bin/redis-server` → `redis-check-rdb`).
    public var resolved: String?
    public init(exe: String, argv: [String], resolved: String? = nil) { self.exe = exe; self.argv = argv; self.resolved = resolved }
}

/// The filesystem around the written paths, as the app saw it (taken at record time, where the app ran),
/// so that `report`, `suggest` and `verify` give the same answer on any machine.
public struct FilesystemFacts: Codable, Equatable, Sendable {
    /// Directory (the container's view) → what it holds.
    public var directories: [String: DirectoryFacts]
    /// A symlinked directory on a written path → the real directory it names (`/var/run` → `/run`).
    public var symlinks: [String: String]
    /// The login users of the image where the app ran (/etc/passwd, uids 1000–59999): a directory named
    /// after one is per-user, and its siblings are other users' (nil in older recordings).
    public var users: [String]?
    public init(directories: [String: DirectoryFacts] = [:], symlinks: [String: String] = [:], users: [String]? = nil) {
        self.directories = directories; self.symlinks = symlinks; self.users = users
    }

    /// The path with every symlinked directory on it replaced by its real directory.
    public func canonical(_ path: String) -> String {
        guard !symlinks.isEmpty else { return path }
        var out = path
        for _ in 0..<8 {  // bounded: a corrupt recording may hold a cycle
            var best: (link: String, real: String)? = nil
            for (link, real) in symlinks where link != "/" && (out == link || out.hasPrefix(link + "/")) {
                if best == nil || link.count > best!.link.count { best = (link, real) }
            }
            guard let b = best else { break }
            let next = (b.real == "/" ? "" : b.real) + out.dropFirst(b.link.count)
            out = next.isEmpty ? "/" : next
        }
        return out
    }

    /// The path with its directory canonical and its last name kept as it is (the name itself may be a link).
    public func canonicalParent(_ path: String) -> String {
        guard !symlinks.isEmpty, let slash = path.lastIndex(of: "/"), path != "/" else { return path }
        let parent = slash == path.startIndex ? "/" : String(path[..<slash])
        let dir = canonical(parent)
        return (dir == "/" ? "" : dir) + path[slash...]
    }

    /// Union: a directory seen in several runs keeps every entry any of them saw.
    public mutating func absorb(_ o: FilesystemFacts) {
        for (k, v) in o.directories {
            if var mine = directories[k] {
                mine.entries = Array(Set(mine.entries + v.entries)).sorted().prefix(DirectoryFacts.maxEntries).map { $0 }
                mine.entryCount = max(mine.entryCount, v.entryCount, mine.entries.count)
                if let c = v.code { mine.code = Array(Set((mine.code ?? []) + c)).sorted().prefix(DirectoryFacts.maxCodeSamples).map { $0 } }
                directories[k] = mine
            } else { directories[k] = v }
        }
        for (k, v) in o.symlinks where symlinks[k] == nil { symlinks[k] = v }
        if let u = o.users { users = Array(Set((users ?? []) + u)).sorted() }
    }
}

/// One directory on a written path: who owns it, what it held, and whether it holds code.
public struct DirectoryFacts: Codable, Equatable, Sendable {
    public static let maxEntries = 256
    public static let maxCodeSamples = 8
    public var uid: Int
    public var gid: Int
    /// Permission bits, including setgid and sticky (e.g. 0o2775 = 1533).
    public var mode: Int
    /// Entry names, sorted (at most `maxEntries`; `entryCount` has the real number).
    public var entries: [String]
    public var entryCount: Int
    /// Up to `maxCodeSamples` files below it that are code (source files, executables, libraries),
    /// relative to it; nil when none was found. A mount must never cover code.
    public var code: [String]?
    public init(uid: Int, gid: Int, mode: Int, entries: [String], entryCount: Int, code: [String]? = nil) {
        self.uid = uid; self.gid = gid; self.mode = mode; self.entries = entries; self.entryCount = entryCount; self.code = code
    }
}

/// The image a run was recorded in, as the engine described it.
public struct ImageRun: Codable, Equatable, Sendable {
    public var reference: String
    public var id: String
    public var digest: String?
    public var engine: String
    public var user: String
    public var workingDir: String
    public var entrypoint: [String]
    public var cmd: [String]
    public var env: [String]
    /// Ports it served on (published to the host while recording).
    public var ports: [Int]?
    /// The ports as they were published (the user's `--publish`, and the --ready-url port): what the
    /// printed settings publish. nil in recordings made before it was stored (then `ports`, as P:P).
    public var published: [PublishedPort]?
    public init(reference: String, id: String, digest: String?, engine: String, user: String, workingDir: String,
                entrypoint: [String], cmd: [String], env: [String], ports: [Int]? = nil) {
        self.reference = reference; self.id = id; self.digest = digest; self.engine = engine; self.user = user
        self.workingDir = workingDir; self.entrypoint = entrypoint; self.cmd = cmd; self.env = env; self.ports = ports
    }
}
