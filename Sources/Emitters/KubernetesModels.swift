/// Typed Kubernetes objects (only the fields roprof writes), encoded through the YAML module.
enum K8s {
    struct SecurityContext: Codable, Equatable {
        var readOnlyRootFilesystem = true
        var allowPrivilegeEscalation = false
        var runAsNonRoot: Bool?
        var runAsUser: Int?
        var runAsGroup: Int?
        var capabilities: Capabilities
        var seccompProfile: SeccompProfile
        var appArmorProfile: SeccompProfile? = nil
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

    struct Container: Codable {
        var name: String
        var image: String? = nil
        var command: [String]? = nil
        var args: [String]? = nil
        var workingDir: String? = nil
        var env: [EnvVar]?
        var securityContext: SecurityContext
        var volumeMounts: [VolumeMount]?
        var ports: [ContainerPort]? = nil
    }
    struct ContainerPort: Codable { var containerPort: Int; var hostPort: Int?; var hostIP: String? }
    struct PodSpec: Codable {
        var restartPolicy: String? = nil
        /// Pod level: fsGroup makes a non-root app's volumes writable by its group.
        var securityContext: PodSecurityContext? = nil
        /// Makes each single-file mount's file in its emptyDir first (a subPath that does not exist is
        /// created as a directory, which cannot be bound over a file).
        var initContainers: [Container]? = nil
        var containers: [Container]
        var volumes: [Volume]?
    }
    struct PodSecurityContext: Codable { var fsGroup: Int? }
    struct Template: Codable { var metadata: Meta? = nil; var spec: PodSpec }
    struct DeploymentSpec: Codable { var template: Template }
    struct Meta: Codable { var name: String? = nil; var namespace: String? = nil; var labels: [String: String]? = nil; var annotations: [String: String]? = nil }

    /// Whole workloads (`suggest --workloads`), not patches.
    struct Deployment: Codable {
        var apiVersion = "apps/v1"
        var kind = "Deployment"
        var metadata: Meta
        var spec: Spec
        struct Spec: Codable { var replicas: Int; var selector: Selector; var template: Template }
    }
    struct Selector: Codable { var matchLabels: [String: String] }
    struct CronJob: Codable {
        var apiVersion = "batch/v1"
        var kind = "CronJob"
        var metadata: Meta
        var spec: Spec
        struct Spec: Codable { var schedule: String; var concurrencyPolicy: String; var jobTemplate: JobTemplate }
        struct JobTemplate: Codable { var spec: JobSpec }
        struct JobSpec: Codable { var backoffLimit: Int; var template: Template }
    }
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
