import Analysis
import Emitters
import Foundation
import TraceModel

/// Loads profiles, analyzes and prints a report: shared by `run`, `report` and `diagnose`.
enum ReportPrinter {
    static func analyze(_ r: Recording, runtime: String, profiles: String?) throws -> Analysis {
        let catalog = try ProfileCatalog.load(extraDirectory: profiles)
        return Analyzer(runtime: try catalog.runtime(named: runtime), catalog: catalog).analyze(r)
    }

    static func printReport(_ r: Recording, runtime: String, format: String, recordingPath: String?, profiles: String? = nil) throws {
        let a = try analyze(r, runtime: runtime, profiles: profiles)
        switch format {
        case "markdown": print(ReportMarkdown.render(a), terminator: "")
        case "json": print(try ReportJSON.render(a), terminator: "")
        default: print(ReportText.render(a, style: CommandLineFront.style(), recordingPath: recordingPath), terminator: "")
        }
    }
}
