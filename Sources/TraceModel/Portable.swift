import FoundationEssentials
import Glibc

// What roprof used from the whole of Foundation, over FoundationEssentials and the C library: the
// whole Foundation brings ICU (tens of megabytes in the static binary, milliseconds at start-up).

public extension StringProtocol {
    /// Without leading and trailing whitespace (spaces, tabs, newlines, carriage returns).
    func trimmed() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }

    /// Without the leading and trailing characters that are in `set`.
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// Path text as NSString's path methods treat it (lexically: nothing is resolved on disk).
public enum Paths {
    /// The last component: "/a/b/" → "b", "/" → "/", "" → "".
    public static func lastComponent(_ p: String) -> String {
        var s = Substring(p)
        while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
        if s == "/" { return "/" }
        if let i = s.lastIndex(of: "/") { return String(s[s.index(after: i)...]) }
        return String(s)
    }

    /// Without its last component: "/a/b" → "/a", "/a" → "/", "a" → "", "/a/b/" → "/a".
    public static func parent(_ p: String) -> String {
        var s = Substring(p)
        while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
        guard let i = s.lastIndex(of: "/") else { return "" }
        if i == s.startIndex { return "/" }
        var head = s[..<i]
        while head.count > 1 && head.hasSuffix("/") { head = head.dropLast() }
        return String(head)
    }

    /// `name` under `dir` with one slash between them.
    public static func join(_ dir: String, _ name: String) -> String {
        if dir.isEmpty { return name }
        if name.isEmpty { return dir }
        let d = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        let n = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return d + "/" + n
    }

    /// "." and empty components dropped, ".." taken back lexically ("/a/./b/../c" → "/a/c").
    public static func standardize(_ p: String) -> String {
        let absolute = p.hasPrefix("/")
        var parts: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." { continue }
            if c == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            if c == ".." && absolute { continue }
            parts.append(c)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// Whether `p` is a directory (following symlinks).
    public static func isDirectory(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

/// Standard error and input without FileHandle.
public enum StdIO {
    /// Writes all of `text` to standard error (retrying short writes and EINTR).
    public static func error(_ text: String) { write(2, Array(text.utf8)) }

    @discardableResult
    public static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    /// A file read to its end or to `limit` bytes (for /proc files, whose size reads as 0); nil when it
    /// cannot be opened.
    public static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return read(fd, limit: limit)
    }

    /// Everything left on a descriptor (standard input by default).
    public static func readAll(_ fd: Int32 = 0) -> Data { Data(read(fd, limit: .max)) }

    /// What a descriptor gives until its end or `limit` bytes (retrying EINTR).
    static func read(_ fd: Int32, limit: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: Swift.min(limit, 65536))  // small for /proc files read at stops
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, limit - out.count)) }
            if n < 0 { if errno == EINTR { continue }; break }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

/// Numbers as text, as printf would write them.
public enum Format {
    /// `x` with `digits` digits after the point ("%.1f").
    public static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let negative = x < 0
        let v = (abs(x) * scale).rounded()
        let whole = Int(v / scale), frac = Int(v.truncatingRemainder(dividingBy: scale))
        var s = (negative && v != 0 ? "-" : "") + String(whole)
        if digits > 0 {
            let f = String(frac)
            s += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
        }
        return s
    }

    /// Lower-case hex, zero-padded to `width` ("%02x").
    public static func hex<T: BinaryInteger>(_ v: T, width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}

/// A mutual-exclusion lock (pthread), for state shared with a background thread.
public final class Lock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    public init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    public func lock() { pthread_mutex_lock(m) }
    public func unlock() { pthread_mutex_unlock(m) }
}

/// A thread of its own for `body` (what Foundation's Thread did here), detached.
public enum BackgroundThread {
    private final class Body { let run: () -> Void; init(_ r: @escaping () -> Void) { run = r } }

    @discardableResult
    public static func start(_ body: @escaping () -> Void) -> Bool {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let b = Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue()
            b.run()
            return nil
        }, box)
        if rc != 0 { Unmanaged<Body>.fromOpaque(box).release(); return false }
        pthread_detach(t)
        return true
    }
}

/// ROPROF_DEBUG_TIMING=1: when each phase of a run was reached, on stderr, in milliseconds since
/// roprof's main began (docs/performance.md's breakdowns).
public enum DebugTiming {
    public static let enabled = getenv("ROPROF_DEBUG_TIMING") != nil
    nonisolated(unsafe) private static var start: Double = 0

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }

    public static func phase(_ name: String) {
        guard enabled else { return }
        if start == 0 { start = now() }
        StdIO.error("roprof-timing \(name) \(Format.fixed(now() - start, 2)) ms\n")
    }
}
