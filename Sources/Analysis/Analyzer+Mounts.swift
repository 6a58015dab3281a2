import TraceModel

/// What the recording says about each written path beyond "it was written": durability and lifetime.
struct MountEvidence {
    /// The recorded processes' pids as text (for NameShape).
    var pids: Set<String> = []
    /// Path → why the app wanted it on disk (fsync, O_SYNC, a rename into place that was kept).
    var durable: [String: [String]] = [:]
    /// Paths that no longer existed when the run ended.
    var gone = Set<String>()
    /// Path → the title of the known writer (a tmpfs remedy) that says it is scratch.
    var scratchByRemedy: [String: String] = [:]
    /// Names that came from the app's input (login users, option values) → why: a directory so named
    /// is one of many (per user, per tenant), and its mount widens to the directory holding them.
    var inputNames: [String: String] = [:]
    /// Mount point → why it was widened from a per-input directory.
    var widened: [String: String] = [:]
    /// Path → the peak size of files without a name written there (O_TMPFILE, unlinked while open):
    /// uploads and request bodies spooled to disk, whose size depends on the input.
    var unnamedBytes: [String: Int] = [:]

    mutating func note(_ f: FileMutation, path: String) {
        if f.existsAfter == false { gone.insert(path) }
        if f.flags.contains("unnamed"), let b = f.bytes { unnamedBytes[path] = max(unnamedBytes[path] ?? 0, b) }
        guard f.isDurable || f.operation == .renameTo else { return }
        let who = f.processes.first.map { " (" + PathGlob.name($0) + ")" } ?? ""
        // Per-run names (Maildir's, mkstemp's) shaped, so the same run words its reasons the same way.
        let name = NameShape.shape(PathGlob.name(path), pids: pids)
        if f.isDurable {
            durable[path, default: []].append(f.operation == .sync ? "\(f.syscalls.first ?? "fsync") on \(name)\(who)"
                                                                      : "\(f.flags.contains("O_SYNC") ? "O_SYNC" : "O_DSYNC") writes to \(name)\(who)")
        }
        if f.operation == .renameTo && f.succeeded > 0 && f.existsAfter == true {
            durable[path, default: []].append("\(name) renamed into place and kept\(who)")
        }
    }
}

/// Some of a list of findings, by position: what a mount covers, without copying the findings
/// (a recording of 300,000 paths would otherwise hold them once per grouping).
struct Picked: RandomAccessCollection {
    let base: [PathFinding]
    let positions: [Int32]
    init(_ base: [PathFinding], _ positions: [Int32]) { self.base = base; self.positions = positions }
    init(_ base: [PathFinding]) { self.init(base, (0..<Int32(base.count)).map { $0 }) }
    var startIndex: Int { 0 }
    var endIndex: Int { positions.count }
    subscript(i: Int) -> PathFinding { base[Int(positions[i])] }
    /// The findings at `positions` of the same list.
    func picking(_ positions: [Int32]) -> Picked { Picked(base, positions) }
}

extension Analyzer {
    static let dataDirNames: Set<String> = ["data", "db", "database", "databases", "uploads", "media", "storage", "state", "sqlite"]
    /// The directories whose content in an image is empty by convention and whose names below are
    /// per-run: everything under them folds into one mount of the directory itself.
    static let tempDirs: Set<String> = ["/tmp", "/var/tmp"]

    /// Folds breaking paths into the fewest directories to mount: never `/`, a system directory or a
    /// directory holding code; never over a directory the image already has without saying so; a
    /// pre-existing directory inside a mount keeps a mount of its own so it is not hidden.
    func synthesizeMounts(_ items: Picked, created: Set<String>, persistent: Set<String>,
                          advice: [String: [String]], facts: FilesystemFacts?, evidence given: MountEvidence,
                          relocations: inout [Relocation]) -> [MountSuggestion] {
        var evidence = given
        // What the app creates or rewrites itself is not image content a mount would lose.
        let attempted = Set(items.filter { !Set($0.operations).isDisjoint(with: ["mkdir", "create", "write", "truncate", "rename-to", "symlink", "link", "mknod", "bind"]) }.map(\.path))
            .union(created)
        let view = FilesystemView(facts: facts, attempted: attempted)
        // Mount point → the findings it covers, as positions in `items` (no copies of the findings).
        var groups: [String: [Int32]] = [:]
        var fileMounts = Set<String>()
        var relocate: [String: [PathFinding]] = [:]
        for (position, p) in zip(items.positions, items) {
            let isState = persistent.contains(p.path) || evidence.durable[p.path] != nil
            // (O_TMPFILE names the directory the unnamed file lives in: that directory is the mount.)
            // Data (a database under /tmp/app, say) keeps its own persistent mount inside a scratch one.
            var (point, isFile) = mountPoint(for: p.path, created: created, isDirectory: p.operations.contains("mkdir") || p.operations.contains("tmpfile"),
                                             foldIntoScratch: !persistent.contains(p.path), view: view)
            if let (wide, why) = widenPerInput(point, view: view, names: evidence.inputNames) {
                point = wide
                isFile = false
                if evidence.widened[wide] == nil { evidence.widened[wide] = why }
            }
            if isFile && isState && view.code(PathGlob.parent(p.path)) != nil {
                relocate[PathGlob.parent(p.path), default: []].append(p)
                continue
            }
            groups[point, default: []].append(position)
            if isFile { fileMounts.insert(point) }
        }
        for (dir, ps) in relocate.sorted(by: { $0.key < $1.key }) {
            let names = Array(Set(ps.map { PathGlob.name($0.path) })).sorted()
            let code = view.code(dir) ?? []
            relocations.append(Relocation(
                directory: dir, files: names, code: code,
                advice: "\(names.joined(separator: ", ")) \(names.count == 1 ? "is" : "are") written next to the app's code in \(dir) (\(code.prefix(3).joined(separator: ", "))\(code.count > 3 ? ", …" : "")): a volume there would hide the code. Point the app's data path setting (its database path) at a data directory, e.g. \(dir == "/" ? "" : dir)/data/ or /var/lib/APP/, and mount a persistent volume there; then record again"))
        }
        // Nested mounts collapse into the outermost one, unless the inner one is a directory that
        // already existed: a mount over its parent would hide it (/run over /run/postgresql).
        // (A state volume starts with the image's content, so it hides nothing: everything inside it folds in.)
        for point in groups.keys.sorted(by: { $0.count > $1.count }) {
            guard let members = groups[point] else { continue }
            let items = items.picking(members)
            let holdsData = items.contains { persistent.contains($0.path) }
            let preexisting = view.existedBefore(point)
            if let outer = groups.keys.filter({ $0 != point && PathGlob.isUnder(point, $0) && !fileMounts.contains($0) }).min(by: { $0.count < $1.count }),
               !(holdsData && Self.scratchDirs.contains(outer)),
               !preexisting || Self.tempDirs.contains(outer)
                || purpose(outer, items.picking(groups[outer]! + members), persistent: persistent, evidence: evidence).0 == .state {
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
            for (parent, children) in byParent.sorted(by: { $0.key < $1.key }) where children.count >= 2 && !Self.systemDirs.contains(parent) {
                guard let entries = view.entries(parent) else { continue }  // unknown content: keep them apart
                let foreign = entries.filter { e in
                    let full = parent == "/" ? "/" + e : parent + "/" + e
                    return !children.contains(full) && !attempted.contains(full)
                }
                guard foreign.isEmpty, view.code(parent) == nil else { continue }
                for c in children { groups[parent, default: []].append(contentsOf: groups.removeValue(forKey: c) ?? []) }
                changed = true
                break
            }
        }
        return groups.keys.sorted().map { point in
            suggestion(point, items.picking(groups[point]!), isFile: fileMounts.contains(point), view: view,
                       persistent: persistent, advice: advice, evidence: evidence)
        }
    }

    /// Where to mount for one written path: the deepest directory that existed before the run
    /// covering it (a directory the app created when that one holds the image's own content), never
    /// a system directory or a directory holding code (then the file itself).
    func mountPoint(for path: String, created: Set<String>, isDirectory: Bool = false, foldIntoScratch: Bool = true,
                    view: FilesystemView = FilesystemView(facts: nil, attempted: [])) -> (String, Bool) {
        // Anything under /tmp or /var/tmp is covered by a mount of that directory itself (per-run names).
        if foldIntoScratch, let t = Self.tempDirs.first(where: { PathGlob.isUnder(path, $0) && path != $0 }) { return (t, false) }
        var firstCreated: String? = nil
        var cur = ""
        for comp in path.split(separator: "/") {
            cur += "/" + comp
            if created.contains(cur) { firstCreated = cur; break }
        }
        let c = firstCreated ?? path
        let d = PathGlob.parent(c)
        if c != path || isDirectory {
            // A directory the app created (or, for O_TMPFILE, the directory itself).
            if Self.systemDirs.contains(d) || (firstCreated == nil && isDirectory) { return (c, false) }
            if NameShape.shape(PathGlob.name(c), pids: pids) != PathGlob.name(c) { return (d, false) }  // a per-run name
            // Mount the scratch-like parent only when it is known to hold nothing else (or, in a
            // recording without filesystem facts, by convention).
            if isScratch(d), view.facts == nil || view.foreign(d)?.isEmpty == true { return (d, false) }
            return (c, false)
        }
        if Self.systemDirs.contains(d) { return (path, true) }  // one file in /etc, /var, …: a file mount
        if !Self.scratchDirs.contains(d) && view.code(d) != nil { return (path, true) }  // next to code
        return (d, false)
    }

    /// A mount point inside a per-input directory (named after a login user of the image or an option's
    /// value) widens to the directory holding it, where the next user's or tenant's goes too — when that
    /// directory is the app's own (not a system directory, no code in it).
    func widenPerInput(_ point: String, view: FilesystemView, names: [String: String]) -> (String, String)? {
        guard !names.isEmpty else { return nil }
        var cur = ""
        for comp in point.split(separator: "/") {
            let parent = cur.isEmpty ? "/" : cur
            cur += "/" + comp
            guard let why = names[String(comp)] else { continue }
            // Only a directory holding nothing of the image's but other such directories (bob beside alice).
            guard !Self.systemDirs.contains(parent), view.code(parent) == nil, parent != "/",
                  let foreign = view.foreign(parent), foreign.allSatisfy({ names[$0] != nil }) else { return nil }
            return (parent, "per-input directories: \(why), so \(Human.printable(cur)) is one of many like it in \(Human.printable(parent))")
        }
        return nil
    }

    func isScratch(_ dir: String) -> Bool {
        if Self.scratchDirs.contains(dir) { return true }
        for base in ["/var/cache", "/var/log", "/var/lib", "/var/spool", "/run", "/var/run"] where PathGlob.parent(dir) == base {
            return true
        }
        // A cache's layout below /var/cache/APP copies its inputs (a docroot, a URL): any depth.
        if PathGlob.isUnder(dir, "/var/cache") && dir != "/var/cache" { return true }
        let name = PathGlob.name(dir)
        return ["tmp", "temp", "cache", ".cache", "run", "logs", "log"].contains(name) && !Self.systemDirs.contains(dir)
    }

    /// The Filesystem Hierarchy Standard's word on what a directory holds.
    static func fhsPurpose(_ point: String) -> (MountSuggestion.Purpose, String)? {
        if let t = tempDirs.first(where: { PathGlob.isUnder(point, $0) }) { return (.scratch, "FHS: \(t) holds temporary files") }
        if let r = ["/run/lock", "/var/lock", "/run", "/var/run"].first(where: { PathGlob.isUnder(point, $0) }) {
            return (.runtime, "FHS: \(r) holds run-time files (pid files, sockets, locks)")
        }
        for base in ["/var/lib", "/var/spool", "/srv", "/home"] where point.hasPrefix(base + "/") { return (.state, "FHS: \(base) holds state") }
        if point.hasPrefix("/var/cache/") { return (.cache, "FHS: /var/cache holds caches") }
        if point.hasPrefix("/var/log/") { return (.logs, "FHS: /var/log holds logs") }
        return nil
    }

    /// Decides what a mount holds, from the evidence; when evidence conflicts, state wins.
    func purpose(_ point: String, _ items: Picked, persistent: Set<String>, evidence: MountEvidence) -> (MountSuggestion.Purpose, [String]) {
        let fhs = Self.fhsPurpose(point)
        var stateWhy: [String] = []
        let dbFiles = Array(Set(items.filter { persistent.contains($0.path) }.map { PathGlob.name($0.path) })).sorted()
        if !dbFiles.isEmpty { stateWhy.append("database files (\(dbFiles.prefix(4).joined(separator: ", ")))") }
        // /tmp, /run, …: emptied at every boot by definition; an fsync there is not a wish to survive restarts.
        let inTemp = Self.scratchDirs.contains(where: { PathGlob.isUnder(point, $0) })
        // A known writer of scratch (collectstatic, a compression cache) and FHS's /var/cache say
        // the content can be rebuilt: a rename into place or an fsync there is not a wish to survive.
        let knownScratch = items.compactMap({ evidence.scratchByRemedy[$0.path] }).first
        if !inTemp && knownScratch == nil && fhs?.0 != .cache {
            for p in items { stateWhy += evidence.durable[p.path] ?? [] }
            if Self.dataDirNames.contains(PathGlob.name(point).lowercased()) { stateWhy.append("a data directory by its name (\(PathGlob.name(point)))") }
        }
        stateWhy = Array(uniqued(stateWhy).prefix(4))
        if inTemp && dbFiles.isEmpty, let f = fhs { return (f.0, [f.1]) }  // /tmp, /run, …: always memory
        if !stateWhy.isEmpty {
            return (.state, (fhs?.0 == .state ? [fhs!.1] : []) + stateWhy)
        }
        if let known = knownScratch {
            if let f = fhs, f.0 != .state { return (f.0, [f.1, "known writer: \(known)"]) }
            return (PathGlob.name(point).contains("cache") ? .cache : .scratch, ["known writer: \(known)"])
        }
        if items.allSatisfy({ $0.operations == ["tmpfile"] }) { return (.scratch, ["O_TMPFILE: anonymous temporary files"]) }
        if let f = fhs { return (f.0, [f.1]) }
        let removed = items.allSatisfy { p in evidence.gone.contains(p.path) || p.operations.contains("unlink") || p.operations.contains("rmdir") || p.operations.contains("rename-from") }
        if removed { return (.scratch, ["every file was created and removed within the run"]) }
        let name = PathGlob.name(point).lowercased()
        if name.contains("cache") { return (.cache, ["a cache directory by its name (\(PathGlob.name(point)))"]) }
        if name == "log" || name == "logs" || items.allSatisfy({ $0.path.hasSuffix(".log") }) { return (.logs, ["log files"]) }
        if items.contains(where: { NameShape.shapePath($0.path, pids: pids) != $0.path }) {
            return (.scratch, ["temporary names (they differ on every run)"])
        }
        return (.runtime, ["no evidence of durability (no fsync, no rename into place, not under /var/lib, not a database): run-time files the app recreates on start"])
    }

    func suggestion(_ point: String, _ items: Picked, isFile: Bool, view: FilesystemView,
                    persistent: Set<String>, advice: [String: [String]], evidence: MountEvidence) -> MountSuggestion {
        let observed = items.reduce(0) { $0 + ($1.bytes ?? 0) }
        let covers = Array(Set(items.map { isFile ? PathGlob.name($0.path) : NameShape.shapePath(PathGlob.relative($0.path, to: point), pids: pids) })).sorted()
        var (purpose, why) = purpose(point, items, persistent: persistent, evidence: evidence)
        if isFile && purpose != .state { why = ["a single file in \(PathGlob.parent(point)), which cannot be mounted over as a whole"] + why }
        let kind: MountSuggestion.Kind = isFile ? .file : (purpose == .state ? .persistent : .tmpfs)
        var hidden: [String] = []
        if !isFile && !Self.tempDirs.contains(point) { hidden = view.foreign(point) ?? [] }
        let processes = Set(items.flatMap(\.processes)).map { PathGlob.name($0) }.sorted()
        let what: String
        switch purpose {
        case .state: what = "state: must survive restarts"
        case .cache: what = "cache: the app rebuilds it"
        case .runtime: what = "runtime: pid files, sockets, locks"
        case .scratch: what = "scratch: temporary files"
        case .logs: what = "logs"
        }
        var reason = "\(what) — \(why.joined(separator: "; "))"
        // SQLite only by its own evidence: a -journal/-wal/-shm file beside the database, or a
        // .sqlite name (a `.db` alone may be any database: InfluxDB's meta.db is not SQLite).
        let sqlite = items.contains { p in ["-journal", "-wal", "-shm", ".sqlite", ".sqlite3"].contains { p.path.hasSuffix($0) } }
        if purpose == .state && sqlite && !persistent.isDisjoint(with: items.map(\.path)) {
            reason += "; SQLite needs the whole directory writable for its journals"
        }
        if let w = evidence.widened[point] { reason += "; \(w)" }
        let spooled = items.compactMap { evidence.unnamedBytes[$0.path] }.max()
        if let b = spooled {
            reason += "; its size depends on the input: files without a name (uploads, request bodies spooled to disk) held \(Human.bytes(b)) here at their peak"
        }
        reason += " (written by \(processes.prefix(3).joined(separator: ", ")))"
        var alternatives: [String] = []
        let initFromImage = kind == .persistent && !hidden.isEmpty
        if !hidden.isEmpty {
            let list = "\(hidden.prefix(5).joined(separator: ", "))\(hidden.count > 5 ? ", …" : "")"
            if kind == .persistent {
                alternatives.append("the image already has \(hidden.count) entr\(hidden.count == 1 ? "y" : "ies") here (\(list)): the volume must start with them — docker/podman named volumes copy them in on first use; in Kubernetes copy them with an init container (cp -a \(point)/. /mnt/) before the app starts")
            } else {
                alternatives.append("the image already has \(hidden.count) entr\(hidden.count == 1 ? "y" : "ies") here (\(list)) that this mount hides: copy them into the mount with an init step (cp -a \(point)/. /mnt/) or mount only the written files (subPath)")
            }
        }
        if let b = spooled {
            alternatives.append("the \(Human.bytes(b)) recorded is what this run sent: size the mount for the largest input the app accepts (its upload or body limit), or set that limit; a larger input fails with ENOSPC")
        }
        if kind == .file {
            alternatives.append("mount just this file (Kubernetes subPath, docker -v FILE:\(point)), or make the app write it elsewhere")
        }
        let remedyIds = Array(Set(items.flatMap { advice[$0.path] ?? [] })).sorted()
        let size = Self.size(observed: observed, persistent: kind == .persistent)
        let owner = view.facts?.directories[point].flatMap { f in view.existedBefore(point) ? Owner(uid: f.uid, gid: f.gid, mode: f.mode) : nil }
        return MountSuggestion(path: point, kind: kind, purpose: purpose, evidence: why, owner: owner, initFromImage: initFromImage,
                               observedBytes: observed, sizeLimit: size.label, sizeBytes: size.bytes,
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

/// The recorded filesystem, as analysis asks about it.
struct FilesystemView {
    var facts: FilesystemFacts?
    /// Paths the app created or rewrote itself.
    var attempted: Set<String>

    /// Entries of a directory when it was recorded (nil: unknown).
    func entries(_ dir: String) -> [String]? { facts?.directories[dir]?.entries }

    /// Entries a mount at `dir` would hide: those the app did not write itself (nil: unknown).
    func foreign(_ dir: String) -> [String]? {
        entries(dir)?.filter { e in !attempted.contains(dir == "/" ? "/" + e : dir + "/" + e) }.sorted()
    }

    /// Code below the directory (a sample), nil when none was found or nothing is known.
    func code(_ dir: String) -> [String]? { facts?.directories[dir]?.code }

    /// True when the directory was there before the run (recorded, and not created by the app).
    func existedBefore(_ dir: String) -> Bool { facts?.directories[dir] != nil && !attempted.contains(dir) }
}

/// Order-keeping de-duplication.
func uniqued(_ items: [String]) -> [String] {
    var seen = Set<String>()
    return items.filter { seen.insert($0).inserted }
}
