import Analysis
import Foundation
import TraceModel
import Yams

/// One image, several services: a merged recording of runs named with `record --name` becomes one
/// Kubernetes workload per service, each with only the mounts and environment its own writes need.
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
        while out.contains("--") { out = out.replacingOccurrences(of: "--", with: "-") }
        out = String(out.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(52))
        if out.isEmpty || !(out.first!.isLetter) { out = "svc-" + out }
        return out.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
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
