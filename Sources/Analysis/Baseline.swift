import FoundationEssentials
import Glibc
import TraceModel
import YAML

/// What a CI check allows: write locations (globs, each with the mount that covers it) and
/// syscalls per architecture. A small, reviewable YAML file; written in a stable order.
public struct Baseline: Codable, Equatable, Sendable {
    public static let formatName = "roprof-baseline"
    public static let currentVersion = 1

    public struct Write: Codable, Equatable, Sendable {
        public var path: String
        /// tmpfs, persistent, file, remedy:<id>, relocate (state next to code), unfixable, or allowed (writable in the runtime anyway).
        public var mount: String
        public var reason: String?
        public init(path: String, mount: String, reason: String? = nil) { self.path = path; self.mount = mount; self.reason = reason }
    }

    public var format = Baseline.formatName
    public var version = Baseline.currentVersion
    public var runtime: String
    public var writes: [Write]
    public var syscalls: [String: [String]]
    /// Where things are in the file it was read from: "writes", "syscalls.ARCH" → line (not written back).
    public var lines: [String: Int] = [:]

    enum CodingKeys: String, CodingKey { case format, version, runtime, writes, syscalls }

    public init(runtime: String, writes: [Write], syscalls: [String: [String]]) {
        self.runtime = runtime; self.writes = writes; self.syscalls = syscalls
    }

    public func allows(path: String) -> Write? {
        writes.first { PathGlob.matches($0.path, path) }
    }

    public func normalized() -> Baseline {
        var b = self
        var seen: [String: Write] = [:]
        for w in writes where seen[w.path] == nil { seen[w.path] = w }
        b.writes = seen.values.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        b.syscalls = syscalls.mapValues { Array(Set($0)).sorted() }
        return b
    }

    /// The union of two baselines (refreshing keeps what was allowed before).
    public func union(_ o: Baseline) -> Baseline {
        var s = syscalls
        for (arch, names) in o.syscalls { s[arch] = Array(Set((s[arch] ?? []) + names)) }
        return Baseline(runtime: runtime, writes: writes + o.writes, syscalls: s).normalized()
    }

    /// Derives a baseline from a recording's analysis: every mount and every remedy-covered path.
    public static func derive(from a: Analysis, recording r: Recording) -> Baseline {
        var writes: [Write] = []
        for m in a.mounts {
            let glob = m.kind == .file ? m.path : (m.path == "/" ? "/**" : m.path + "/**")
            writes.append(Write(path: glob, mount: m.kind.rawValue, reason: m.reason))
            if m.kind != .file { writes.append(Write(path: m.path, mount: m.kind.rawValue, reason: nil)) }
        }
        for p in a.breaking where p.fixedBy?.hasPrefix("remedy:") == true {
            let glob = globFor(p.path, pids: a.runPids)
            if !writes.contains(where: { PathGlob.matches($0.path, p.path) }) {
                writes.append(Write(path: glob, mount: p.fixedBy!, reason: a.remedies.first { "remedy:" + $0.id == p.fixedBy }?.title))
            }
        }
        for p in a.breaking where p.fixedBy?.hasPrefix("relocate:") == true && !writes.contains(where: { PathGlob.matches($0.path, p.path) }) {
            writes.append(Write(path: globFor(p.path, pids: a.runPids), mount: "relocate", reason: "written next to the app's code: move it to a data directory"))
        }
        for p in a.unfixable { writes.append(Write(path: globFor(p.path, pids: a.runPids), mount: "unfixable", reason: p.note)) }
        let sys = r.syscalls.mapValues { Array($0.keys) }
        return Baseline(runtime: a.runtime, writes: writes, syscalls: sys).normalized()
    }

    /// Random parts of a name become `*` (NameShape); a literal `*`, `?` or `[` in a real name is
    /// matched by `?` so the glob never means more than intended.
    static func globFor(_ path: String, pids: Set<String> = []) -> String {
        let shaped = NameShape.shapePath(path, pids: pids)
        if shaped != path { return shaped }
        return String(path.map { "*?[".contains($0) ? "?" : $0 })
    }

    // MARK: - Reading and writing

    public func yaml() throws -> String {
        let header = """
        # roprof baseline: what this app may write under a read-only root and which syscalls it may use.
        # Review changes to this file like code. Regenerate with `roprof check --baseline FILE --update -- CMD`.

        """
        return header + (try YAMLEncoder().encode(normalized()))
    }

    /// Parses a baseline, with one-line errors that name the file and line.
    public static func load(path: String) throws -> Baseline {
        if path == "-" {
            let data = StdIO.readAll()
            guard data.count <= InputLimits.maxBaselineBytes, let text = String(data: data, encoding: .utf8) else {
                throw ModelError("standard input is not a roprof baseline (not UTF-8, or larger than \(InputLimits.maxBaselineBytes >> 20) MiB)")
            }
            return try parse(text, source: "standard input")
        }
        if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size > InputLimits.maxBaselineBytes {
            throw ModelError("cannot read baseline '\(path)': \(size >> 20) MiB is far larger than a baseline (at most \(InputLimits.maxBaselineBytes >> 20) MiB); is it the right file?")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ModelError("cannot read baseline '\(path)' (create one with `roprof check --baseline \(path) --update -- CMD`)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws -> Baseline {
        func err(_ node: Node?, _ msg: String) -> ModelError {
            let line = node?.mark.map { ":\($0.line)" } ?? ""
            return ModelError("\(source)\(line): \(msg)")
        }
        if let why = InputLimits.yamlProblem(text) ?? (text.utf8.count > InputLimits.maxBaselineBytes ? "larger than \(InputLimits.maxBaselineBytes >> 20) MiB" : nil) {
            throw ModelError("\(source): not a roprof baseline (\(why))")
        }
        let root: Node
        do {
            guard let n = try YAML.compose(text) else { throw ModelError("\(source): empty baseline") }
            root = n
        } catch let e as YAMLError {
            let d = "\(e)".split(separator: "\n").first.map(String.init) ?? "invalid YAML"
            throw ModelError("\(source): not valid YAML: \(d)")
        }
        guard let map = root.mapping else { throw err(root, "a baseline is a mapping with format, version, runtime, writes, syscalls") }
        guard map["format"]?.string == formatName else { throw err(map["format"] ?? root, "\"format\" must be '\(formatName)'") }
        guard let vnode = map["version"], let v = vnode.int else { throw err(root, "\"version\" is missing or not a number") }
        guard v <= currentVersion else { throw err(vnode, "version \(v) is newer than this roprof understands (\(currentVersion)); upgrade roprof") }
        for (k, _) in map {
            guard let key = k.string, ["format", "version", "runtime", "writes", "syscalls"].contains(key) else {
                let known = ["format", "version", "runtime", "writes", "syscalls"]
                let name = k.string ?? "?"
                let guess = DidYouMean.closest(name, known)
                throw err(k, "unknown key '\(name)'" + (guess.map { "; did you mean '\($0)'?" } ?? "") + " (a baseline has format, version, runtime, writes, syscalls)")
            }
        }
        guard let runtime = map["runtime"]?.string else { throw err(map["runtime"] ?? root, "\"runtime\" must be a runtime name such as kubernetes") }
        var writes: [Write] = []
        if let wn = map["writes"], !wn.isNull {  // `writes:` with nothing under it: none
            guard let seq = wn.sequence else { throw err(wn, "\"writes\" must be a list of {path, mount, reason}") }
            for item in seq {
                guard let m = item.mapping, let path = m["path"]?.string, !path.isEmpty else {
                    throw err(item, "each write needs a \"path\" glob")
                }
                guard path.hasPrefix("/") else { throw err(m["path"], "write path '\(path)' must be absolute") }
                let mount = m["mount"]?.string ?? "tmpfs"
                let known = ["tmpfs", "persistent", "file", "allowed", "unfixable", "relocate"]
                guard known.contains(mount) || mount.hasPrefix("remedy:") else {
                    throw err(m["mount"], "unknown mount '\(mount)': use one of \(known.joined(separator: ", ")) or remedy:ID")
                }
                for (k, _) in m where !["path", "mount", "reason"].contains(k.string ?? "") {
                    throw err(k, "unknown key '\(k.string ?? "?")' in a write (a write has path, mount, reason)")
                }
                writes.append(Write(path: path, mount: mount, reason: m["reason"]?.string))
            }
        }
        var syscalls: [String: [String]] = [:]
        if let sn = map["syscalls"], !sn.isNull {
            guard let sm = sn.mapping else { throw err(sn, "\"syscalls\" must map an architecture to a list of names") }
            for (k, v) in sm {
                guard let arch = k.string, let seq = v.sequence else { throw err(k, "\"syscalls\" must map an architecture to a list of names") }
                guard SeccompArchNames.all.contains(arch) else {
                    throw err(k, "unknown architecture '\(arch)' (one of \(SeccompArchNames.all.sorted().joined(separator: ", ")))")
                }
                var names: [String] = []
                for n in seq {
                    guard let s = n.string, !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        throw err(n, "'\(n.string ?? "?")' is not a syscall name")
                    }
                    names.append(s)
                }
                syscalls[arch] = names
            }
        }
        var b = Baseline(runtime: runtime, writes: writes, syscalls: syscalls).normalized()
        for (k, _) in map where k.string == "writes" { b.lines["writes"] = k.mark?.line }
        if let sm = map["syscalls"]?.mapping {
            for (k, _) in sm { if let arch = k.string, let line = k.mark?.line { b.lines["syscalls." + arch] = line } }
        }
        return b
    }
}

/// The architecture names recordings and baselines use (libseccomp's, as `SeccompArch` spells them).
public enum SeccompArchNames {
    public static let all: Set<String> = ["x86_64", "x86", "x32", "aarch64", "arm", "riscv64", "s390x", "ppc64le"]
}
