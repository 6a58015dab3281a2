import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

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

    /// What is recorded, when a container or cgroup is named.
    func source(engine: String) -> RecordSource? {
        if let c = container { return .container(name: c, engine: engine) }
        return cgroup.map { .cgroup(path: $0) }
    }
}
