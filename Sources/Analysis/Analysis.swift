import TraceModel

/// The answer: which writes break under a read-only root in a runtime, and what fixes them.
public struct Analysis: Codable, Equatable, Sendable {
    public var format = "roprof-analysis"
    /// 2: mounts carry purpose, evidence, owner and initFromImage; relocations.
    public var version = 2
    public var runtime: String
    public var runtimeTitle: String
    /// Writes that break, each with what fixes it.
    public var breaking: [PathFinding]
    /// Writes to places the runtime leaves writable.
    public var harmless: [PathFinding]
    /// Writes whose path could not be resolved.
    public var unknown: [PathFinding]
    public var mounts: [MountSuggestion]
    public var remedies: [RemedyApplication]
    /// Environment variables the remedies set (stop-writing fixes).
    public var env: [String: String]
    /// Writes no mount can fix (read-only system mounts such as /sys).
    public var unfixable: [PathFinding]
    public var blindSpots: [BlindSpot]
    /// uids the app ran as (from the recording).
    public var uids: [Int]
    public var commands: [[String]]
    /// The parts of the app's life the recording covers (a first start, a restart on its own files).
    public var phases: [String]? = nil
    /// How the recorded run was driven (`--ready-url URL --while CMD`): verify drives it the same way.
    public var driveArguments: [String]? = nil
    public var warnings: [String]
    /// Named services (`record --name`) → the command of the first run of each; only when a merged
    /// recording holds more than one (then `suggest --workloads` applies).
    public var services: [String: [String]]? = nil
    /// State the app writes next to its own code: no mount can take it without hiding the code.
    public var relocations: [Relocation] = []
    /// The image the app ran from (record --image / --container): verify runs that image.
    public var image: String? = nil
    /// The status the app exited with by itself when it failed (nil: it succeeded, or roprof stopped it).
    public var appFailedStatus: Int? = nil
    /// The pids of the recorded processes, as text: a name carrying one (redis's temp-42.rdb) is per
    /// run even when the number is short, as pids are in a container. Not part of the JSON.
    public var runPids: Set<String> = []

    enum CodingKeys: String, CodingKey {
        case format, version, runtime, runtimeTitle, breaking, harmless, unknown, mounts, remedies, env, unfixable, blindSpots,
             uids, commands, phases, driveArguments, warnings, services, relocations, image, appFailedStatus
    }

    public var verdict: String {
        // Writes that failed on every attempt where the app was recorded (EACCES: a non-root app's
        // bytecode, say) fail today already: counted apart, so the headline is what a read-only root adds.
        let already = breaking.filter(\.failsToday).count
        let n = breaking.count - already + unfixable.count
        let then = appFailedStatus.map { ", and the app exited with status \($0)" } ?? ", and the app carried on"
        let apart = already == 0 ? "" : " (\(already) more already fail\(already == 1 ? "s" : "") where it was recorded\(then))"
        if n == 0 && already > 0 { return "nothing new breaks under a read-only root in \(runtime): \(already) write\(already == 1 ? "" : "s") already fail\(already == 1 ? "s" : "") where it was recorded\(then)" }
        if n == 0 { return "nothing breaks under a read-only root in \(runtime)" }
        var fixes: [String] = []
        if !mounts.isEmpty { fixes.append("\(mounts.count) mount\(mounts.count == 1 ? "" : "s")") }
        if !env.isEmpty { fixes.append("\(env.count) environment variable\(env.count == 1 ? "" : "s")") }
        let flagFixes = remedies.filter { $0.kind == .flag && $0.coversWithoutMount }.count
        if flagFixes > 0 { fixes.append("\(flagFixes) command change\(flagFixes == 1 ? "" : "s")") }
        let one = mounts.count + env.count + flagFixes == 1
        let fixText = fixes.isEmpty ? "" : "; " + fixes.joined(separator: " and ") + " fix\(one ? "es" : "") \(n == 1 ? "it" : "them")"
        let unfix = unfixable.isEmpty ? "" : " (\(unfixable.count) cannot be fixed with a mount)"
        return "\(n) path\(n == 1 ? "" : "s") break\(n == 1 ? "s" : "") under a read-only root in \(runtime)\(fixText)\(unfix)\(apart)"
    }
}

/// One written path (all operations on it), classified.
public struct PathFinding: Codable, Equatable, Sendable {
    public var path: String
    public var operations: [String]
    public var count: Int
    public var failed: [String: Int]
    public var processes: [String]
    public var syscalls: [String]
    public var bytes: Int?
    /// The mount path or remedy id that fixes it (nil for harmless / unfixable).
    public var fixedBy: String?
    /// Why it is harmless or unfixable.
    public var note: String?
    public var unresolved: String?
    /// Whether every call failed during the recording.
    public var allFailed: Bool { failed.values.reduce(0, +) >= count && count > 0 }
    /// Failed on every call for want of permission (EACCES, EPERM, EROFS): it fails today already,
    /// and a read-only root changes nothing for it. A missing directory (ENOENT) is not that: the
    /// mount that is suggested there makes the directory.
    public var failsToday: Bool { allFailed && failed.keys.allSatisfy { ["EACCES", "EPERM", "EROFS"].contains($0) } }
}

/// A directory (or file) to mount writable.
public struct MountSuggestion: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case tmpfs, persistent, file }
    /// What the mount holds, decided by evidence; state is never put in memory.
    public enum Purpose: String, Codable, Sendable, CaseIterable {
        /// Must survive restarts: a persistent volume.
        case state
        case cache
        /// pid files, sockets, locks.
        case runtime
        /// Temporary files.
        case scratch
        case logs
    }
    public var path: String
    public var kind: Kind
    public var purpose: Purpose
    /// The evidence that decided `purpose`, strongest first (FHS, fsync, rename into place, lifetime, names).
    public var evidence: [String]
    /// Owner and mode of the directory where it already existed (nil when the app created it).
    public var owner: Owner?
    /// A persistent volume over a directory that already has content: it must start with that content
    /// (docker/podman named volumes copy it in on first use; Kubernetes needs an init step).
    public var initFromImage: Bool
    /// Bytes observed under the mount (largest size seen per file, summed).
    public var observedBytes: Int
    /// The size to give it (headroom, a round unit, a floor), e.g. "64Mi".
    public var sizeLimit: String
    public var sizeBytes: Int
    public var reason: String
    /// Globbed paths it covers, relative to `path`.
    public var covers: [String]
    /// Entries that already exist there (in the image) and a mount would hide.
    public var hidesContent: [String]
    /// What else would work.
    public var alternatives: [String]
    /// Remedy ids with advice about what writes here.
    public var remedies: [String]
}

/// A remedy from the knowledge base that matched the recording.
public struct RemedyApplication: Codable, Equatable, Sendable {
    public var id: String
    public var title: String
    public var kind: Remedy.Kind
    public var env: [String: String]
    public var fix: String?
    public var why: String
    public var paths: [String]
    /// True when applying it removes the need for a mount (env-style fixes).
    public var coversWithoutMount: Bool
}

/// Durable files the app writes next to its code: a volume there would hide the code, so the fix is
/// to point the app at a data directory (its database path setting) and mount that.
public struct Relocation: Codable, Equatable, Sendable {
    public var directory: String
    /// The written files (names in `directory`).
    public var files: [String]
    /// Code found in the directory (a sample), which a mount would hide.
    public var code: [String]
    public var advice: String
}
