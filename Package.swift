// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "roprof",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "roprof", targets: ["roprof"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Tests only: an independent YAML reader checks what roprof's own writer prints.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C shim: variadic ptrace, wait macros, the fork → stop → seccomp → exec child path. No logic.
        .target(name: "CPtrace"),
        // libbpf (static: the binary must run in images without it) and the eBPF probe's record layout. No logic.
        .target(name: "CBPF", linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libbpf.a", "-Xlinker", "-l:libelf.a", "-Xlinker", "-l:libz.a"])]),
        // Compiles Sources/Tracer/bpf/probe.bpf.c with the toolchain's clang and embeds the object.
        .plugin(name: "BPFProbe", capability: .buildTool()),
        // libseccomp's header; exactly one Swift importer (Seccomp), which links libseccomp statically
        // (like libbpf and libyaml: the binary runs in images without it, distroless ones included).
        .systemLibrary(name: "CSeccomp", providers: [.apt(["libseccomp-dev"])]),
        // libyaml (static, as libbpf). No logic.
        .target(name: "CYAML", linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libyaml.a"])]),
        // YAML documents as values, parsed and written through libyaml, and Codable on them. No
        // Foundation (the static binary carries no ICU).
        .target(name: "YAML", dependencies: ["CYAML"]),
        // Pure values: events, recordings, baselines (Codable, deterministic).
        .target(name: "TraceModel"),
        // The one Swift wrapper of libseccomp: names ⇄ numbers, filter building, BPF export, loading.
        .target(name: "Seccomp", dependencies: ["CSeccomp"], linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libseccomp.a"])]),
        // The two backends (ptrace; eBPF, nothing stopped) and the run lifecycle they share.
        .target(name: "Tracer", dependencies: ["CPtrace", "CBPF", "Seccomp", "TraceModel"], exclude: ["EBPF/bpf"],
                plugins: ["BPFProbe"]),
        // Pure analysis: runtime profiles, classification, mount synthesis, remedies.
        .target(name: "Analysis", dependencies: ["TraceModel", "YAML"]),
        // Policy: the decisions as typed values (user, capabilities, seccomp allow-list, mounts to
        // apply, the verify plan, workloads, Pod Security levels, the container run spec).
        .target(name: "Hardening", dependencies: ["Analysis", "TraceModel", "Seccomp", "YAML"]),
        // Formats only: text/markdown/json reports and deployment formats, from Hardening's values.
        .target(name: "Emitters", dependencies: ["Analysis", "Hardening", "TraceModel", "Seccomp", "YAML"]),
        // podman / docker: image inspection and container runs (record/verify --image).
        .target(name: "Engine", dependencies: ["TraceModel"]),
        // The verify sandbox: a mount namespace, the root read-only, the suggested mounts (run by the
        // ptrace backend's launcher, which also loads the seccomp filter).
        .target(name: "Sandbox", dependencies: ["Tracer", "TraceModel"]),
        // The workflows: record, verify, diagnose, check, suggest. Each returns a value; never prints, never exits.
        .target(name: "Workflows", dependencies: ["TraceModel", "Tracer", "Analysis", "Hardening", "Emitters", "Sandbox", "Seccomp", "Engine"]),
        // The CLI: argument structs, rendering, exit codes.
        .executableTarget(name: "roprof", dependencies: [
            "TraceModel", "Tracer", "Analysis", "Hardening", "Emitters", "Seccomp", "Workflows",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Tests mirror the modules. Unit targets run in process, in parallel, without root; the
        // end-to-end target drives the built binary against real programs, engines and signals.
        // Inner loop: `swift test --skip EndToEndTests`.
        .target(name: "TestSupport", dependencies: ["TraceModel"], path: "Tests/TestSupport"),
        .testTarget(name: "TraceModelTests", dependencies: ["TraceModel"], path: "Tests/TraceModelTests"),
        .testTarget(name: "YAMLTests", dependencies: ["YAML", "Yams"], path: "Tests/YAMLTests"),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "TraceModel", "TestSupport"], path: "Tests/AnalysisTests"),
        .testTarget(name: "HardeningTests", dependencies: ["Hardening", "Analysis", "Seccomp", "TraceModel", "TestSupport"], path: "Tests/HardeningTests"),
        .testTarget(name: "EmittersTests", dependencies: ["Emitters", "Hardening", "Analysis", "TraceModel", "Seccomp"], path: "Tests/EmittersTests"),
        .testTarget(name: "TracerTests", dependencies: ["Tracer", "TraceModel"], path: "Tests/TracerTests"),
        .testTarget(name: "WorkflowsTests", dependencies: ["Workflows", "Emitters", "Hardening", "Analysis", "TraceModel", "TestSupport"],
                    path: "Tests/WorkflowsTests"),
        .testTarget(name: "EndToEndTests", dependencies: [
            "TraceModel", "Analysis", "Hardening", "Emitters", "Seccomp", "roprof", "Yams", "TestSupport",
        ], path: "Tests/EndToEndTests"),
    ],
    swiftLanguageModes: [.v5]
)
