import Foundation
import TraceModel

enum ReportPrinter {
    static func printReport(_ r: Recording, runtime: String, format: String, recordingPath: String) throws {
        for f in r.files { print("\(f.operation.rawValue)\t\(f.path)\t\(f.count)") }
    }
}
