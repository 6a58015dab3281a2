import FoundationEssentials
import Glibc
import Hardening
import Seccomp
import YAML

/// Docker / OCI seccomp JSON: deny by default with EPERM, allow what the run used.
public enum SeccompEmitter {
    struct Profile: Codable {
        var defaultAction = "SCMP_ACT_ERRNO"
        var defaultErrnoRet: Int? = 1
        var architectures: [String]
        var syscalls: [Rule]
    }
    struct Rule: Codable {
        var names: [String]
        var action = "SCMP_ACT_ALLOW"
        var errnoRet: Int?
    }

    /// The allow rule, then the calls answered ENOSYS (38) so that libc falls back to what was allowed.
    static func rules(_ plan: SeccompPlan) -> [Rule] {
        [Rule(names: plan.names)] + (plan.enosys.isEmpty ? [] : [Rule(names: plan.enosys, action: "SCMP_ACT_ERRNO", errnoRet: 38)])
    }

    public static func json(_ plan: SeccompPlan) throws -> String {
        var p = Profile(architectures: plan.architectures.map(\.ociName), syscalls: rules(plan))
        if plan.logOnly { p.defaultAction = "SCMP_ACT_LOG"; p.defaultErrnoRet = nil }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(p), as: UTF8.self) + "\n"
    }

    /// The allow-list back from a profile file (for verify and tests).
    /// The Security Profiles Operator's SeccompProfile custom resource.
    /// A Security Profiles Operator SeccompProfile named after the workload, in its namespace; with
    /// `bindImage`, a ProfileBinding that attaches it to every container running that image there.
    public static func spo(_ plan: SeccompPlan, name: String, namespace: String?, bindImage: String? = nil) throws -> String {
        struct Meta: Encodable { var name: String; var namespace: String?; var annotations: [String: String]? }
        struct CR: Encodable {
            var apiVersion = "security-profiles-operator.x-k8s.io/v1beta1"
            var kind = "SeccompProfile"
            var metadata: Meta
            var spec: Spec
            struct Spec: Encodable {
                var defaultAction = "SCMP_ACT_ERRNO"
                var architectures: [String]
                var syscalls: [Rule]
            }
        }
        struct Binding: Encodable {
            var apiVersion = "security-profiles-operator.x-k8s.io/v1alpha1"
            var kind = "ProfileBinding"
            var metadata: Meta
            var spec: Spec
            struct Spec: Encodable { var profileRef: Ref; var image: String }
            struct Ref: Encodable { var kind = "SeccompProfile"; var name: String }
        }
        let ns = namespace ?? "default"
        let cr = CR(metadata: .init(name: name, namespace: namespace, annotations: ["roprof.dev/generated-by": "roprof suggest --format spo"]),
                    spec: .init(defaultAction: plan.logOnly ? "SCMP_ACT_LOG" : "SCMP_ACT_ERRNO", architectures: plan.architectures.map(\.ociName), syscalls: rules(plan)))
        var out = "# roprof: the SeccompProfile for \(name). The operator installs it on each node as operator/\(ns)/\(name).json;\n"
            + "# a pod uses it with `roprof suggest --format kubernetes --spo --name \(name)\(namespace.map { " --namespace \($0)" } ?? "")`"
            + (bindImage == nil ? " (or --bind-image IMAGE adds a ProfileBinding).\n" : ", or through the ProfileBinding below.\n")
        out += try YAMLEncoder().encode(cr)
        if let image = bindImage {
            let b = Binding(metadata: .init(name: name, namespace: namespace, annotations: nil), spec: .init(profileRef: .init(name: name), image: image))
            out += "---\n" + (try YAMLEncoder().encode(b))
        }
        return out
    }
}
