internal import CPtrace
import Glibc

/// ptrace requests and options used by the engine (values from <sys/ptrace.h>, stable kernel ABI).
enum PtraceRequest {
    static let cont: Int32 = 7
    static let kill: Int32 = 8
    static let detach: Int32 = 17
    static let syscall: Int32 = 24
    static let setOptions: Int32 = 0x4200
    static let getEventMsg: Int32 = 0x4201
    static let seize: Int32 = 0x4206
    static let interrupt: Int32 = 0x4207
    static let listen: Int32 = 0x4208
}

enum PtraceOption {
    static let traceSysGood: UInt = 0x01
    static let traceFork: UInt = 0x02
    static let traceVFork: UInt = 0x04
    static let traceClone: UInt = 0x08
    static let traceExec: UInt = 0x10
    static let traceVForkDone: UInt = 0x20
    static let traceExit: UInt = 0x40
    static let traceSeccomp: UInt = 0x80
    static let exitKill: UInt = 0x100000
}

/// PTRACE_EVENT_* numbers (status >> 16).
enum PtraceEventKind: Int32 {
    case fork = 1, vfork = 2, clone = 3, exec = 4, vforkDone = 5, exit = 6, seccomp = 7, stop = 128
}

/// Thin, errno-returning ptrace calls. ESRCH is a normal outcome: the tracee vanished.
enum Ptrace {
    @inline(__always)
    static func call(_ req: Int32, _ pid: pid_t, _ addr: UInt = 0, _ data: UInt = 0) -> Int32 {
        errno = 0
        let rc = roprof_ptrace(req, pid, UnsafeMutableRawPointer(bitPattern: addr), UnsafeMutableRawPointer(bitPattern: data))
        return rc == -1 ? errno : 0
    }
    @discardableResult static func cont(_ pid: pid_t, signal: Int32 = 0) -> Int32 { call(PtraceRequest.cont, pid, 0, UInt(signal)) }
    @discardableResult static func syscall(_ pid: pid_t, signal: Int32 = 0) -> Int32 { call(PtraceRequest.syscall, pid, 0, UInt(signal)) }
    @discardableResult static func listen(_ pid: pid_t) -> Int32 { call(PtraceRequest.listen, pid) }
    @discardableResult static func detach(_ pid: pid_t, signal: Int32 = 0) -> Int32 { call(PtraceRequest.detach, pid, 0, UInt(signal)) }
    @discardableResult static func interrupt(_ pid: pid_t) -> Int32 { call(PtraceRequest.interrupt, pid) }
    static func seize(_ pid: pid_t, options: UInt) -> Int32 { call(PtraceRequest.seize, pid, 0, options) }

    static func eventMessage(_ pid: pid_t) -> UInt? {
        var msg: UInt = 0
        let rc = withUnsafeMutablePointer(to: &msg) {
            roprof_ptrace(PtraceRequest.getEventMsg, pid, nil, UnsafeMutableRawPointer($0))
        }
        return rc == -1 ? nil : msg
    }

    /// PTRACE_GET_SYSCALL_INFO into a caller-owned buffer.
    static func syscallInfo(_ pid: pid_t, into buffer: inout SyscallInfo.Buffer) -> Bool {
        let size = MemoryLayout<SyscallInfo.Buffer>.size
        let rc = withUnsafeMutableBytes(of: &buffer) {
            roprof_ptrace(Int32(ROPROF_PTRACE_GET_SYSCALL_INFO), pid,
                          UnsafeMutableRawPointer(bitPattern: size), $0.baseAddress)
        }
        return rc > 0
    }

    static func setSyscallNumber(_ pid: pid_t, _ nr: Int) -> Bool { roprof_set_syscall_nr(pid, nr) == 0 }
    static func setArgument(_ pid: pid_t, _ index: Int32, _ value: UInt64) -> Bool { roprof_set_arg(pid, index, UInt(value)) == 0 }
    /// PTRACE_POKEDATA: one word into the tracee.
    static func poke(_ pid: pid_t, at address: UInt64, word: UInt64) -> Bool {
        roprof_ptrace(5, pid, UnsafeMutableRawPointer(bitPattern: UInt(address)), UnsafeMutableRawPointer(bitPattern: UInt(word))) == 0
    }
    static func setReturnValue(_ pid: pid_t, _ value: Int) -> Bool { roprof_set_return(pid, value) == 0 }
}

/// A decoded PTRACE_GET_SYSCALL_INFO record (struct ptrace_syscall_info).
struct SyscallInfo {
    /// 88 bytes: op(u8) pad arch(u32) ip sp, then nr + 6 args (+ ret_data) or rval + is_error.
    typealias Buffer = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    enum Op: UInt8 { case none = 0, entry = 1, exit = 2, seccomp = 3 }

    var op: Op
    var arch: UInt32
    var nr: UInt64
    var args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    var rval: Int64
    var isError: Bool

    init(_ b: Buffer) {
        op = Op(rawValue: UInt8(truncatingIfNeeded: b.0)) ?? .none
        arch = UInt32(truncatingIfNeeded: b.0 >> 32)
        nr = b.3
        args = (b.4, b.5, b.6, b.7, b.8, b.9)
        rval = Int64(bitPattern: b.3)
        isError = (b.4 & 0xff) != 0
    }

    func arg(_ i: Int) -> UInt64 {
        switch i {
        case 0: return args.0
        case 1: return args.1
        case 2: return args.2
        case 3: return args.3
        case 4: return args.4
        default: return args.5
        }
    }
    /// A C `int` argument: the low 32 bits, sign-extended (AT_FDCWD may carry garbage above).
    func intArg(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: arg(i)) }
}

/// One wait status, classified once (see TRACER-NOTES item 6).
enum StopEvent: Equatable {
    case exited(code: Int32)
    case killed(signal: Int32, core: Bool)
    /// SIGTRAP|0x80: a syscall-entry or syscall-exit stop.
    case syscallStop
    /// PTRACE_EVENT_* stop other than EVENT_STOP.
    case event(PtraceEventKind)
    /// PTRACE_EVENT_STOP with a stop signal: a group-stop (resume with PTRACE_LISTEN).
    case groupStop(signal: Int32)
    /// PTRACE_EVENT_STOP without a stop signal: new-child start or PTRACE_INTERRUPT.
    case interruptStop
    /// A signal about to be delivered: re-inject it.
    case signalDelivery(signal: Int32)

    static func classify(_ status: Int32) -> StopEvent {
        if roprof_wifexited(status) != 0 { return .exited(code: roprof_wexitstatus(status)) }
        if roprof_wifsignaled(status) != 0 {
            return .killed(signal: roprof_wtermsig(status), core: roprof_wcoredump(status) != 0)
        }
        let sig = roprof_wstopsig(status)
        if sig == (SIGTRAP | 0x80) { return .syscallStop }
        let ev = (status >> 16) & 0xffff
        if ev != 0 {
            guard let kind = PtraceEventKind(rawValue: ev) else { return .interruptStop }
            if kind == .stop {
                switch sig {
                case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: return .groupStop(signal: sig)
                default: return .interruptStop
                }
            }
            return .event(kind)
        }
        return .signalDelivery(signal: sig)
    }
}
