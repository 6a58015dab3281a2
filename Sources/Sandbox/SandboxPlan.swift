import Analysis
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
        public init(path: String, kind: Kind) { self.path = path; self.kind = kind }
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
        public init() {}
    }

    static let MS_BIND: UInt = 4096, MS_REC: UInt = 16384, MS_NOSUID: UInt = 2, MS_NODEV: UInt = 4

    /// Creates missing mount points and the backing directories of persistent mounts, and turns
    /// the plan into the mount steps the child runs between fork and exec.
    public func prepare(_ spec: inout LaunchSpec) throws -> HostState {
        let state = HostState()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-sandbox-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        state.scratch = scratch
        let mountPoints = Self.mountPoints()
        var before: [MountStep] = [], after: [MountStep] = []
        var unlock: [MountStep] = []
        for (i, m) in mounts.enumerated() {
            switch m.kind {
            case .file:
                if !FileManager.default.fileExists(atPath: m.path) {
                    try ensureDirectory(PathGlob.parent(m.path), state)
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
                try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
                chmod(src, 0o1777)
                before.append(MountStep(kind: .mount, source: src, target: m.path, flags: Self.MS_BIND))
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
            p = PathGlob.parent(p)
        }
        for d in missing.reversed() {
            guard mkdir(d, 0o755) == 0 || errno == EEXIST else {
                throw TraceError.sandboxSetup("cannot create the mount point \(d): \(String(cString: strerror(errno)))")
            }
            state.createdDirs.append(d)
        }
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
}
