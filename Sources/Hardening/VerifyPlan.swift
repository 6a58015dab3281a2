import Analysis
import FoundationEssentials
import Glibc
import TraceModel

/// What `verify` proves, decided once from the recording: the mounts, the environment, the seccomp
/// allow-list and whether to restart on state volumes. Two executors carry it out: the sandbox
/// (a mount namespace on this host) and the engine (`verify --image`, the real container).
public struct VerifyPlan {
    /// The settings, as `suggest` emits them, narrowed to the service and without the left-out mounts.
    public var hardening: Hardening
    public var analysis: Analysis
    /// Syscalls the profile allows; nil when no profile is applied.
    public var allowedSyscalls: Set<String>?
    /// The generated profile, when it is the one applied.
    public var seccomp: SeccompPlan?
    /// A profile the user gave instead (Docker/OCI JSON), applied as it is.
    public var seccompOverride: Data?
    /// Restart the app on the same volumes when a state volume is suggested.
    public var restart: Bool
    public var warnings: [String] = []

    public var stateVolumes: [Hardening.Volume] { hardening.volumes.filter { $0.mount.kind == .persistent } }

    public struct Choices {
        public var service: String?
        public var without: [String] = []
        /// A seccomp profile given instead of the generated one (Docker/OCI JSON), or none at all.
        public var seccompOverride: Data?
        public var noSeccomp = false
        public var restart = true
        public init() {}
    }

    public static func build(_ rec: Recording, runtime: RuntimeProfile, catalog: ProfileCatalog, choices c: Choices) throws -> VerifyPlan {
        let a = Analyzer(runtime: runtime, catalog: catalog).analyze(rec)
        var h = Hardening.build(a, rec, catalog: catalog, options: SuggestOptions())
        if let name = c.service {
            let plan = Workload.plan(a, rec)
            guard let wl = plan.first(where: { $0.name == name }) else {
                throw ModelError("--service \(name): the recording has no service of that name (services: \(plan.map(\.name).joined(separator: ", ")); name runs with `record --name`)")
            }
            h.volumes = h.volumes.filter { wl.mountPaths.contains($0.mount.path) }
            h.env = wl.env.keys.sorted().map { ($0, wl.env[$0]!) }
        }
        for w in c.without where !h.volumes.contains(where: { $0.mount.path == w }) {
            throw ModelError("--without \(w): the recording suggests no mount there (suggested: \(h.volumes.map(\.mount.path).joined(separator: ", ")))")
        }
        h.volumes = h.volumes.filter { !c.without.contains($0.mount.path) }
        var plan = VerifyPlan(hardening: h, analysis: a, allowedSyscalls: nil, seccomp: nil, seccompOverride: nil, restart: c.restart)
        guard !c.noSeccomp else { return plan }
        if let data = c.seccompOverride {
            do { plan.allowedSyscalls = try SeccompPlan.allowedNames(fromJSON: data) } catch {
                throw ModelError("the --seccomp file is not a Docker/OCI seccomp profile: \(shortReason(error))")
            }
            plan.seccompOverride = data
        } else if let s = h.seccomp {
            plan.allowedSyscalls = Set(s.names)
            plan.seccomp = s
        } else {
            plan.warnings.append("the recording was made with --mode writes: no seccomp profile to verify (record with --mode full, or pass --no-seccomp)")
        }
        return plan
    }
}
