import FoundationEssentials
import Glibc
import TraceModel

/// What a sandboxed run proved: every write the read-only root refused, every syscall the
/// seccomp profile denied, and how the app ended.
public struct VerifyOutcome {
    public struct FailedWrite: Equatable {
        public var path: String
        public var operation: String
        public var errno: String
        public var count: Int
        public var processes: [String]
        public var syscalls: [String]
    }
    public var failedWrites: [FailedWrite]
    public var denied: [DeniedSyscall: Int]
    public var exit: ExitInfo
    /// The app was stopped by roprof at the end of a --for window (not a failure).
    public var stoppedByWindow: Bool
    /// The --while exercise's exit, when there was one (non-zero fails the verification).
    public var exerciseExit: ExitInfo? = nil
    /// The denied syscall the app looped on, which made roprof stop it early.
    public var denyStorm: DeniedSyscall? = nil
    public var readinessTimedOut = false
    /// The last lines the app wrote to stderr.
    public var stderrTail: [String] = []

    /// The app exited 0, or roprof stopped it (the end of --for / --while): whatever status a
    /// planned stop leaves (143, a handled SIGTERM's own code, SIGKILL after the grace period).
    public var appSucceeded: Bool { exit.code == 0 || stoppedByWindow }
    public var passed: Bool {
        failedWrites.isEmpty && denied.isEmpty && appSucceeded && (exerciseExit?.shellStatus ?? 0) == 0 && !readinessTimedOut
    }

    /// Writes refused by the read-only root: EROFS anywhere; EACCES/EPERM only outside `writable`.
    public static func evaluate(_ r: Recording, denied: [DeniedSyscall: Int], exit: ExitInfo, writable: [String], stoppedByWindow: Bool,
                                exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> VerifyOutcome {
        var failed: [FailedWrite] = []
        for f in r.files where f.operation != .mount && f.operation != .chroot {
            let full = (f.root.map { $0 == "/" ? "" : $0 } ?? "") + f.path
            let underWritable = writable.contains { full == $0 || full.hasPrefix($0 == "/" ? "/" : $0 + "/") }
            for (e, n) in f.errors where e == "EROFS" || ((e == "EACCES" || e == "EPERM") && !underWritable) {
                // mkdir of an existing directory is not a write (EEXIST); EROFS can also mean that.
                if f.operation == .mkdir && e == "EROFS" && exists(full) { continue }
                failed.append(FailedWrite(path: full, operation: f.operation.rawValue, errno: e, count: n, processes: f.processes, syscalls: f.syscalls))
            }
        }
        return VerifyOutcome(failedWrites: failed.sorted { ($0.path, $0.operation) < ($1.path, $1.operation) }, denied: denied, exit: exit,
                             stoppedByWindow: stoppedByWindow)
    }
}

extension VerifyOutcome {
    /// How the app reacted to one refused write.
    public func reaction(_ f: FailedWrite) -> String {
        if f.count > 1 { return "retried (\(f.count) attempts)" + (exit.shellStatus == 0 ? ", then carried on" : ", then exited with \(exit.shellStatus)") }
        return exit.shellStatus == 0 ? "carried on without it" : "exited with status \(exit.shellStatus)"
    }
}

/// The verdict of `verify`, with its evidence, for the CLI to render.
public struct VerifyVerdict {
    /// One piece of evidence: what was refused or failed, by whom, and the fix.
    public struct Finding {
        public var label: String
        public var detail: String
        public var fix: String?
        public init(label: String, detail: String, fix: String?) { self.label = label; self.detail = detail; self.fix = fix }
    }
    public var passed: Bool
    /// "a read-only root (kubernetes), 2 mounts, … " — the settings the run had.
    public var settings: String
    /// What ran: the command, or the image.
    public var subject: String
    /// "and again after a restart on the same volumes (…)", or where a restart failed.
    public var restartNote: String?
    public var failedAfterRestart = false
    public var cause: String?
    public var findings: [Finding] = []
    public var notes: [String] = []
    /// "volumes: PATH (starts with the image's content there …)": how each state volume started.
    public var volumes: String?
    /// The last lines the app wrote (stderr, or the container's log).
    public var lastLines: [String] = []
    /// The run passed, but nothing proved that the state volumes keep their data (no restart ran, or
    /// the first run left them empty): never a PASS (exit 1), with `cause` saying what to add.
    public var unproven = false
    public var exitStatus: Int32 { passed ? 0 : 1 }

    /// The verdict when a state volume was suggested and its data was not shown to survive a restart.
    public mutating func markUnproven(_ why: String) {
        passed = false
        unproven = true
        cause = why
    }

    public init(passed: Bool, settings: String, subject: String) { self.passed = passed; self.settings = settings; self.subject = subject }
}

