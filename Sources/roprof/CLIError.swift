import ArgumentParser
import Foundation
import Glibc
import TraceModel
import Tracer

/// Prints one line per error and exits with the contract's status: never a stack trace.
enum CLI {
    static func terminate(_ status: Int32) -> Never { Glibc.exit(status) }

    static func fail(_ message: String, status: Int32 = 2) -> Never {
        FileHandle.standardError.write("roprof: error: \(message)\n".data(using: .utf8)!)
        exit(status)
    }

    /// Runs `body`, mapping every library error to one line and an exit status.
    static func guarded<T>(_ body: () throws -> T) -> T {
        do { return try body() }
        catch let e as TraceError { fail(e.description, status: e.exitStatus) }
        catch let e as ModelError { fail(e.description) }
        catch let e as ExitCode { exit(e.rawValue) }
        catch { fail("\(error)") }
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write("roprof: \(message)\n".data(using: .utf8)!)
    }
}
