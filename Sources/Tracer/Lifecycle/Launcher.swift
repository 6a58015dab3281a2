internal import CPtrace
import FoundationEssentials
import Glibc
import TraceModel

/// One step of the sandbox mount plan (executed in the child, between fork and exec).
public struct MountStep: Sendable, Equatable {
    /// mount: mount(2); setattr: mount_setattr(2); mkdir: a directory; file: an empty file (a bind
    /// target); symlink: `target` becomes a link to `source`.
    public enum Kind: Int32, Sendable { case mount = 0, setattr = 1, mkdir = 2, file = 3, symlink = 4 }
    public var kind: Kind
    public var source: String?
    public var target: String
    public var fstype: String?
    public var flags: UInt
    public var data: String?
    public var recursive: Bool
    public var attrSet: UInt64
    public var attrClear: UInt64
    public init(kind: Kind, source: String? = nil, target: String, fstype: String? = nil, flags: UInt = 0,
                data: String? = nil, recursive: Bool = false, attrSet: UInt64 = 0, attrClear: UInt64 = 0) {
        self.kind = kind; self.source = source; self.target = target; self.fstype = fstype; self.flags = flags
        self.data = data; self.recursive = recursive; self.attrSet = attrSet; self.attrClear = attrClear
    }
}

/// What to run and how.
public struct LaunchSpec: Sendable {
    public var executable: String
    public var argv: [String]
    public var environment: [String]
    public var cwd: String?
    public var mountNamespace: Bool = false
    public var mountSteps: [MountStep] = []
    public var noNewPrivs: Bool = false
    /// Run the command as this user and group (as a container's USER), dropping root before exec.
    public var runAs: (uid: UInt32, gid: UInt32)? = nil
    /// No fd above 2 survives the exec (for a command whose descendants outlive roprof, such as a
    /// container engine's monitor: it must not hold a pipe of roprof's caller open).
    public var closeInherited = false
    /// Start in new PID, UTS and IPC namespaces, as a container does: the command is PID 1 there, sees
    /// and signals only its own processes, and its hostname and System V IPC are its own.
    public var isolate = false
    /// The capabilities the command keeps (a container's --cap-drop=ALL --cap-add=…), by name; nil:
    /// roprof's own.
    public var capabilities: [String]? = nil
    public init(executable: String, argv: [String], environment: [String], cwd: String? = nil) {
        self.executable = executable; self.argv = argv; self.environment = environment; self.cwd = cwd
    }

    /// Linux capability names (without CAP_) by number.
    public static let capabilityNames = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
        "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE"]

    /// Finds `name` on PATH like a shell; nil when it is not there.
    public static func resolveExecutable(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        if name.contains("/") { return access(name, F_OK) == 0 ? name : nil }
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// Why the child never reached the command.
struct SpawnFailure: Error {
    var stage: Int32
    var errno: Int32
}

enum Launcher {
    /// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
    static let lastCapability: Int32 = {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8)) ?? ""
        return Int32(text.trimmed()) ?? Int32(LaunchSpec.capabilityNames.count - 1)
    }()

    static func capabilityMask(_ names: [String]) -> UInt64 {
        names.reduce(UInt64(0)) { m, n in
            let bare = n.uppercased().hasPrefix("CAP_") ? String(n.uppercased().dropFirst(4)) : n.uppercased()
            return LaunchSpec.capabilityNames.firstIndex(of: bare).map { m | (1 << UInt64($0)) } ?? m
        }
    }

    /// Forks a child that stops itself (for PTRACE_SEIZE), installs `filter`, and execs.
    /// Returns the pid and the read end of the CLOEXEC error pipe.
    /// `traced` false: no stop for PTRACE_SEIZE, and the child dies with roprof (PR_SET_PDEATHSIG),
    /// for helpers such as the --while exercise that must never outlive a killed roprof.
    /// `dieWithRoprof` (default: `!traced`) sets PR_SET_PDEATHSIG for an app no tracer kills with roprof (eBPF).
    static func spawn(_ spec: LaunchSpec, filter: [UInt8], traced: Bool = true, dieWithRoprof: Bool? = nil, cgroupFD: Int32 = -1) throws -> (pid: pid_t, errorPipe: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw TraceError.system("pipe2", errno) }
        // PID 1 of a new namespace cannot stop itself: it waits on this pipe for the parent instead.
        var go: [Int32] = [-1, -1]
        if spec.isolate && traced {
            guard pipe2(&go, O_CLOEXEC) == 0 else { let e = errno; close(fds[0]); close(fds[1]); throw TraceError.system("pipe2", e) }
        }
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        func c(_ s: String?) -> UnsafePointer<CChar>? {
            guard let s else { return nil }
            let p = strdup(s)!; owned.append(p); return UnsafePointer(p)
        }
        func cArray(_ a: [String]) -> [UnsafeMutablePointer<CChar>?] {
            a.map { let p = strdup($0)!; owned.append(p); return p } + [nil]
        }
        let argv = cArray(spec.argv), envp = cArray(spec.environment)
        var steps = spec.mountSteps.map {
            roprof_mount_step(kind: $0.kind.rawValue, source: c($0.source), target: c($0.target), fstype: c($0.fstype),
                              flags: $0.flags, data: c($0.data), recursive: $0.recursive ? 1 : 0,
                              attr_set: $0.attrSet, attr_clr: $0.attrClear)
        }
        let path = c(spec.executable), cwd = c(spec.cwd)
        let pid: pid_t = argv.withUnsafeBufferPointer { av in
            envp.withUnsafeBufferPointer { ev in
                filter.withUnsafeBytes { fb in
                    steps.withUnsafeMutableBufferPointer { sb in
                        var cfg = roprof_spawn_config(
                            path: path, argv: av.baseAddress, envp: ev.baseAddress, cwd: cwd,
                            new_mount_namespace: spec.mountNamespace ? 1 : 0,
                            steps: UnsafePointer(sb.baseAddress), step_count: Int32(sb.count),
                            stop_for_seize: traced ? 1 : 0,
                            filter: filter.isEmpty ? nil : fb.baseAddress, filter_len: UInt16(filter.count / 8),
                            force_no_new_privs: spec.noNewPrivs ? 1 : 0, error_fd: fds[1],
                            parent_death_signal: (dieWithRoprof ?? !traced) ? SIGKILL : 0,
                            run_as_uid: spec.runAs.map { Int32(bitPattern: $0.uid) } ?? -1, run_as_gid: spec.runAs.map { Int32(bitPattern: $0.gid) } ?? -1,
                            close_inherited: spec.closeInherited ? 1 : 0,
                            new_namespaces: spec.isolate ? Self.isolationFlags : 0, go_fd: go[0], cgroup_fd: cgroupFD,
                            cap_last: spec.capabilities == nil ? -1 : Self.lastCapability, keep_caps: Self.capabilityMask(spec.capabilities ?? []))
                        return roprof_spawn(&cfg)
                    }
                }
            }
        }
        close(fds[1])
        if go[0] >= 0 { close(go[0]) }
        if pid < 0 { let e = errno; close(fds[0]); if go[1] >= 0 { close(go[1]) }; throw TraceError.system("fork", e) }
        if go[1] >= 0 {
            // Stop it from here (a signal from the parent namespace reaches its PID 1), then leave the
            // byte it waits for: it reads it once the backend, holding it, lets it continue.
            kill(pid, SIGSTOP)
            var one: UInt8 = 1
            _ = write(go[1], &one, 1)
            close(go[1])
        }
        return (pid, fds[0])
    }

    /// CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC.
    static let isolationFlags: Int32 = 0x2000_0000 | 0x0400_0000 | 0x0800_0000

    /// Spawns the command stopped before its exec (SIGSTOP), for a backend to take hold of it before
    /// it runs; a child that failed before it could stop (sandbox setup, --user) is reported as the
    /// error it met.
    /// `cgroupFD`: start the child in that cgroup (clone3); the caller checks where it landed.
    static func spawnStopped(_ spec: LaunchSpec, filter: [UInt8], dieWithRoprof: Bool = false, cgroupFD: Int32 = -1) throws -> (pid: pid_t, errorPipe: Int32) {
        let (pid, errorPipe) = try spawn(spec, filter: filter, traced: true, dieWithRoprof: dieWithRoprof, cgroupFD: cgroupFD)
        var status: Int32 = 0
        while waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR {}
        if StopEvent.classify(status) != .signalDelivery(signal: SIGSTOP) {
            defer { close(errorPipe) }
            if let f = readFailure(errorPipe) { throw PtraceBackend.spawnError(f, spec) }
            throw TraceError.system("starting the command", ECHILD)
        }
        return (pid, errorPipe)
    }

    /// Reads {stage, errno} from the error pipe, if the child wrote one.
    static func readFailure(_ fd: Int32) -> SpawnFailure? {
        var msg: (Int32, Int32) = (0, 0)
        let n = withUnsafeMutableBytes(of: &msg) { read(fd, $0.baseAddress, 8) }
        return n == 8 ? SpawnFailure(stage: msg.0, errno: msg.1) : nil
    }
}
