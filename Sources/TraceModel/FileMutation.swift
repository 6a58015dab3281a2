/// All mutations of one path by one operation, aggregated over a recording.
public struct FileMutation: Codable, Equatable, Sendable {
    /// The path as the tracee saw it (relative to `root`). Invalid UTF-8 bytes appear as U+FFFD;
    /// the exact bytes are then in `pathBase64`.
    public var path: String
    public var pathBase64: String?
    /// The tracee's root directory when it was not `/` (chroot, pivot_root).
    public var root: String?
    public var operation: FileOperation
    /// How many calls; `succeeded` + sum(`errors`) + `unknownOutcome` == `count`.
    public var count: Int
    public var succeeded: Int
    /// errno name → count, for failed calls.
    public var errors: [String: Int]
    /// Calls whose outcome was never seen (the tracee died mid-call).
    public var unknownOutcome: Int
    /// Open flags and similar (O_CREAT, O_TRUNC, O_APPEND, RENAME_NOREPLACE, …), sorted.
    public var flags: [String]
    public var syscalls: [String]
    /// Executables of the processes that did it, sorted.
    public var processes: [String]
    /// Pids that did it (first few), sorted.
    public var pids: [Int]
    /// Largest size seen for the path, in bytes, where it could be known.
    public var bytes: Int?
    /// Whether the path existed before the first call (nil: not checked).
    public var existedBefore: Bool?
    /// Whether the path still existed when the run ended (nil: not checked, as in version 1).
    public var existsAfter: Bool?
    /// Why the path could not be fully resolved (nil when it was).
    public var unresolved: String?
    /// Run ids this came from.
    public var runs: [String]

    public init(path: String, pathBase64: String? = nil, root: String? = nil, operation: FileOperation,
                count: Int = 0, succeeded: Int = 0, errors: [String: Int] = [:], unknownOutcome: Int = 0,
                flags: [String] = [], syscalls: [String] = [], processes: [String] = [], pids: [Int] = [],
                bytes: Int? = nil, existedBefore: Bool? = nil, unresolved: String? = nil, runs: [String] = []) {
        self.path = path; self.pathBase64 = pathBase64; self.root = root; self.operation = operation
        self.count = count; self.succeeded = succeeded; self.errors = errors; self.unknownOutcome = unknownOutcome
        self.flags = flags; self.syscalls = syscalls; self.processes = processes; self.pids = pids
        self.bytes = bytes; self.existedBefore = existedBefore; self.unresolved = unresolved; self.runs = runs
    }

    /// Whether this is evidence that the app wanted the data on disk: fsync/fdatasync/sync_file_range,
    /// or an open with O_SYNC / O_DSYNC.
    public var isDurable: Bool {
        succeeded > 0 && (operation == .sync || flags.contains("O_SYNC") || flags.contains("O_DSYNC"))
    }

    /// Identity for aggregation and sorting.
    public var key: MutationKey { MutationKey(root: root ?? "", path: path, operation: operation) }

    public var failed: Int { errors.values.reduce(0, +) }
}

/// (root, path, operation): what mutations are aggregated and sorted by.
public struct MutationKey: Hashable, Comparable, Sendable {
    public var root: String
    public var path: String
    public var operation: FileOperation
    public init(root: String, path: String, operation: FileOperation) {
        self.root = root; self.path = path; self.operation = operation
    }
    public static func < (a: MutationKey, b: MutationKey) -> Bool {
        if a.root != b.root { return a.root < b.root }
        if a.path != b.path { return a.path.utf8.lexicographicallyPrecedes(b.path.utf8) }
        return a.operation < b.operation
    }
}

/// Something the tracer could not observe, or observed only in part. Never hidden.
public struct BlindSpot: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable, Comparable {
        case ioUring = "io_uring"              // denied with ENOSYS so the app falls back, or used
        case linuxAIO = "aio"
        case sharedWritableMmap = "shared-writable-mmap"
        case inheritedFd = "inherited-fd"      // open before tracing started
        case compat32 = "compat-32bit"         // int 0x80 / x32 syscalls seen
        case escapedChild = "escaped-child"    // CLONE_UNTRACED
        case nestedTracer = "nested-tracer"    // the app tried to ptrace
        case unknownOutcome = "unknown-outcome"// killed mid-syscall
        case unresolvedPath = "unresolved-path"
        case namespaceChange = "namespace-change" // unshare/setns/mount/chroot: path meaning changed
        case attached = "attached"             // attach mode: earlier activity unseen
        case tracingInterrupted = "tracing-interrupted"
        case appSeccomp = "app-seccomp"        // the app's own filter: its ERRNO/TRAP/KILL calls are unseen
        case droppedEvents = "dropped-events"  // eBPF: records the ring buffer had no room for
        case backendLimit = "backend-limit"    // what the backend that ran never sees
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }
    public var kind: Kind
    public var detail: String
    public var processes: [String]
    public var count: Int
    public var runs: [String]
    public init(kind: Kind, detail: String, processes: [String] = [], count: Int = 1, runs: [String] = []) {
        self.kind = kind; self.detail = detail; self.processes = processes; self.count = count; self.runs = runs
    }
}

extension BlindSpot {
    /// The detail of a call the tracer answered ENOSYS while recording (io_uring_setup, io_setup), and
    /// the call named by such a detail: written by the interpreter, read by the seccomp plan.
    static let deniedWhileRecording = " denied with ENOSYS while recording, so the app falls back to plain syscalls (which are recorded)"
    public static func deniedWhileRecording(_ call: String) -> String { call + deniedWhileRecording }
    public var callDeniedWhileRecording: String? {
        detail.hasSuffix(Self.deniedWhileRecording) ? String(detail.dropLast(Self.deniedWhileRecording.count)) : nil
    }
}
