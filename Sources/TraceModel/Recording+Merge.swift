/// Union of recordings: counts add, sets unite, sizes take the maximum. Associative and commutative.
extension Recording {
    public static func merged(_ recordings: [Recording]) -> Recording {
        var runs: [String: RunInfo] = [:]
        var files: [MutationKey: FileMutation] = [:]
        var syscalls: [String: [String: Int]] = [:]
        var blind: [String: BlindSpot] = [:]
        var dangerous: [String: [String]] = [:], hints: [String: [String]] = [:]
        var facts: FilesystemFacts? = nil
        for rec in recordings {
            if let f = rec.filesystem { if facts == nil { facts = f } else { facts!.absorb(f) } }
            for (k, v) in rec.dangerousCallers ?? [:] { dangerous[k, default: []] += v }
            for (k, v) in rec.capabilityHints ?? [:] { hints[k, default: []] += v }
            for run in rec.runs { runs[run.id] = runs[run.id] ?? run }
            for f in rec.files {
                if var existing = files[f.key] { existing.absorb(f); files[f.key] = existing } else { files[f.key] = f }
            }
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
        return Recording(runs: Array(runs.values), files: Array(files.values), syscalls: syscalls,
                         blindSpots: Array(blind.values), dangerousCallers: dangerous.isEmpty ? nil : dangerous,
                         capabilityHints: hints.isEmpty ? nil : hints, filesystem: facts).normalized()
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
