import Analysis
import FoundationEssentials
import Glibc
import Sandbox
import TraceModel
import Tracer

/// The sandbox's host state, shared by the runs of one verify (a restart reuses the volumes).
final class HostStateBox {
    var state: SandboxPlan.HostState?
    func cleanUp() {
        if let s = state { SandboxPlan.cleanUp(s) }
        state = nil
    }
}

/// One sandboxed run: its outcome and its recording.
struct SandboxedRun {
    var outcome: VerifyOutcome
    var recording: Recording
}

/// Runs the launch options' command in the sandbox, traced, and evaluates the outcome.
func runSandboxed(plan: SandboxPlan, policy: TracePolicy, settings: RunSettings, writable: [String], noNewPrivs: Bool,
                  state box: HostStateBox = HostStateBox(), notify: Notify) throws -> SandboxedRun {
    var spec = try settings.launchSpec()
    spec.noNewPrivs = noNewPrivs
    let cwd = FileManager.default.currentDirectoryPath
    if let m = plan.mounts.first(where: { cwd == $0.path || cwd.hasPrefix($0.path + "/") }) {
        notify("warning: the working directory \(cwd) is under \(m.path), which the sandbox mounts over: the app will not see it (run from the app's own directory)")
    } else if plan.readOnlyRoot, let w = plan.runtimeWritable.first(where: { ["/tmp", "/run", "/var/tmp"].contains($0) && (cwd == $0 || cwd.hasPrefix($0 + "/")) }) {
        notify("warning: the working directory \(cwd) is under \(w), a fresh tmpfs in the sandbox: the app will not see it")
    }
    let reuse = box.state
    let state = try plan.prepare(&spec, reuse: reuse)
    box.state = state
    let result: TraceResult
    var tail: [String] = []
    do {
        var opts = settings.traceOptions(policy: policy, launch: spec)
        opts.displayCommand = settings.command
        opts.denyStormLimit = 1000
        let session = PtraceBackend(options: opts)
        let capture = StderrTail()
        capture.start()
        defer { tail = capture.stop() }
        result = try session.run()
    } catch {
        box.cleanUp()
        throw error
    }
    for n in settings.serverNotes(readinessTimedOut: result.readinessTimedOut, exerciseExit: result.exerciseExit) { notify(n) }
    var outcome = VerifyOutcome.evaluate(result.recording, denied: result.denied, exit: result.exit, writable: writable,
                                         stoppedByWindow: result.recording.runs.first?.stoppedByRoprof == true && !result.readinessTimedOut)
    outcome.exerciseExit = result.exerciseExit
    outcome.denyStorm = result.denyStorm
    outcome.readinessTimedOut = result.readinessTimedOut
    outcome.stderrTail = tail
    return SandboxedRun(outcome: outcome, recording: result.recording)
}

/// Tees this process's stderr (which the traced app inherits) through a pipe, keeping the last lines:
/// a failed verification ends with what the app said.
final class StderrTail: @unchecked Sendable {
    private var saved: Int32 = -1
    private var readFd: Int32 = -1
    private var lines: [String] = []
    private var partial: [UInt8] = []
    private let lock = Lock()

    func start() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        saved = dup(2)
        guard saved >= 0, dup2(fds[1], 2) >= 0 else { close(fds[0]); close(fds[1]); return }
        close(fds[1])
        readFd = fds[0]
        let out = saved, input = readFd
        BackgroundThread.start { [self] in
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(input, &buf, buf.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                _ = buf.withUnsafeBytes { write(out, $0.baseAddress, n) }
                absorb(buf[0..<n])
            }
        }
    }

    private func absorb(_ bytes: ArraySlice<UInt8>) {
        lock.lock(); defer { lock.unlock() }
        for b in bytes {
            if b == 0x0A || b == 0x0D {
                let line = String(decoding: partial, as: UTF8.self)
                if !line.isEmpty && !line.hasPrefix("\u{1B}[K") && !line.hasPrefix("roprof:") { lines.append(line) }
                if lines.count > 40 { lines.removeFirst(lines.count - 40) }
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < 1000 { partial.append(b) }
        }
    }

    /// Restores stderr and returns the last lines the app wrote to it.
    func stop() -> [String] {
        if saved >= 0 { dup2(saved, 2); close(saved); saved = -1 }
        // The app's processes are gone; what is still in the pipe arrives at once. A daemon that kept
        // the pipe open must not hold us: wait briefly, then read what we have.
        usleep(50_000)
        lock.lock(); defer { lock.unlock() }
        var out = lines
        if !partial.isEmpty { out.append(String(decoding: partial, as: UTF8.self)) }
        return out
    }
}
