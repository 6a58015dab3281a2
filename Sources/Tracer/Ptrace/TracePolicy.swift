import Seccomp
import TraceModel

/// Which syscalls stop the tracee, and why: compiled into the seccomp filter installed before exec.
public struct TracePolicy: Sendable {
    /// SECCOMP_RET_TRACE data: 0 = observe, 1 = deny (the tracer makes the call fail with EPERM).
    static let observeTag: UInt16 = 0
    static let denyTag: UInt16 = 1

    public var mode: TraceMode
    /// check / verify: syscalls that need no stop (the baseline or the profile's allow-list).
    public var allowed: Set<String>?
    /// verify: syscalls outside `allowed` are denied (EPERM) and reported, as the profile would.
    public var denyUnlisted: Bool
    /// verify: calls the profile answers with ENOSYS (so libc falls back): failed that way, not reported.
    public var enosys: Set<String> = []

    public init(mode: TraceMode, allowed: Set<String>? = nil, denyUnlisted: Bool = false) {
        self.mode = mode; self.allowed = allowed; self.denyUnlisted = denyUnlisted
    }

    typealias Cond = SeccompFilter.MaskedEqual

    /// Rules that make a mutating syscall stop only when its arguments say it mutates.
    static func traceConditions(_ name: String) -> [[Cond]]? {
        func flagRules(_ arg: UInt32) -> [[Cond]] {
            [LinuxFlag.oWronly, LinuxFlag.oRdwr, LinuxFlag.oCreat, LinuxFlag.oTrunc, LinuxFlag.oTmpfileBit].map {
                [Cond(index: arg, mask: $0, value: $0)]
            }
        }
        switch name {
        case "open": return flagRules(1)
        case "openat": return flagRules(2)
        case "mmap", "mmap2":
            return [[Cond(index: 2, mask: LinuxFlag.protWrite, value: LinuxFlag.protWrite),
                     Cond(index: 3, mask: LinuxFlag.mapShared, value: LinuxFlag.mapShared)]]
        case "ioctl":
            return [LinuxFlag.ficlone, LinuxFlag.ficlonerange, LinuxFlag.fideduperange].map {
                [Cond(index: 1, mask: 0xffff_ffff, value: $0)]
            }
        case "clone": return [[Cond(index: 0, mask: LinuxFlag.cloneUntraced, value: LinuxFlag.cloneUntraced)]]
        case "prctl": return [[Cond(index: 0, mask: 0xffff_ffff, value: 22 /* PR_SET_SECCOMP */)]]
        default: return nil
        }
    }

    /// The complement of `traceConditions`: when the call certainly does not mutate.
    static func quietConditions(_ name: String) -> [[Cond]]? {
        switch name {
        case "open": return [[Cond(index: 1, mask: LinuxFlag.writeMask, value: 0)]]
        case "openat": return [[Cond(index: 2, mask: LinuxFlag.writeMask, value: 0)]]
        case "mmap", "mmap2":
            return [[Cond(index: 2, mask: LinuxFlag.protWrite, value: 0)], [Cond(index: 3, mask: LinuxFlag.mapShared, value: 0)]]
        case "ioctl": return [[]]  // FICLONE detection is dropped when ioctl is allowed (rare; documented)
        case "clone": return [[Cond(index: 0, mask: LinuxFlag.cloneUntraced, value: 0)]]
        case "prctl": return [[Cond(index: 0, mask: 0, value: 22, notEqual: true)]]
        default: return nil
        }
    }

    /// Builds the filter as BPF for the host arch and its compat arches.
    public func compile() throws -> [UInt8] {
        let native = SeccompArch.native
        let arches = [native] + native.compatArches
        let observe = SeccompFilter.Action.trace(Self.observeTag)
        switch (mode, allowed) {
        case (.full, nil):
            return try SeccompFilter(defaultAction: observe, arches: arches).exportBPF()
        case (_, nil):
            let f = try SeccompFilter(defaultAction: .allow, arches: arches)
            for name in MutatingCall.catalog.keys.sorted() {
                if let rules = Self.traceConditions(name) {
                    for r in rules { try f.add(observe, syscall: name, when: r) }
                } else {
                    try f.add(observe, syscall: name)
                }
            }
            return try f.exportBPF()
        case (_, let allowed?):
            let f = try SeccompFilter(defaultAction: .trace(denyUnlisted ? Self.denyTag : Self.observeTag), arches: arches)
            for name in allowed.sorted() {
                if MutatingCall.catalog[name] != nil {
                    if case .denyAsync = MutatingCall.catalog[name]! { continue }
                    if let quiet = Self.quietConditions(name) {
                        for r in quiet { try f.add(.allow, syscall: name, when: r) }
                        if denyUnlisted, let loud = Self.traceConditions(name), name != "ioctl" {
                            for r in loud { try f.add(observe, syscall: name, when: r) }
                        }
                    } else if denyUnlisted {
                        try f.add(observe, syscall: name)
                    }
                } else {
                    try f.add(.allow, syscall: name)
                }
            }
            return try f.exportBPF()
        }
    }
}
