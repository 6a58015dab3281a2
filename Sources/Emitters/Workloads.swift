import Analysis
import Hardening
import FoundationEssentials
import Glibc
import TraceModel
import YAML

/// One image, several services: a merged recording of runs named with `record --name` becomes one
/// Kubernetes workload per service, each with only the mounts and environment its own writes need.
public struct WorkloadOptions: Sendable {
    public var image = "IMAGE"
    /// CronJob schedules by service name.
    public var schedules: [String: String] = [:]
    public init() {}
}

extension KubernetesEmitter {
    public static let defaultSchedule = "0 * * * *"

    /// A Deployment per long-running service, a CronJob per one-shot service, and each
    /// PersistentVolumeClaim once (ReadWriteMany when several services share it).
    public static func workloads(_ h: Hardening, _ r: Recording, _ o: SuggestOptions, _ w: WorkloadOptions) throws -> (text: String, warnings: [String]) {
        let plan = Workload.plan(h.analysis, r)
        var warnings: [String] = []
        var users: [String: [String]] = [:]  // volume name → services
        var docs: [String] = []
        for wl in plan {
            let vols = h.volumes.filter { wl.mountPaths.contains($0.mount.path) }
            for v in vols where v.mount.kind == .persistent { users[v.name, default: []].append(wl.name) }
            var sub = h
            sub.volumes = vols
            sub.env = wl.env.keys.sorted().map { ($0, wl.env[$0]!) }
            sub.uid = wl.uid
            sub.ranAsRoot = wl.ranAsRoot
            let labels = ["app.kubernetes.io/name": wl.name, "app.kubernetes.io/managed-by": "roprof"]
            // An image recording runs the image's own ENTRYPOINT: only the arguments that select the service.
            var command: [String]? = PrivilegeWrapper.strip(wl.command).command, args: [String]? = nil
            if let entry = h.imageEntrypoint {
                let tail = Array(wl.command.dropFirst(entry.count))
                command = nil
                args = tail == (h.imageCmd ?? []) || tail.isEmpty ? nil : tail
            }
            let container = K8s.Container(name: wl.name, image: w.image == "IMAGE" ? (h.imageReference ?? "IMAGE") : w.image,
                                          command: command, args: args, workingDir: h.workdir,
                                          env: sub.env.isEmpty ? nil : sub.env.map { .init(name: $0.name, value: $0.value) },
                                          securityContext: securityContext(sub, o), volumeMounts: vols.isEmpty ? nil : mounts(sub))
            var pod = K8s.PodSpec(securityContext: podSecurityContext(sub), containers: [container], volumes: vols.isEmpty ? nil : volumes(sub))
            let annotations = ["roprof.dev/runs": wl.runIDs.joined(separator: ",")]
            switch wl.kind {
            case .deployment:
                let d = K8s.Deployment(metadata: .init(name: wl.name, labels: labels, annotations: annotations),
                                       spec: .init(replicas: 1, selector: .init(matchLabels: ["app.kubernetes.io/name": wl.name]),
                                                   template: .init(metadata: .init(labels: labels), spec: pod)))
                docs.append(try YAMLEncoder().encode(d))
            case .cronJob:
                pod.restartPolicy = "OnFailure"
                let schedule = w.schedules[wl.name] ?? defaultSchedule
                if w.schedules[wl.name] == nil {
                    warnings.append("\(wl.name) ran to completion by itself, so it is a CronJob; its schedule is a placeholder (\(defaultSchedule)): set it with --schedule \(wl.name)='CRON'")
                }
                let c = K8s.CronJob(metadata: .init(name: wl.name, labels: labels, annotations: annotations),
                                    spec: .init(schedule: schedule, concurrencyPolicy: "Forbid",
                                                jobTemplate: .init(spec: .init(backoffLimit: 2, template: .init(metadata: .init(labels: labels), spec: pod)))))
                docs.append(try YAMLEncoder().encode(c))
            }
            if wl.ranAsRoot {
                warnings.append("\(wl.name) ran as root: runAsNonRoot is left out of its securityContext")
            }
        }
        for name in w.schedules.keys.sorted() where !plan.contains(where: { $0.name == name && $0.kind == .cronJob }) {
            let known = plan.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", ")
            throw ModelError("--schedule \(name)=…: no one-shot service named '\(name)' in the recording (services: \(known))")
        }
        for pvc in pvcs(h) where users[pvc.metadata.name ?? ""] != nil {
            var claim = pvc
            let shared = users[pvc.metadata.name!]!.sorted()
            if shared.count > 1 {
                claim.spec.accessModes = ["ReadWriteMany"]
                claim.metadata.annotations?["roprof.dev/shared-by"] = shared.joined(separator: ",")
                warnings.append("\(pvc.metadata.annotations?["roprof.dev/mount-path"] ?? pvc.metadata.name!) is written by \(shared.joined(separator: ", ")): its claim is ReadWriteMany, which needs a storage class that supports it (NFS, CephFS, EFS, Azure Files…); with ReadWriteOnce, schedule those pods on one node")
            }
            docs.append(try YAMLEncoder().encode(claim))
        }
        let header = "# Generated by roprof from \(plan.count) service(s) of one image: apply with `kubectl apply -f FILE`.\n"
        return (header + docs.joined(separator: "---\n"), warnings)
    }
}
