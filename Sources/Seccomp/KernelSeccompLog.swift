import FoundationEssentials
import Glibc

/// The calls a seccomp profile in log mode (SCMP_ACT_LOG) let through, read back from the kernel's
/// log: `dmesg`, `journalctl -k` or the audit log, whose seccomp records (audit type 1326, SECCOMP)
/// name the architecture (its AUDIT_ARCH value), the call's number and the program that made it.
public struct KernelSeccompLog: Equatable, Sendable {
    public struct Call: Hashable, Sendable {
        public var arch: SeccompArch
        public var name: String
        public var exe: String
    }
    /// Each call with how many times it was logged.
    public var calls: [Call: Int] = [:]
    /// Seccomp records whose architecture or number no table here knows.
    public var unknown = 0

    public static func parse(_ text: String) -> KernelSeccompLog {
        var log = KernelSeccompLog()
        var tables: [SeccompArch: SyscallTable] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard line.contains("type=1326") || line.contains("type=SECCOMP") else { continue }
            let f = fields(line)
            guard let archHex = f["arch"], let nrText = f["syscall"], let nr = Int(nrText) else { continue }
            guard let token = UInt32(archHex, radix: 16), let arch = SeccompArch.allCases.first(where: { $0.token == token }) else {
                log.unknown += 1
                continue
            }
            let table = tables[arch] ?? SyscallTable(arch: arch)
            tables[arch] = table
            guard let name = table.name(nr) else { log.unknown += 1; continue }
            log.calls[Call(arch: arch, name: name, exe: f["exe"] ?? f["comm"] ?? "?"), default: 0] += 1
        }
        return log
    }

    /// key=value pairs of an audit record; quoted values lose their quotes (`exe="/usr/bin/x"`).
    static func fields(_ line: Substring) -> [String: String] {
        var out: [String: String] = [:]
        for word in line.split(separator: " ") {
            guard let eq = word.firstIndex(of: "=") else { continue }
            var value = word[word.index(after: eq)...]
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = value.dropFirst().dropLast() }
            out[String(word[..<eq])] = String(value)
        }
        return out
    }
}
