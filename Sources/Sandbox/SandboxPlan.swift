import FoundationEssentials
import Glibc
import TraceModel
import Tracer

/// How to run a command the way a hardened container would, on this host: a private mount
/// namespace, the root bound read-only recursively, the runtime's writable places, a tmpfs at
/// each suggested scratch mount and a fresh directory bound at each persistent one.
public struct SandboxPlan {
    public struct Mount: Sendable, Equatable {
        public enum Kind: Sendable { case tmpfs(bytes: Int), persistent, file }
        public var path: String
        public var kind: Kind
        /// persistent: start the volume with what the image (here: the host) has at the path, as a
        /// docker/podman named volume does on first use.
        public var seedFromImage = false
        /// persistent: the owner and mode a fresh volume gets (the image directory's); nil: 1777.
        public var owner: Owner?
        public init(path: String, kind: Kind, seedFromImage: Bool = false, owner: Owner? = nil) {
            self.path = path; self.kind = kind; self.seedFromImage = seedFromImage; self.owner = owner
        }
        public static func == (a: Mount, b: Mount) -> Bool { a.path == b.path }
    }

    public var readOnlyRoot = true
    /// As tight as a container: new PID, UTS and IPC namespaces (the app is PID 1 and sees only its own
    /// processes), a private /dev (a tmpfs with the usual devices, its own /dev/shm, pts and mqueue), a
    /// /proc of its own with /proc/sys and friends read-only, and private copies of the files the
    /// runtime leaves writable (/etc/hosts, …). Nothing it writes there reaches the host.
    public var isolate = false
    /// The capabilities the app keeps, as the printed settings give them (--cap-drop=ALL plus these); nil: unchanged.
    public var capabilities: [String]? = nil
    /// Directories the runtime leaves writable (from its profile).
    public var runtimeWritable: [String]
    public var mounts: [Mount]
    public var environment: [String: String]

    public init(runtimeWritable: [String], mounts: [Mount], environment: [String: String]) {
        self.runtimeWritable = runtimeWritable; self.mounts = mounts; self.environment = environment
    }

    /// What `prepare` created on the host, removed by `cleanUp`.
    public final class HostState {
        var createdDirs: [String] = []
        var createdFiles: [String] = []
        var scratch: String?
        /// Mount path → the host directory behind a persistent mount (kept across a restart).
        public private(set) var volumes: [String: String] = [:]
        public init() {}
        func setVolume(_ path: String, _ source: String) { volumes[path] = source }
    }

    /// Where sandboxes keep their scratch directories; one per roprof process, named after its pid.
    public static let scratchPrefix = "roprof-sandbox-"


    static let MS_BIND: UInt = 4096, MS_REC: UInt = 16384, MS_NOSUID: UInt = 2, MS_NODEV: UInt = 4, MS_NOEXEC: UInt = 8, MS_MOVE: UInt = 8192

    /// Creates missing mount points and the backing directories of persistent mounts, and turns
    /// the plan into the mount steps the child runs between fork and exec.
    /// With `reuse`, persistent mounts keep the volumes of that earlier run (a restart on the same volumes).
    public func prepare(_ spec: inout LaunchSpec, reuse: HostState? = nil) throws -> HostState {
        let state = reuse ?? HostState()
        let scratch: String
        if let s = reuse?.scratch { scratch = s } else {
            scratch = FileManager.default.temporaryDirectory.appendingPathComponent("\(Self.scratchPrefix)\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            state.scratch = scratch
        }
        let mountPoints = Self.mountPoints()
        var before: [MountStep] = [], after: [MountStep] = []
        var unlock: [MountStep] = []
        for (i, m) in mounts.enumerated() {
            switch m.kind {
            case .file:
                if !FileManager.default.fileExists(atPath: m.path) {
                    try ensureDirectory(Self.parent(m.path), state)
                    guard FileManager.default.createFile(atPath: m.path, contents: nil) else {
                        throw TraceError.sandboxSetup("cannot create the mount point file \(m.path)")
                    }
                    state.createdFiles.append(m.path)
                    Self.remember(m.path, kind: "file", in: state)
                }
                Self.bindPrivateCopy(of: m.path, at: scratch + "/file-\(i)", before: &before, unlock: &unlock)
            case .persistent:
                try ensureDirectory(m.path, state)
                let src = scratch + "/volume-\(i)"
                if state.volumes[m.path] == nil {
                    try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
                    if m.seedFromImage { try Self.copyContent(of: m.path, into: src) }
                    if let o = m.owner { chown(src, uid_t(o.uid), gid_t(o.gid)); chmod(src, mode_t(o.mode)) } else { chmod(src, 0o1777) }
                    state.setVolume(m.path, src)
                }
                before.append(MountStep(kind: .mount, source: state.volumes[m.path] ?? src, target: m.path, flags: Self.MS_BIND))
                unlock.append(MountStep(kind: .setattr, target: m.path, attrClear: 1))
            case .tmpfs(let bytes):
                try ensureDirectory(m.path, state)
                after.append(MountStep(kind: .mount, source: "tmpfs", target: m.path, fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV,
                                       data: "size=\(max(bytes, 1 << 20)),mode=1777"))
            }
        }
        var runtimeSteps: [MountStep] = []
        var isolation: [MountStep] = []
        if isolate {
            isolation = try isolationSteps(scratch: scratch)
            // Files the runtime leaves writable (/etc/hosts, …): a private copy each, as the engine binds its own.
            for (i, w) in runtimeWritable.sorted().enumerated() where !Self.isKernelPlace(w) {
                guard FileManager.default.fileExists(atPath: w), !Paths.isDirectory(w),
                      !mounts.contains(where: { $0.path == w }) else { continue }
                Self.bindPrivateCopy(of: w, at: scratch + "/runtime-file-\(i)", before: &before, unlock: &unlock)
            }
        }
        for w in runtimeWritable.sorted() {
            if isolate && Self.isKernelPlace(w) { continue }  // the private /dev and /proc stand for them
            guard Paths.isDirectory(w) else { continue }
            if mountPoints.contains(w) {
                runtimeSteps.append(MountStep(kind: .setattr, target: w, recursive: true, attrClear: 1))
            } else if !mounts.contains(where: { $0.path == w }) {
                runtimeSteps.append(MountStep(kind: .mount, source: "tmpfs", target: w, fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV,
                                              data: "size=67108864,mode=1777"))
            }
        }
        var steps = before
        if readOnlyRoot {
            steps.append(MountStep(kind: .setattr, target: "/", recursive: true, attrSet: 1))
            steps += isolation + runtimeSteps + unlock
        } else {
            steps += isolation
        }
        steps += after
        spec.mountNamespace = true
        spec.isolate = isolate
        spec.capabilities = capabilities
        spec.mountSteps = steps
        for (k, v) in environment {
            spec.environment.removeAll { $0.hasPrefix(k + "=") }
            spec.environment.append("\(k)=\(v)")
        }
        spec.environment.sort()
        return state
    }

    /// A writable private copy of the file at `path` (its content, or empty), made at `src` and bound
    /// over it before the root turns read-only, then unlocked: the app writes the copy, never the host's.
    static func bindPrivateCopy(of path: String, at src: String, before: inout [MountStep], unlock: inout [MountStep]) {
        try? FileManager.default.copyItem(atPath: path, toPath: src)
        if !FileManager.default.fileExists(atPath: src) { FileManager.default.createFile(atPath: src, contents: nil) }
        before.append(MountStep(kind: .mount, source: src, target: path, flags: MS_BIND))
        unlock.append(MountStep(kind: .setattr, target: path, attrClear: 1))
    }

    /// /dev, /proc and what is below them: the kernel's places, which isolation replaces.
    static func isKernelPlace(_ path: String) -> Bool {
        ["/dev", "/proc", "/sys"].contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    /// A private /dev (built in the scratch directory, then moved over /dev) and a /proc of the new
    /// PID namespace with the kernel's knobs read-only, as container engines set them up.
    func isolationSteps(scratch: String) throws -> [MountStep] {
        let dev = scratch + "/dev"
        try FileManager.default.createDirectory(atPath: dev, withIntermediateDirectories: true)
        var s: [MountStep] = [MountStep(kind: .mount, source: "tmpfs", target: dev, fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NOEXEC,
                                        data: "mode=755,size=65536k")]
        for name in ["null", "zero", "full", "random", "urandom", "tty"] {
            var st = stat()
            guard stat("/dev/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else { continue }
            s.append(MountStep(kind: .file, target: dev + "/" + name))
            s.append(MountStep(kind: .mount, source: "/dev/" + name, target: dev + "/" + name, flags: Self.MS_BIND))
        }
        s.append(MountStep(kind: .mkdir, target: dev + "/shm"))
        s.append(MountStep(kind: .mount, source: "shm", target: dev + "/shm", fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC,
                           data: "mode=1777,size=65536k"))
        s.append(MountStep(kind: .mkdir, target: dev + "/pts"))
        s.append(MountStep(kind: .mount, source: "devpts", target: dev + "/pts", fstype: "devpts", flags: Self.MS_NOSUID | Self.MS_NOEXEC,
                           data: "newinstance,ptmxmode=0666,mode=0620"))
        s.append(MountStep(kind: .symlink, source: "pts/ptmx", target: dev + "/ptmx"))
        s.append(MountStep(kind: .mkdir, target: dev + "/mqueue"))
        s.append(MountStep(kind: .mount, source: "mqueue", target: dev + "/mqueue", fstype: "mqueue", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC))
        for (link, to) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            s.append(MountStep(kind: .symlink, source: to, target: dev + "/" + link))
        }
        if runtimeWritable.contains("/dev/termination-log") { s.append(MountStep(kind: .file, target: dev + "/termination-log")) }
        s.append(MountStep(kind: .mount, source: dev, target: "/dev", flags: Self.MS_MOVE))
        s.append(MountStep(kind: .mount, source: "proc", target: "/proc", fstype: "proc", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC))
        for p in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"] where FileManager.default.fileExists(atPath: p) {
            s.append(MountStep(kind: .mount, source: p, target: p, flags: Self.MS_BIND | Self.MS_REC))
            s.append(MountStep(kind: .setattr, target: p, recursive: true, attrSet: 1))
        }
        for p in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] where FileManager.default.fileExists(atPath: p) {
            s.append(MountStep(kind: .mount, source: "/dev/null", target: p, flags: Self.MS_BIND))
        }
        return s
    }

    func ensureDirectory(_ path: String, _ state: HostState) throws {
        var missing: [String] = []
        var p = path
        while !p.isEmpty && p != "/" && !FileManager.default.fileExists(atPath: p) {
            missing.append(p)
            p = Self.parent(p)
        }
        for d in missing.reversed() {
            guard mkdir(d, 0o755) == 0 || errno == EEXIST else {
                throw TraceError.sandboxSetup("cannot create the mount point \(d): \(String(cString: strerror(errno)))")
            }
            state.createdDirs.append(d)
            Self.remember(d, kind: "dir", in: state)
        }
    }

    /// What `prepare` made on the host, written down as it is made (scratch/created): a roprof killed
    /// before its cleanup leaves it for the next run's `removeStale` to remove.
    static func remember(_ path: String, kind: String, in state: HostState) {
        guard let scratch = state.scratch else { return }
        let line = Array((kind + "\u{0}" + path + "\u{0}").utf8)
        let fd = open(scratch + "/created", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Removes what a killed roprof's sandbox made on the host, from its scratch/created list: the
    /// mount-point files it created (still empty) and directories (still empty), newest first.
    static func removeCreated(listedIn scratch: String) {
        guard let data = FileManager.default.contents(atPath: scratch + "/created") else { return }
        let fields = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var entries: [(kind: String, path: String)] = []
        var i = 0
        while i + 1 < fields.count { entries.append((fields[i], fields[i + 1])); i += 2 }
        for e in entries.reversed() where e.path.hasPrefix("/") && e.path != "/" {
            var st = stat()
            guard lstat(e.path, &st) == 0 else { continue }
            if e.kind == "file" && (st.st_mode & S_IFMT) == S_IFREG && st.st_size == 0 { unlink(e.path) }
            if e.kind == "dir" && (st.st_mode & S_IFMT) == S_IFDIR { rmdir(e.path) }  // fails unless empty: never data
        }
    }

    /// Copies a directory's content (owners, modes, links kept) into a fresh volume: `cp -a DIR/. VOLUME/`.
    static func copyContent(of dir: String, into volume: String) throws {
        guard Paths.isDirectory(dir) else { return }
        var pid: pid_t = 0
        let args = ["/bin/cp", "-a", "--", dir + "/.", volume + "/"]
        var cargs = args.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/cp", nil, nil, &cargs, environ) == 0 else {
            throw TraceError.sandboxSetup("cannot run cp to fill the volume for \(dir)")
        }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        guard st == 0 else { throw TraceError.sandboxSetup("copying the image's content of \(dir) into its volume failed (cp exit \(st >> 8))") }
    }

    /// Removes the scratch directories of sandboxes whose roprof is gone (killed before cleaning up).
    public static func removeStale() {
        let tmp = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(scratchPrefix) {
            guard let pid = Int32(name.dropFirst(scratchPrefix.count).prefix { $0 != "-" }), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                removeCreated(listedIn: tmp + "/" + name)
                try? FileManager.default.removeItem(atPath: tmp + "/" + name)
            }
        }
    }

    /// Files (relative path → size) in each persistent volume: what a restart must find again.
    public static func volumeContents(_ state: HostState) -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for (path, src) in state.volumes {
            var files: [String: Int] = [:]
            for rel in (try? FileManager.default.subpathsOfDirectory(atPath: src)) ?? [] {
                var st = stat()
                if lstat(src + "/" + rel, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { files[rel] = Int(st.st_size) }
            }
            out[path] = files
        }
        return out
    }

    /// Removes what `prepare` created (mount points it made, backing directories).
    public static func cleanUp(_ state: HostState) {
        for f in state.createdFiles { unlink(f) }
        for d in state.createdDirs.reversed() { rmdir(d) }
        if let s = state.scratch { try? FileManager.default.removeItem(atPath: s) }
    }

    /// Mount points of this mount namespace (from /proc/self/mountinfo).
    static func mountPoints() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        var out = Set<String>()
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 4 { out.insert(unescapeOctal(String(f[4]))) }
        }
        return out
    }

    static func unescapeOctal(_ s: String) -> String {
        var out = [UInt8](), b = Array(s.utf8), i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else { out.append(b[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The directory holding `path` ("/" for a top-level name).
    static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/"), i != path.startIndex else { return "/" }
        return String(path[..<i])
    }
}
