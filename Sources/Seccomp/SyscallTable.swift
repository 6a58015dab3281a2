internal import CSeccomp
import Glibc

/// Syscall names ⇄ numbers for an architecture, from libseccomp (never hand-written).
public final class SyscallTable: @unchecked Sendable {
    public let arch: SeccompArch
    private var byNumber: [Int: String] = [:]
    private var missing: Set<Int> = []

    public init(arch: SeccompArch) { self.arch = arch }

    /// The syscall's name for a number, as libseccomp spells it; nil when libseccomp knows none.
    public func name(_ nr: Int) -> String? {
        if let n = byNumber[nr] { return n }
        if missing.contains(nr) { return nil }
        guard let c = seccomp_syscall_resolve_num_arch(arch.token, Int32(truncatingIfNeeded: nr)) else {
            missing.insert(nr); return nil
        }
        let s = String(cString: c)
        free(c)
        byNumber[nr] = s
        return s
    }

    /// The number for a syscall name on this arch, nil when the arch lacks it.
    public func number(_ name: String) -> Int? {
        let n = seccomp_syscall_resolve_name_arch(arch.token, name)
        return n < 0 ? nil : Int(n)
    }
}
