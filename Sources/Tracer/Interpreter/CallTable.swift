import Seccomp
import TraceModel

/// Per architecture, syscall number → the catalog entry that decodes it, its name, and whether it is
/// one of the calls that matter for security: built once from libseccomp's tables, for both backends.
struct CallTable {
    let arch: SeccompArch
    let names: SyscallTable
    private(set) var calls: [MutatingCall?]
    private(set) var dangerous: [Bool]
    /// close (1), close_range (2), exit_group/exit (3): where a file without a name may lose its last fd.
    private(set) var closing: [UInt8]
    /// kill (1: the target process is argument 0), tkill (2: a thread, argument 0), tgkill (3: the
    /// process is argument 0): signals, which root sends to another user's process only with CAP_KILL.
    private(set) var signalling: [UInt8]
    /// setuid, setresuid, setreuid, setfsuid: the caller's filesystem uid may change.
    private(set) var changesUid: [Bool]
    static let size = 1024

    init(arch: SeccompArch) {
        self.arch = arch
        names = SyscallTable(arch: arch)
        calls = [MutatingCall?](repeating: nil, count: Self.size)
        dangerous = [Bool](repeating: false, count: Self.size)
        closing = [UInt8](repeating: 0, count: Self.size)
        signalling = [UInt8](repeating: 0, count: Self.size)
        changesUid = [Bool](repeating: false, count: Self.size)
        for (name, kind) in [("close", UInt8(1)), ("close_range", 2), ("exit_group", 3), ("exit", 3)] {
            if let nr = number(name) { closing[nr] = kind }
        }
        for (name, kind) in [("kill", UInt8(1)), ("tkill", 2), ("tgkill", 3)] {
            if let nr = number(name) { signalling[nr] = kind }
        }
        for name in ["setuid", "setresuid", "setreuid", "setfsuid", "setuid32", "setresuid32", "setreuid32", "setfsuid32"] {
            if let nr = number(name) { changesUid[nr] = true }
        }
        for (name, call) in MutatingCall.catalog {
            if arch == .x86 && name == "mmap" { continue }  // i386 old_mmap takes a struct; mmap2 is decoded
            if let nr = number(name) { calls[nr] = call }
        }
        for name in Recording.dangerousSyscalls { if let nr = number(name) { dangerous[nr] = true } }
    }

    /// The table index of a call (x32 numbers without their marker bit); nil when absent or out of range.
    func number(_ name: String) -> Int? {
        guard var nr = names.number(name) else { return nil }
        if arch == .x32 { nr &= ~0x4000_0000 }
        return nr >= 0 && nr < Self.size ? nr : nil
    }

    func call(_ nr: Int) -> MutatingCall? { nr >= 0 && nr < Self.size ? calls[nr] : nil }
    func closingKind(_ nr: Int) -> UInt8 { nr >= 0 && nr < Self.size ? closing[nr] : 0 }
    func signallingKind(_ nr: Int) -> UInt8 { nr >= 0 && nr < Self.size ? signalling[nr] : 0 }
    func changesUid(_ nr: Int) -> Bool { nr >= 0 && nr < Self.size && changesUid[nr] }
    func isDangerous(_ nr: Int) -> Bool { nr >= 0 && nr < Self.size && dangerous[nr] }
    func name(_ nr: Int) -> String { names.name(nr) ?? "syscall_\(nr)" }
}
