/// Argument values that look like secrets, replaced before a recording is written: recordings are
/// meant to be committed as CI baselines, and argv holds what a shell expanded (`--password=$PW`).
public enum ArgvRedaction {
    public static let marker = "<redacted>"
    static let secretWords: Set<String> = ["password", "passwd", "pass", "pwd", "token", "secret", "key", "apikey", "credential",
                                           "credentials", "auth", "authorization", "bearer", "cookie", "session", "private"]

    /// Whether a flag or variable name names a secret: one of its words (split at `-`, `_`, `.`) is a
    /// secret word (`--db-password`, `AWS_SECRET_ACCESS_KEY`, `--api-key`), not a mere substring (`MONKEY`).
    public static func namesSecret(_ name: String) -> Bool {
        let words = name.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == "." }).map(String.init)
        return words.contains { secretWords.contains($0) } || name.lowercased().hasSuffix("password") || name.lowercased().hasSuffix("token")
    }

    public static func redact(_ argv: [String]) -> [String] {
        var out: [String] = []
        var redactNext = false
        for (i, a) in argv.enumerated() {
            if redactNext { out.append(marker); redactNext = false; continue }
            if i > 0, a.hasPrefix("-") {
                let flag = a.drop { $0 == "-" }
                if let eq = flag.firstIndex(of: "=") {
                    if namesSecret(String(flag[..<eq])), let sign = a.firstIndex(of: "=") { out.append(String(a[..<sign]) + "=" + marker); continue }
                } else if namesSecret(String(flag)) || (a == "-p" && i + 1 < argv.count && !argv[i + 1].allSatisfy(\.isNumber)) {
                    out.append(a)
                    redactNext = i + 1 < argv.count && !argv[i + 1].hasPrefix("-")
                    continue
                }
            } else if let eq = a.firstIndex(of: "="), eq != a.startIndex, !a[..<eq].contains("/"), !a[..<eq].contains(" "), namesSecret(String(a[..<eq])) {
                out.append(String(a[..<eq]) + "=" + marker)
                continue
            }
            out.append(redactURLCredentials(a))
        }
        return out
    }

    /// `scheme://user:secret@host` → `scheme://user:<redacted>@host`, anywhere in an argument.
    static func redactURLCredentials(_ s: String) -> String {
        guard let scheme = s.firstRange(of: "://") else { return s }
        let rest = s[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":"), !rest[..<at].contains("/") else { return s }
        return String(s[..<rest.index(after: colon)]) + marker + String(rest[at...])
    }
}
