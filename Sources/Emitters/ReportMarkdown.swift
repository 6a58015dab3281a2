import Analysis
import FoundationEssentials
import Glibc
import TraceModel

/// The report as Markdown, for pull-request comments and CI job summaries.
public enum ReportMarkdown {
    public static func render(_ a: Analysis) -> String {
        var out: [String] = []
        out.append("## roprof: \(cell(a.verdict))")
        out.append("")
        out.append("Runtime: \(cell(a.runtimeTitle))")
        if !a.mounts.isEmpty {
            out.append("")
            out.append("### Mounts")
            out.append("")
            out.append("| path | kind | size | covers | why |")
            out.append("|---|---|---|---|---|")
            for m in a.mounts {
                out.append("| `\(code(m.path))` | \(ReportText.mountLabel(m, runtime: a.runtime)) | \(m.kind == .file ? "-" : m.sizeLimit) | \(m.covers.prefix(6).map { "`\(code($0))`" }.joined(separator: " ")) | \(cell(m.reason)) |")
            }
        }
        let env = a.remedies.filter(\.coversWithoutMount)
        if !env.isEmpty {
            out.append("")
            out.append("### Stop the writes instead")
            out.append("")
            out.append("| set | fixes | why |")
            out.append("|---|---|---|")
            for r in env {
                let vars = r.env.keys.sorted().map { "`\($0)=\(code(r.env[$0]!))`" }.joined(separator: " ")
                out.append("| \(vars) | \(cell(r.title)) (\(r.paths.count) paths) | \(cell(r.why)) |")
            }
        }
        let advice = a.remedies.filter { !$0.coversWithoutMount && $0.fix != nil }
        if !advice.isEmpty {
            out.append("")
            out.append("### Advice")
            out.append("")
            for r in advice { out.append("- **\(cell(r.title))**: \(cell(r.fix!)) — \(cell(r.why))") }
        }
        if !a.unfixable.isEmpty {
            out.append("")
            out.append("### Cannot be fixed with a mount")
            out.append("")
            for p in a.unfixable { out.append("- `\(code(p.path))`: \(cell(p.note ?? ""))") }
        }
        if !a.blindSpots.isEmpty {
            out.append("")
            out.append("### Blind spots")
            out.append("")
            for b in a.blindSpots { out.append("- **\(b.kind.rawValue)**: \(cell(b.detail))") }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Text safe inside a table cell: pipes and newlines escaped, HTML neutralised.
    static func cell(_ s: String) -> String {
        Human.printable(s).replacing("|", with: "\\|").replacing("<", with: "&lt;")
    }
    /// Text safe inside backticks in a table.
    static func code(_ s: String) -> String { cell(s).replacing("`", with: "'") }
}

/// The analysis as schema-versioned JSON (sorted keys), for tools.
public enum ReportJSON {
    public static func render(_ a: Analysis) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(a), as: UTF8.self) + "\n"
    }
}
