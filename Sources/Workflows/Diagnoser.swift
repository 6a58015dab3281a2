import Analysis
import FoundationEssentials
import Glibc
import Sandbox
import TraceModel
import Tracer

/// What `diagnose` found: each refused write, how the app reacted, and the analysis of what fixes it.
public struct Diagnosis {
    public var runtime: String
    public var outcome: VerifyOutcome
    public var recording: Recording
    /// The analysis of the refused writes alone: the mounts and remedies that fix them.
    public var analysis: Analysis

    public func reaction(_ f: VerifyOutcome.FailedWrite) -> String { outcome.reaction(f) }
    public var exitStatus: Int32 { outcome.failedWrites.isEmpty ? 0 : 1 }
}

/// diagnose: the app under a read-only root as the runtime gives it (no fixes applied).
public enum Diagnoser {
    public static func diagnose(settings: RunSettings, runtime: String, profiles: String?, appStdoutToStderr: Bool,
                                notify: @escaping Notify) throws -> Diagnosis {
        let catalog = try ProfileCatalog.load(extraDirectory: profiles)
        let rt = try catalog.runtime(named: runtime)
        var plan = SandboxPlan(runtimeWritable: rt.writable.map(\.path), mounts: [], environment: [:])
        plan.isolate = true
        SandboxPlan.removeStale()
        let box = HostStateBox()
        defer { box.cleanUp() }
        let run = try appOutputToStderr(appStdoutToStderr) {
            try runSandboxed(plan: plan, policy: TracePolicy(mode: .writes), settings: settings, writable: rt.writable.map(\.path),
                             noNewPrivs: false, state: box, notify: notify)
        }
        // Only the refused writes matter here; analyze them as what must be fixed.
        let failedPaths = Set(run.outcome.failedWrites.map(\.path))
        var failing = run.recording
        failing.files = run.recording.files.filter { failedPaths.contains((($0.root.map { $0 == "/" ? "" : $0 }) ?? "") + $0.path) }
        let a = Analyzer(runtime: rt, catalog: catalog).analyze(failing)
        return Diagnosis(runtime: rt.name, outcome: run.outcome, recording: run.recording, analysis: a)
    }
}
