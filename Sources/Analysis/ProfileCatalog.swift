import FoundationEssentials
import Glibc
import TraceModel
import YAML

/// A place a runtime leaves writable (or mounts read-only) under a read-only root.
public struct PlacedPath: Codable, Equatable, Sendable {
    public var path: String
    public var why: String
}

/// What a target runtime makes writable by default; writes anywhere else break.
public struct RuntimeProfile: Codable, Equatable, Sendable {
    public var name: String
    public var title: String
    /// How this runtime provides scratch space: emptyDir, tmpfs or volume (ECS has no tmpfs).
    public var scratchMount: String
    public var writable: [PlacedPath]
    public var readOnly: [PlacedPath]
    public var notes: [String]?

    public func writablePlace(for path: String) -> PlacedPath? {
        writable.filter { PathGlob.isUnder(path, $0.path) }.max { $0.path.count < $1.path.count }
    }
    public func readOnlyPlace(for path: String) -> PlacedPath? {
        readOnly.first { PathGlob.isUnder(path, $0.path) }
    }
}

/// A known writer and how to stop it breaking (a file in Profiles/remedies/).
public struct Remedy: Codable, Equatable, Sendable {
    /// env: setting `env` stops the writes; flag: a command-line or config change does;
    /// relocate: `env` moves the writes to a scratch dir; persistent: the data must survive
    /// restarts; tmpfs: a scratch mount is the fix; stdout: send it to stdout instead.
    public enum Kind: String, Codable, Sendable { case env, flag, relocate, persistent, tmpfs, stdout }
    public struct Match: Codable, Equatable, Sendable {
        public var paths: [String]
        public var executables: [String]?
        /// Globs of which one must be a word of a writing process's command line (`collectstatic`):
        /// evidence of what the run did, not just who did it.
        public var arguments: [String]?
    }
    public var id: String
    public var title: String
    public var match: Match
    public var kind: Kind
    public var env: [String: String]?
    public var fix: String?
    public var why: String

    /// Whether this remedy is about `path` written by one of `processes` (executable paths).
    public func matches(path: String, processes: [String], arguments: Set<String> = []) -> Bool {
        guard match.paths.contains(where: { PathGlob.matches($0, path) }) else { return false }
        if let words = match.arguments, !words.isEmpty, !arguments.contains(where: { a in words.contains { PathGlob.matches($0, a) } }) {
            return false
        }
        guard let exes = match.executables, !exes.isEmpty else { return true }
        let names = processes.map { Paths.lastComponent($0) }
        return names.contains { n in exes.contains { PathGlob.matches($0, n) } }
    }
}

/// Calls that do the same thing through several entry points, with the reason.
public struct SyscallFamily: Codable, Equatable, Sendable {
    public var name: String
    public var why: String
    public var calls: [String]
}

/// Runtime profiles and remedies: the embedded Profiles/ plus a user's `--profiles DIR`.
public struct ProfileCatalog: Sendable {
    public var runtimes: [String: RuntimeProfile]
    public var remedies: [Remedy]
    public var seccompBaseline: [String]
    /// Equivalent entry points (Profiles/seccomp/families.yaml): allowing one allows the others.
    public var seccompFamilies: [SyscallFamily] = []
    /// What Docker's default profile lets a container call (Profiles/seccomp/docker-default.yaml), to compare with.
    public var dockerDefault: [String] = []

    /// The built-in catalog, optionally extended (and overridden by id/name) from `extraDirectory`.
    public static func load(extraDirectory: String? = nil) throws -> ProfileCatalog {
        var files = EmbeddedProfiles.files
        if let dir = extraDirectory {
            guard Paths.isDirectory(dir) else {
                throw ModelError("--profiles '\(dir)' is not a directory (it should hold runtimes/*.yaml and/or remedies/*.yaml)")
            }
            for sub in ["runtimes", "remedies", "seccomp"] {
                let d = Paths.join(dir, sub)
                for name in ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).sorted() where name.hasSuffix(".yaml") {
                    let path = Paths.join(d, name)
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw ModelError("cannot read profile '\(path)' (not readable or not UTF-8)")
                    }
                    files["user:\(sub)/\(name)"] = text
                }
            }
        }
        var runtimes: [String: RuntimeProfile] = [:]
        var remedies: [String: Remedy] = [:]
        var seccomp: [String] = []
        var families: [SyscallFamily] = []
        var dockerDefault: [String] = []
        let decoder = YAMLDecoder()
        for key in files.keys.sorted() {
            let text = files[key]!
            let source = key.hasPrefix("user:") ? (extraDirectory ?? "") + "/" + key.dropFirst(5) : "Profiles/" + key
            do {
                // The built-in profiles are part of the binary (and tested): only the user's are checked.
                if key.hasPrefix("user:") { try InputLimits.checkYAML(text, source: source, what: "a profile") }
                if key.contains("runtimes/") {
                    let r = try decoder.decode(RuntimeProfile.self, from: text)
                    runtimes[r.name] = r
                } else if key.contains("remedies/") {
                    let r = try decoder.decode(Remedy.self, from: text)
                    remedies[r.id] = r
                } else if key.contains("seccomp/") {
                    struct SeccompFile: Decodable {
                        var syscalls: [Entry]?
                        var families: [SyscallFamily]?
                        var allowed: [String]?
                        struct Entry: Decodable { var name: String }
                    }
                    let f = try decoder.decode(SeccompFile.self, from: text)
                    seccomp += (f.syscalls ?? []).map(\.name)
                    families += f.families ?? []
                    dockerDefault += f.allowed ?? []
                }
            } catch {
                throw ModelError("profile '\(source)' is invalid: \(shortReason(error)) (see docs/profiles.md for the format)")
            }
        }
        var catalog = ProfileCatalog(runtimes: runtimes, remedies: remedies.values.sorted { $0.id < $1.id },
                                     seccompBaseline: Array(Set(seccomp)).sorted(), seccompFamilies: families.sorted { $0.name < $1.name })
        catalog.dockerDefault = Array(Set(dockerDefault)).sorted()
        return catalog
    }

    public func runtime(named name: String) throws -> RuntimeProfile {
        guard let r = runtimes[name] else {
            throw ModelError("unknown runtime '\(name)': choose one of \(runtimes.keys.sorted().joined(separator: ", ")) (or add Profiles/runtimes/\(name).yaml with --profiles)")
        }
        return r
    }
}
