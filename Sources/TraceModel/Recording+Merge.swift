import FoundationEssentials
import Glibc

/// Union of recordings: counts add, sets unite, sizes take the maximum. Associative and commutative.
extension Recording {
    public static func merged(_ recordings: [Recording]) -> Recording {
        var r = mergedHead(recordings)
        var entries = MergedEntries(recordings)
        var files: [FileMutation] = []
        while let f = entries.next() { files.append(f) }
        r.files = files
        r.normalize()
        return r
    }

    /// Writes the union of `recordings` as `merged(_:).encode(into:)` would, byte for byte, without
    /// holding the merged file list: entries are merged from the inputs' sorted lists as they are
    /// written. Returns the number of runs and of file entries written.
    public static func encodeMerged(_ recordings: [Recording], into emit: (Data) throws -> Void) throws -> (runs: Int, files: Int) {
        let head = mergedHead(recordings)
        var entries = MergedEntries(recordings)
        let n = try encode(head: head, entries: &entries, into: emit)
        return (head.runs.count, n)
    }

    /// Everything but the file list.
    static func mergedHead(_ recordings: [Recording]) -> Recording {
        var runs: [String: RunInfo] = [:]
        var syscalls: [String: [String: Int]] = [:]
        var blind: [String: BlindSpot] = [:]
        var dangerous: [String: [String]] = [:], hints: [String: [String]] = [:]
        var facts: FilesystemFacts? = nil
        for rec in recordings {
            if let f = rec.filesystem { if facts == nil { facts = f } else { facts!.absorb(f) } }
            for (k, v) in rec.dangerousCallers ?? [:] { dangerous[k, default: []] += v }
            for (k, v) in rec.capabilityHints ?? [:] { hints[k, default: []] += v }
            for run in rec.runs { runs[run.id] = runs[run.id] ?? run }
            for (arch, names) in rec.syscalls {
                for (name, n) in names { syscalls[arch, default: [:]][name, default: 0] += n }
            }
            for b in rec.blindSpots {
                let k = b.kind.rawValue + "\u{0}" + b.detail
                if var e = blind[k] {
                    e.count += b.count; e.processes += b.processes; e.runs += b.runs
                    blind[k] = e
                } else { blind[k] = b }
            }
        }
        var head = Recording(runs: Array(runs.values), files: [], syscalls: syscalls,
                             blindSpots: Array(blind.values), dangerousCallers: dangerous.isEmpty ? nil : dangerous,
                             capabilityHints: hints.isEmpty ? nil : hints, filesystem: facts)
        head.normalize()
        return head
    }
}

/// The inputs' file entries in key order, entries of one key absorbed into one (in input order, as
/// a left fold would): a k-way merge of the sorted lists, holding nothing but a cursor per input.
struct MergedEntries: IteratorProtocol {
    private let lists: [[FileMutation]]
    private let orders: [[Int]?]
    private var at: [Int]

    init(_ recordings: [Recording]) {
        lists = recordings.map(\.files)
        orders = recordings.map(\.files.keyOrder)
        at = Array(repeating: 0, count: recordings.count)
    }

    private func head(_ k: Int) -> FileMutation? {
        at[k] < lists[k].count ? lists[k][orders[k]?[at[k]] ?? at[k]] : nil
    }

    mutating func next() -> FileMutation? {
        var least: MutationKey? = nil
        for k in lists.indices {
            if let f = head(k), least == nil || f.key < least! { least = f.key }
        }
        guard let key = least else { return nil }
        var out: FileMutation? = nil
        for k in lists.indices {
            while let f = head(k), f.key == key {
                if out == nil { out = f } else { out!.absorb(f) }
                at[k] += 1
            }
        }
        return out
    }
}

extension FileMutation {
    /// Adds another aggregate of the same key into this one.
    public mutating func absorb(_ o: FileMutation) {
        count += o.count
        succeeded += o.succeeded
        unknownOutcome += o.unknownOutcome
        for (e, n) in o.errors { errors[e, default: 0] += n }
        flags = Array(Set(flags + o.flags)).sorted()
        syscalls = Array(Set(syscalls + o.syscalls)).sorted()
        processes = Array(Set(processes + o.processes)).sorted()
        pids = Array(Array(Set(pids + o.pids)).sorted().prefix(16))
        runs = Array(Set(runs + o.runs)).sorted()
        if let b = o.bytes { bytes = max(bytes ?? 0, b) }
        switch (existedBefore, o.existedBefore) {
        case (nil, let x): existedBefore = x
        case (let x?, let y?): existedBefore = x || y
        default: break
        }
        if let a = o.existsAfter { existsAfter = (existsAfter ?? false) || a }
        if unresolved == nil { unresolved = o.unresolved }
        if pathBase64 == nil { pathBase64 = o.pathBase64 }
    }
}

extension Recording {
    /// The variables of `environment` (NAME=VALUE) whose value names a directory the recording wrote
    /// in — a whole component of a written path's directory — as value → name.
    public func pathInputs(in environment: [String]) -> [String: String] {
        var components = Set<Substring>()
        for f in files {
            var dirs = f.path.split(separator: "/")
            if f.operation != .mkdir { dirs = dirs.dropLast() }
            components.formUnion(dirs)
        }
        var found: [String: String] = [:]
        for entry in environment.sorted() {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<eq]), value = entry[entry.index(after: eq)...]
            guard !name.isEmpty, value.count >= 2, !value.contains("/"), value.contains(where: \.isLetter),
                  components.contains(value), found[String(value)] == nil else { continue }
            found[String(value)] = name
        }
        return found
    }

    /// Notes, on runs that have none, which of `environment`'s variables name a directory the
    /// recording wrote in (`pathInputs(in:)`). Only those values are kept, with the variable's name
    /// (the value is in the paths already).
    public mutating func notePathInputs(environment: [String]) {
        let found = pathInputs(in: environment)
        guard !found.isEmpty else { return }
        for i in runs.indices where runs[i].pathInputs == nil { runs[i].pathInputs = found }
    }
}
