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
