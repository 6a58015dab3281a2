import Foundation
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


    static let MS_BIND: UInt = 4096, MS_REC: UInt = 16384, MS_NOSUID: UInt = 2, MS_NODEV: UInt = 4

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
                }
                let src = scratch + "/file-\(i)"
                try? FileManager.default.copyItem(atPath: m.path, toPath: src)
                if !FileManager.default.fileExists(atPath: src) { FileManager.default.createFile(atPath: src, contents: nil) }
                before.append(MountStep(kind: .mount, source: src, target: m.path, flags: Self.MS_BIND))
                unlock.append(MountStep(kind: .setattr, target: m.path, attrClear: 1))
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
        for w in runtimeWritable.sorted() {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: w, isDirectory: &isDir), isDir.boolValue else { continue }
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
            steps += runtimeSteps + unlock
        }
        steps += after
        spec.mountNamespace = true
        spec.mountSteps = steps
        for (k, v) in environment {
            spec.environment.removeAll { $0.hasPrefix(k + "=") }
            spec.environment.append("\(k)=\(v)")
        }
        spec.environment.sort()
        return state
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
        }
    }

    /// Copies a directory's content (owners, modes, links kept) into a fresh volume: `cp -a DIR/. VOLUME/`.
    static func copyContent(of dir: String, into volume: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return }
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
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: tmp + "/" + name) }
        }
    }

    /// Files (relative path → size) in each persistent volume: what a restart must find again.
    public static func volumeContents(_ state: HostState) -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for (path, src) in state.volumes {
            var files: [String: Int] = [:]
            if let e = FileManager.default.enumerator(atPath: src) {
                while let rel = e.nextObject() as? String {
                    var st = stat()
                    if lstat(src + "/" + rel, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { files[rel] = Int(st.st_size) }
                }
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
