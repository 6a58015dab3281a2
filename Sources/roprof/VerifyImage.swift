import Analysis
import Emitters
import Engine
import Foundation
import Glibc
import TraceModel
import Tracer

/// `verify --image`: the second executor of a verify plan. The image runs in the real engine with
/// exactly the flags `suggest` prints for that engine and the generated seccomp profile, is exercised
/// through its published ports, is restarted on the same volumes when a state volume was suggested,
/// and the verdict names the evidence: the app's refusals in its log, its exit, the exercise.
enum ImageVerifier {
    struct Run {
        var started = true
        var ready = true
        var exercise: ExitInfo?
        var exit: Int32?
        var stoppedByUs = false
        var log = ""
        var startError = ""
    }

    /// Lines of the app's output that show the settings refused something.
    static func refusals(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { l in
            ["Read-only file system", "Permission denied", "Operation not permitted", "EROFS", "EACCES", "EPERM"].contains { l.contains($0) }
        }
    }

    static func verify(image: String, engine: ContainerEngine, hardening h: Hardening, options o: SuggestOptions, runtime: String,
                       seccompJSON: String?, command: [String], launch: LaunchOptions, restart: Bool, leftOut: [String] = []) -> Never {
        let style = CommandLineFront.style()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("roprof-verify-image-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var (args, warnings) = DockerEmitter.arguments(h, o, engine: engine.name, runtime: runtime)
        for w in warnings { CLI.warn("warning: \(w)") }
        // Exactly the printed flags, with three local facts: the profile's path, fresh volume names
        // (a user's own volumes are never touched) and the published port of the probe.
        let tag = "verify-\(getpid())"
        var volumes: [String] = []
        args = args.compactMap { a -> String? in
            if a.hasPrefix("--security-opt=seccomp=") {
                guard let json = seccompJSON else { return nil }
                try? json.write(toFile: scratch + "/roprof-seccomp.json", atomically: true, encoding: .utf8)
                return "--security-opt=seccomp=\(scratch)/roprof-seccomp.json"
            }
            if a.hasPrefix("--mount=type=volume,source="), let r = a.range(of: ",destination=") {
                let name = String(a[a.index(a.startIndex, offsetBy: "--mount=type=volume,source=".count)..<r.lowerBound]) + "-" + tag
                volumes.append(name)
                return "--mount=type=volume,source=\(name)" + a[r.lowerBound...]
            }
            if a.hasPrefix("--publish=") { return nil }
            return a
        }
        var ports = h.ports
        if let u = launch.readyUrl, case .success(let t) = ReadinessProbe.Target.parse(u), !ports.contains(Int(t.port)) { ports.append(Int(t.port)) }
        args += ports.map { "--publish=127.0.0.1:\($0):\($0)" }
        ImageRecorder.installInterruptHandler()
        defer { engine.removeVolumes(volumes) }
        let what = "\(engine.name) with --read-only, \(h.volumes.count) mount\(h.volumes.count == 1 ? "" : "s"), \(h.env.count) environment variable\(h.env.count == 1 ? "" : "s")"
            + (seccompJSON != nil ? " and the generated seccomp profile" : "")
        print("verifying \(image) in \(what)")
        fflush(stdout)
        var runs = [once(image: image, engine: engine, args: args, command: command, launch: launch)]
        let hasState = h.volumes.contains { $0.mount.kind == .persistent }
        if passed(runs[0]) && hasState && restart && !ImageRecorder.interrupted {
            print("restart: running the image again on the same volumes")
            fflush(stdout)
            runs.append(once(image: image, engine: engine, args: args, command: command, launch: launch))
        }
        engine.removeVolumes(volumes)
        let last = runs.last!
        if runs.allSatisfy(passed) {
            print(style.green("roprof verify: PASS") + " — \(image) ran in \(what)" + (runs.count > 1 ? ", and again on the same volumes" : ""))
            CLI.terminate(0)
        }
        let failed = runs.first { !passed($0) } ?? last
        print(style.red("roprof verify: FAIL") + " — \(image) in \(what)" + (runs.count > 1 && passed(runs[0]) ? " (after the restart)" : ""))
        let refused = refusals(failed.log)
        if !failed.started { print("  cause: the container did not start: \(failed.startError)") }
        else if let r = refused.first { print("  cause: the app was refused: \(Human.printable(r))") }
        else if !failed.ready { print("  cause: the app never answered \(launch.readyUrl ?? "")") }
        else if let e = failed.exercise, e.shellStatus != 0 { print("  cause: the --while exercise failed with status \(e.shellStatus)") }
        else { print("  cause: the app exited with status \(failed.exit.map(String.init) ?? "?")") }
        for r in refused.prefix(8) { print("  " + style.red("refused ") + Human.printable(r)) }
        if !leftOut.isEmpty { print("  left out with --without: \(leftOut.joined(separator: ", ")) — the suggestion mounts \(leftOut.count == 1 ? "it" : "them") because the app writes there") }
        let tail = failed.log.split(separator: "\n").suffix(8)
        if !tail.isEmpty {
            print("  the app's last lines:")
            for l in tail { print("    " + style.dim(Human.printable(String(l)))) }
        }
        CLI.terminate(1)
    }

    static func passed(_ r: Run) -> Bool {
        r.started && r.ready && (r.exercise?.shellStatus ?? 0) == 0 && (r.stoppedByUs || r.exit == 0) && refusals(r.log).isEmpty
    }

    /// One run of the image: start, wait until ready, exercise, stop, collect.
    static func once(image: String, engine: ContainerEngine, args: [String], command: [String], launch: LaunchOptions) -> Run {
        let name = "roprof-verify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var r = Run()
        let started = engine.run(["run", "-d", "--name", name] + args + [image] + command)
        defer { engine.remove(name) }
        guard started.status == 0 else {
            r.started = false
            r.startError = started.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(started.status)"
            return r
        }
        let window = ImageRecorder.drive(container: name, engine: engine, launch: launch)
        r.ready = window.ready
        r.exercise = window.exercise
        r.stoppedByUs = window.stoppedByUs
        r.exit = engine.wait(name)
        r.log = engine.logs(name)
        return r
    }
}
