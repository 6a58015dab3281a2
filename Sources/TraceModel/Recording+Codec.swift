import FoundationEssentials
import Glibc

/// Errors reading or writing model files; each names the file and what to do.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Recording {
    /// Reads a recording file, with one-line errors that name the file and the fix; the file is read a
    /// buffer at a time (see `stream`), never whole.
    public static func load(path: String) throws -> Recording {
        if path == "-" {
            var reader = JSONValueReader(fd: 0, limit: InputLimits.maxRecordingBytes)
            return try stream(&reader, source: "standard input")
        }
        if Paths.isDirectory(path) {
            throw ModelError("cannot read recording '\(path)': it is a directory (give the recording's file, e.g. \(path.hasSuffix("/") ? path : path + "/")roprof-recording.json)")
        }
        if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size > InputLimits.maxRecordingBytes {
            throw ModelError("cannot read recording '\(path)': \(size >> 20) MiB is larger than any recording roprof writes (at most \(InputLimits.maxRecordingBytes >> 20) MiB); is it the right file?")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ModelError("cannot read recording '\(path)': no such file or not readable (make one with `roprof record -o \(path) -- CMD`)")
        }
        defer { close(fd) }
        var reader = JSONValueReader(fd: fd, limit: InputLimits.maxRecordingBytes)
        return try stream(&reader, source: path)
    }

    public static func decode(_ data: Data, source: String) throws -> Recording {
        var reader = JSONValueReader(data: data)
        return try stream(&reader, source: source)
    }
}

extension Recording {
    /// The largest size or count a recording may state (1 PiB): beyond it, sums could overflow.
    public static let maxQuantity = 1 << 50

    /// The first value no recording roprof writes can hold, named by its place, or nil: relative,
    /// empty, NUL-containing or `..` paths, negative or absurd counts and sizes, negative pids and
    /// durations, the same (path, operation) twice.
    public func invalidValue() -> String? {
        func bad(_ n: Int) -> Bool { n < 0 || n > Self.maxQuantity }
        var keys = Set<MutationKey>()
        for (i, f) in files.enumerated() {
            let at = "files[\(i)]"
            if f.unresolved == nil {
                if f.path.isEmpty || !f.path.hasPrefix("/") { return "\(at).path '\(Human.printable(f.path))' is not an absolute path" }
                if f.path.contains("\u{0}") { return "\(at).path contains a NUL byte" }
                if f.path.split(separator: "/").contains("..") && f.operation != .mount { return "\(at).path '\(Human.printable(f.path))' has a '..' component" }
            }
            if let r = f.root, !r.hasPrefix("/") { return "\(at).root '\(Human.printable(r))' is not an absolute path" }
            for (name, n) in [("count", f.count), ("succeeded", f.succeeded), ("unknownOutcome", f.unknownOutcome)] where bad(n) {
                return "\(at).\(name) is \(n): counts are between 0 and \(Self.maxQuantity)"
            }
            if let b = f.bytes, bad(b) { return "\(at).bytes is \(b): sizes are between 0 and \(Self.maxQuantity)" }
            if let (e, n) = f.errors.first(where: { bad($0.value) }) { return "\(at).errors.\(e) is \(n): counts are between 0 and \(Self.maxQuantity)" }
            if let p = f.pids.first(where: { $0 < 0 }) { return "\(at).pids has \(p): pids are positive" }
            if !keys.insert(f.key).inserted { return "\(at) repeats the path '\(Human.printable(f.path))' with the operation \(f.operation.rawValue)" }
        }
        if let users = filesystem?.users, let u = users.first(where: { $0.isEmpty || $0.contains("/") || $0.contains("\u{0}") }) {
            return "filesystem.users has '\(Human.printable(u))': user names are not empty and hold no '/'"
        }
        for (i, r) in runs.enumerated() {
            if r.durationSeconds < 0 || !r.durationSeconds.isFinite { return "runs[\(i)].durationSeconds is \(r.durationSeconds): durations are finite and not negative" }
            if let p = r.processes.first(where: { $0.pid < 0 || ($0.ppid ?? 0) < 0 }) { return "runs[\(i)].processes has pid \(p.pid): pids are positive" }
        }
        for (arch, calls) in syscalls {
            if let (name, n) = calls.first(where: { bad($0.value) }) { return "syscalls.\(arch).\(name) is \(n): counts are between 0 and \(Self.maxQuantity)" }
        }
        return nil
    }
}

/// Bounds on what roprof reads, so a corrupt or hostile input costs bounded time and memory.
public enum InputLimits {
    public static let maxRecordingBytes = 512 << 20
    public static let maxBaselineBytes = 16 << 20
    public static let maxNesting = 256
}

extension InputLimits {
    public static let maxYAMLAliases = 64
    public static let maxYAMLBytes = 16 << 20

    /// Why a YAML input is refused before a parser sees it, or nil: larger than `maxYAMLBytes`,
    /// nested deeper than `maxNesting` (block indentation, `- - -` chains and flow brackets counted
    /// together: a recursive composer would overflow the stack), or with more than `maxYAMLAliases`
    /// aliases (a "billion laughs" grows without bound when it is written back out).
    public static func yamlProblem(_ text: String) -> String? {
        if text.utf8.count > maxYAMLBytes { return "larger than \(maxYAMLBytes >> 20) MiB" }
        var blocks: [Int] = []          // indentation columns of the open block levels
        var flow = 0, aliases = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = Array(rawLine.utf8)
            var i = 0
            while i < line.count && line[i] == 0x20 { i += 1 }
            if flow == 0 {
                guard i < line.count, line[i] != 0x23, line[i] != 0x0D else { continue }  // blank or comment
                while let last = blocks.last, last >= i { blocks.removeLast() }
                blocks.append(i)
                // "- - - x": each sequence indicator opens a level inside the line.
                var j = i
                while j + 1 < line.count && (line[j] == 0x2D || line[j] == 0x3F) && line[j + 1] == 0x20 {
                    j += 2
                    while j < line.count && line[j] == 0x20 { j += 1 }
                    blocks.append(j)
                    if blocks.count > maxNesting { return "nested more than \(maxNesting) levels deep" }
                }
                i = j
            }
            var quote: UInt8 = 0
            var prev: UInt8 = 0x20
            while i < line.count {
                let b = line[i]
                if quote != 0 {
                    if b == quote { quote = 0 } else if b == 0x5C && quote == 0x22 { i += 1 }
                } else {
                    switch b {
                    case 0x22, 0x27 where prev == 0x20 || prev == 0x5B || prev == 0x7B || prev == 0x2C || prev == 0x3A: quote = b
                    case 0x23 where prev == 0x20: i = line.count; continue  // a comment
                    case 0x5B, 0x7B: flow += 1
                    case 0x5D, 0x7D: flow = max(0, flow - 1)
                    case 0x2A where prev == 0x20 || prev == 0x5B || prev == 0x2C || prev == 0x3A || prev == 0x2D:
                        aliases += 1
                        if aliases > maxYAMLAliases { return "more than \(maxYAMLAliases) aliases (*name)" }
                    default: break
                    }
                    if blocks.count + flow > maxNesting { return "nested more than \(maxNesting) levels deep" }
                }
                prev = b
                i += 1
            }
        }
        return nil
    }

    /// Throws a one-line error naming `source` when `yamlProblem` refuses `text`.
    public static func checkYAML(_ text: String, source: String, what: String) throws {
        if let why = yamlProblem(text) { throw ModelError("'\(source)' is not \(what) roprof can read: \(why)") }
    }
}

/// One line describing a decoding error, with the JSON path at fault.
/// `offset` names the list a batch of it was decoded from, and where the batch starts in it.
public func shortReason(_ error: Error, offset: (list: String, base: Int)? = nil) -> String {
    func pathString(_ path: [CodingKey]) -> String {
        var s = ""
        for (i, k) in path.enumerated() {
            if i == 0, let o = offset, let n = k.intValue { s += ".\(o.list)[\(o.base + n)]"; continue }
            s += k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)"
        }
        return s
    }
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
        return "missing key '\(key.stringValue)' at \(pathString(ctx.codingPath).isEmpty ? "top level" : pathString(ctx.codingPath))"
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
        return "wrong type at \(pathString(ctx.codingPath)): \(ctx.debugDescription)"
    case DecodingError.dataCorrupted(let ctx):
        let p = pathString(ctx.codingPath)
        let underlying = ctx.underlyingError.map { String(describing: $0) }
        return (p.isEmpty ? "" : "at \(p): ") + (underlying ?? ctx.debugDescription)
    default:
        return "\(error)"
    }
}

/// Where output pointed at by `-o` goes, decided once for the check before a run and for the write:
/// - standard output (`-`, /dev/stdout);
/// - a character device or a FIFO: written directly (nothing to rename over);
/// - a regular file or a missing path: atomically, in its directory (a symlink is followed, so its
///   target is written and the link stays; an existing file's mode and owner are kept);
/// - anything else (a directory, a socket, a block device): refused.
public enum OutputTarget {
    case standardOutput
    case direct(path: String)
    case atomic(target: String, directory: String, existing: stat?)

    public static func resolve(_ path: String) throws -> OutputTarget {
        if path == "-" || path == "/dev/stdout" { return .standardOutput }
        var target = path
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
            if let real = realpath(path, nil) {
                target = String(cString: real)
                free(real)
            } else {
                // A dangling link: followed as a shell redirect does, to create its target.
                var hops = 0
                while lstat(target, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
                    hops += 1
                    guard hops <= 40, let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: target) else {
                        throw ModelError("cannot write '\(path)': its symlinks loop (\(String(cString: strerror(ELOOP)))); point -o at a real path")
                    }
                    target = dest.hasPrefix("/") ? dest : Paths.parent(target) + "/" + dest
                }
            }
        }
        let exists = stat(target, &st) == 0
        if exists {
            switch st.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFCHR, S_IFIFO: return .direct(path: target)
            case S_IFDIR:
                throw ModelError("cannot write '\(path)': it is a directory (give a file name, e.g. \(path.hasSuffix("/") ? path : path + "/")out.json)")
            default:
                throw ModelError("cannot write '\(path)': it is neither a regular file, a character device nor a FIFO; choose another path")
            }
        } else if errno != ENOENT {
            throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        let dir = URL(fileURLWithPath: target).deletingLastPathComponent().path
        guard Paths.isDirectory(dir) else {
            throw ModelError("cannot write '\(path)': directory '\(dir)' does not exist (create it, or choose another path with -o)")
        }
        return .atomic(target: target, directory: dir, existing: exists ? st : nil)
    }

    /// Fails before a run when the output could not be written, so no run is wasted.
    public static func check(_ path: String) throws {
        switch try resolve(path) {
        case .standardOutput: return
        case .direct(let p):
            if access(p, W_OK) != 0 { throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno))) (choose another path with -o)") }
        case .atomic(let target, let dir, let existing):
            if existing != nil, access(target, W_OK) != 0 {
                throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno))) (choose another path with -o)")
            }
            guard access(dir, W_OK) == 0 else { throw ModelError("cannot write '\(path)': directory '\(dir)' is not writable (choose another path with -o)") }
        }
    }
}

/// Writes output where the user pointed `-o`, never damaging what is there (see `OutputTarget`).
/// Every write, fsync and close is checked: ENOSPC or EIO is an error, never "written".
public func writeAtomically(_ data: Data, to path: String) throws {
    try writeAtomically(to: path) { emit in try emit(data) }
}

/// As `writeAtomically(_:to:)`, with the bytes made piece by piece by `produce`, which hands each to
/// the `emit` it is given: nothing reaches the target unless every piece was made and written.
public func writeAtomically(to path: String, _ produce: ((Data) throws -> Void) throws -> Void) throws {
    let target: String, dir: String, existing: stat?
    switch try OutputTarget.resolve(path) {
    case .standardOutput:
        // Made whole first: a failure half-way must not leave half a document on a pipe.
        var whole = Data()
        try produce { whole.append($0) }
        return try writeAll(whole, fd: 1, what: "standard output")
    case .direct(let p):
        var whole = Data()
        try produce { whole.append($0) }
        let fd = open(p, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno)))") }
        do { try writeAll(whole, fd: fd, what: "'\(path)'") } catch { close(fd); throw error }
        guard close(fd) == 0 else { throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno)))") }
        return
    case .atomic(let t, let d, let e):
        (target, dir, existing) = (t, d, e)
    }
    let name = URL(fileURLWithPath: target).lastPathComponent
    removeStaleTemporaries(dir: dir, name: name)
    let tmp = dir + "/.\(name).tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, existing.map { $0.st_mode & 0o7777 } ?? 0o644)
    guard fd >= 0 else {
        let e = errno
        throw ModelError("cannot write '\(path)': directory '\(dir)' is not writable (\(String(cString: strerror(e)))); choose another path with -o")
    }
    do {
        try produce { try writeAll($0, fd: fd, what: "'\(path)'") }
        if let st = existing { _ = fchown(fd, st.st_uid, st.st_gid); _ = fchmod(fd, st.st_mode & 0o7777) }
        guard fsync(fd) == 0 || errno == EINVAL else { throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno)))") }
        guard close(fd) == 0 else { throw ModelError("cannot write '\(path)': \(String(cString: strerror(errno)))") }
    } catch {
        close(fd)
        unlink(tmp)
        throw error
    }
    if rename(tmp, target) != 0 {
        let e = errno
        unlink(tmp)
        throw ModelError("cannot write '\(path)': \(String(cString: strerror(e)))")
    }
}

/// Writes every byte, retrying short writes and EINTR; ENOSPC, EIO, EPIPE and the like are errors.
public func writeAll(_ data: Data, fd: Int32, what: String) throws {
    try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError("cannot write \(what): \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }
}

/// Temporary files of earlier writes whose roprof was killed before renaming them.
func removeStaleTemporaries(dir: String, name: String) {
    let prefix = ".\(name).tmp-"
    for e in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where e.hasPrefix(prefix) {
        guard let pid = Int32(e.dropFirst(prefix.count)), pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir + "/" + e) }
    }
}
