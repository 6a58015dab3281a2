import Analysis
import FoundationEssentials
import Glibc
import TraceModel

/// One workload of a merged recording of several services: its kind, the mounts and environment it needs.
public struct Workload: Equatable, Sendable {
    public enum Kind: String, Sendable { case deployment = "Deployment", cronJob = "CronJob" }
    public var name: String
    public var kind: Kind
    public var command: [String]
    public var runIDs: [String]
    /// Paths of the analysis' mounts this service writes under.
    public var mountPaths: [String]
    public var env: [String: String]
    public var uid: Int?
    public var ranAsRoot: Bool

    /// The service a run belongs to: its `--name`, else the last word of its command (`entrypoint.sh
    /// webserver` → webserver), else the program's name. Lower-cased, made a valid DNS label.
    public static func serviceName(_ run: RunInfo) -> String {
        if let n = run.name, !n.isEmpty { return n }
        let words = run.command.reversed().filter { !$0.hasPrefix("-") && !$0.isEmpty }
        let pick = words.first { !$0.contains("/") && !$0.contains("=") } ?? PathGlob.name(run.command.first ?? "app")
        return dnsLabel(pick)
    }

    static func dnsLabel(_ s: String) -> String {
        var out = s.lowercased().map { ($0.isLetter && $0.isASCII) || ($0.isNumber && $0.isASCII) ? String($0) : "-" }.joined()
        while out.contains("--") { out = out.replacing("--", with: "-") }
        out = String(out.trimmingCharacters(in: "-").prefix(52))
        if out.isEmpty || !(out.first!.isLetter) { out = "svc-" + out }
        return out.trimmingCharacters(in: "-")
    }

    /// Long-running when roprof stopped it (or it was stopped by SIGTERM/SIGINT, or attached to);
    /// a one-shot job when it exited by itself.
    static func isLongRunning(_ run: RunInfo) -> Bool {
        if run.stoppedByRoprof == true || run.attachedPid != nil { return true }
        if let s = run.exit.signal, s == 2 || s == 15 { return true }
        return false
    }

    /// Groups the recording's runs by service and assigns each the mounts and env its writes need.
    public static func plan(_ a: Analysis, _ r: Recording) -> [Workload] {
        var runsOfPath: [String: Set<String>] = [:]
        for f in r.files { runsOfPath[f.path, default: []].formUnion(f.runs) }
        let remedyEnv = Dictionary(a.remedies.map { ("remedy:" + $0.id, $0.env) }, uniquingKeysWith: { x, _ in x })
        var byName: [String: [RunInfo]] = [:]
        for run in r.runs { byName[serviceName(run), default: []].append(run) }
        return byName.keys.sorted().map { name in
            let runs = byName[name]!.sorted { $0.id < $1.id }
            let ids = Set(runs.map(\.id))
            var mounts = Set<String>(), env: [String: String] = [:]
            for p in a.breaking where !(runsOfPath[p.path] ?? []).isDisjoint(with: ids) {
                guard let by = p.fixedBy else { continue }
                if let e = remedyEnv[by] { env.merge(e) { x, _ in x } } else { mounts.insert(by) }
            }
            let (uid, root) = Hardening.user(of: runs)
            return Workload(name: name, kind: runs.allSatisfy(isLongRunning) ? .deployment : .cronJob,
                            command: runs[0].command, runIDs: runs.map(\.id), mountPaths: mounts.sorted(), env: env,
                            uid: uid, ranAsRoot: root)
        }
    }
}

