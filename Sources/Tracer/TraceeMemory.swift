internal import CPtrace
import Glibc

/// Reads from a stopped tracee's address space (a remote address is never a local pointer).
struct TraceeMemory {
    static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    static let pathMax = 4096

    /// A NUL-terminated string of at most `limit` bytes. Reads in chunks that never cross a page,
    /// so a fault on the next page cannot hide a NUL already read; falls back to PTRACE_PEEKDATA.
    /// nil: unreadable (bad pointer). `truncated` when no NUL was found within the limit.
    static func readCString(pid: pid_t, at address: UInt64, limit: Int = pathMax) -> (bytes: [UInt8], truncated: Bool)? {
        if address == 0 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(128)
        var addr = address
        var chunk = [UInt8](repeating: 0, count: Int(pageSize))
        while out.count < limit {
            let toPageEnd = Int(pageSize - (addr % pageSize))
            let want = min(toPageEnd, limit - out.count)
            let n = chunk.withUnsafeMutableBytes { roprof_read_remote(pid, $0.baseAddress, want, addr) }
            var got: Int
            if n <= 0 {
                // process_vm_readv unavailable or faulted: try word-by-word peeks on this page.
                guard let peeked = peek(pid: pid, at: addr, count: want) else { return out.isEmpty ? nil : (out, true) }
                for (i, b) in peeked.enumerated() { chunk[i] = b }
                got = peeked.count
            } else { got = n }
            if let nul = chunk[0..<got].firstIndex(of: 0) {
                out.append(contentsOf: chunk[0..<nul])
                return (out, false)
            }
            out.append(contentsOf: chunk[0..<got])
            addr += UInt64(got)
        }
        return (out, true)
    }

    /// Exactly `count` bytes, or nil.
    static func read(pid: pid_t, at address: UInt64, count: Int) -> [UInt8]? {
        if address == 0 || count <= 0 { return nil }
        var buf = [UInt8](repeating: 0, count: count)
        let n = buf.withUnsafeMutableBytes { roprof_read_remote(pid, $0.baseAddress, count, address) }
        if n == count { return buf }
        return peek(pid: pid, at: address, count: count)
    }

    static func readUInt64(pid: pid_t, at address: UInt64) -> UInt64? {
        guard let b = read(pid: pid, at: address, count: 8) else { return nil }
        return b.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    private static func peek(pid: pid_t, at address: UInt64, count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var a = address & ~7
        let skip = Int(address - a)
        while out.count < count + skip {
            errno = 0
            let word = roprof_ptrace(2 /* PTRACE_PEEKDATA */, pid, UnsafeMutableRawPointer(bitPattern: UInt(a)), nil)
            if word == -1 && errno != 0 { break }
            withUnsafeBytes(of: word) { out.append(contentsOf: $0) }
            a += 8
        }
        if out.count <= skip { return nil }
        return Array(out[skip..<min(out.count, skip + count)])
    }
}

/// Facts read from /proc about a tracee.
enum ProcFS {
    /// readlink(2) into bytes; nil with errno on failure.
    static func readlinkBytes(_ path: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 4096) { readlink(path, $0, 4096) }
        }
        if n < 0 { return nil }
        if n == 4096 { errno = ENAMETOOLONG; return nil }
        return Array(buf[0..<n])
    }

    static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 8192) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    static func argv(pid: pid_t) -> [String] {
        guard let raw = readFile("/proc/\(pid)/cmdline", limit: 256 * 1024) else { return [] }
        var parts = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// A field of /proc/PID/status ("Tgid", "PPid", "Uid").
    static func statusField(pid: pid_t, _ name: String) -> String? {
        guard let raw = readFile("/proc/\(pid)/status", limit: 16384) else { return nil }
        let text = String(decoding: raw, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: " \t")
        }
        return nil
    }

    static func tgid(of tid: pid_t) -> pid_t? {
        statusField(pid: tid, "Tgid").flatMap { pid_t($0) }
    }

    /// Open fds and their targets, with whether each is open for writing (from fdinfo flags).
    static func openFds(pid: pid_t) -> [(fd: Int32, target: [UInt8], writable: Bool, cloexec: Bool)] {
        guard let dir = opendir("/proc/\(pid)/fd") else { return [] }
        defer { closedir(dir) }
        var out: [(Int32, [UInt8], Bool, Bool)] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard let fd = Int32(name) else { continue }
            guard let target = readlinkBytes("/proc/\(pid)/fd/\(fd)") else { continue }
            var writable = false, cloexec = false
            if let info = readFile("/proc/\(pid)/fdinfo/\(fd)", limit: 4096) {
                let text = String(decoding: info, as: UTF8.self)
                for line in text.split(separator: "\n") where line.hasPrefix("flags:") {
                    let flags = Int(line.dropFirst(6).trimmingCharacters(in: " \t"), radix: 8) ?? 0
                    writable = flags & 3 != 0
                    cloexec = flags & 0o2000000 != 0
                }
            }
            out.append((fd, target, writable, cloexec))
        }
        return out.sorted { $0.0 < $1.0 }
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
