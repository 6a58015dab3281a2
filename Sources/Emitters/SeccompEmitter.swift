import Foundation
import Seccomp
import Yams

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
    }

    public static func json(_ plan: SeccompPlan) throws -> String {
        let p = Profile(architectures: plan.architectures.map(\.ociName), syscalls: [Rule(names: plan.names)])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(p), as: UTF8.self) + "\n"
    }

    /// The allow-list back from a profile file (for verify and tests).
    public static func allowedNames(fromJSON data: Data) throws -> Set<String> {
        let p = try JSONDecoder().decode(Profile.self, from: data)
        return Set(p.syscalls.filter { $0.action == "SCMP_ACT_ALLOW" }.flatMap(\.names))
    }

    /// The Security Profiles Operator's SeccompProfile custom resource.
    public static func spo(_ plan: SeccompPlan, name: String) throws -> String {
        struct CR: Encodable {
            var apiVersion = "security-profiles-operator.x-k8s.io/v1beta1"
            var kind = "SeccompProfile"
            var metadata: Meta
            var spec: Spec
            struct Meta: Encodable { var name: String; var annotations: [String: String] }
            struct Spec: Encodable {
                var defaultAction = "SCMP_ACT_ERRNO"
                var architectures: [String]
                var syscalls: [Rule]
            }
        }
        let cr = CR(metadata: .init(name: name, annotations: ["roprof.dev/generated-by": "roprof suggest --format spo"]),
                    spec: .init(architectures: plan.architectures.map(\.ociName), syscalls: [Rule(names: plan.names)]))
        return try YAMLEncoder().encode(cr)
    }
}
