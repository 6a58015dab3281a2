import Analysis
import Emitters
import FoundationEssentials
import Glibc
import TraceModel
import Workflows

/// Prints a report: shared by `run` and `report`.
enum ReportPrinter {
    static func analyze(_ r: Recording, runtime: String, profiles: String?) throws -> Analysis {
        try Reporter.analyze(r, runtime: runtime, profiles: profiles).0
    }

    static func printReport(_ r: Recording, runtime: String, format: String, recordingPath: String?, profiles: String? = nil) throws {
        print(try Reporter.render(r, runtime: runtime, profiles: profiles, format: Reporter.Format(rawValue: format) ?? .text,
                                  recordingPath: recordingPath, style: CommandLineFront.style()), terminator: "")
    }
}
