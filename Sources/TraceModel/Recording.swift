/// A recording: everything one or more traced runs did, in a versioned, deterministic JSON form.
public struct Recording: Codable, Equatable, Sendable {
    public static let formatName = "roprof-recording"
    public static let currentVersion = 1

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

    public init(runs: [RunInfo], files: [FileMutation], syscalls: [String: [String: Int]], blindSpots: [BlindSpot],
                dangerousCallers: [String: [String]]? = nil, capabilityHints: [String: [String]]? = nil) {
        self.runs = runs
        self.files = files
        self.syscalls = syscalls
        self.blindSpots = blindSpots
        self.dangerousCallers = dangerousCallers
        self.capabilityHints = capabilityHints
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
    public var exit: ExitInfo?
    public init(pid: Int, ppid: Int?, execs: [ExecRecord], uid: Int?, exit: ExitInfo?) {
        self.pid = pid; self.ppid = ppid; self.execs = execs; self.uid = uid; self.exit = exit
    }
}

/// One successful execve.
public struct ExecRecord: Codable, Equatable, Sendable {
    public var exe: String
    public var argv: [String]
    public init(exe: String, argv: [String]) { self.exe = exe; self.argv = argv }
}
