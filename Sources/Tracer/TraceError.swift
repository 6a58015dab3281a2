import Glibc

/// Errors from the tracer, each a one-line message naming the problem and the fix.
public enum TraceError: Error, CustomStringConvertible {
    case commandNotFound(String)
    case notExecutable(String, Int32)
    case ptraceDenied(Int32)
    case noSuchProcess(Int32)
    case alreadyTraced(Int32)
    case sandboxSetup(String)
    case system(String, Int32)
    case startFailed(String)

    public var description: String {
        switch self {
        case .commandNotFound(let c):
            return "command not found: '\(c)' (check the spelling, or give its full path)"
        case .notExecutable(let c, let e):
            return "cannot execute '\(c)': \(String(cString: strerror(e)))"
        case .ptraceDenied(let e):
            return "ptrace is not permitted here (\(e == EPERM ? "EPERM" : String(cString: strerror(e)))): run roprof with CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE; Kubernetes securityContext.capabilities.add: [SYS_PTRACE]) and, if Yama is on, sysctl kernel.yama.ptrace_scope=1 or lower"
        case .noSuchProcess(let p):
            return "no such process: \(p) (check the pid with `ps`)"
        case .alreadyTraced(let p):
            return "process \(p) is already being traced by another tracer (gdb, strace?): detach it first"
        case .sandboxSetup(let m):
            return "cannot build the sandbox: \(m)"
        case .startFailed(let m):
            return m
        case .system(let call, let e):
            return "\(call) failed: \(String(cString: strerror(e)))"
        }
    }

    /// The exit status the CLI uses for this error (127 like a shell for a missing command).
    public var exitStatus: Int32 {
        switch self {
        case .commandNotFound: return 127
        case .notExecutable: return 126
        default: return 2
        }
    }
}
