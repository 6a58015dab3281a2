/// Typed Kubernetes objects (only the fields roprof writes), encoded through Yams.
enum K8s {
    struct SecurityContext: Codable, Equatable {
        var readOnlyRootFilesystem = true
        var allowPrivilegeEscalation = false
        var runAsNonRoot: Bool?
        var runAsUser: Int?
        var runAsGroup: Int?
        var capabilities: Capabilities
        var seccompProfile: SeccompProfile
    }
    struct Capabilities: Codable, Equatable { var drop: [String]; var add: [String]? }
    struct SeccompProfile: Codable, Equatable { var type: String; var localhostProfile: String? }
    struct EnvVar: Codable, Equatable { var name: String; var value: String }
    struct VolumeMount: Codable, Equatable { var name: String; var mountPath: String; var subPath: String? }
    struct Volume: Codable, Equatable {
        var name: String
        var emptyDir: EmptyDir?
        var persistentVolumeClaim: ClaimRef?
    }
    struct EmptyDir: Codable, Equatable { var medium: String?; var sizeLimit: String? }
    struct ClaimRef: Codable, Equatable { var claimName: String }

    struct Container: Codable { var name: String; var env: [EnvVar]?; var securityContext: SecurityContext; var volumeMounts: [VolumeMount]? }
    struct PodSpec: Codable { var containers: [Container]; var volumes: [Volume]? }
    struct Template: Codable { var spec: PodSpec }
    struct DeploymentSpec: Codable { var template: Template }
    struct Meta: Codable { var name: String; var annotations: [String: String]? }
    struct DeploymentPatch: Codable { var apiVersion = "apps/v1"; var kind = "Deployment"; var metadata: Meta; var spec: DeploymentSpec }

    struct PVC: Codable {
        var apiVersion = "v1"
        var kind = "PersistentVolumeClaim"
        var metadata: Meta
        var spec: PVCSpec
        struct PVCSpec: Codable { var accessModes: [String]; var resources: Resources }
        struct Resources: Codable { var requests: [String: String] }
    }
}
