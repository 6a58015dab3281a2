import ArgumentParser
import Foundation
import Glibc
import TraceModel
import Tracer

/// Prints one line per error and exits with the contract's status: never a stack trace.
enum CLI {
    /// Exits, after making sure what went to standard output really got there (a full disk or a
    /// closed pipe behind stdout is an error, exit 2, never a silent loss).
    static func terminate(_ status: Int32) -> Never {
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let e = errno
            if e != EPIPE {
                FileHandle.standardError.write("roprof: error: cannot write to standard output: \(String(cString: strerror(e)))\n".data(using: .utf8)!)
            }
            Glibc.exit(2)
        }
        Glibc.exit(status)
    }

    static func fail(_ message: String, status: Int32 = 2) -> Never {
        FileHandle.standardError.write("roprof: error: \(message)\n".data(using: .utf8)!)
        Glibc.exit(status)
    }

    /// Runs `body` with this process's stdout pointing at stderr, so that a traced app (which inherits
    /// it) never writes into machine output (JSON, JUnit, SARIF, a recording on `-o -`).
    static func appOutputToStderr<T>(_ enabled: Bool, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        fflush(stdout)
        let saved = dup(1)
        guard saved >= 0, dup2(2, 1) >= 0 else { return try body() }
        defer { fflush(stdout); dup2(saved, 1); close(saved) }
        return try body()
    }

    /// Runs `body`, mapping every library error to one line and an exit status.
    static func guarded<T>(_ body: () throws -> T) -> T {
        do { return try body() }
        catch let e as TraceError { fail(e.description, status: e.exitStatus) }
        catch let e as ModelError { fail(e.description) }
        catch let e as ExitCode { exit(e.rawValue) }
        catch let e as CocoaError { fail(describe(e)) }
        catch { fail("\(error)") }
    }

    /// A Foundation file error as one line naming the path and the reason (never "Error Domain=…").
    static func describe(_ e: CocoaError) -> String {
        let path = e.filePath ?? (e.userInfo[NSFilePathErrorKey] as? String) ?? (e.userInfo["NSURL"] as? URL)?.path ?? "?"
        var reason = "\(e.code)"
        if let u = e.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain { reason = String(cString: strerror(Int32(u.code))) }
        else if e.code == .fileNoSuchFile || e.code == .fileReadNoSuchFile { reason = "no such file or directory" }
        else if e.code == .fileWriteNoPermission || e.code == .fileReadNoPermission { reason = "permission denied" }
        else if e.code == .fileWriteOutOfSpace { reason = "no space left on device" }
        let verb = (512..<1024).contains(e.code.rawValue) ? "write" : "read"
        return "cannot \(verb) '\(path)': \(reason) (check the path, or choose another one)"
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write("roprof: \(message)\n".data(using: .utf8)!)
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
        let t = Thread { [self] in
            result = Result { try work() }
            done.signal()
        }
        t.start()
    }

    func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
