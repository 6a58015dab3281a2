import Analysis
import FoundationEssentials
import Glibc
import TraceModel

/// The verdicts of `verify` and `diagnose`, and `diff`'s changes, as people read them.
public enum VerdictText {
    public static func verify(_ v: VerifyVerdict, style: TextStyle) -> String {
        var out: [String] = []
        if let volumes = v.volumes { out.append(volumes) }
        if v.passed {
            out.append(style.green("roprof verify: PASS") + " — \(v.subject) ran with \(v.settings)" + (v.restartNote.map { ", and again " + $0 } ?? ""))
            return out.joined(separator: "\n") + "\n"
        }
        if v.unproven {
            out.append(style.yellow("roprof verify: UNPROVEN") + " — \(v.subject) ran with \(v.settings), but its state was not shown to survive a restart")
            if let c = v.cause { out.append("  why: " + c) }
            out += v.notes.map { "  " + $0 }
            return out.joined(separator: "\n") + "\n"
        }
        out.append(style.red("roprof verify: FAIL") + " — \(v.subject) with \(v.settings)"
                   + (v.failedAfterRestart ? "; failed in the second run, " + (v.restartNote ?? "after a restart") : ""))
        if let c = v.cause { out.append("  cause: " + c) }
        for f in v.findings {
            out.append("  " + style.red(f.label + " ") + f.detail)
            if let fix = f.fix { out.append("    fix: " + fix) }
        }
        out += v.notes.map { "  " + $0 }
        if !v.lastLines.isEmpty {
            out.append("  the last lines on stderr (the app's, and the --while exercise's):")
            out += v.lastLines.map { "    " + style.dim(Human.printable($0)) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// `diagnose` as text: each refused write, how the app reacted, and the fix.
    public static func diagnosis(_ o: VerifyOutcome, _ a: Analysis, runtime: String, style: TextStyle) -> String {
        if o.failedWrites.isEmpty {
            return style.green("roprof diagnose: no write was refused") + " under a read-only root in \(runtime) (the app exited with \(o.exit.shellStatus))\n"
        }
        let n = o.failedWrites.count
        var out = [style.red("roprof diagnose: \(n) write\(n == 1 ? " was" : "s were") refused") + " under a read-only root in \(runtime); the app exited with status \(o.exit.shellStatus)"]
        for f in o.failedWrites {
            let who = f.processes.map { PathGlob.name($0) }.joined(separator: ",")
            out.append("  " + style.red(f.errno) + "  " + Human.printable(f.path) + "  \(f.operation) by \(who) (\(f.syscalls.joined(separator: ",")))")
            out.append("    " + style.dim("the app " + o.reaction(f)))
            if let m = a.mounts.first(where: { PathGlob.isUnder(f.path, $0.path) }) {
                out.append("    fix: mount \(ReportText.mountLabel(m, runtime: runtime)) at \(Human.printable(m.path)) (size \(m.sizeLimit))")
            } else if let r = a.remedies.first(where: { $0.paths.contains(f.path) }) {
                out.append("    fix: " + (r.env.isEmpty ? (r.fix ?? r.title) : r.env.keys.sorted().map { "\($0)=\(r.env[$0]!)" }.joined(separator: " ")) + " — " + r.why)
            }
        }
        if o.exit.shellStatus != 0 {
            out.append(style.dim("\nThe app stopped at its first failure; later writes are unseen. Apply the fixes and run diagnose again, or use `roprof run` for the full picture."))
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// `diagnose --format markdown`.
    public static func diagnosisMarkdown(_ o: VerifyOutcome, _ a: Analysis) -> String {
        var out = "## roprof diagnose: \(o.failedWrites.count) refused write\(o.failedWrites.count == 1 ? "" : "s") (exit \(o.exit.shellStatus))\n\n"
        out += "| path | operation | errno | process | how the app reacted |\n|---|---|---|---|---|\n"
        for f in o.failedWrites {
            out += "| `\(f.path)` | \(f.operation) | \(f.errno) | \(f.processes.map { PathGlob.name($0) }.joined(separator: ", ")) | \(o.reaction(f)) |\n"
        }
        return out + "\n" + ReportMarkdown.render(a)
    }

    /// `diagnose --format json` (format roprof-diagnosis, version 1).
    public static func diagnosisJSON(_ o: VerifyOutcome, _ a: Analysis) throws -> String {
        struct Out: Encodable { var format = "roprof-diagnosis"; var version = 1; var exit: ExitInfo; var failures: [F]; var analysis: Analysis
            struct F: Encodable { var path: String; var operation: String; var errno: String; var count: Int; var processes: [String]; var syscalls: [String]; var reaction: String } }
        let out = Out(exit: o.exit, failures: o.failedWrites.map {
            .init(path: $0.path, operation: $0.operation, errno: $0.errno, count: $0.count, processes: $0.processes, syscalls: $0.syscalls,
                  reaction: o.reaction($0)) }, analysis: a)
        return try jsonText(out)
    }

    /// `diff` as text: + added, - removed, ~ changed.
    public static func diff(_ d: ProfileDiff, style: TextStyle) -> String {
        if d.added.isEmpty && d.removed.isEmpty && d.changed.isEmpty { return "no differences\n" }
        var out: [String] = []
        out += d.added.map { style.red("+ \($0.kind) \(Human.printable($0.subject))") + "  " + $0.detail }
        out += d.removed.map { style.green("- \($0.kind) \(Human.printable($0.subject))") + "  " + $0.detail }
        out += d.changed.map { style.yellow("~ \($0.kind) \(Human.printable($0.subject))") + "  " + $0.detail }
        return out.joined(separator: "\n") + "\n"
    }

    /// Pretty, sorted JSON with a final newline.
    public static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(value), as: UTF8.self) + "\n"
    }
}
