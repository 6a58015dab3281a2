import Foundation
import Yams

/// The Kubernetes Pod Security Standards, "restricted" profile (which includes "baseline"), as the
/// admission controller checks it: every rule below is one of its checks, applied to each pod
/// template in a manifest. Returns one line per violation, naming the workload and the field.
enum RestrictedPSS {
    static let podPaths: [String: [String]] = [
        "Deployment": ["spec", "template", "spec"], "StatefulSet": ["spec", "template", "spec"], "DaemonSet": ["spec", "template", "spec"],
        "ReplicaSet": ["spec", "template", "spec"], "Job": ["spec", "template", "spec"],
        "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"], "Pod": ["spec"],
    ]
    static let allowedVolumeTypes: Set<String> = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]

    static func violations(_ yaml: String) throws -> [String] {
        var out: [String] = []
        var workloads = 0
        for doc in try Yams.compose_all(yaml: yaml) {
            guard let kind = doc["kind"]?.string, let path = podPaths[kind] else { continue }
            var pod: Node? = doc
            for k in path { pod = pod?[k] }
            guard let pod else { continue }
            workloads += 1
            let who = "\(kind)/\(doc["metadata"]?["name"]?.string ?? "?")"
            func bad(_ s: String) { out.append("\(who): \(s)") }
            for f in ["hostNetwork", "hostPID", "hostIPC"] where pod[f]?.bool == true { bad("\(f) is true") }
            let podSC = pod["securityContext"]
            if podSC?["runAsUser"]?.int == 0 { bad("pod runAsUser is 0") }
            if podSC?["seccompProfile"]?["type"]?.string == "Unconfined" { bad("pod seccompProfile is Unconfined") }
            for v in pod["volumes"]?.sequence ?? [] {
                let types = (v.mapping ?? [:]).keys.compactMap(\.string).filter { $0 != "name" }
                for t in types where !allowedVolumeTypes.contains(t) { bad("volume \(v["name"]?.string ?? "?") is of type \(t)") }
            }
            let containers = (pod["containers"]?.sequence ?? []) + (pod["initContainers"]?.sequence ?? [])
            for c in containers {
                let name = c["name"]?.string ?? "?"
                let sc = c["securityContext"]
                if sc?["privileged"]?.bool == true { bad("container \(name) is privileged") }
                if sc?["allowPrivilegeEscalation"]?.bool != false { bad("container \(name): allowPrivilegeEscalation must be false") }
                if sc?["runAsNonRoot"]?.bool != true && podSC?["runAsNonRoot"]?.bool != true { bad("container \(name): runAsNonRoot must be true") }
                if sc?["runAsUser"]?.int == 0 { bad("container \(name): runAsUser is 0") }
                let seccomp = sc?["seccompProfile"]?["type"]?.string ?? podSC?["seccompProfile"]?["type"]?.string
                if seccomp != "RuntimeDefault" && seccomp != "Localhost" { bad("container \(name): seccompProfile.type must be RuntimeDefault or Localhost (is \(seccomp ?? "unset"))") }
                let drop = (sc?["capabilities"]?["drop"]?.sequence ?? []).compactMap(\.string)
                if !drop.contains("ALL") { bad("container \(name): capabilities.drop must contain ALL") }
                for cap in (sc?["capabilities"]?["add"]?.sequence ?? []).compactMap(\.string) where cap != "NET_BIND_SERVICE" {
                    bad("container \(name): capabilities.add \(cap) (only NET_BIND_SERVICE is allowed)")
                }
                for p in c["ports"]?.sequence ?? [] where (p["hostPort"]?.int ?? 0) != 0 { bad("container \(name) uses a hostPort") }
            }
        }
        if workloads == 0 { out.append("no workload in the manifest") }
        return out
    }
}
