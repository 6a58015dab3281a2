import ArgumentParser
import FoundationEssentials
import Glibc
import TraceModel
import Tracer
import Workflows

/// The options of every command that can work inside a container image.
struct ImageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Work inside this container image, run as the image defines it (USER, WORKDIR, ENTRYPOINT/CMD, ENV; a command after -- overrides CMD). roprof's binary is mounted read-only as the entrypoint wrapper and the container gets CAP_SYS_PTRACE, which tracing needs; --ready-url and --while reach it through a published loopback port.", valueName: "IMAGE"))
    var image: String?

    @Option(help: ArgumentHelp("The engine for --image: podman or docker.", valueName: "ENGINE"))
    var engine = "podman"

    @Option(name: [.customShort("p"), .long], help: ArgumentHelp("--image: also publish this port, as docker and podman take it: PORT, HOST:CONTAINER or IP:HOST:CONTAINER (repeatable). While recording it is bound on 127.0.0.1 unless an address is given; the printed settings keep what you wrote. The --ready-url port is published anyway.", valueName: "[IP:]HOST:CONTAINER"))
    var publish: [String] = []

    /// The image request, when --image is given.
    var request: ImageRequest? {
        guard let image else { return nil }
        var r = ImageRequest(image: image)
        r.engine = engine
        r.publish = publish.compactMap { try? PublishedPort(parsing: $0) }
        return r
    }

    /// Inside the image roprof traces with ptrace (the container gets CAP_SYS_PTRACE, not CAP_BPF).
    func validate(with launch: LaunchOptions) throws {
        for p in publish { do { _ = try PublishedPort(parsing: p) } catch { throw ValidationError("\(error)") } }
        if image != nil && launch.backend == .ebpf {
            throw ValidationError("--image traces inside the container with ptrace; for eBPF, start the container and record it with --container NAME")
        }
    }
}
