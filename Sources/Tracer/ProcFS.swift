import FoundationEssentials
import Glibc
import TraceModel

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

    static func argv(pid: pid_t) -> [String] {
        guard let raw = StdIO.readFile("/proc/\(pid)/cmdline", limit: 256 * 1024) else { return [] }
        var parts = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// A field of /proc/PID/status ("Tgid", "PPid", "Uid").
    static func statusField(pid: pid_t, _ name: String) -> String? {
        guard let raw = StdIO.readFile("/proc/\(pid)/status", limit: 16384) else { return nil }
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
            let name = direntName(ent)
            guard let fd = Int32(name) else { continue }
            guard let target = readlinkBytes("/proc/\(pid)/fd/\(fd)") else { continue }
            var writable = false, cloexec = false
            if let info = StdIO.readFile("/proc/\(pid)/fdinfo/\(fd)", limit: 4096) {
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

extension ProcFS {
    /// A thread's uids from /proc/TID/status: real, effective, saved and filesystem (in that order).
    static func uids(tid: pid_t) -> [Int]? {
        guard let ids = statusField(pid: tid, "Uid")?.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap({ Int($0) }),
              ids.count == 4 else { return nil }
        return ids
    }

    /// The filesystem uid of a thread (what the kernel compares a file's owner with).
    static func fsuid(tid: pid_t) -> Int? { uids(tid: tid)?[3] }

    /// The effective uid and gid of a process (the second field of /proc/PID/status's Uid/Gid lines).
    static func effectiveIDs(pid: pid_t) -> (uid: Int?, gid: Int?) {
        guard let raw = StdIO.readFile("/proc/\(pid)/status", limit: 16384) else { return (nil, nil) }
        var uid: Int?, gid: Int?
        for line in String(decoding: raw, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("Uid:") { uid = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { Int($0) } }
            if line.hasPrefix("Gid:") { gid = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { Int($0) } }
        }
        return (uid, gid)
    }

    /// pid and all its descendants (from /proc/*/stat parent links).
    static func tree(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = StdIO.readFile("/proc/\(pid)/stat", limit: 4096) else { continue }
            let text = String(decoding: stat, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var out: [pid_t] = [], queue = [root]
        while let p = queue.first {
            queue.removeFirst()
            out.append(p)
            queue += children[p] ?? []
        }
        return out
    }

    static func threads(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { pid_t($0) }.sorted()
    }

    /// argv[0] as a path when it names the executable the kernel ran (through symlinks), else `resolved`.
    static func pathAsRun(argv0: String?, resolved: String, cwd: String) -> String {
        guard let a0 = argv0, !a0.isEmpty, a0 != resolved else { return resolved }
        let candidate: String
        if a0.hasPrefix("/") { candidate = a0 }
        else if a0.contains("/") {
            guard let dir = readlinkBytes(cwd).map({ String(decoding: $0, as: UTF8.self) }) else { return resolved }
            candidate = String(decoding: PathText.tidy(Array((dir + "/" + a0).utf8)), as: UTF8.self)
        } else {
            candidate = Paths.parent(resolved) + "/" + a0
        }
        guard let real = realpath(candidate, nil) else { return resolved }
        defer { free(real) }
        return String(cString: real) == resolved ? candidate : resolved
    }

    /// Whether the process has a handler for `signal` (SigCgt in /proc/PID/status); true when unknown.
    static func catches(pid: pid_t, signal: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(line.dropFirst(7).trimmed(), radix: 16) else { return true }
        return mask & (1 << UInt64(signal - 1)) != 0
    }
}

/// The name of a directory entry, read where it lies: a dirent is only as long as its name
/// (`d_reclen`), so copying the whole 256-byte `d_name` field reads past a short last entry, off the
/// end of the buffer readdir filled (a segfault once a directory holds enough names).
func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
}
