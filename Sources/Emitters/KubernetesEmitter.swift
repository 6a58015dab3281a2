import Analysis
import Hardening
import FoundationEssentials
import Glibc
import TraceModel
import YAML

/// Kubernetes output: the container securityContext, volumes, volumeMounts and env; as a
/// strategic-merge patch, or applied to an existing manifest.
public enum KubernetesEmitter {
    static func securityContext(_ h: Hardening, _ o: SuggestOptions) -> K8s.SecurityContext {
        let seccomp = o.runtimeDefaultSeccomp || h.seccomp == nil
            ? K8s.SeccompProfile(type: "RuntimeDefault", localhostProfile: nil)
            : K8s.SeccompProfile(type: "Localhost", localhostProfile: o.localhostProfile)
        return K8s.SecurityContext(runAsNonRoot: h.ranAsRoot ? nil : true, runAsUser: h.uid, runAsGroup: h.gid,
                                   capabilities: .init(drop: ["ALL"], add: h.addCapabilities.isEmpty ? nil : h.addCapabilities),
                                   seccompProfile: seccomp,
                                   appArmorProfile: o.apparmor ? K8s.SeccompProfile(type: "Localhost", localhostProfile: o.apparmorProfile) : nil)
    }

    /// fsGroup for a non-root app with persistent volumes: the kubelet makes them writable by that group.
    static func podSecurityContext(_ h: Hardening) -> K8s.PodSecurityContext? {
        guard let gid = h.gid, h.uid != nil, h.volumes.contains(where: { $0.mount.kind == .persistent }) else { return nil }
        return K8s.PodSecurityContext(fsGroup: gid)
    }

    static func volumes(_ h: Hardening) -> [K8s.Volume] {
        h.volumes.map { v in
            switch v.mount.kind {
            case .persistent: return K8s.Volume(name: v.name, persistentVolumeClaim: .init(claimName: v.name))
            case .tmpfs: return K8s.Volume(name: v.name, emptyDir: .init(medium: "Memory", sizeLimit: v.mount.sizeLimit))
            case .file: return K8s.Volume(name: v.name, emptyDir: .init(medium: nil, sizeLimit: "1Mi"))
            }
        }
    }

    static func mounts(_ h: Hardening) -> [K8s.VolumeMount] {
        h.volumes.map { v in
            K8s.VolumeMount(name: v.name, mountPath: v.mount.path, subPath: v.mount.kind == .file ? PathGlob.name(v.mount.path) : nil)
        }
    }

    static func pvcs(_ h: Hardening, _ o: SuggestOptions = SuggestOptions()) -> [K8s.PVC] {
        h.volumes.filter { $0.mount.kind == .persistent }.map {
            K8s.PVC(metadata: .init(name: $0.name, namespace: o.namespace, annotations: ["roprof.dev/mount-path": $0.mount.path]),
                    spec: .init(accessModes: ["ReadWriteOnce"], resources: .init(requests: ["storage": $0.mount.sizeLimit])))
        }
    }

    static func header(_ o: SuggestOptions, claims: [String]) -> String {
        var lines = ["# roprof: a strategic-merge patch for Deployment \(o.workload) (container \(o.container)).",
                     "# Apply it: kubectl patch deployment \(o.workload)\(o.namespace.map { " -n \($0)" } ?? "") --patch-file FILE",
                     "# or as a kustomize overlay with everything it needs: roprof suggest --format kubernetes -o DIR/ REC"]
        if !claims.isEmpty {
            lines.append("# It mounts PersistentVolumeClaims that must exist first: \(claims.joined(separator: ", ")) (--claims prints them; the overlay includes them).")
        }
        if o.spo { lines.append("# The seccomp profile is the SeccompProfile from `roprof suggest --format spo --name \(o.workload)\(o.namespace.map { " --namespace \($0)" } ?? "")`.") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What the base already sets for the container an overlay patches: the user's choices to keep.
    public struct BaseContainer: Sendable {
        /// The base's workload and container the patch targets.
        public var workload = ""
        public var container = ""
        public var replicas: Int?
        public var mountPaths: [String: String] = [:]   // mountPath → volume name
        public var runAsUser: Int?
        public var runAsGroup: Int?
        public var capabilitiesAdd: [String] = []

        /// Whether the base already mounts `path` or a directory above it.
        public func covers(_ path: String) -> Bool { mountPaths.keys.contains { PathGlob.isUnder(path, $0) } }
    }

    /// Finds the container to patch in a base's manifests: the workload `o.workloadName` (or the only
    /// Deployment), and in it the container `o.container` (or its only container). Throws when the
    /// base has a workload but the container cannot be told, rather than adding a second one.
    public static func baseContainer(_ manifests: [String], _ o: SuggestOptions, containerGiven: Bool = true) throws -> BaseContainer? {
        var workloads: [(kind: String, name: String, node: Node)] = []
        for text in manifests {
            guard InputLimits.yamlProblem(text) == nil, let docs = try? YAML.composeAll(text) else { continue }
            for doc in docs {
                guard let kind = doc["kind"]?.string, workloadKinds[kind] != nil, let name = doc["metadata"]?["name"]?.string else { continue }
                workloads.append((kind, name, doc))
            }
        }
        let deployments = workloads.filter { $0.kind == "Deployment" }
        let chosen: (kind: String, name: String, node: Node)
        if let w = workloads.first(where: { $0.name == o.workload && $0.kind == "Deployment" }) ?? workloads.first(where: { $0.name == o.workload }) {
            chosen = w
        } else if o.workloadName == nil, deployments.count == 1 {
            chosen = deployments[0]
        } else {
            return nil
        }
        let containers = get(chosen.node, workloadKinds[chosen.kind]!)?["containers"]?.sequence ?? []
        let names = containers.compactMap { $0["name"]?.string }
        guard let c = containers.first(where: { $0["name"]?.string == o.container }) ?? (containers.count == 1 && !containerGiven ? containers.first : nil) else {
            throw ModelError("the base's \(chosen.kind) \(chosen.name) has \(names.isEmpty ? "no container" : "the container\(names.count == 1 ? "" : "s") " + names.joined(separator: ", ")): pass --container NAME (a patch for another name would add a second, image-less container)")
        }
        var b = BaseContainer()
        b.workload = chosen.name
        b.container = c["name"]?.string ?? o.container
        b.replicas = chosen.node["spec"]?["replicas"]?.int
        for m in c["volumeMounts"]?.sequence ?? [] { if let p = m["mountPath"]?.string { b.mountPaths[p] = m["name"]?.string ?? "?" } }
        b.runAsUser = c["securityContext"]?["runAsUser"]?.int
        b.runAsGroup = c["securityContext"]?["runAsGroup"]?.int
        b.capabilitiesAdd = (c["securityContext"]?["capabilities"]?["add"]?.sequence ?? []).compactMap(\.string)
        return b
    }

    static func deploymentPatch(_ h: Hardening, _ o: SuggestOptions, base: BaseContainer? = nil) -> K8s.DeploymentPatch {
        var h = h
        var sc = securityContext(h, o)
        if let b = base {
            // Keep the user's choices: their volume at a path (or above it), their user and group, their added capabilities.
            h.volumes = h.volumes.filter { !b.covers($0.mount.path) }
            if b.runAsUser != nil { sc.runAsUser = nil }
            if b.runAsGroup != nil { sc.runAsGroup = nil }
            let add = Set(b.capabilitiesAdd).union(sc.capabilities.add ?? [])
            sc.capabilities.add = add.isEmpty ? nil : add.sorted()
        }
        let container = K8s.Container(name: o.container, env: h.env.isEmpty ? nil : h.env.map { .init(name: $0.name, value: $0.value) },
                                      securityContext: sc, volumeMounts: h.volumes.isEmpty ? nil : mounts(h))
        return K8s.DeploymentPatch(metadata: .init(name: o.workload, annotations: nil),
                                   spec: .init(template: .init(spec: .init(securityContext: podSecurityContext(h),
                                                                           initContainers: fileInit(h, o, securityContext: sc).map { [$0] },
                                                                           containers: [container],
                                                                           volumes: h.volumes.isEmpty ? nil : volumes(h)))))
    }

    /// A whole Deployment (and its claims) running `image` with the settings, as `verify --image
    /// --format kubernetes` hands it to `podman kube play`: the image's own ENTRYPOINT with the
    /// recorded arguments, and each port published on the host as `ports` says (loopback for the probe).
    public static func verifyManifest(_ h: Hardening, _ o: SuggestOptions, name: String, image: String,
                                      ports: [PublishedPort]) throws -> String {
        var o = o
        o.image = image
        let sc = securityContext(h, o)
        let container = K8s.Container(name: o.container, image: image, command: nil, args: h.command.isEmpty ? nil : h.command,
                                      workingDir: h.workdir, env: h.env.isEmpty ? nil : h.env.map { .init(name: $0.name, value: $0.value) },
                                      securityContext: sc, volumeMounts: h.volumes.isEmpty ? nil : mounts(h),
                                      ports: ports.isEmpty ? nil : ports.map { K8s.ContainerPort(containerPort: $0.container, hostPort: $0.host, hostIP: $0.hostIP) })
        // Never restarted by the engine: verify stops and restarts it itself (under `Always`, podman would
        // start it again the moment roprof's stop ended it).
        let pod = K8s.PodSpec(restartPolicy: "Never", securityContext: podSecurityContext(h), initContainers: fileInit(h, o, securityContext: sc).map { [$0] },
                              containers: [container], volumes: h.volumes.isEmpty ? nil : volumes(h))
        let labels = ["app.kubernetes.io/name": name]
        let d = K8s.Deployment(metadata: .init(name: name, labels: labels),
                               spec: .init(replicas: 1, selector: .init(matchLabels: labels), template: .init(metadata: .init(labels: labels), spec: pod)))
        return try ([try YAMLEncoder().encode(d)] + pvcs(h, o).map { try YAMLEncoder().encode($0) }).joined(separator: "---\n")
    }

    /// The image the single-file mounts' init container runs (the app's own), when it is known.
    static func fileInitImage(_ h: Hardening, _ o: SuggestOptions) -> String? {
        h.imageReference ?? (o.image == "IMAGE" ? nil : o.image)
    }

    /// An init container, in the app's image, that puts each single-file mount's file (the image's own
    /// content, or an empty file) into its emptyDir, so the subPath mount binds a file over a file.
    static func fileInit(_ h: Hardening, _ o: SuggestOptions, securityContext sc: K8s.SecurityContext) -> K8s.Container? {
        let files = h.volumes.filter { $0.mount.kind == .file }
        guard !files.isEmpty, let image = fileInitImage(h, o) else { return nil }
        let script = files.map { v in
            let dst = "/roprof-files/\(v.name)/\(PathGlob.name(v.mount.path))"
            return "{ cp -p \(shellQuote(v.mount.path)) \(shellQuote(dst)) 2>/dev/null || : > \(shellQuote(dst)); }"
        }.joined(separator: " && ")
        // The app's profile lists the app's calls, not cp's: the runtime's default profile for this step.
        var initSC = sc
        initSC.seccompProfile = K8s.SeccompProfile(type: "RuntimeDefault", localhostProfile: nil)
        initSC.appArmorProfile = nil
        return K8s.Container(name: "roprof-files", image: image, command: ["/bin/sh", "-c", script], env: nil, securityContext: initSC,
                             volumeMounts: files.map { K8s.VolumeMount(name: $0.name, mountPath: "/roprof-files/\($0.name)", subPath: nil) })
    }

    /// What a single-file mount needs that the output cannot give without the image's name.
    public static func fileMountWarnings(_ h: Hardening, _ o: SuggestOptions) -> [String] {
        let files = h.volumes.filter { $0.mount.kind == .file }.map { Human.printable($0.mount.path) }
        guard !files.isEmpty, fileInitImage(h, o) == nil else { return [] }
        return ["\(files.joined(separator: ", ")): a subPath of an emptyDir that does not exist is made a directory, which cannot be mounted over a file: add an init container in the app's image that copies the file into the emptyDir first (give suggest --image IMAGE and roprof writes it), or make the app write it in a directory of its own"]
    }

    /// The strategic-merge patch alone (what `kubectl patch` takes); with `o.claims`, the
    /// PersistentVolumeClaims follow as separate documents.
    public static func patch(_ h: Hardening, _ o: SuggestOptions) throws -> String {
        let claims = pvcs(h, o)
        var docs = [try YAMLEncoder().encode(deploymentPatch(h, o))]
        if o.claims { for pvc in claims { docs.append(try YAMLEncoder().encode(pvc)) } }
        return header(o, claims: o.claims ? [] : claims.compactMap(\.metadata.name)) + docs.joined(separator: "---\n")
    }

    /// A kustomize overlay: file name → content. `base` is the base's path relative to the overlay.
    public static func overlay(_ h: Hardening, _ o: SuggestOptions, base: String, seccompJSON: String?, spoProfile: String?,
                               baseContainer: BaseContainer? = nil) throws -> [String: String] {
        var h = h
        var o = o
        if let b = baseContainer {
            h.volumes = h.volumes.filter { !b.covers($0.mount.path) }
            o.workloadName = b.workload
            o.container = b.container
        }
        struct Kustomization: Encodable {
            var apiVersion = "kustomize.config.k8s.io/v1beta1"
            var kind = "Kustomization"
            var resources: [String]
            var patches: [Patch]
            struct Patch: Encodable { var path: String; var target: Target }
            struct Target: Encodable { var kind = "Deployment"; var name: String }
        }
        var files: [String: String] = [:]
        var resources = [base]
        let claims = pvcs(h, o)
        if !claims.isEmpty {
            files["roprof-claims.yaml"] = try claims.map { try YAMLEncoder().encode($0) }.joined(separator: "---\n")
            resources.append("roprof-claims.yaml")
        }
        if let p = spoProfile {
            files["roprof-seccomp-profile.yaml"] = p
            resources.append("roprof-seccomp-profile.yaml")
        }
        files["roprof-patch.yaml"] = "# roprof: hardening for Deployment \(o.workload), container \(o.container) (a strategic-merge patch).\n"
            + (try YAMLEncoder().encode(deploymentPatch(h, o, base: baseContainer)))
        let k = Kustomization(resources: resources, patches: [.init(path: "roprof-patch.yaml", target: .init(name: o.workload))])
        files["kustomization.yaml"] = "# roprof overlay: kubectl apply -k THIS_DIR (or kubectl kustomize THIS_DIR to see the result).\n"
            + (try YAMLEncoder().encode(k))
        var readme = ["# roprof overlay for Deployment \(o.workload)", "",
                      "`kubectl kustomize .` shows the result; `kubectl apply -k .` applies it. The base is `\(base)`.", ""]
        if let json = seccompJSON, !o.spo {
            files["roprof-seccomp.json"] = json
            readme.append("The seccomp profile `roprof-seccomp.json` must be on every node at `<kubelet root>/seccomp/\(o.localhostProfile)` (or use the Security Profiles Operator: `roprof suggest --format kubernetes --spo -o DIR/`).")
        }
        files["README.md"] = readme.joined(separator: "\n") + "\n"
        return files
    }

    /// Which fields keep the result from meeting the Pod Security Standards "restricted" profile.
    public static func restrictedViolations(_ h: Hardening) -> [String] {
        var v: [String] = []
        if h.ranAsRoot { v.append("runAsNonRoot: the app ran as root; set runAsNonRoot: true and runAsUser to a non-zero uid once it runs as a normal user") }
        let extra = h.addCapabilities.filter { $0 != "NET_BIND_SERVICE" }
        if !extra.isEmpty { v.append("capabilities.add: \(extra.joined(separator: ", ")) (restricted allows only NET_BIND_SERVICE)") }
        return v
    }

    static let workloadKinds: [String: [String]] = [
        "Deployment": ["spec", "template", "spec"], "StatefulSet": ["spec", "template", "spec"], "DaemonSet": ["spec", "template", "spec"],
        "ReplicaSet": ["spec", "template", "spec"], "Job": ["spec", "template", "spec"],
        "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"], "Pod": ["spec"],
    ]

    /// Applies the settings to container `o.container` of every workload in a (multi-document)
    /// manifest, changing only that container and the pod's volumes, and keeping the user's own
    /// choices: added capabilities stay, a user or group already set stays, a volume already mounted
    /// at a suggested path stays (with its medium and size). Returns the manifest and every change made.
    public static func patchManifest(_ text: String, source: String, _ h: Hardening, _ o: SuggestOptions) throws -> (text: String, changes: [String]) {
        let docs: [Node]
        try InputLimits.checkYAML(text, source: source, what: "a manifest")
        do { docs = Array(try YAML.composeAll(text)) } catch {
            throw ModelError("'\(source)' is not valid YAML: \("\(error)".split(separator: "\n").first ?? "")")
        }
        var found: [String] = []
        var patched = 0
        var out: [Node] = []
        var changes: [String] = []
        var addedClaims = Set<String>()
        for doc in docs {
            guard let kind = doc["kind"]?.string, let podPath = workloadKinds[kind], let pod = get(doc, podPath),
                  let containers = pod["containers"]?.sequence else { out.append(doc); continue }
            let names = containers.compactMap { $0["name"]?.string }
            found += names
            guard let idx = names.firstIndex(of: o.container) else { out.append(doc); continue }
            let who = "\(kind)/\(doc["metadata"]?["name"]?.string ?? "?") container \(o.container)"
            func note(_ s: String) { changes.append("\(who): \(s)") }
            var c = containers[idx]
            // securityContext, field by field.
            var sc = c["securityContext"]?.mapping != nil ? c["securityContext"]! : Node.emptyMapping
            let ours = securityContext(h, o)
            func setScalar(_ key: String, _ value: Node, keepExisting: Bool, why: String? = nil) {
                let old = sc[key]
                if let old, keepExisting {
                    if old != value, let w = why { note("kept \(key): \(old.string ?? "?") (\(w))") }
                    return
                }
                if old != value { note("securityContext.\(key): \(old?.string ?? "unset") → \(value.string ?? "?")") }
                sc[key] = value
            }
            setScalar("readOnlyRootFilesystem", Node("true", Tag(.bool)), keepExisting: false)
            setScalar("allowPrivilegeEscalation", Node("false", Tag(.bool)), keepExisting: false)
            if let v = ours.runAsNonRoot { setScalar("runAsNonRoot", Node(v ? "true" : "false", Tag(.bool)), keepExisting: true) }
            if let u = ours.runAsUser {
                setScalar("runAsUser", Node(String(u), Tag(.int)), keepExisting: true, why: "the recording ran as uid \(u); prove yours with `roprof verify`")
            }
            var caps = sc["capabilities"]?.mapping != nil ? sc["capabilities"]! : Node.emptyMapping
            let drop = Set((caps["drop"]?.sequence ?? []).compactMap(\.string)).union(["ALL"])
            let hadAdd = Set((caps["add"]?.sequence ?? []).compactMap(\.string))
            let add = hadAdd.union(ours.capabilities.add ?? [])
            if !(caps["drop"]?.sequence ?? []).compactMap(\.string).contains("ALL") { note("capabilities.drop: added ALL") }
            for cap in add.subtracting(hadAdd).sorted() { note("capabilities.add: added \(cap) (the recording shows it is needed)") }
            caps["drop"] = Node(drop.sorted().map { Node($0) })
            if !add.isEmpty { caps["add"] = Node(add.sorted().map { Node($0) }) }
            sc["capabilities"] = caps
            let seccomp = try node(ours.seccompProfile)
            if sc["seccompProfile"] != seccomp {
                note("seccompProfile: \(sc["seccompProfile"]?["type"]?.string ?? "unset") → \(ours.seccompProfile.type)\(ours.seccompProfile.localhostProfile.map { " \($0)" } ?? "")")
                sc["seccompProfile"] = seccomp
            }
            c["securityContext"] = sc
            // env: set by name.
            if !h.env.isEmpty {
                var env = Array(c["env"]?.sequence ?? [])
                for e in h.env {
                    if let i = env.firstIndex(where: { $0["name"]?.string == e.name }) {
                        if env[i]["value"]?.string != e.value { note("env \(e.name): \(env[i]["value"]?.string ?? "?") → \(e.value)"); env[i] = try node(K8s.EnvVar(name: e.name, value: e.value)) }
                    } else { note("env: added \(e.name)=\(e.value)"); env.append(try node(K8s.EnvVar(name: e.name, value: e.value))) }
                }
                c["env"] = Node(env)
            }
            // Mounts: a path the user already mounts keeps the user's volume.
            var mountsList = Array(c["volumeMounts"]?.sequence ?? [])
            var newVolumes: [K8s.Volume] = []
            let ourVolumes = volumes(h)
            for (i, m) in mounts(h).enumerated() {
                if let existing = mountsList.first(where: { $0["mountPath"]?.string == m.mountPath }) {
                    note("kept your volume \(existing["name"]?.string ?? "?") at \(m.mountPath)")
                    continue
                }
                mountsList.append(try node(m))
                newVolumes.append(ourVolumes[i])
                note("volumeMounts: added \(m.mountPath) (\(h.volumes[i].mount.kind == .persistent ? "PersistentVolumeClaim" : "emptyDir") \(m.name))")
                if h.volumes[i].mount.kind == .persistent { addedClaims.insert(m.name) }
            }
            if !mountsList.isEmpty { c["volumeMounts"] = Node(mountsList) }
            var newContainers = Array(containers)
            newContainers[idx] = c
            var newPod = pod
            newPod["containers"] = Node(newContainers)
            if !newVolumes.isEmpty { newPod = try mergeList(newPod, key: "volumes", items: newVolumes, by: "name") }
            // Single-file mounts: an init container in the container's own image makes each file first.
            var withImage = o
            if withImage.image == "IMAGE", let img = c["image"]?.string { withImage.image = img }
            if let initC = fileInit(h, withImage, securityContext: ours) {
                newPod = try mergeList(newPod, key: "initContainers", items: [initC], by: "name")
                note("initContainers: added roprof-files (makes the single-file mounts' files in their emptyDirs)")
            }
            out.append(set(doc, podPath, newPod))
            patched += 1
        }
        guard patched > 0 else {
            throw ModelError("no container named '\(o.container)' in a workload in '\(source)'" +
                             (found.isEmpty ? " (it has no Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod)" : " (containers there: \(Array(Set(found)).sorted().joined(separator: ", "))); pass --container NAME"))
        }
        for pvc in pvcs(h, o) where addedClaims.contains(pvc.metadata.name ?? "") {
            out.append(try node(pvc))
            changes.append("PersistentVolumeClaim \(pvc.metadata.name ?? "?"): added")
        }
        if text.split(separator: "\n").contains(where: { $0.trimmed().hasPrefix("#") }) {
            changes.append("note: the comments in \(source) are not kept (the YAML library drops them); compare your file with this output")
        }
        return (try YAML.serialize(out), changes)
    }

    // MARK: - Node helpers

    static func node<T: Encodable>(_ v: T) throws -> Node {
        try YAMLEncoder().node(v)
    }

    static func get(_ n: Node, _ path: [String]) -> Node? {
        var cur: Node? = n
        for k in path { cur = cur?[k] }
        return cur
    }

    static func set(_ n: Node, _ path: [String], _ value: Node) -> Node {
        guard let first = path.first else { return value }
        var copy = n
        copy[first] = set(n[first] ?? Node.emptyMapping, Array(path.dropFirst()), value)
        return copy
    }

    /// Sets every key of `with` inside mapping `key` of `n`, keeping the other keys.
    static func mergeMapping(_ n: Node, key: String, with: Node) throws -> Node {
        var target = n[key] ?? Node.emptyMapping
        if target.mapping == nil { target = Node.emptyMapping }
        for (k, v) in with.mapping ?? [:] { if let key = k.string { target[key] = v } }
        var copy = n
        copy[key] = target
        return copy
    }

    /// Replaces list items with the same `by` field, appends the rest.
    static func mergeList<T: Encodable>(_ n: Node, key: String, items: [T], by field: String) throws -> Node {
        var list = Array(n[key]?.sequence ?? [])
        for item in items {
            let itemNode = try node(item)
            if let i = list.firstIndex(where: { $0[field]?.string == itemNode[field]?.string }) { list[i] = itemNode } else { list.append(itemNode) }
        }
        var copy = n
        copy[key] = Node(list)
        return copy
    }
}
