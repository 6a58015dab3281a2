internal import CSeccomp
import Glibc

/// A seccomp filter built with libseccomp, exportable as classic BPF for a child to install.
public final class SeccompFilter {
    /// What the filter does with a syscall.
    public enum Action: Equatable, Sendable {
        case allow
        case trace(UInt16)
        case errno(Int32)
        case killProcess
        case log

        var raw: UInt32 {
            switch self {
            case .allow: return roprof_scmp_act_allow
            case .trace(let d): return roprof_scmp_act_trace(d)
            case .errno(let e): return roprof_scmp_act_errno(UInt16(truncatingIfNeeded: e))
            case .killProcess: return roprof_scmp_act_kill_process
            case .log: return roprof_scmp_act_log
            }
        }
    }

    /// One argument comparison: `(arg[index] & mask) == value`, or `arg[index] != value` when `notEqual`.
    public struct MaskedEqual: Sendable {
        public var index: UInt32
        public var mask: UInt64
        public var value: UInt64
        public var notEqual: Bool
        public init(index: UInt32, mask: UInt64, value: UInt64, notEqual: Bool = false) {
            self.index = index; self.mask = mask; self.value = value; self.notEqual = notEqual
        }
    }

    private let ctx: scmp_filter_ctx

    /// seccomp_init(defaultAction) plus the given architectures (the native one is always present).
    public init(defaultAction: Action, arches: [SeccompArch] = []) throws {
        guard let c = seccomp_init(defaultAction.raw) else { throw SeccompError("libseccomp: seccomp_init failed") }
        ctx = c
        // Don't let the filter's own bad-arch action kill compat syscalls: every listed arch is added.
        for a in arches where a != SeccompArch.native {
            let rc = seccomp_arch_add(ctx, a.token)
            if rc != 0 && rc != -EEXIST { throw SeccompError("libseccomp: cannot add architecture \(a.rawValue): \(rc)") }
        }
        // Keep the tracer's pseudo-numbers and restarts harmless.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0)
    }

    deinit { seccomp_release(ctx) }

    /// Adds a rule by syscall name; names unknown on every arch of the filter are skipped (returns false).
    @discardableResult
    public func add(_ action: Action, syscall name: String, when conditions: [MaskedEqual] = []) throws -> Bool {
        let nr = seccomp_syscall_resolve_name(name)
        if nr == roprof_scmp_error { return false }
        var cmps = conditions.map {
            $0.notEqual ? scmp_arg_cmp(arg: $0.index, op: SCMP_CMP_NE, datum_a: $0.value, datum_b: 0)
                : scmp_arg_cmp(arg: $0.index, op: SCMP_CMP_MASKED_EQ, datum_a: $0.mask, datum_b: $0.value)
        }
        let rc = cmps.withUnsafeMutableBufferPointer {
            seccomp_rule_add_array(ctx, action.raw, nr, UInt32($0.count), $0.baseAddress)
        }
        if rc == -EEXIST || rc == -EACCES { return false }  // already the default action / not filterable
        if rc != 0 { throw SeccompError("libseccomp: cannot add a rule for \(name): \(String(cString: strerror(-rc)))") }
        return true
    }

    /// The filter as classic BPF (struct sock_filter[] bytes), for installing in a forked child.
    public func exportBPF() throws -> [UInt8] {
        let fd = CSeccomp.memfd_create("roprof-bpf", 0)
        guard fd >= 0 else { throw SeccompError("memfd_create failed: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let rc = seccomp_export_bpf(ctx, fd)
        guard rc == 0 else { throw SeccompError("libseccomp: seccomp_export_bpf failed: \(rc)") }
        let size = lseek(fd, 0, SEEK_END)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(size), 0) }
        guard n == size else { throw SeccompError("reading exported BPF failed") }
        return bytes
    }

    /// Loads the filter into the calling process (seccomp_load).
    public func load() throws {
        let rc = seccomp_load(ctx)
        if rc != 0 { throw SeccompError("libseccomp: seccomp_load failed: \(String(cString: strerror(-rc)))") }
    }
}

/// libseccomp refused something: one line naming the call and the reason.
public struct SeccompError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
