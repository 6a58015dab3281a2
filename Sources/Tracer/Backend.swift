import Foundation
import TraceModel

/// Which backend records: `ptrace` sees the most (it can also deny and rewrite calls, which the
/// sandbox of verify needs); `ebpf` stops nothing and runs at native speed; `auto` picks eBPF where
/// speed matters and it loads here (check, --attach, --container), ptrace otherwise.
public enum BackendChoice: String, CaseIterable, Sendable {
    case ptrace, ebpf, auto
}

public enum Backend {
    /// Runs one recording with the chosen backend. `preferEBPF`: what `auto` means for this command.
    /// `note` gets the one line that says which backend ran (auto) or why auto fell back.
    public static func trace(_ options: TraceOptions, choice: BackendChoice, preferEBPF: Bool, watch: WatchTarget? = nil,
                             note: (String) -> Void) throws -> TraceResult {
        let wantEBPF = choice == .ebpf || (choice == .auto && (preferEBPF || watch != nil))
        if wantEBPF {
            do {
                let session = try EBPFSession(options: options, watch: watch)
                let result = try session.run()
                if choice == .auto && watch == nil { note("recorded with the eBPF backend (nothing was stopped)") }
                return result
            } catch let e as EBPFUnavailable {
                if choice == .ebpf || watch != nil { throw e }
                note("recording with ptrace: \(e.description)")
            }
        }
        return try TraceSession(options: options).run()
    }
}
