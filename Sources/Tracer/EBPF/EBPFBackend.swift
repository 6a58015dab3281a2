internal import CBPF
internal import CPtrace
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// The eBPF backend: the probe follows the tree in the kernel, counts every syscall and reports each
/// file mutation with its resolved paths; nothing is stopped. It produces the same events for the
/// same `RecordingBuilder` as the ptrace backend, and shares the run lifecycle with it.
public final class EBPFBackend: RunControl {
    let options: TraceOptions
    let watch: WatchTarget?
    let builder = RecordingBuilder()
    /// The stops a ptrace run of the same command would have taken: one per file event seen (at least).
    var ptraceStopsEstimate: Int { builder.mutationEvents }
    let lifecycle: RunLifecycle
    let probe: EBPFProbe
    let processes = ProcessTable()
    lazy var interpreter = CallInterpreter(backend: .ebpf, builder: builder)
    var rootPid: pid_t = 0
    var rootExit: ExitInfo?
    /// Processes seen and not yet ended.
    var live = Set<pid_t>()
    /// Per architecture index of the probe (0 native, 1 compat): the call table.
    var tables: [CallTable] = []
    let arches: [SeccompArch]
    /// When the view of the watched processes' files is not ours (a container): where it is.
    var viewRoot: String?
    var detached = false
    var fileEvents = 0
    /// Start mode: the engine command that starts the container, and its exit.
    var starter: pid_t = 0
    var starterExit: ExitInfo?
    var startLabel = ""
    var starterLog = ""
    var compatNoted = Set<pid_t>()
    /// Launch mode: the run's cgroup, whose watchdog kills what is left when roprof ends.
    var runCgroup: RunCgroup?

    /// Loads the probe (not yet attached). Throws `EBPFUnavailable` when the kernel or the privileges
    /// do not allow it.
    static func phase(_ name: String) { DebugTiming.phase(name) }

    public init(options: TraceOptions, watch: WatchTarget? = nil) throws {
        self.options = options
        self.watch = watch
        Self.phase("load-start")
        probe = try EBPFProbe()
        Self.phase("loaded")
        let native = SeccompArch.native
        arches = [native] + native.compatArches.filter { $0 != .x32 }.prefix(1)
        lifecycle = RunLifecycle(options: options, observing: options.attachPid != nil || watch != nil)
        lifecycle.control = self
        probe.onRecord = { [unowned self] in self.onRecord($0) }
        fillDescriptors()
        probe.setConfig(UInt32(ROPROF_CFG_SELF.rawValue), UInt64(getpid()))
    }

    // MARK: - The call table the probe filters with (from the same catalog the ptrace backend decodes)

    func fillDescriptors() {
        tables = arches.map { CallTable(arch: $0) }
        var all: [(index: UInt32, desc: roprof_desc)] = []
        for (ai, table) in tables.enumerated() {
            var descs: [Int: roprof_desc] = [:]
            for (name, call) in MutatingCall.catalog {
                guard let nr = table.number(name), table.call(nr) != nil, nr < Int(ROPROF_NCALLS), let d = Self.descriptor(name, call) else { continue }
                descs[nr] = d
            }
            for name in Recording.dangerousSyscalls {
                guard let nr = table.number(name), nr < Int(ROPROF_NCALLS) else { continue }
                var d = descs[nr] ?? Self.emptyDescriptor()
                d.flags |= UInt8(ROPROF_D_DANGER.rawValue)
                descs[nr] = d
            }
            for (nr, d) in descs { all.append((UInt32(ai * Int(ROPROF_NCALLS) + nr), d)) }
        }
        probe.setDescriptors(all)
    }

    static func emptyDescriptor() -> roprof_desc {
        roprof_desc(flags: 0, special: 0, path: (-1, -1), dirfd: (-1, -1), fd: -1, filter_arg: -1, filter_mask: 0)
    }

    /// How the probe treats one call of the catalog; nil for what this backend does not follow.
    static func descriptor(_ name: String, _ call: MutatingCall) -> roprof_desc? {
        var d = emptyDescriptor()
        d.flags = UInt8(ROPROF_D_TRACE.rawValue)
        func i8(_ v: Int?) -> Int8 { Int8(v ?? -1) }
        switch call {
        case .open(let dirfd, let path, let flags):
            d.special = UInt8(ROPROF_SP_OPEN.rawValue)
            d.path.0 = i8(path); d.dirfd.0 = i8(dirfd)
            if let f = flags { d.filter_arg = i8(f); d.filter_mask = UInt32(LinuxFlag.writeMask) }
        case .openat2:
            d.special = UInt8(ROPROF_SP_OPENAT2.rawValue)
            d.path.0 = 1; d.dirfd.0 = 0
        case .openByHandle:
            d.special = UInt8(ROPROF_SP_OPEN.rawValue)
            d.filter_arg = 2; d.filter_mask = UInt32(LinuxFlag.writeMask)
        case .pathOp(_, let dirfd, let path, _):
            d.path.0 = i8(path); d.dirfd.0 = i8(dirfd)
        case .unlinkat:
            d.path.0 = 1; d.dirfd.0 = 0
        case .rename(let od, let o, let nd, let n, _), .link(let od, let o, let nd, let n, _):
            d.path = (i8(o), i8(n)); d.dirfd = (i8(od), i8(nd))
        case .fdOp(_, let fd):
            d.fd = i8(fd)
        case .copyInto(let fd):
            d.fd = i8(fd); d.flags |= UInt8(ROPROF_D_REGULAR.rawValue)
        case .utimensat:
            d.special = UInt8(ROPROF_SP_UTIMENSAT.rawValue)
            d.path.0 = 1; d.dirfd.0 = 0
        case .bind:
            d.special = UInt8(ROPROF_SP_BIND.rawValue)
            d.path.0 = 1
        case .mqOpen:
            d.special = UInt8(ROPROF_SP_RAW.rawValue)
            d.path.0 = 0; d.filter_arg = 1; d.filter_mask = UInt32(LinuxFlag.oCreat)
        case .mqUnlink:
            d.special = UInt8(ROPROF_SP_RAW.rawValue)
            d.path.0 = 0
        case .mmap:
            d.special = UInt8(ROPROF_SP_MMAP.rawValue)
            d.fd = 4; d.flags |= UInt8(ROPROF_D_REGULAR.rawValue)
        case .denyAsync:
            break
        case .appSeccomp:
            if name == "prctl" { d.special = UInt8(ROPROF_SP_PRCTL.rawValue) }
        case .namespace(let pathArg):
            d.path.0 = i8(pathArg)
            if name == "unshare" { d.filter_arg = 0; d.filter_mask = UInt32(LinuxFlag.cloneNewNS) }
        case .ioctlClone, .clone, .clone3, .ptrace:
            return nil  // FICLONE unseen (blind spot); no CLONE_UNTRACED escape and no nested-tracer conflict without ptrace
        }
        return d
    }

    // MARK: - Running

    public func run() throws -> TraceResult {
        builder.runID = RunLifecycle.makeRunID(argv: options.launch.argv)
        lifecycle.begin()
        // A child's end must wake the ring buffer's wait at once (SIGCHLD is ignored by default).
        roprof_install_flag_handler(SIGCHLD, 0)
        defer { lifecycle.end(); probe.close(); Self.phase("detached"); runCgroup?.finish(); Self.phase("cgroup-removed") }
        var errorPipe: Int32 = -1
        defer { if errorPipe >= 0 { Glibc.close(errorPipe) } }
        if let pid = options.attachPid {
            try seedTree(of: pid)
            try probe.attach()
            // Seeded before attaching; a fork in between is caught by a second scan.
            try seedTree(of: pid)
            builder.blindSpot(.attached, "recorded from pid \(pid) on (\(processes.count) process\(processes.count == 1 ? "" : "es")) with eBPF: what they did before is unseen; nothing was stopped",
                              process: processes[pid]?.exe ?? "?")
            noteOpenWritableFiles(processes.all, builder: builder, when: "roprof started recording")
            lifecycle.appStarted()
        } else if let watch {
            try startWatching(watch)
            lifecycle.appStarted()
        } else {
            // Attached first: this run's slot follows nothing yet, and the child below stays stopped
            // before its exec until it is tracked.
            try probe.attach()
            Self.phase("attached")
            // The whole tree dies with roprof, as under ptrace (see RunCgroup): started in its cgroup
            // (clone3), or moved there before it runs where the kernel cannot.
            runCgroup = RunCgroup.make()
            var started: (pid: pid_t, errorPipe: Int32)? = nil
            if let cg = runCgroup {
                let dir = open(cg.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if dir >= 0 {
                    defer { Glibc.close(dir) }
                    do { started = try Launcher.spawnStopped(options.launch, filter: [], dieWithRoprof: true, cgroupFD: dir) }
                    catch TraceError.system("fork", _) {}  // clone3 into a cgroup refused: spawned below, then moved
                }
            }
            let (pid, pipe) = try started ?? Launcher.spawnStopped(options.launch, filter: [], dieWithRoprof: true)
            if started == nil, let cg = runCgroup, !cg.adopt(pid) { cg.finish(); runCgroup = nil }
            Self.phase("spawned")
            errorPipe = pipe
            rootPid = pid
            // Recorded from its exec on: the launcher's last calls before it are roprof's, not the app's.
            probe.track(UInt32(pid), recorded: false)
            let root = ProcessState(pid: pid, ppid: getpid(), exe: options.launch.executable)
            root.uid = Int(options.launch.runAs?.uid ?? getuid())
            root.gid = Int(options.launch.runAs?.gid ?? getgid())
            register(root)
            snapshotInheritedFds(pid, builder: builder, process: options.launch.executable)
            lifecycle.appStarted()
            kill(pid, SIGCONT)
        }
        Self.phase("attached-running")
        try loop()
        Self.phase("app-ended")
        lifecycle.end()
        if starter != 0, let e = starterExit, e.shellStatus != 0 {
            let why = ((try? String(contentsOfFile: starterLog, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? "exit status \(e.shellStatus)"
            try? FileManager.default.removeItem(atPath: starterLog)
            throw TraceError.startFailed("\(startLabel) did not start: \(why)")
        }
        if options.attachPid == nil && watch == nil, rootExit?.code == 126 || rootExit?.code == 127,
           processes[rootPid]?.execs.isEmpty ?? true, let f = Launcher.readFailure(errorPipe) {
            throw PtraceBackend.spawnError(f, options.launch)
        }
        return finish()
    }

    func loop() throws {
        var lastLivenessCheck = Date()
        while true {
            lifecycle.tick()
            if lifecycle.abandon { return }
            // Records come without wake-ups (see the probe's emit): the wait only paces the loop, and
            // what the ring holds is consumed every time round.
            probe.poll(timeoutMs: 20)
            probe.drain()
            reapChildren()
            if detached { probe.drain(); return }
            if options.attachPid == nil && watch == nil && rootExit != nil {
                // The app is gone when every process it made has ended (a daemon outlives its parent).
                if Date().timeIntervalSince(lastLivenessCheck) > 0.5 {
                    lastLivenessCheck = Date()
                    for pid in live where kill(pid, 0) != 0 && errno == ESRCH { live.remove(pid) }
                }
                if live.isEmpty {
                    lifecycle.appGone()
                    probe.drain()
                    if !lifecycle.exerciseRunning { return }
                }
            }
        }
    }

    /// Reaps roprof's own children: the launched app's first process and the --while exercise.
    func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            let exit: ExitInfo
            switch StopEvent.classify(status) {
            case .exited(let code): exit = ExitInfo(code: Int(code))
            case .killed(let sig, _): exit = ExitInfo(signal: Int(sig))
            default: continue
            }
            if lifecycle.childEnded(pid, exit) { continue }
            if pid == starter && starter != 0 {
                starterExit = exit
                if exit.shellStatus != 0 { detached = true }  // the container did not start
                else { try? FileManager.default.removeItem(atPath: starterLog) }
                continue
            }
            if pid == rootPid {
                rootExit = exit
                processes[pid]?.exit = exit
                live.remove(pid)
            }
        }
    }

    // MARK: - What the lifecycle asks of this backend

    public func signalApp(_ signal: Int32) { if rootPid > 0 { kill(rootPid, signal) } }
    public func killApp() { for pid in live { kill(pid, SIGKILL) }; if rootPid > 0 { kill(rootPid, SIGKILL) } }
    public func detach() { detached = true }
    public var appEnded: Bool { rootExit != nil }
    public var progressCounts: (processes: Int, syscalls: Int, fileEvents: Int) {
        // The sum of the per-CPU counters, read in one batch (only for the status line, every 250 ms).
        (processes.count, Int(probe.callCounts().reduce(0, &+)), fileEvents)
    }

    // MARK: - Processes

    func register(_ p: ProcessState) {
        processes.register(p)
        live.insert(p.pid)
    }

    /// A process that was running before roprof saw it: what /proc says of it.
    @discardableResult
    func registerRunning(_ pid: pid_t) -> ProcessState {
        if let p = processes[pid] { return p }
        let p = processes.registerFromProc(pid, viewRoot: viewRoot)
        live.insert(pid)
        return p
    }

    func seedTree(of pid: pid_t) throws {
        guard kill(pid, 0) == 0 || errno == EPERM, FileManager.default.fileExists(atPath: "/proc/\(pid)") else {
            throw TraceError.noSuchProcess(pid)
        }
        rootPid = pid
        for p in ProcFS.tree(of: pid) {
            probe.track(UInt32(p))
            registerRunning(p)
        }
    }

    func startWatching(_ watch: WatchTarget) throws {
        switch watch {
        case .mountNamespace(let pid, let label):
            var st = stat()
            guard stat("/proc/\(pid)/ns/mnt", &st) == 0 else { throw TraceError.noSuchProcess(pid) }
            var own = stat()
            if stat("/proc/self/ns/mnt", &own) == 0 && own.st_ino == st.st_ino {
                throw TraceError.startFailed("\(label) shares roprof's own mount namespace: record its process with --attach PID instead")
            }
            viewRoot = "/proc/\(pid)/root"
            probe.setConfig(UInt32(ROPROF_CFG_MNTNS.rawValue), UInt64(st.st_ino))
            probe.setConfig(UInt32(ROPROF_CFG_FILTER.rawValue), 1)
            rootPid = pid
            try probe.attach()
            for p in Self.pids(inMountNamespace: UInt64(st.st_ino)) {
                probe.track(UInt32(p))
                registerRunning(p)
            }
            builder.blindSpot(.attached, "recorded \(label) while it ran, with eBPF (\(processes.count) process\(processes.count == 1 ? "" : "es") then): what it did before is unseen; nothing was stopped",
                              process: processes[pid]?.exe ?? label)
        case .start(let argv, let label):
            var st = stat()
            guard stat("/proc/self/ns/mnt", &st) == 0 else { throw TraceError.system("stat /proc/self/ns/mnt", errno) }
            probe.setConfig(UInt32(ROPROF_CFG_HOSTNS.rawValue), UInt64(st.st_ino))
            guard LaunchSpec.resolveExecutable(argv[0]) != nil else { throw TraceError.commandNotFound(argv[0]) }
            let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }.sorted()
            // The engine's monitor (conmon) outlives the command: it must not hold roprof's stdout
            // and stderr open. Its errors go to a file roprof reads if the start fails.
            starterLog = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-start-\(getpid()).log").path
            let shell = ["/bin/sh", "-c", "exec \"$@\" </dev/null >/dev/null 2>\"$0\"", starterLog] + argv
            var spec = LaunchSpec(executable: "/bin/sh", argv: shell, environment: env)
            spec.closeInherited = true
            let (pid, pipe) = try Launcher.spawnStopped(spec, filter: [])
            Glibc.close(pipe)
            probe.track(UInt32(pid), recorded: false)
            try probe.attach()
            starter = pid
            startLabel = label
            kill(pid, SIGCONT)
            return
        case .cgroup(let path):
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw TraceError.startFailed("cannot open the cgroup \(path) (\(String(cString: strerror(errno)))): give a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/NAME.service") }
            defer { Glibc.close(fd) }
            guard probe.setCgroup(fd: fd) else {
                throw TraceError.startFailed("--cgroup \(path) is not a cgroup v2 directory (cgroup v1 hierarchies cannot be watched; on a hybrid host use the one under /sys/fs/cgroup/unified)")
            }
            probe.setConfig(UInt32(ROPROF_CFG_FILTER.rawValue), 2)
            try probe.attach()
            for line in (try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8))?.split(separator: "\n") ?? [] {
                guard let p = pid_t(line) else { continue }
                probe.track(UInt32(p))
                registerRunning(p)
            }
            if let first = processes.all.first { rootPid = first.pid }
            builder.blindSpot(.attached, "recorded the cgroup \(path) while it ran, with eBPF: what its processes did before is unseen; nothing was stopped",
                              process: processes.all.first?.exe ?? path)
        }
        noteOpenWritableFiles(processes.all, builder: builder, when: "roprof started recording")
    }

    static func pids(inMountNamespace ino: UInt64) -> [pid_t] {
        var out: [pid_t] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name) else { continue }
            var st = stat()
            if stat("/proc/\(pid)/ns/mnt", &st) == 0 && UInt64(st.st_ino) == ino { out.append(pid) }
        }
        return out.sorted()
    }

    // MARK: - Records

    func onRecord(_ raw: UnsafeRawBufferPointer) {
        guard raw.count >= MemoryLayout<roprof_ev>.size else { return }
        let h = raw.loadUnaligned(as: roprof_ev.self)
        let dataStart = MemoryLayout<roprof_ev_call>.size
        switch Int(h.type) {
        case Int(ROPROF_EV_CALL.rawValue):
            guard raw.count >= dataStart else { return }
            onCall(raw.loadUnaligned(as: roprof_ev_call.self), UnsafeRawBufferPointer(rebasing: raw[dataStart...]))
        case Int(ROPROF_EV_FORK.rawValue):
            guard raw.count >= MemoryLayout<roprof_ev_fork>.size else { return }
            let e = raw.loadUnaligned(as: roprof_ev_fork.self)
            let pid = pid_t(bitPattern: e.h.tgid), ppid = pid_t(bitPattern: e.ppid)
            guard processes[pid] == nil || processes[pid]!.exit != nil else { return }
            register(.child(pid, of: processes[ppid], ppid: ppid))
        case Int(ROPROF_EV_SEEN.rawValue):
            registerRunning(pid_t(bitPattern: h.tgid))
        case Int(ROPROF_EV_EXEC.rawValue):
            guard raw.count >= dataStart else { return }
            onExec(raw.loadUnaligned(as: roprof_ev_exec.self), UnsafeRawBufferPointer(rebasing: raw[dataStart...]))
        case Int(ROPROF_EV_EXIT.rawValue):
            guard raw.count >= MemoryLayout<roprof_ev_exit>.size else { return }
            let e = raw.loadUnaligned(as: roprof_ev_exit.self)
            let pid = pid_t(bitPattern: e.h.tgid)
            let code = Int(e.code)
            let exit = code & 0x7f == 0 ? ExitInfo(code: (code >> 8) & 0xff) : ExitInfo(signal: code & 0x7f)
            if let p = processes[pid], pid != rootPid || options.attachPid != nil || watch != nil { p.exit = exit }
            if pid != rootPid || options.attachPid != nil || watch != nil { live.remove(pid) }
        default:
            break
        }
    }

    func onExec(_ e: roprof_ev_exec, _ data: UnsafeRawBufferPointer) {
        let pid = pid_t(bitPattern: e.h.tgid)
        if starter != 0 && viewRoot == nil {
            // Start mode: the container's first program. Its files are seen from here through its root.
            viewRoot = "/proc/\(pid)/root"
            rootPid = pid
        }
        let p = processes[pid] ?? {
            let p = ProcessState(pid: pid, ppid: nil, exe: "?")
            register(p)
            return p
        }()
        let exeLen = min(Int(e.exe_len), data.count)
        let argvLen = min(Int(e.argv_len), data.count - exeLen)
        let resolved = Self.walkedPath(UnsafeRawBufferPointer(rebasing: data[0..<exeLen]))
        let argv = UnsafeRawBufferPointer(rebasing: data[exeLen..<(exeLen + argvLen)])
            .split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let args = argv.last == "" ? Array(argv.dropLast()) : argv
        let resolvedString = String(decoding: resolved, as: UTF8.self)
        if pid == rootPid && p.execs.isEmpty && options.attachPid == nil && watch == nil && options.policy.mode != .writes, let nr = tables[0].number("execve") {
            // The launched command's own execve ran before its recording began (see run()).
            builder.addSyscalls(arch: arches[0], nr: nr, count: 1)
        }
        processes.noteExec(p, resolved: resolvedString, argv: args, cwdLink: p.root == nil && viewRoot == nil ? "/proc/\(pid)/cwd" : nil,
                           ids: (Int(e.uid), Int(e.gid)))
    }

    /// "leaf\0parent\0…\0" (the probe's walk, leaf first) as an absolute path.
    static func walkedPath(_ b: UnsafeRawBufferPointer) -> [UInt8] {
        var comps = b.split(separator: 0, omittingEmptySubsequences: true)
        comps.reverse()
        var out: [UInt8] = []
        out.reserveCapacity(b.count + 1)
        for c in comps { out.append(UInt8(ascii: "/")); out.append(contentsOf: c) }
        return out.isEmpty ? [UInt8(ascii: "/")] : out
    }

    /// The strings of a call record: slots 0–3 in order.
    struct Slots {
        var raw: [[UInt8]?] = [nil, nil]
        var base: [[UInt8]?] = [nil, nil]
        var rawFlags: [UInt16] = [0, 0]
        var baseFlags: [UInt16] = [0, 0]
    }

    func slots(_ e: roprof_ev_call, _ data: UnsafeRawBufferPointer) -> Slots {
        var s = Slots()
        let lens = [e.len.0, e.len.1, e.len.2, e.len.3].map(Int.init)
        let walks = [e.walk.0, e.walk.1, e.walk.2, e.walk.3]
        var off = 0
        for i in 0..<4 {
            let n = min(lens[i], max(0, data.count - off))
            let bytes = Array(UnsafeRawBufferPointer(rebasing: data[off..<(off + n)]))
            off += n
            if i < 2 {
                s.rawFlags[i] = walks[i]
                if n > 0 || walks[i] != 0 { s.raw[i] = bytes }
            } else if walks[i] & UInt16(ROPROF_WALK_PRESENT.rawValue) != 0 {
                s.base[i - 2] = bytes.withUnsafeBytes { Self.walkedPath($0) }
                s.baseFlags[i - 2] = walks[i]
            }
        }
        return s
    }

    /// A path argument as the process meant it: absolute, or joined to the directory the kernel
    /// resolved for it (the cwd or the dirfd), tidied like the ptrace backend's.
    func argumentPath(_ s: Slots, _ i: Int, root: String?, allowEmpty: Bool = false) -> TracedPath {
        let flags = s.rawFlags[i]
        if flags & UInt16(ROPROF_RAW_UNREADABLE.rawValue) != 0 {
            return TracedPath(bytes: Array("<unreadable>".utf8), root: root, unresolved: "path pointer unreadable (EFAULT)")
        }
        let raw = s.raw[i] ?? []
        if flags & UInt16(ROPROF_RAW_TOO_LONG.rawValue) != 0 {
            return TracedPath(bytes: raw, root: root, unresolved: "path longer than PATH_MAX (the kernel rejects it with ENAMETOOLONG)")
        }
        if raw.first == UInt8(ascii: "/") { return TracedPath(bytes: PathText.tidy(raw), root: root) }
        if raw.isEmpty && !allowEmpty {
            return TracedPath(bytes: [], root: root, unresolved: "empty path (the kernel rejects it with ENOENT)")
        }
        guard let base = s.base[i] else {
            return TracedPath(bytes: raw, root: root, unresolved: "the directory it is relative to could not be resolved (a closed dirfd?)")
        }
        if let why = Self.walkProblem(s.baseFlags[i]) { return TracedPath(bytes: raw, root: root, unresolved: "its directory \(why)") }
        return TracedPath(bytes: PathText.join(base, raw), root: root)
    }

    static func walkProblem(_ flags: UInt16) -> String? {
        if flags & UInt16(ROPROF_WALK_TRUNCATED.rawValue) != 0 { return "is deeper than the eBPF probe walks (256 components, or 4 KiB beside other paths)" }
        if flags & UInt16(ROPROF_WALK_DETACHED.rawValue) != 0 { return "is outside the process's root (another mount namespace)" }
        return nil
    }

    /// The file of an fd operation, or nil when it is not a named file (pipe, socket, memfd, deleted).
    func fdPath(_ s: Slots, root: String?) -> TracedPath? {
        guard let base = s.base[0] else { return nil }
        let f = s.baseFlags[0]
        if f & UInt16(ROPROF_WALK_DETACHED.rawValue | ROPROF_WALK_UNLINKED.rawValue) != 0 { return nil }
        if f & UInt16(ROPROF_WALK_TRUNCATED.rawValue) != 0 {
            return TracedPath(bytes: base, root: root, unresolved: "deeper than the eBPF probe walks (256 components, or 4 KiB beside other paths)")
        }
        return TracedPath(bytes: base, root: root)
    }

    /// A call record: its facts as the probe fetched them, for the interpreter.
    func onCall(_ e: roprof_ev_call, _ data: UnsafeRawBufferPointer) {
        let pid = pid_t(bitPattern: e.h.tgid)
        let proc = processes[pid] ?? registerRunning(pid)
        guard Int(e.arch) < tables.count else { return }
        let table = tables[Int(e.arch)]
        let nr = Int(e.nr)
        let name = table.name(nr)
        if Int(e.arch) != 0 && compatNoted.insert(pid).inserted {
            builder.blindSpot(.compat32, "\(table.arch.rawValue) syscalls (int 0x80 / compat) seen; decoded with the \(table.arch.rawValue) table",
                              process: proc.exe)
        }
        if e.aux == 0xffff_ffff && e.h.size == UInt32(MemoryLayout<roprof_ev_call>.size) && e.ret == 0 && e.args.0 == 0 && e.len.0 == 0 {
            builder.dangerousCall(name, process: proc.exe)  // a sighting at entry, not a result
            return
        }
        guard nr < Int(ROPROF_NCALLS), let call = table.call(nr) else { return }
        fileEvents += 1
        if e.ret <= -512 && e.ret >= -516 { return }  // ERESTART*: the call runs again
        guard let facts = fetch(e, data, call: call, name: name, root: proc.root) else { return }
        // A process recorded as root that acts as another user now (it dropped root by itself).
        proc.droppedRoot = proc.uid == 0 && e.fsuid != 0
        interpreter.interpret(facts, process: proc)
    }

    /// The facts of a call record: the probe resolved its paths and fds in the kernel; here they are
    /// turned into the values the interpreter reads.
    func fetch(_ e: roprof_ev_call, _ data: UnsafeRawBufferPointer, call: MutatingCall, name: String, root: String?) -> CallFacts? {
        var f = CallFacts(name: name, call: call, args: [e.args.0, e.args.1, e.args.2, e.args.3, e.args.4, e.args.5])
        f.errno = (e.ret < 0 && e.ret >= -4095) ? Int32(-e.ret) : nil
        let s = slots(e, data)
        func path(_ i: Int, allowEmpty: Bool = false) -> TracedPath { argumentPath(s, i, root: root, allowEmpty: allowEmpty) }
        switch call {
        case .open(_, _, let flagsIndex):
            f.openFlags = flagsIndex.map { f.arg($0) & 0xffff_ffff } ?? (LinuxFlag.oCreat | LinuxFlag.oWronly | LinuxFlag.oTrunc)
        case .openat2:
            f.openFlags = UInt64(e.aux)
        case .openByHandle:
            f.openFlags = f.arg(2) & 0xffff_ffff
        default: break
        }
        switch call {
        case .open, .openat2, .openByHandle:
            if f.errno == nil, let opened = fdPath(s, root: root) {
                f.opened = opened  // the kernel's own name for what was opened (symlinks followed)
                if f.openFlags & LinuxFlag.oCreat != 0 { f.existed = e.fd_mode & (1 << 20) == 0 }  // FMODE_CREATED
            }
            if case .openByHandle = call {} else { f.paths = [path(0)] }
        case .pathOp(_, _, _, let atFlags):
            f.paths = [path(0, allowEmpty: atFlags.map { f.arg($0) & LinuxFlag.atEmptyPath != 0 } ?? false)]
        case .unlinkat:
            f.paths = [path(0)]
        case .rename:
            f.paths = [path(0), path(1)]
        case .link(_, _, _, _, let flagsIndex):
            let oldRaw = s.raw[0] ?? []
            f.paths = [path(1)]
            // Naming an open file: linkat(fd, "", …, AT_EMPTY_PATH) or linkat(…, "/proc/self/fd/N", …).
            f.namesUnnamedFile = (oldRaw.isEmpty && (flagsIndex.map { f.arg($0) } ?? 0) & LinuxFlag.atEmptyPath != 0)
                || oldRaw.starts(with: Array("/proc/self/fd/".utf8))
        case .fdOp, .copyInto, .mmap:
            guard let file = fdPath(s, root: root) else { return nil }
            f.fdFile = file
        case .utimensat:
            if f.arg(1) == 0 {
                guard let file = fdPath(s, root: root) else { return nil }
                f.fdFile = file
            } else {
                f.paths = [path(0, allowEmpty: f.arg(3) & LinuxFlag.atEmptyPath != 0)]
            }
        case .bind:
            guard let addr = s.raw[0] else { return nil }
            f.sockaddr = addr
            if let unixPath = CallInterpreter.socketAddress(addr).unixPath {
                var sl = s
                sl.raw[0] = unixPath
                sl.rawFlags[0] = 0
                f.paths = [argumentPath(sl, 0, root: root)]
            }
        case .mqOpen, .mqUnlink:
            f.rawName = s.raw[0]
        case .namespace(let pathArg):
            if pathArg != nil { f.paths = [path(0)] }
        case .denyAsync, .appSeccomp:
            break
        case .ioctlClone, .clone, .clone3, .ptrace:
            return nil  // not followed by the probe (see `descriptor`)
        }
        return f
    }

    // MARK: - Result

    func finish() -> TraceResult {
        probe.drain()
        // The full syscall inventory, from the per-CPU counters.
        if options.policy.mode != .writes {
            let all = probe.callCounts()
            for (ai, arch) in arches.enumerated() {
                for nr in 0..<Int(ROPROF_NCALLS) {
                    let n = all[ai * Int(ROPROF_NCALLS) + nr]
                    if n > 0 { builder.addSyscalls(arch: arch, nr: nr, count: Int(n)) }
                }
            }
        }
        let dropped = probe.stat(Int32(ROPROF_STAT_DROPPED.rawValue))
        if dropped > 0 {
            builder.blindSpot(.droppedEvents, "\(dropped) record\(dropped == 1 ? "" : "s") did not fit in the eBPF ring buffer (16 MiB) and were lost: the files they named are missing from this recording (record again with --backend ptrace, or with less load)",
                              process: processes.all.first?.exe ?? "?")
        }
        let full = probe.stat(Int32(ROPROF_STAT_INFLIGHT_FULL.rawValue)) + probe.stat(Int32(ROPROF_STAT_TRACKED_FULL.rawValue))
        if full > 0 {
            builder.blindSpot(.droppedEvents, "\(full) call\(full == 1 ? "" : "s") or process\(full == 1 ? "" : "es") could not be followed: the probe's tables were full",
                              process: processes.all.first?.exe ?? "?")
        }
        builder.viewRoot = viewRoot
        Self.phase("counters-read")
        builder.observeEnd()
        Self.phase("end-observed")
        let observing = options.attachPid != nil || watch != nil
        var command = options.displayCommand ?? options.launch.argv
        if command.isEmpty, let first = processes.all.first?.execs.last?.argv { command = first }
        for (kind, detail) in Self.unseen {
            builder.blindSpot(kind, detail, process: "roprof")
        }
        let result = lifecycle.result(builder: builder, command: command,
                                      exit: observing ? ExitInfo(code: 0) : (rootExit ?? ExitInfo(code: nil, signal: nil)),
                                      attachedPid: options.attachPid.map(Int.init), processes: processes.all, backend: "ebpf", denied: [:])
        Self.phase("recording-built")
        return result
    }

    /// What this backend never sees, stated in every recording it makes.
    static let unseen: [(BlindSpot.Kind, String)] = [
        (.backendLimit, "eBPF backend: reflink clones (ioctl FICLONE) and file I/O submitted through io_uring / Linux AIO are not seen; calls an app's own seccomp filter refuses are not seen; the outcome of a call interrupted by the process's death is not reported; sizes of files removed during the run are not taken (tmpfs sizes count the files that survive it)"),
    ]
}
