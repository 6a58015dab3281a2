import FoundationEssentials
import Glibc
import TraceModel

/// Turns a recording into an `Analysis` for one runtime. A pure function of the recording: what it
/// must know about the filesystem (directory content, owners, symlinks) was captured at record time.
public struct Analyzer {
    public var runtime: RuntimeProfile
    public var catalog: ProfileCatalog
    /// The recorded processes' pids as text (NameShape: a name carrying one is per run).
    var pids: Set<String> = []

    public init(runtime: RuntimeProfile, catalog: ProfileCatalog) {
        self.runtime = runtime; self.catalog = catalog
    }

    /// Directories never mounted over as a whole.
    static let systemDirs: Set<String> = ["/", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
        "/var", "/opt", "/home", "/root", "/srv", "/boot", "/usr/local", "/usr/lib", "/usr/bin", "/usr/share", "/var/lib",
        "/var/cache", "/var/log", "/usr/local/lib", "/usr/local/bin", "/mnt", "/media", "/proc", "/sys", "/dev"]
    /// Directories that hold only run-time scratch in an image.
    static let scratchDirs: Set<String> = ["/tmp", "/var/tmp", "/run", "/var/run", "/run/lock", "/var/lock"]

    /// The values given to options (`--tenant acme`, `--user=alice`, `-u bob`): names, not paths,
    /// numbers or flags, of at least three characters.
    /// The pids of every recorded process, as text.
    static func pidNames(_ rec: Recording) -> Set<String> {
        Set(rec.runs.flatMap { $0.processes.map { String($0.pid) } })
    }

    static func optionValues(_ argv: [String]) -> [(String, String)] {
        var out: [(String, String)] = []
        func isName(_ v: String) -> Bool {
            v.count >= 3 && v.count <= 64 && !v.hasPrefix("-") && !v.contains("/") && !v.contains("=") && v != "<redacted>"
                && v.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-@".unicodeScalars.contains($0))) }
                && !v.allSatisfy(\.isNumber)
        }
        for (i, w) in argv.enumerated().dropFirst() where w.hasPrefix("-") && w != "-" && w != "--" {
            if let eq = w.firstIndex(of: "=") {
                let v = String(w[w.index(after: eq)...])
                if isName(v) { out.append((String(w[..<eq]), v)) }
            } else if i + 1 < argv.count, isName(argv[i + 1]) {
                out.append((w, argv[i + 1]))
            }
        }
        return out
    }

    public func analyze(_ rec: Recording) -> Analysis {
        var me = self
        me.pids = Self.pidNames(rec)
        return me.analyzeWithPids(rec)
    }

    private func analyzeWithPids(_ rec: Recording) -> Analysis {
        // 1. One finding per path (all operations), in the container's view (chroot root + path).
        // The entries are grouped by path through a sorted index, not a dictionary of findings: a
        // recording of 300,000 paths keeps one finding per path, in the list it ends up in.
        var created = Set<String>()   // paths the run itself created (so not image content)
        let facts = rec.filesystem
        var evidence = MountEvidence()
        evidence.pids = pids
        var index: [(path: String, entry: Int)] = []
        index.reserveCapacity(rec.files.count)
        for (i, f) in rec.files.enumerated() where f.operation != .mount && f.operation != .chroot {
            // One place has one name: /var/run/x and /run/x are the same file.
            let raw = f.root.map { ($0 == "/" ? "" : $0) + f.path } ?? f.path
            // A call on the name itself (a link made, replaced or removed) resolves the directory
            // holding the name, never a symlink the name is: `ln -sfn /opt/x $STATE/link` writes $STATE.
            let path = f.unresolved == nil ? (facts.map { f.operation.followsFinalSymlink ? $0.canonical(raw) : $0.canonicalParent(raw) } ?? raw) : raw
            index.append((path, i))
        }
        index.sort { $0.path == $1.path ? $0.entry < $1.entry : $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        // The command-line words of the processes that wrote each path (a remedy may need them as
        // evidence), made once per set of writers and shared.
        var argvOf: [String: [Int: Set<String>]] = [:]
        for run in rec.runs { for p in run.processes { argvOf[run.id, default: [:]][p.pid, default: []].formUnion(p.execs.flatMap(\.argv)) } }
        struct Writers: Hashable { var runs: [String]; var pids: [Int] }
        var wordsOfWriters: [Writers: Set<String>] = [:]
        func argvWords(_ f: FileMutation) -> Set<String> {
            let key = Writers(runs: f.runs, pids: f.pids)
            if let w = wordsOfWriters[key] { return w }
            var w = Set<String>()
            for run in f.runs { for pid in f.pids { w.formUnion(argvOf[run]?[pid] ?? []) } }
            wordsOfWriters[key] = w
            return w
        }
        var wordsByPath: [String: Set<String>] = [:]
        // A created directory's successful mkdir means its ancestors existed; an EEXIST mkdir means it existed.
        var harmless: [PathFinding] = [], unknown: [PathFinding] = [], unfixable: [PathFinding] = []
        var breaking: [PathFinding] = []
        var distinct = index.isEmpty ? 0 : 1
        for i in index.indices.dropFirst() where index[i].path != index[i - 1].path { distinct += 1 }
        breaking.reserveCapacity(distinct)
        var g = 0
        while g < index.count {
            let path = index[g].path
            var p: PathFinding? = nil
            var words: Set<String>? = nil
            var onlyDurability = true
            while g < index.count && index[g].path == path {
                let f = rec.files[index[g].entry]
                g += 1
                evidence.note(f, path: path)
                let w = argvWords(f)
                if !w.isEmpty { words = words.map { $0.union(w) } ?? w }
                if f.operation == .sync { continue }  // evidence of durability, not a write
                onlyDurability = false
                if f.succeeded > 0 && [.create, .mkdir, .renameTo, .link, .symlink, .bind, .mknod, .tmpfile].contains(f.operation) && f.existedBefore != true {
                    created.insert(path)
                }
                if p == nil {
                    p = PathFinding(path: path, operations: [f.operation.rawValue], count: f.count, failed: f.errors,
                                    processes: f.processes, syscalls: f.syscalls, bytes: f.bytes, fixedBy: nil, note: nil,
                                    unresolved: f.unresolved)
                } else {
                    p!.operations.append(f.operation.rawValue); p!.count += f.count
                    for (e, n) in f.errors { p!.failed[e, default: 0] += n }
                    if p!.processes != f.processes { p!.processes = Array(Set(p!.processes + f.processes)).sorted() }
                    if p!.syscalls != f.syscalls { p!.syscalls = Array(Set(p!.syscalls + f.syscalls)).sorted() }
                    if let b = f.bytes { p!.bytes = max(p!.bytes ?? 0, b) }
                }
            }
            guard !onlyDurability, var p else { continue }
            p.operations.sort()
            if p.unresolved != nil { p.note = p.unresolved; unknown.append(p); continue }
            if let w = runtime.writablePlace(for: path) { p.note = "writable in \(runtime.name): \(w.path) (\(w.why))"; harmless.append(p); continue }
            if let ro = runtime.readOnlyPlace(for: path) { p.note = "\(ro.path): \(ro.why)"; unfixable.append(p); continue }
            // Only a failed mkdir of an existing directory (EEXIST) is not a write at all.
            if p.operations == ["mkdir"] && p.failed.keys.allSatisfy({ $0 == "EEXIST" }) && p.failed.values.reduce(0, +) == p.count { continue }
            if let words { wordsByPath[path] = words }
            breaking.append(p)
        }
        index = []

        // 2. Remedies.
        var applications: [String: RemedyApplication] = [:]
        var env: [String: String] = [:]
        var warnings: [String] = []
        var stopped = Set<String>()          // paths an env remedy makes go away
        var persistentPaths = Set<String>()
        var adviceByPath: [String: [String]] = [:]
        var bytesOf: [String: Int] = [:]     // the sizes of what relocating remedies move
        for i in breaking.indices {
            let p = breaking[i]
            for r in catalog.remedies where r.matches(path: p.path, processes: p.processes, arguments: wordsByPath[p.path] ?? []) {
                // A file the app fsyncs is data, whatever its name (kv.log is a write-ahead log, not a log).
                if r.kind == .stdout && evidence.durable[p.path] != nil { continue }
                var app = applications[r.id] ?? RemedyApplication(id: r.id, title: r.title, kind: r.kind, env: r.env ?? [:], fix: r.fix,
                                                                  why: r.why, paths: [], coversWithoutMount: r.kind == .env || r.kind == .relocate)
                app.paths.append(p.path)
                applications[r.id] = app
                switch r.kind {
                case .env, .relocate:
                    if r.kind == .relocate, let b = p.bytes { bytesOf[p.path] = b }
                    if !stopped.contains(p.path) {
                        stopped.insert(p.path)
                        breaking[i].fixedBy = "remedy:\(r.id)"
                        for (k, v) in r.env ?? [:] {
                            if let old = env[k], old != v { warnings.append("\(k): remedies disagree ('\(old)' kept, '\(v)' from \(r.id))") }
                            else { env[k] = v }
                        }
                    }
                case .persistent: persistentPaths.insert(p.path)
                default:
                    adviceByPath[p.path, default: []].append(r.id)
                    // A known writer of scratch (nginx temp dirs, pid files) is evidence about the mount.
                    if r.kind == .tmpfs && evidence.scratchByRemedy[p.path] == nil { evidence.scratchByRemedy[p.path] = r.title }
                }
                if r.kind == .env || r.kind == .relocate { break }
            }
        }
        // A relocating remedy moves the writes to its variable's directory, which then needs a mount.
        var relocated: [PathFinding] = []
        for app in applications.values where app.kind == .relocate {
            for (_, value) in app.env where value.hasPrefix("/") && runtime.writablePlace(for: value) == nil {
                relocated.append(PathFinding(path: value, operations: ["mkdir"], count: 1, failed: [:], processes: [],
                                             syscalls: [], bytes: app.paths.compactMap { bytesOf[$0] }.reduce(0, +),
                                             fixedBy: "remedy:\(app.id)", note: "relocated by \(app.id)", unresolved: nil))
            }
        }

        // 3. Mount synthesis over what is left.
        var relocations: [Relocation] = []
        // Names that come from the app's input, not from the app: a login user of the image, a value
        // given to an option on a command line. A directory named after one is one of many like it.
        var inputNames: [String: String] = [:]
        for u in facts?.users ?? [] { inputNames[u] = "\(u) is a login user of the image (/etc/passwd)" }
        for run in rec.runs {
            for (value, name) in (run.pathInputs ?? [:]).sorted(by: { $0.key < $1.key }) where inputNames[value] == nil {
                inputNames[value] = "\(value) is the value of \(name) in the app's environment"
            }
        }
        // An image's own environment (ENV in its build) names directories the same way.
        let imageEnv = rec.runs.flatMap { $0.image?.env ?? [] }
        for (value, name) in (imageEnv.isEmpty ? [:] : rec.pathInputs(in: imageEnv)).sorted(by: { $0.key < $1.key }) where inputNames[value] == nil {
            inputNames[value] = "\(value) is the value of \(name) in the image's environment"
        }
        for run in rec.runs {
            for p in run.processes {
                for e in p.execs { for (opt, value) in Self.optionValues(e.argv) where inputNames[value] == nil { inputNames[value] = "\(value) was given on the command line (\(opt) \(value))" } }
            }
        }
        evidence.inputNames = inputNames
        let candidates = relocated.isEmpty ? breaking : breaking + relocated
        let kept = candidates.indices.filter { !stopped.contains(candidates[$0].path) }.map { Int32($0) }
        var mounts = synthesizeMounts(Picked(candidates, kept), created: created.union(relocated.map(\.path)),
                                      persistent: persistentPaths, advice: adviceByPath, facts: facts, evidence: evidence,
                                      relocations: &relocations)
        mounts.sort { $0.path < $1.path }
        for i in breaking.indices where breaking[i].fixedBy == nil {
            if let r = relocations.first(where: { PathGlob.parent(breaking[i].path) == $0.directory && $0.files.contains(PathGlob.name(breaking[i].path)) }) {
                breaking[i].fixedBy = "relocate:\(r.directory)"
                continue
            }
            if let m = mounts.filter({ PathGlob.isUnder(breaking[i].path, $0.path) }).max(by: { $0.path.count < $1.path.count }) {
                breaking[i].fixedBy = m.path
            }
        }
        let uids = Set(rec.runs.flatMap { $0.processes.compactMap(\.uid) })
        var services: [String: [String]] = [:]
        for run in rec.runs.sorted(by: { $0.id < $1.id }) { if let n = run.name, services[n] == nil { services[n] = run.command } }
        var result = Analysis(runtime: runtime.name, runtimeTitle: runtime.title, breaking: breaking, harmless: harmless, unknown: unknown,
                        mounts: mounts, remedies: applications.values.sorted { $0.id < $1.id }.map {
                            var a = $0; a.paths = Array(Set(a.paths)).sorted(); return a },
                        env: env, unfixable: unfixable, blindSpots: rec.blindSpots, uids: uids.sorted(),
                        commands: rec.runs.map(\.command), warnings: warnings)
        result.runPids = pids
        if let run = rec.runs.first(where: { $0.readyURL != nil || $0.exercise != nil }) {
            result.driveArguments = (run.readyURL.map { ["--ready-url", $0] } ?? []) + (run.exercise.map { ["--while", $0] } ?? [])
        }
        let phases = Set(rec.runs.compactMap(\.phase))
        if !phases.isEmpty {
            var covered: [String] = []
            if phases.contains("first") { covered.append("a first start") }
            if phases.contains("restart") {
                let env = rec.runs.compactMap(\.remedyEnv).reduce(into: [String: String]()) { $0.merge($1) { a, _ in a } }
                covered.append("a restart on the files the first run left" + (env.isEmpty ? "" : " with " + env.keys.sorted().map { "\($0)=\(env[$0]!)" }.joined(separator: " ")))
            }
            result.phases = covered
        }
        if services.count > 1 { result.services = services }
        result.relocations = relocations
        result.image = rec.runs.compactMap(\.image?.reference).first
        if let failed = rec.runs.first(where: { $0.exit.shellStatus != 0 && $0.stoppedByRoprof != true }) { result.appFailedStatus = failed.exit.shellStatus }
        for r in relocations { result.warnings.append(r.advice) }
        return result
    }
}
