internal import CSeccomp

/// An architecture as libseccomp, the kernel's audit layer and OCI profiles name it.
public enum SeccompArch: String, CaseIterable, Sendable, Codable {
    case x86_64, x86, x32, aarch64, arm, riscv64, s390x, ppc64le

    /// Hashed by case (the tracer looks tables up per event): the default would hash the raw String.
    public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }
    public static func == (a: SeccompArch, b: SeccompArch) -> Bool { a.ordinal == b.ordinal }
    var ordinal: Int {
        switch self {
        case .x86_64: return 0
        case .x86: return 1
        case .x32: return 2
        case .aarch64: return 3
        case .arm: return 4
        case .riscv64: return 5
        case .s390x: return 6
        case .ppc64le: return 7
        }
    }

    /// libseccomp's token (equal to the kernel's AUDIT_ARCH value, except x32).
    public var token: UInt32 {
        switch self {
        case .x86_64: return roprof_scmp_arch_x86_64
        case .x86: return roprof_scmp_arch_x86
        case .x32: return roprof_scmp_arch_x32
        case .aarch64: return roprof_scmp_arch_aarch64
        case .arm: return roprof_scmp_arch_arm
        case .riscv64: return roprof_scmp_arch_riscv64
        case .s390x: return roprof_scmp_arch_s390x
        case .ppc64le: return roprof_scmp_arch_ppc64le
        }
    }

    /// The name in Docker / OCI seccomp profiles.
    public var ociName: String {
        switch self {
        case .x86_64: return "SCMP_ARCH_X86_64"
        case .x86: return "SCMP_ARCH_X86"
        case .x32: return "SCMP_ARCH_X32"
        case .aarch64: return "SCMP_ARCH_AARCH64"
        case .arm: return "SCMP_ARCH_ARM"
        case .riscv64: return "SCMP_ARCH_RISCV64"
        case .s390x: return "SCMP_ARCH_S390X"
        case .ppc64le: return "SCMP_ARCH_PPC64LE"
        }
    }

    /// Architectures a 64-bit kernel of this arch also runs (compat syscalls).
    public var compatArches: [SeccompArch] {
        switch self {
        case .x86_64: return [.x86, .x32]
        case .aarch64: return [.arm]
        default: return []
        }
    }

    /// The architecture this binary runs on.
    public static var native: SeccompArch {
        let t = roprof_scmp_arch_native == 0 ? seccomp_arch_native() : roprof_scmp_arch_native
        return allCases.first { $0.token == t } ?? .x86_64
    }

    /// From the `arch` field of PTRACE_GET_SYSCALL_INFO (an AUDIT_ARCH value) and the syscall number.
    public static func fromAudit(_ audit: UInt32, nr: UInt64) -> SeccompArch? {
        if audit == SeccompArch.x86_64.token && nr & 0x4000_0000 != 0 { return .x32 }
        return allCases.first { $0.token == audit }
    }
}
