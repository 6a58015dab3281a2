import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

/// Prints one line per error and exits with the contract's status: never a stack trace.
enum CLI {
    /// Exits, after making sure what went to standard output really got there (a full disk or a
    /// closed pipe behind stdout is an error, exit 2, never a silent loss).
    static func terminate(_ status: Int32) -> Never {
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let e = errno
            if e != EPIPE {
                StdIO.error("roprof: error: cannot write to standard output: \(String(cString: strerror(e)))\n")
            }
            Glibc.exit(2)
        }
        Glibc.exit(status)
    }

    /// The contract's exit status and one line for an error thrown below a command's `run()`.
    static func report(_ error: Error) -> (status: Int32, message: String?) {
        switch error {
        case let e as ExitCode: return (e.rawValue, nil)
        case let e as TraceError: return (e.exitStatus, e.description)
        case let e as CocoaError: return (2, describe(e))
        case let e as CustomStringConvertible: return (2, e.description)
        default: return (2, "\(error)")
        }
    }

    /// A Foundation file error as one line naming the path and the reason (never "Error Domain=…").
    static func describe(_ e: CocoaError) -> String {
        let path = e.filePath ?? (e.userInfo["NSFilePath"] as? String) ?? (e.userInfo["NSURL"] as? URL)?.path ?? "?"
        var reason = "\(e.code)"
        if let u = e.userInfo["NSUnderlyingError"] as? POSIXError { reason = String(cString: strerror(u.code.rawValue)) }
        else if e.code == .fileNoSuchFile || e.code == .fileReadNoSuchFile { reason = "no such file or directory" }
        else if e.code == .fileWriteNoPermission || e.code == .fileReadNoPermission { reason = "permission denied" }
        else if e.code == .fileWriteOutOfSpace { reason = "no space left on device" }
        let verb = (512..<1024).contains(e.code.rawValue) ? "write" : "read"
        return "cannot \(verb) '\(path)': \(reason) (check the path, or choose another one)"
    }

    static func warn(_ message: String) {
        StdIO.error("roprof: \(message)\n")
    }
}

extension CLI {
    /// Writes `data` where the user pointed an output option (atomically over a regular file).
    static func write(_ text: String, to path: String) throws { try writeAtomically(Data(text.utf8), to: path) }
}

/// Help text written as paragraphs in the source: the lines of a paragraph are joined so that the
/// terminal's width wraps them (ArgumentParser keeps hard line breaks, which would leave ragged
/// lines at 80 columns); a blank line separates paragraphs, and a line that starts with two spaces
/// (an example) stays a line of its own.
func paragraphs(_ text: String) -> String {
    var out: [String] = []
    var current = ""
    func flush() { if !current.isEmpty { out.append(current); current = "" } }
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.isEmpty { flush(); out.append("") }
        else if line.hasPrefix("  ") { flush(); out.append(String(line)) }
        else { current += (current.isEmpty ? "" : " ") + line }
    }
    flush()
    return out.joined(separator: "\n")
}
