import ArgumentParser
import Engine
import Foundation
import TraceModel
import Tracer

/// Record what is already running, without launching or restarting anything (eBPF only).
struct WatchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Record every process of this container (podman or docker, see --engine) for as long as asked (--for, --while, Ctrl-C), with nothing stopped: a running one from now on, without restarting it; a created or stopped one from its start (roprof starts it, and leaves it running). Needs the eBPF backend.", valueName: "NAME"))
    var container: String?

    @Option(help: ArgumentHelp("Record every process of this cgroup (v2) and of the cgroups below it, with nothing stopped. Needs the eBPF backend.", valueName: "PATH"))
    var cgroup: String?

    var isSet: Bool { container != nil || cgroup != nil }

    func validate(launch: LaunchOptions, attach: Int32?, image: String?) throws {
        guard isSet else { return }
        if container != nil && cgroup != nil { throw ValidationError("give either --container NAME or --cgroup PATH, not both") }
        let what = container != nil ? "--container" : "--cgroup"
        if !launch.command.isEmpty { throw ValidationError("\(what) records what already runs: give no command after `--`") }
        if attach != nil || image != nil { throw ValidationError("\(what) goes alone: not with --attach or --image") }
        if launch.backend == .ptrace { throw ValidationError("\(what) needs the eBPF backend (--backend ebpf or auto): ptrace cannot follow a container without stopping it") }
        if launch.user != nil { throw ValidationError("\(what) records the processes as they run: --user goes with a command run here") }
        if launch.exercise != nil && launch.readyUrl == nil && launch.duration == nil {
            throw ValidationError("\(what) with --while: the recording ends when the exercise ends; add --ready-url if the app may not be ready yet")
        }
    }

    /// Records the running container or cgroup; the recording carries the container's image.
    func record(_ launch: LaunchOptions, policy: TracePolicy, engineName: String, serviceName: String?) throws -> TraceResult {
        var o = launch.traceOptions(policy: policy, launch: LaunchSpec(executable: "", argv: [], environment: []))
        o.serviceName = serviceName
        if let cg = cgroup {
            return try launch.trace(o, preferEBPF: true, watch: .cgroup(path: cg))
        }
        let name = container!
        let engine = try ContainerEngine(name: engineName)
        let c = try engine.container(name)
        var result: TraceResult
        if let pid = c.pid {
            o.displayCommand = ProcFSArgv(pid)
            result = try launch.trace(o, preferEBPF: true, watch: .mountNamespace(pid: pid, label: "container \(name)"))
        } else {
            // Not running: roprof starts it and records it from its first program on.
            result = try launch.trace(o, preferEBPF: true, watch: .start(argv: [engine.name, "start", name], label: "container \(name)"))
            if result.recording.runs.first?.processes.isEmpty ?? true {
                throw ModelError("container '\(name)' did not start (`\(engine.name) start \(name)` failed; `\(engine.name) logs \(name)` may say why)")
            }
            if (try? engine.container(name))?.pid != nil {
                CLI.warn("container \(name) was started by roprof and is still running (`\(engine.name) stop \(name)` stops it)")
            }
        }
        if let cfg = try? engine.inspect(c.image) {
            for i in result.recording.runs.indices {
                result.recording.runs[i].image = ImageRun(reference: c.image, id: cfg.id, digest: cfg.digest, engine: engine.name, user: cfg.user,
                                                          workingDir: cfg.workingDir, entrypoint: cfg.entrypoint, cmd: cfg.cmd, env: cfg.env, ports: nil)
                result.recording.runs[i].cwd = cfg.workingDir
            }
        }
        return result
    }
}
