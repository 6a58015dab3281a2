import Analysis
import Emitters
import Engine
import Dispatch
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel
import Tracer

/// What `check` is asked to do.
public struct CheckRequest: Sendable {
    public var settings: RunSettings
    public var baselinePath: String
    public var update = false
    public var allowAppFailure = false
    public var runtime: String?
    public var profiles: String?
    public var source: RecordSource = .launch
    public var appStdoutToStderr = false
    /// A signal ends the run as planned (roprof inside an image, stopped by the roprof outside).
    public var signalIsPlanned = false
    public init(settings: RunSettings, baselinePath: String) { self.settings = settings; self.baselinePath = baselinePath }
}

/// The result of `check`: a comparison with the baseline, or a baseline to write (--update).
public enum CheckResult {
    case checked(CheckReport.Summary)
    /// --update: the baseline's new text; `appFailed` when the command failed (exit 1 unless allowed).
    case updated(yaml: String, created: Bool, summary: String, appFailed: String?)
}

/// check: one fast run compared with the baseline (or a new baseline from it).
public enum Checker {
    public static func check(_ req: CheckRequest, existing: Baseline?, notify: @escaping Notify) throws -> CheckResult {
        if case .image(let image) = req.source { return try inImage(image, req, existing: existing, notify: notify) }
        let rtName = existing?.runtime ?? req.runtime ?? "kubernetes"
        let catalogLoad: Background<ProfileCatalog>
        if req.profiles == nil && EmbeddedProfiles.runtimeNames.contains(rtName) {
            catalogLoad = Background { try ProfileCatalog.load(extraDirectory: nil) }  // overlaps the traced run
        } else {
            let catalog = try ProfileCatalog.load(extraDirectory: req.profiles)
            _ = try catalog.runtime(named: rtName)  // a bad name fails before the app runs
            catalogLoad = Background(value: catalog)
        }
        let policy: TracePolicy
        var record = RecordRequest(settings: req.settings)
        record.source = req.source
        record.appStdoutToStderr = req.appStdoutToStderr
        record.preferEBPF = true
        if req.update || existing == nil {
            policy = TracePolicy(mode: .full)
        } else {
            policy = TracePolicy(mode: .check, allowed: Set(existing!.syscalls[SeccompArch.native.rawValue] ?? []))
            let allowed = existing!
            record.quietPath = { allowed.allows(path: $0) != nil }
        }
        record.mode = policy.mode
        DebugTiming.phase("check-prepared")
        let result = try Recorder.record(record, policy: policy, notify: notify)
        DebugTiming.phase("recorded")
        if result.interrupted && !req.signalIsPlanned {
            throw ModelError("the check was interrupted (a signal to roprof) before the app finished: no verdict; run it again")
        }
        let catalog = try catalogLoad.value()
        DebugTiming.phase("catalog-ready")
        let rt = try catalog.runtime(named: rtName)
        let analysis = Analyzer(runtime: rt, catalog: catalog).analyze(result.recording)
        DebugTiming.phase("analyzed")
        if req.update {
            let fresh = Baseline.derive(from: analysis, recording: result.recording)
            let merged = existing.map { $0.union(fresh) } ?? fresh
            let failed = result.exit.shellStatus != 0 && result.recording.runs.first?.stoppedByRoprof != true && !req.allowAppFailure
            return .updated(yaml: try merged.yaml(), created: existing == nil,
                            summary: "\(merged.writes.count) write locations, \(merged.syscalls.values.map(\.count).reduce(0, +)) syscalls",
                            appFailed: failed ? "the command exited with status \(result.exit.shellStatus)" : nil)
        }
        let regressions = RegressionCheck.check(analysis, result.recording, baseline: existing!, allowAppFailure: req.allowAppFailure)
        return .checked(CheckReport.Summary(baseline: req.baselinePath, runtime: rt.name, passed: regressions.isEmpty, regressions: regressions,
                                            command: req.settings.command))
    }

    /// check --image: the check runs inside the image (roprof there, the baseline copied in); its
    /// result comes back as JSON, with the host's paths.
    static func inImage(_ image: ImageRequest, _ req: CheckRequest, existing: Baseline?, notify: Notify) throws -> CheckResult {
        var inner = ["check", "--quiet", "--signal-is-planned", "--baseline", "/roprof-out/baseline.yaml", "--format", "json", "--output", "/roprof-out/result.json"]
        if req.update { inner.append("--update") }
        if req.allowAppFailure { inner.append("--allow-app-failure") }
        if let r = req.runtime { inner += ["--runtime", r] }
        let engine = try ContainerEngine(name: image.engine)
        let (summary, updated): (CheckReport.Summary?, String?) = try ImageRunner.inside(
            image: image.image, engine: engine, command: req.settings.command, settings: req.settings, publish: image.publish, notify: notify, inner: inner,
            prepare: { out in
                if let b = existing { try Data(b.yaml().utf8).write(to: URL(fileURLWithPath: out + "/baseline.yaml")) }
            },
            collect: { run in
                var result = (try? Data(contentsOf: URL(fileURLWithPath: run.out + "/result.json")))
                    .flatMap { try? JSONDecoder().decode(CheckReport.Summary.self, from: $0) }
                // roprof stopped the container itself (the end of --for / --while): a planned stop.
                if run.window.stoppedByUs, var r = result {
                    r.regressions.removeAll { $0.kind == .appFailed }
                    r.passed = r.regressions.isEmpty
                    result = r
                }
                let base = req.update ? try? String(contentsOfFile: run.out + "/baseline.yaml", encoding: .utf8) : nil
                if result == nil && base == nil { throw run.nothingCameOut("no check result from '\(image.image)'") }
                return (result, base)
            })
        if req.update, let text = updated {
            return .updated(yaml: text, created: existing == nil, summary: "from \(image.image)", appFailed: nil)
        }
        guard var s = summary else { throw ModelError("the check inside '\(image.image)' gave no result") }
        s.baseline = req.baselinePath
        return .checked(s)
    }
}

/// Work done on a thread of its own while the traced app runs (loading the profile catalog costs
/// milliseconds that would otherwise be added to every `check`). Signals still reach the main
/// thread first: the kernel gives a process-directed signal to the main thread when it does not block it.
final class Background<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, Error>?

    /// Already known: no thread.
    init(value: T) {
        result = .success(value)
        done.signal()
    }

    init(_ work: @escaping () throws -> T) {
        BackgroundThread.start { [self] in
            result = Result { try work() }
            done.signal()
        }
    }

    func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
