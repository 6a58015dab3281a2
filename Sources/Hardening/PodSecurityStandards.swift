import FoundationEssentials
import Glibc
import TraceModel
import YAML

/// The Kubernetes Pod Security Standards as the admission controller checks them, applied to every
/// pod template of a manifest: which level each workload meets (restricted, baseline, privileged)
/// and what keeps it from the next one, naming the workload, the container and the field.
public enum PodSecurityStandards {
    public enum Level: String, Comparable, Sendable {
        case privileged, baseline, restricted
        var rank: Int { self == .privileged ? 0 : self == .baseline ? 1 : 2 }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }
    /// One broken rule: `blocks` is the lowest level it rules out (baseline: the pod is privileged).
    public struct Violation: Equatable, Sendable {
        public var workload: String
        public var blocks: Level
        public var message: String
        public var line: String { "\(workload): \(message)" }
    }

    static let podPaths: [String: [String]] = [
        "Deployment": ["spec", "template", "spec"], "StatefulSet": ["spec", "template", "spec"], "DaemonSet": ["spec", "template", "spec"],
        "ReplicaSet": ["spec", "template", "spec"], "Job": ["spec", "template", "spec"],
        "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"], "Pod": ["spec"],
    ]
    static let restrictedVolumeTypes: Set<String> = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
    static let baselineCapabilities: Set<String> = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                                                   "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]

    /// Every violation in a (multi-document) manifest; `workloads` counts the pod templates seen.
    public static func check(_ yaml: String) throws -> (violations: [Violation], workloads: [String]) {
        var out: [Violation] = []
        var workloads: [String] = []
        try InputLimits.checkYAML(yaml, source: "the manifest", what: "a manifest")
        for doc in try YAML.composeAll(yaml) {
            guard let kind = doc["kind"]?.string, let path = podPaths[kind] else { continue }
            var pod: Node? = doc
            for k in path { pod = pod?[k] }
            guard let pod else { continue }
            let who = "\(kind)/\(doc["metadata"]?["name"]?.string ?? "?")"
            workloads.append(who)
            func bad(_ level: Level, _ s: String) { out.append(Violation(workload: who, blocks: level, message: s)) }
            for f in ["hostNetwork", "hostPID", "hostIPC"] where pod[f]?.bool == true { bad(.baseline, "\(f) is true") }
            let podSC = pod["securityContext"]
            if podSC?["runAsUser"]?.int == 0 { bad(.restricted, "pod runAsUser is 0") }
            if podSC?["seccompProfile"]?["type"]?.string == "Unconfined" { bad(.baseline, "pod seccompProfile is Unconfined") }
            for v in pod["volumes"]?.sequence ?? [] {
                let types = (v.mapping ?? [:]).keys.compactMap(\.string).filter { $0 != "name" }
                for t in types where !restrictedVolumeTypes.contains(t) {
                    bad(t == "hostPath" ? .baseline : .restricted, "volume \(v["name"]?.string ?? "?") is of type \(t)")
                }
            }
            let containers = (pod["containers"]?.sequence ?? []) + (pod["initContainers"]?.sequence ?? []) + (pod["ephemeralContainers"]?.sequence ?? [])
            for c in containers {
                let name = c["name"]?.string ?? "?"
                let sc = c["securityContext"]
                if sc?["privileged"]?.bool == true { bad(.baseline, "container \(name) is privileged") }
                if sc?["allowPrivilegeEscalation"]?.bool != false { bad(.restricted, "container \(name): allowPrivilegeEscalation must be false") }
                if sc?["runAsNonRoot"]?.bool != true && podSC?["runAsNonRoot"]?.bool != true { bad(.restricted, "container \(name): runAsNonRoot must be true") }
                if sc?["runAsUser"]?.int == 0 { bad(.restricted, "container \(name): runAsUser is 0") }
                let seccomp = sc?["seccompProfile"]?["type"]?.string ?? podSC?["seccompProfile"]?["type"]?.string
                if seccomp == "Unconfined" { bad(.baseline, "container \(name): seccompProfile is Unconfined") }
                else if seccomp != "RuntimeDefault" && seccomp != "Localhost" {
                    bad(.restricted, "container \(name): seccompProfile.type must be RuntimeDefault or Localhost (is \(seccomp ?? "unset"))")
                }
                let drop = (sc?["capabilities"]?["drop"]?.sequence ?? []).compactMap(\.string)
                if !drop.contains("ALL") { bad(.restricted, "container \(name): capabilities.drop must contain ALL") }
                for cap in (sc?["capabilities"]?["add"]?.sequence ?? []).compactMap(\.string) where cap != "NET_BIND_SERVICE" {
                    bad(baselineCapabilities.contains(cap) ? .restricted : .baseline, "container \(name): capabilities.add \(cap) (restricted allows only NET_BIND_SERVICE)")
                }
                for p in c["ports"]?.sequence ?? [] where (p["hostPort"]?.int ?? 0) != 0 { bad(.baseline, "container \(name) uses a hostPort") }
            }
        }
        return (out, workloads)
    }

    /// The level a set of violations leaves a workload at.
    public static func level(_ violations: [Violation]) -> Level {
        if violations.contains(where: { $0.blocks == .baseline }) { return .privileged }
        return violations.isEmpty ? .restricted : .baseline
    }

    /// One line per workload: the level it meets and, when not restricted, why (stderr text).
    public static func summary(_ yaml: String) -> [String] {
        guard let (violations, workloads) = try? check(yaml) else { return [] }
        return workloads.map { w in
            let mine = violations.filter { $0.workload == w }
            let lvl = level(mine)
            if lvl == .restricted { return "Pod Security Standards: \(w) meets restricted" }
            return "Pod Security Standards: \(w) meets \(lvl.rawValue), not restricted: " + mine.map(\.message).joined(separator: "; ")
        }
    }
}
