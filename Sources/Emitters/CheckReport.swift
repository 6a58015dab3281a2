import Analysis
import Hardening
import FoundationEssentials
import Glibc
import TraceModel

/// The result of `roprof check` in each CI-native format.
public enum CheckReport {
    public struct Summary: Codable {
        public var format = "roprof-check"
        public var version = 1
        public var baseline: String
        public var runtime: String
        public var passed: Bool
        public var regressions: [Regression]
        public var command: [String]
        public init(baseline: String, runtime: String, passed: Bool, regressions: [Regression], command: [String]) {
            self.baseline = baseline; self.runtime = runtime; self.passed = passed; self.regressions = regressions; self.command = command
        }
    }

    public static func text(_ s: Summary, style: TextStyle) -> String {
        var out: [String] = []
        if s.passed {
            out.append(style.green("roprof check: passed") + " — no new writes or syscalls against \(s.baseline)")
            return out.joined(separator: "\n") + "\n"
        }
        out.append(style.red("roprof check: \(s.regressions.count) regression\(s.regressions.count == 1 ? "" : "s")") + " against \(s.baseline) (runtime \(s.runtime))")
        for (title, kind) in [("New writes outside the baseline", Regression.Kind.newWrite), ("New syscalls", .newSyscall), ("App failure", .appFailed)] {
            let items = s.regressions.filter { $0.kind == kind }
            if items.isEmpty { continue }
            out.append("")
            out.append(style.bold(title))
            for r in items {
                let who = r.processes.map { PathGlob.name($0) }.joined(separator: ",")
                out.append("  " + style.red(Human.printable(r.subject)) + "  " + r.detail + (who.isEmpty ? "" : style.dim("  by \(who)")))
            }
        }
        // Several paths under one mount suggest the same entry: list it once.
        var seen = Set<String>()
        let snippets = s.regressions.compactMap(\.suggestion).filter { $0.hasPrefix("- path") && seen.insert($0).inserted }
        if !snippets.isEmpty {
            out.append("")
            out.append(style.bold("If intended, add to \(s.baseline) under writes:") + style.dim(" (or run with --update)"))
            for sn in snippets { out.append(sn.split(separator: "\n").map { "  " + Human.printable(String($0)) }.joined(separator: "\n")) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    public static func json(_ s: Summary) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(s), as: UTF8.self) + "\n"
    }

    /// XML text/attribute escaping; characters XML 1.0 cannot carry are replaced.
    static func xml(_ s: String) -> String {
        Human.escape(s) { u in
            switch u {
            case "&": return "&amp;"
            case "<": return "&lt;"
            case ">": return "&gt;"
            case "\"": return "&quot;"
            case "'": return "&apos;"
            case "\n": return "&#10;"
            case "\t": return "&#9;"
            case "\r": return "&#13;"
            default:
                let bad = u.value < 0x20 || (0xFFFE...0xFFFF).contains(u.value) || (0xD800...0xDFFF).contains(u.value)
                return bad ? "\u{FFFD}" : nil
            }
        }
    }

    /// JUnit XML: one test case per finding, plus a passing case per category that had none.
    public static func junit(_ s: Summary) -> String {
        var cases: [String] = []
        let categories: [(String, Regression.Kind, String)] = [("writes", .newWrite, "no new writes outside the baseline"),
                                                             ("syscalls", .newSyscall, "no new syscalls"), ("app", .appFailed, "the command succeeded")]
        for (cls, kind, okName) in categories {
            let items = s.regressions.filter { $0.kind == kind }
            if items.isEmpty { cases.append("    <testcase classname=\"roprof.\(cls)\" name=\"\(xml(okName))\"/>"); continue }
            for r in items {
                let body = r.detail + (r.processes.isEmpty ? "" : "\nprocesses: " + r.processes.joined(separator: ", ")) + (r.suggestion.map { "\nbaseline entry:\n" + $0 } ?? "")
                cases.append("    <testcase classname=\"roprof.\(cls)\" name=\"\(xml(r.subject))\">\n      <failure message=\"\(xml(r.kind.rawValue + ": " + r.subject))\" type=\"\(r.kind.rawValue)\">\(xml(body))</failure>\n    </testcase>")
            }
        }
        let failures = s.regressions.count
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="roprof" tests="\(cases.count)" failures="\(failures)">
          <testsuite name="roprof check" tests="\(cases.count)" failures="\(failures)" errors="0" skipped="0">
        \(cases.joined(separator: "\n"))
          </testsuite>
        </testsuites>

        """
    }

    struct Sarif: Encodable {
        var version = "2.1.0"
        var schema = "https://json.schemastore.org/sarif-2.1.0.json"
        var runs: [Run]
        enum CodingKeys: String, CodingKey { case version, schema = "$schema", runs }
        struct Run: Encodable { var tool: Tool; var results: [Result] }
        struct Tool: Encodable { var driver: Driver }
        struct Driver: Encodable { var name = "roprof"; var version: String; var rules: [Rule] }
        struct Rule: Encodable { var id: String; var name: String; var shortDescription: Message; var help: Message; var defaultConfiguration: Config }
        struct Config: Encodable { var level: String }
        struct Message: Encodable { var text: String }
        struct Result: Encodable { var ruleId: String; var level: String; var message: Message; var locations: [Location]; var partialFingerprints: [String: String] }
        struct Location: Encodable { var physicalLocation: Physical }
        struct Physical: Encodable { var artifactLocation: Artifact; var region: Region }
        struct Artifact: Encodable { var uri: String }
        struct Region: Encodable { var startLine: Int }
    }

    static let rules: [(Regression.Kind, String, String, String, String)] = [
        (.newWrite, "ROPROF001", "NewWriteOutsideBaseline", "The app wrote somewhere its baseline does not allow; it breaks under a read-only root.",
         "Add the path to the baseline (with the mount that covers it) if intended, or stop the write."),
        (.newSyscall, "ROPROF002", "NewSyscall", "The app used a syscall its baseline (and seccomp profile) does not allow.",
         "Add it to the baseline's syscalls and regenerate the seccomp profile if intended."),
        (.appFailed, "ROPROF003", "CommandFailed", "The checked command failed.", "Fix the command, or pass --allow-app-failure."),
    ]

    /// SARIF 2.1.0 for code scanning: each result points at the baseline line it relates to (where its
    /// entry would go) and carries a fingerprint that stays the same across runs.
    public static func sarif(_ s: Summary, toolVersion: String) throws -> String {
        let rs = rules.map { Sarif.Rule(id: $0.1, name: $0.2, shortDescription: .init(text: $0.3), help: .init(text: $0.4), defaultConfiguration: .init(level: "error")) }
        let results = s.regressions.map { r -> Sarif.Result in
            let id = rules.first { $0.0 == r.kind }!.1
            let who = r.processes.isEmpty ? "" : " (by \(r.processes.map { PathGlob.name($0) }.joined(separator: ", ")))"
            return Sarif.Result(ruleId: id, level: "error", message: .init(text: "\(Human.printable(r.subject)): \(r.detail)\(who)"),
                                locations: [.init(physicalLocation: .init(artifactLocation: .init(uri: s.baseline), region: .init(startLine: r.baselineLine ?? 1)))],
                                partialFingerprints: ["roprofFinding/v1": r.fingerprint])
        }
        let log = Sarif(runs: [.init(tool: .init(driver: .init(version: toolVersion, rules: rs)), results: results)])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(log), as: UTF8.self) + "\n"
    }

    /// GitHub workflow commands: data escaping (%, CR, LF) and property escaping (also : and ,).
    static func ghData(_ s: String) -> String {
        s.replacing("%", with: "%25").replacing("\r", with: "%0D").replacing("\n", with: "%0A")
    }
    static func ghProperty(_ s: String) -> String {
        ghData(s).replacing(":", with: "%3A").replacing(",", with: "%2C")
    }

    public static func github(_ s: Summary) -> String {
        var out: [String] = []
        for r in s.regressions {
            let title = rules.first { $0.0 == r.kind }!.2
            out.append("::error file=\(ghProperty(s.baseline)),line=\(r.baselineLine ?? 1),title=\(ghProperty(title))::\(ghData(r.subject + ": " + r.detail))")
        }
        if s.passed { out.append("::notice title=roprof check::\(ghData("no new writes or syscalls against " + s.baseline))") }
        return out.joined(separator: "\n") + "\n"
    }

    /// The Markdown job summary ($GITHUB_STEP_SUMMARY).
    public static func markdown(_ s: Summary) -> String {
        var out = ["## roprof check: " + (s.passed ? "passed" : "\(s.regressions.count) regression\(s.regressions.count == 1 ? "" : "s")"), ""]
        if !s.regressions.isEmpty {
            out += ["| kind | subject | detail |", "|---|---|---|"]
            for r in s.regressions { out.append("| \(r.kind.rawValue) | `\(ReportMarkdown.code(r.subject))` | \(ReportMarkdown.cell(r.detail)) |") }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
