import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// A path as decoded from a tracee, before aggregation.
struct TracedPath {
    var bytes: [UInt8]
    /// The tracee's root when not "/", in the tracer's view.
    var root: String?
    var unresolved: String?

    var string: String { String(decoding: bytes, as: UTF8.self) }
    var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }
}

/// Aggregates file events and the syscall inventory as they arrive (memory grows with distinct
/// paths, not with repeats), and produces the final `Recording`.
final class RecordingBuilder {
    struct Key: Hashable { var root: String; var path: [UInt8]; var op: FileOperation }

    private(set) var files: [Key: FileMutation] = [:]
    private var blind: [String: BlindSpot] = [:]
    /// Per arch: syscall number → count (arrays, for a cheap hot path).
    private var counts: [SeccompArch: [Int]] = [:]
    /// The host architecture's counts (almost every event): no dictionary lookup.
    private var nativeCounts = [Int](repeating: 0, count: 1024)
    private let nativeArch = SeccompArch.native
    private var dangerous: [String: Set<String>] = [:]
    private var hints: [String: Set<String>] = [:]
    private(set) var mutationEvents = 0
    private(set) var syscallEvents = 0
    var runID = ""

    /// Where the traced processes' files are seen from here, when not at their own paths (a container
    /// watched from the host: /proc/PID/root). Used for what is read at the end, never stored.
    var viewRoot: String?

    /// Adds `count` calls at once (the eBPF backend's counters).
    func addSyscalls(arch: SeccompArch, nr: Int, count: Int) {
        guard nr >= 0 && nr < 4096 && count > 0 else { return }
        syscallEvents += count
        if counts[arch] == nil { counts[arch] = [Int](repeating: 0, count: 1024) }
        if nr >= counts[arch]!.count { counts[arch]!.append(contentsOf: [Int](repeating: 0, count: nr + 1 - counts[arch]!.count)) }
        counts[arch]![nr] += count
    }

    func countSyscall(arch: SeccompArch, nr: Int) {
        syscallEvents += 1
        guard nr >= 0 && nr < 4096 else { return }
        if arch == nativeArch && nr < nativeCounts.count { nativeCounts[nr] += 1; return }
        if counts[arch] == nil { counts[arch] = [Int](repeating: 0, count: 1024) }
        if nr >= counts[arch]!.count { counts[arch]!.append(contentsOf: [Int](repeating: 0, count: nr + 1 - counts[arch]!.count)) }
        counts[arch]![nr] += 1
    }

    /// Records one call's outcome: errno nil = success; `outcomeKnown` false = the tracee died mid-call.
    func record(_ path: TracedPath, _ op: FileOperation, syscall: String, flags: [String], process: String, pid: Int32,
                errno: Int32?, outcomeKnown: Bool = true, existedBefore: Bool? = nil, bytes: Int? = nil) {
        mutationEvents += 1
        let key = Key(root: path.root ?? "", path: path.bytes, op: op)
        if files[key] == nil {
            files[key] = FileMutation(
                path: path.string, pathBase64: path.isValidUTF8 ? nil : Data(path.bytes).base64EncodedString(),
                root: path.root, operation: op, existedBefore: existedBefore, unresolved: path.unresolved, runs: interner.intern([runID]))
        }
        Self.update(&files[key]!, syscall: syscall, flags: flags, process: process, pid: pid, errno: errno,
                    outcomeKnown: outcomeKnown, bytes: bytes, interner: interner)
    }

    /// Equal lists shared between entries: 300,000 paths written by one process hold one list of it.
    private let interner = Interner()

    /// In place (through the dictionary's modify accessor): no copy of the entry per event. A list
    /// that changes is made anew and shared (an event that adds nothing allocates nothing).
    static func update(_ m: inout FileMutation, syscall: String, flags: [String], process: String, pid: Int32,
                       errno: Int32?, outcomeKnown: Bool, bytes: Int?, interner: Interner) {
        m.count += 1
        if !outcomeKnown { m.unknownOutcome += 1 }
        else if let e = errno { m.errors[ErrnoName.name(e), default: 0] += 1 }
        else { m.succeeded += 1 }
        if !flags.allSatisfy(m.flags.contains) {
            var f = m.flags
            for x in flags where !f.contains(x) { f.append(x) }
            m.flags = interner.intern(f)
        }
        if m.syscalls.last != syscall && !m.syscalls.contains(syscall) { m.syscalls = interner.intern(m.syscalls + [syscall]) }
        if m.processes.last != process && !m.processes.contains(process) { m.processes = interner.intern(m.processes + [process]) }
        if m.pids.count < 16 && !m.pids.contains(Int(pid)) { m.pids = interner.intern(m.pids + [Int(pid)]) }
        if let b = bytes { m.bytes = max(m.bytes ?? 0, b) }
    }

    /// The size a file without a name reached (O_TMPFILE, or unlinked while open), read as its last
    /// fd closed: the peak of what the run held there, kept on that path's entry for `op`.
    /// A file unlinked while open counts only if it grew after its name was gone (a spool: created,
    /// unlinked at once, then written). One written under its name and unlinked as it was closed —
    /// SQLite's -shm index, a lock file — held nothing an input decided: the unlink entry already
    /// carries its size at removal.
    func noteUnnamedSize(_ path: TracedPath, _ op: FileOperation, bytes: Int, process: String, pid: Int32) {
        let key = Key(root: path.root ?? "", path: path.bytes, op: op)
        if op == .unlink, let atRemoval = files[key]?.bytes, atRemoval >= bytes { return }
        if files[key] == nil {
            record(path, op, syscall: "close", flags: ["unnamed"], process: process, pid: pid, errno: nil, bytes: bytes)
        }
        files[key]!.bytes = max(files[key]!.bytes ?? 0, bytes)
        if !files[key]!.flags.contains("unnamed") { files[key]!.flags = interner.intern(files[key]!.flags + ["unnamed"]) }
    }

    private var flagNameCache: [UInt64: [String]] = [:]
    /// The names of open flags, made once per distinct flags value.
    func openFlagNames(_ flags: UInt64) -> [String] {
        if let n = flagNameCache[flags] { return n }
        let n = LinuxFlag.openFlagNames(flags)
        if flagNameCache.count < 256 { flagNameCache[flags] = n }
        return n
    }

    func dangerousCall(_ name: String, process: String) { dangerous[name, default: []].insert(process) }
    func capabilityHint(_ cap: String, process: String) { hints[cap, default: []].insert(process) }

    func blindSpot(_ kind: BlindSpot.Kind, _ detail: String, process: String) {
        let k = kind.rawValue + "\u{0}" + detail
        if var b = blind[k] {
            b.count += 1
            if !b.processes.contains(process) && b.processes.count < 16 { b.processes.append(process) }
            blind[k] = b
        } else {
            blind[k] = BlindSpot(kind: kind, detail: detail, processes: [process], count: 1, runs: [runID])
        }
    }

    /// After the run: whether each path still exists, and the size of every surviving written file
    /// (the tmpfs it needs).
    func observeEnd() {
        for (key, m) in files where m.unresolved == nil && m.operation != .mount && m.operation != .chroot {
            var full = key.path
            if !key.root.isEmpty { full = Array(key.root.utf8) + full }
            if let v = viewRoot { full = Array(v.utf8) + full }
            var st = stat()
            let rc = full.withUnsafeBufferPointer { buf -> Int32 in
                var z = Array(buf); z.append(0)
                return z.withUnsafeBufferPointer { lstat(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &st) }
            }
            var updated = m
            updated.existsAfter = rc == 0
            if rc == 0 && m.operation.leavesContent && m.succeeded > 0 && (st.st_mode & S_IFMT) == S_IFREG {
                updated.bytes = max(m.bytes ?? 0, Int(st.st_size))
            }
            files[key] = updated
        }
    }

    func syscallInventory() -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        var all = counts
        if let extra = all[nativeArch] {
            all[nativeArch] = zip(nativeCounts, extra).map(+) + extra.dropFirst(nativeCounts.count)
        } else {
            all[nativeArch] = nativeCounts
        }
        for (arch, arr) in all {
            let table = SyscallTable(arch: arch)
            var names: [String: Int] = [:]
            for (nr, n) in arr.enumerated() where n > 0 {
                names[table.name(nr) ?? "syscall_\(nr)", default: 0] += n
            }
            if !names.isEmpty { out[arch.rawValue] = names }
        }
        return out
    }

    /// The recording; the builder's entries move into it (the builder is spent).
    func build(run: RunInfo) -> Recording {
        let survey = FilesystemSurvey.take(files.values.filter { $0.unresolved == nil && $0.pathBase64 == nil }, viewRoot: viewRoot)
        var entries: [FileMutation] = []
        entries.reserveCapacity(files.count)
        for (_, m) in files { entries.append(m) }
        files = [:]
        var r = Recording(runs: [run], files: entries, syscalls: syscallInventory(), blindSpots: Array(blind.values),
                          dangerousCallers: dangerous.isEmpty ? nil : dangerous.mapValues { Array($0) },
                          capabilityHints: hints.isEmpty ? nil : hints.mapValues { Array($0) }, filesystem: survey)
        entries = []
        r.normalize()
        return r
    }
}
