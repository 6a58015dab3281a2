import Analysis
import Emitters
import FoundationEssentials
import Glibc
import Hardening
import TraceModel

/// report: the analysis of a recording in a format, with what the generated seccomp profile holds.
public enum Reporter {
    public enum Format: String, CaseIterable, Sendable { case text, markdown, json }

    public static func analyze(_ r: Recording, runtime: String, profiles: String?) throws -> (Analysis, ProfileCatalog) {
        let catalog = try ProfileCatalog.load(extraDirectory: profiles)
        return (Analyzer(runtime: try catalog.runtime(named: runtime), catalog: catalog).analyze(r), catalog)
    }

    public static func render(_ r: Recording, runtime: String, profiles: String? = nil, format: Format, recordingPath: String?,
                              style: TextStyle) throws -> String {
        let (a, catalog) = try analyze(r, runtime: runtime, profiles: profiles)
        switch format {
        case .markdown: return ReportMarkdown.render(a)
        case .json: return try ReportJSON.render(a)
        case .text:
            let plan = r.hasCompleteSyscallInventory
                ? SeccompPlan.build(r, baseline: catalog.seccompBaseline, target: nil, families: catalog.seccompFamilies, dockerDefault: catalog.dockerDefault) : nil
            return ReportText.render(a, style: style, recordingPath: recordingPath, seccomp: plan)
        }
    }
}
