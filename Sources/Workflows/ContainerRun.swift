import Engine
import FoundationEssentials
import Glibc
import TraceModel
import Tracer

/// The run lifecycle of a started container: the same `RunLifecycle` every traced run uses
/// (signals, --ready-url, the --while exercise, the --for window, SIGTERM → grace → SIGKILL), with
/// the engine as the thing it signals. A signal to roprof ends the window early.
final class ContainerRun: RunControl {
    let name: String
    let engine: ContainerEngine
    let lifecycle: RunLifecycle
    private var ended = false

    struct Window {
        var ready = true
        var readinessTimedOut = false
        var exercise: ExitInfo?
        var stoppedByUs = false
        var interrupted = false
    }

    init(name: String, engine: ContainerEngine, settings: RunSettings) {
        self.name = name
        self.engine = engine
        var o = settings.observingOptions(policy: TracePolicy(mode: .writes))
        o.progress = false
        lifecycle = RunLifecycle(options: o, observing: false)
        lifecycle.control = self
    }

    func signalApp(_ signal: Int32) { engine.kill(name, signal: signal) }
    func killApp() { engine.kill(name, signal: SIGKILL) }
    func detach() {}
    var appEnded: Bool { ended }
    var progressCounts: (processes: Int, syscalls: Int, fileEvents: Int) { (1, 0, 0) }

    /// Drives the window until the container ends (or roprof gives up after a third signal).
    func drive() -> Window {
        lifecycle.begin()
        lifecycle.appStarted()
        while true {
            lifecycle.tick()
            if lifecycle.abandon { killApp(); break }
            reapExercise()
            if !engine.isRunning(name) {
                ended = true
                lifecycle.appGone()
                if !lifecycle.exerciseRunning { break }
            }
            usleep(100_000)
        }
        reapExercise(block: lifecycle.exerciseRunning)
        lifecycle.end()
        var w = Window()
        w.readinessTimedOut = lifecycle.readinessTimedOut
        w.ready = lifecycle.options.readyTarget == nil || lifecycle.isReady
        w.exercise = lifecycle.exerciseExit
        w.stoppedByUs = lifecycle.stoppedByRoprof
        w.interrupted = lifecycle.interrupted
        return w
    }

    private func reapExercise(block: Bool = false) {
        let pid = lifecycle.exercisePid
        guard pid != 0 else { return }
        var st: Int32 = 0
        let r = waitpid(pid, &st, block ? 0 : WNOHANG)
        guard r == pid else { return }
        let exit = (st & 0x7f) == 0 ? ExitInfo(code: Int((st >> 8) & 0xff)) : ExitInfo(signal: Int(st & 0x7f))
        _ = lifecycle.childEnded(pid, exit)
    }
}
