import TraceModel

/// One thing a run did that its baseline does not allow.
public struct Regression: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case newWrite = "new-write", newSyscall = "new-syscall", appFailed = "app-failed" }
    public var kind: Kind
    /// The path, the syscall name, or the command.
    public var subject: String
    public var detail: String
    public var processes: [String]
    /// The baseline entry to add if this is intended (YAML).
    public var suggestion: String?
    /// The line of the baseline it relates to (where the entry would go).
    public var baselineLine: Int? = nil
    /// The subject with per-run names shaped by the run's own pids (a path); nil: shaped without them.
    var shapedSubject: String? = nil

    enum CodingKeys: String, CodingKey { case kind, subject, detail, processes, suggestion, baselineLine }

    /// Stable across runs (names shaped), so code scanning tracks one finding over time.
    public var fingerprint: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "\(kind.rawValue)|\(shapedSubject ?? NameShape.shapePath(subject))".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}

/// Compares a checked run with a baseline.
public enum RegressionCheck {
    public static func check(_ a: Analysis, _ r: Recording, baseline b: Baseline, allowAppFailure: Bool) -> [Regression] {
        var out = findings(a, r, baseline: b, allowAppFailure: allowAppFailure)
        for i in out.indices {
            switch out[i].kind {
            case .newWrite: out[i].baselineLine = b.lines["writes"]
            case .newSyscall: out[i].baselineLine = out[i].suggestion.flatMap { s in b.lines.first { s.hasPrefix($0.key + ":") }?.value } ?? b.lines["writes"]
            case .appFailed: out[i].baselineLine = 1
            }
        }
        return out
    }

    static func findings(_ a: Analysis, _ r: Recording, baseline b: Baseline, allowAppFailure: Bool) -> [Regression] {
        var out: [Regression] = []
        for p in a.breaking + a.unfixable where b.allows(path: p.path) == nil {
            let mount = a.mounts.first { PathGlob.isUnder(p.path, $0.path) }
            let glob = mount.map { $0.kind == .file ? $0.path : $0.path + "/**" } ?? Baseline.globFor(p.path, pids: a.runPids)
            let kind = mount?.kind.rawValue ?? (p.fixedBy?.hasPrefix("relocate:") == true ? "relocate" : p.fixedBy ?? "tmpfs")
            out.append(Regression(kind: .newWrite, subject: p.path,
                                  detail: "\(p.operations.joined(separator: ",")) outside the baseline; it breaks under a read-only root in \(a.runtime)",
                                  processes: p.processes, suggestion: "- path: \(yamlScalar(glob))\n  mount: \(kind)",
                                  shapedSubject: NameShape.shapePath(p.path, pids: a.runPids)))
        }
        for (arch, names) in r.syscalls.sorted(by: { $0.key < $1.key }) {
            let allowed = Set(b.syscalls[arch] ?? [])
            for name in names.keys.sorted() where !allowed.contains(name) {
                let who = r.dangerousCallers?[name] ?? []
                out.append(Regression(kind: .newSyscall, subject: name, detail: "\(arch) syscall not in the baseline (\(names[name]!) call\(names[name]! == 1 ? "" : "s"))",
                                      processes: who, suggestion: "syscalls.\(arch): add \(name)"))
            }
        }
        if !allowAppFailure {
            // A stop roprof made itself (the end of --for / --while) is planned, whatever status it left.
            for run in r.runs where run.exit.shellStatus != 0 && run.stoppedByRoprof != true {
                out.append(Regression(kind: .appFailed, subject: run.command.joined(separator: " "),
                                      detail: "the command exited with status \(run.exit.shellStatus)", processes: [], suggestion: nil))
            }
        }
        return out
    }

    static func yamlScalar(_ s: String) -> String {
        s.allSatisfy({ $0.isLetter || $0.isNumber || "/-_.".contains($0) }) ? s : "'" + s.replacing("'", with: "''") + "'"
    }
}

/// What NEW adds, removes and changes relative to OLD (recordings or baselines).
public struct ProfileDiff: Codable, Equatable, Sendable {
    public struct Change: Codable, Equatable, Sendable {
        public var kind: String      // write | syscall | mount
        public var subject: String
        public var detail: String
    }
    public var added: [Change]
    public var removed: [Change]
    public var changed: [Change]

    /// A comparable view: path glob → mount kind (and operations), arch → syscalls.
    public struct Shape: Equatable, Sendable {
        public var writes: [String: (mount: String, ops: Set<String>)]
        public var syscalls: [String: Set<String>]
        /// Real paths behind each shaped key (recordings only), for matching a baseline's globs.
        public var examples: [String: [String]] = [:]
        public static func == (a: Shape, b: Shape) -> Bool {
            a.syscalls == b.syscalls && a.writes.keys == b.writes.keys && a.writes.allSatisfy { b.writes[$0.key]?.mount == $0.value.mount && b.writes[$0.key]?.ops == $0.value.ops }
        }

        public static func of(_ b: Baseline) -> Shape {
            Shape(writes: Dictionary(b.writes.map { ($0.path, (mount: $0.mount, ops: Set<String>())) }, uniquingKeysWith: { a, _ in a }),
                  syscalls: b.syscalls.mapValues(Set.init))
        }

        public static func of(_ a: Analysis, _ r: Recording) -> Shape {
            var w: [String: (mount: String, ops: Set<String>)] = [:]
            var examples: [String: [String]] = [:]
            for p in a.breaking + a.unfixable {
                let key = NameShape.shapePath(p.path, pids: a.runPids)
                examples[key, default: []].append(p.path)
                let mount = a.mounts.first { PathGlob.isUnder(p.path, $0.path) }?.kind.rawValue ?? p.fixedBy ?? "unfixable"
                var e = w[key] ?? (mount: mount, ops: [])
                e.ops.formUnion(p.operations)
                w[key] = e
            }
            return Shape(writes: w, syscalls: r.syscalls.mapValues { Set($0.keys) }, examples: examples)
        }
    }

    public static func between(_ old: Shape, _ new: Shape) -> ProfileDiff {
        var d = ProfileDiff(added: [], removed: [], changed: [])
        // A literal old key matches only itself (found by lookup): only the globs are tried one by one.
        let oldGlobs = old.writes.filter { PathGlob.isGlob($0.key) }
        for path in new.writes.keys.sorted() {
            let n = new.writes[path]!
            let real = new.examples[path] ?? [path]
            if let o = old.writes[path] ?? real.lazy.compactMap({ old.writes[$0] }).first ?? oldGlobs.first(where: { g in PathGlob.matches(g.key, path) || real.contains { PathGlob.matches(g.key, $0) } })?.value {
                if o.mount != n.mount { d.changed.append(Change(kind: "mount", subject: path, detail: "\(o.mount) → \(n.mount)")) }
                let moreOps = n.ops.subtracting(o.ops)
                // Another operation on a place already written is a change, not a new location.
                if !o.ops.isEmpty && !moreOps.isEmpty { d.changed.append(Change(kind: "write", subject: path, detail: "new operations: \(moreOps.sorted().joined(separator: ","))")) }
            } else {
                d.added.append(Change(kind: "write", subject: path, detail: "\(n.ops.sorted().joined(separator: ","))\(n.ops.isEmpty ? "" : " ")[\(n.mount)]"))
            }
        }
        let newReal = Set(new.writes.keys).union(new.examples.values.flatMap { $0 })
        for path in old.writes.keys.sorted() where new.writes[path] == nil
            && !(PathGlob.isGlob(path) ? newReal.contains(where: { PathGlob.matches(path, $0) }) : newReal.contains(path)) {
            d.removed.append(Change(kind: "write", subject: path, detail: "[\(old.writes[path]!.mount)]"))
        }
        for arch in Set(old.syscalls.keys).union(new.syscalls.keys).sorted() {
            let o = old.syscalls[arch] ?? [], n = new.syscalls[arch] ?? []
            for s in n.subtracting(o).sorted() { d.added.append(Change(kind: "syscall", subject: s, detail: arch)) }
            for s in o.subtracting(n).sorted() { d.removed.append(Change(kind: "syscall", subject: s, detail: arch)) }
        }
        return d
    }

    public var addsAnything: Bool { !added.isEmpty }
}
