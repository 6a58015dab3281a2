import TraceModel

extension Analyzer {
    static let dataDirNames: Set<String> = ["data", "db", "database", "databases", "uploads", "media", "storage", "state", "sqlite"]

    /// Folds breaking paths into the fewest directories to mount: never `/` or a system
    /// directory, never silently over image content, merged with siblings where harmless.
    func synthesizeMounts(_ items: [PathFinding], created: Set<String>, persistent: Set<String>,
                          advice: [String: [String]]) -> [MountSuggestion] {
        // What the app creates or rewrites itself is not image content a mount would lose.
        let attempted = Set(items.filter { !Set($0.operations).isDisjoint(with: ["mkdir", "create", "write", "truncate"]) }.map(\.path))
            .union(created)
        var groups: [String: [PathFinding]] = [:]
        var fileMounts = Set<String>()
        for p in items {
            // (O_TMPFILE names the directory the unnamed file lives in: that directory is the mount.)
            // Data (a database under /tmp/app, say) keeps its own persistent mount inside a scratch one.
            let (point, isFile) = mountPoint(for: p.path, created: created, isDirectory: p.operations.contains("mkdir") || p.operations.contains("tmpfile"),
                                             foldIntoScratch: !persistent.contains(p.path))
            groups[point, default: []].append(p)
            if isFile { fileMounts.insert(point) }
        }
        // Nested mounts collapse into the outermost one.
        for point in groups.keys.sorted(by: { $0.count > $1.count }) {
            let holdsData = groups[point]!.contains { persistent.contains($0.path) }
            if let outer = groups.keys.filter({ $0 != point && PathGlob.isUnder(point, $0) && !fileMounts.contains($0) }).min(by: { $0.count < $1.count }),
               !(holdsData && Self.scratchDirs.contains(outer)) {
                groups[outer, default: []].append(contentsOf: groups.removeValue(forKey: point) ?? [])
                fileMounts.remove(point)
            }
        }
        // Siblings merge into their parent when the parent holds nothing of the image's own.
        var changed = true
        while changed {
            changed = false
            var byParent: [String: [String]] = [:]
            for point in groups.keys where !fileMounts.contains(point) { byParent[PathGlob.parent(point), default: []].append(point) }
            for (parent, children) in byParent where children.count >= 2 && !Self.systemDirs.contains(parent) {
                guard let entries = listDirectory(parent) else { continue }  // unknown content: keep them apart
                let foreign = entries.filter { e in
                    let full = parent == "/" ? "/" + e : parent + "/" + e
                    return !children.contains(full) && !attempted.contains(full)
                }
                guard foreign.isEmpty else { continue }
                for c in children { groups[parent, default: []].append(contentsOf: groups.removeValue(forKey: c) ?? []) }
                changed = true
                break
            }
        }
        return groups.keys.sorted().map { point in
            suggestion(point, groups[point]!, isFile: fileMounts.contains(point), attempted: attempted,
                       persistent: persistent, advice: advice)
        }
    }

    /// Where to mount for one written path: the deepest directory that existed before the run,
    /// unless that is a system directory or holds image content (then the directory the app
    /// created, or the file itself).
    func mountPoint(for path: String, created: Set<String>, isDirectory: Bool = false, foldIntoScratch: Bool = true) -> (String, Bool) {
        // Anything under /tmp, /run, … is covered by a mount of that scratch directory itself.
        if foldIntoScratch, let scratch = Self.scratchDirs.filter({ PathGlob.isUnder(path, $0) && path != $0 }).min(by: { $0.count < $1.count }) {
            return (scratch, false)
        }
        var firstCreated: String? = nil
        var cur = ""
        for comp in path.split(separator: "/") {
            cur += "/" + comp
            if created.contains(cur) { firstCreated = cur; break }
        }
        let c = firstCreated ?? path
        let a = PathGlob.parent(c)
        if isScratch(a) { return (a, false) }
        if c != path || isDirectory { return (c, false) }       // a directory the app created
        if Self.systemDirs.contains(a) { return (path, true) }  // one file in /etc, /var, …: a file mount
        return (a, false)
    }

    func isScratch(_ dir: String) -> Bool {
        if Self.scratchDirs.contains(dir) { return true }
        for base in ["/var/cache", "/var/log", "/var/lib", "/var/spool", "/run", "/var/run"] where PathGlob.parent(dir) == base {
            return true
        }
        let name = PathGlob.name(dir)
        return ["tmp", "temp", "cache", ".cache", "run", "logs", "log"].contains(name) && !Self.systemDirs.contains(dir)
    }

    func suggestion(_ point: String, _ items: [PathFinding], isFile: Bool, attempted: Set<String>,
                    persistent: Set<String>, advice: [String: [String]]) -> MountSuggestion {
        let observed = items.reduce(0) { $0 + ($1.bytes ?? 0) }
        let covers = Array(Set(items.map { isFile ? PathGlob.name($0.path) : NameShape.shapePath(PathGlob.relative($0.path, to: point)) })).sorted()
        let persistentHits = items.filter { persistent.contains($0.path) }.map { PathGlob.name($0.path) }
        // A scratch directory (/tmp, /run, …) is always a tmpfs, whatever sits under it.
        let isData = !Self.scratchDirs.contains(point) && (!persistentHits.isEmpty || Self.dataDirNames.contains(PathGlob.name(point).lowercased()))
        let kind: MountSuggestion.Kind = isFile ? .file : (isData ? .persistent : .tmpfs)
        var hidden: [String] = []
        if !isFile && !Self.scratchDirs.contains(point) {
            hidden = (listDirectory(point) ?? []).filter { e in !attempted.contains(point == "/" ? "/" + e : point + "/" + e) }.sorted()
        }
        var reason: String
        switch kind {
        case .persistent:
            reason = persistentHits.isEmpty
                ? "a data directory: what the app writes here must survive restarts"
                : "database files (\(Array(Set(persistentHits)).sorted().prefix(4).joined(separator: ", "))): they must survive restarts, and SQLite needs the whole directory writable for its journals"
        case .file:
            reason = "a single file in \(PathGlob.parent(point)), which cannot be mounted over as a whole"
        case .tmpfs:
            let temp = items.contains { NameShape.shapePath($0.path) != $0.path }
            let removed = items.allSatisfy { $0.operations.contains("unlink") || $0.operations.contains("rename-from") || $0.operations.contains("rmdir") }
            reason = temp || removed ? "scratch: temporary files the app creates and removes" : "scratch: run-time files the app recreates on start"
        }
        let processes = Set(items.flatMap(\.processes)).map { PathGlob.name($0) }.sorted()
        reason += " (written by \(processes.prefix(3).joined(separator: ", ")))"
        var alternatives: [String] = []
        if !hidden.isEmpty {
            alternatives.append("the image already has \(hidden.count) entr\(hidden.count == 1 ? "y" : "ies") here (\(hidden.prefix(5).joined(separator: ", "))\(hidden.count > 5 ? ", …" : "")): copy them into the mount with an init step (cp -a \(point)/. /mnt/) or mount only the written files (subPath)")
        }
        if kind == .file {
            alternatives.append("mount just this file (Kubernetes subPath, docker -v FILE:\(point)), or make the app write it elsewhere")
        }
        let remedyIds = Array(Set(items.flatMap { advice[$0.path] ?? [] })).sorted()
        let size = Self.size(observed: observed, persistent: kind == .persistent)
        return MountSuggestion(path: point, kind: kind, observedBytes: observed, sizeLimit: size.label, sizeBytes: size.bytes,
                               reason: reason, covers: covers, hidesContent: hidden, alternatives: alternatives, remedies: remedyIds)
    }

    /// Twice what was seen, rounded up to a power of two in Mi; at least 16Mi (1Gi for volumes).
    static func size(observed: Int, persistent: Bool) -> (label: String, bytes: Int) {
        let mi = 1 << 20
        var unit = persistent ? 1024 * mi : 16 * mi
        while unit < observed * 2 { unit *= 2 }
        return unit >= 1024 * mi && unit % (1024 * mi) == 0 ? ("\(unit / (1024 * mi))Gi", unit) : ("\(unit / mi)Mi", unit)
    }
}
