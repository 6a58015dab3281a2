/// A syscall the sandbox's seccomp policy denied.
public struct DeniedSyscall: Hashable, Sendable {
    public var name: String
    public var arch: String
    public var process: String
    public init(name: String, arch: String, process: String) { self.name = name; self.arch = arch; self.process = process }
}

