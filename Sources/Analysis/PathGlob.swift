/// Path globs as used in Profiles/ and baselines: `*` matches within one component, `**` any
/// number of components, `?` one character. Matching is on bytes of the UTF-8 path.
public enum PathGlob {
    public static func matches(_ pattern: String, _ path: String) -> Bool {
        // Called per recorded path and per rule: no copies of either string where they are native.
        var pattern = pattern, path = path
        return pattern.withUTF8 { p in path.withUTF8 { s in match(p, 0, s, 0) } }
    }

    /// True when `pattern` holds a wildcard (otherwise it matches exactly one path: itself).
    public static func isGlob(_ pattern: String) -> Bool {
        pattern.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
    }

    private static func match(_ p: UnsafeBufferPointer<UInt8>, _ pi: Int, _ s: UnsafeBufferPointer<UInt8>, _ si: Int) -> Bool {
        var pi = pi, si = si
        let slash = UInt8(ascii: "/"), star = UInt8(ascii: "*"), q = UInt8(ascii: "?")
        while pi < p.count {
            if p[pi] == star {
                let double = pi + 1 < p.count && p[pi + 1] == star
                if double {
                    let next = pi + 2
                    // "**/" may also match nothing.
                    if next < p.count && p[next] == slash {
                        if match(p, next + 1, s, si) { return true }
                    }
                    for k in si...s.count where match(p, next, s, k) { return true }
                    return false
                }
                for k in si...s.count {
                    if match(p, pi + 1, s, k) { return true }
                    if k < s.count && s[k] == slash { break }
                }
                return false
            }
            guard si < s.count else { return false }
            if p[pi] == q { if s[si] == slash { return false } }
            else if p[pi] != s[si] { return false }
            pi += 1; si += 1
        }
        return si == s.count
    }

    /// True when `path` is `dir` or inside it.
    public static func isUnder(_ path: String, _ dir: String) -> Bool {
        if dir == "/" { return path.hasPrefix("/") }
        return path == dir || path.hasPrefix(dir.hasSuffix("/") ? dir : dir + "/")
    }

    public static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return i == path.startIndex ? "/" : String(path[..<i])
    }

    public static func name(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }

    /// The path relative to `dir` (which must contain it).
    public static func relative(_ path: String, to dir: String) -> String {
        if path == dir { return "." }
        if dir == "/" { return String(path.dropFirst()) }
        return String(path.dropFirst(dir.count + 1))
    }
}

/// Generalizes names that differ on every run (mkstemp suffixes, pids, object ids) into globs,
/// so that reports group them and baselines stay stable.
public enum NameShape {
    /// `pids`: the recorded processes' pids as text; a token equal to one after a word and `-` or `_`
    /// (temp-42.rdb, worker_7.sock) is per-run whatever its length (a version such as python3.11 is not).
    public static func shape(_ component: String, inTempDir: Bool = false, pids: Set<String> = []) -> String {
        // Maildir's unique names (TIME.UNIQUE.HOST[,S=…][:2,FLAGS]): one per message.
        let parts = component.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, parts[0].count >= 9, parts[0].allSatisfy(\.isNumber), !parts[1].isEmpty,
           parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), parts[1].contains(where: \.isNumber) {
            return "*"
        }
        var out = ""
        var token = ""
        func flush() {
            // Python's tempfile in a temp directory: PREFIX + 8 characters of [a-z0-9_] + SUFFIX.
            let pythonTemp = inTempDir && token.count == 8 && token.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
            if let w = numberedWord(token) {
                if !out.hasSuffix("*") { out += w }
            } else if isRandom(token) || (pythonTemp && !out.isEmpty) || ((out.hasSuffix("-") || out.hasSuffix("_")) && pids.contains(token)) {
                // tmpXXXXXX, ccXXXXXX: keep a known prefix glued to the random characters.
                let keep = ["tmp", "cc"].first { token.hasPrefix($0) && isRandom(String(token.dropFirst($0.count)), loose: true) } ?? ""
                if !out.hasSuffix("*") { out += keep + "*" }
            } else { out += token }
            token = ""
        }
        for c in component {
            if c == "." || c == "-" || c == "_" && token.count > 8 {
                flush(); out.append(c)
            } else { token.append(c) }
        }
        flush()
        // tmpXXXXXX, ccXXXXXX, sess_XXXX: a known prefix glued to random characters.
        // (mktemp's default template is tmp.XXXXXXXXXX.)
        // coreutils' temporary name for `ln -sf`, `install`, `cp --remove-destination`: Cu + 6 characters.
        if out == component && component.count == 8 && component.hasPrefix("Cu") && isRandom(String(component.dropFirst(2)), loose: true) {
            return "Cu*"
        }
        for prefix in ["tmp.", "tmp", "cc", "sess_", "wgunicorn-", "hsperfdata_"] where out == component && component.hasPrefix(prefix) {
            let rest = String(component.dropFirst(prefix.count))
            if rest.count >= 5 && isRandom(rest, loose: true) { return prefix + "*" }
            // Python's tempfile after a prefix: 8 characters of [a-z0-9_], letters only or not.
            if rest.count == 8 && rest.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) { return prefix + "*" }
        }
        return out
    }

    /// Shapes every component of a path.
    public static func shapePath(_ path: String, pids: Set<String> = []) -> String {
        var prev = ""
        return path.split(separator: "/", omittingEmptySubsequences: false).map { c -> String in
            defer { prev = String(c) }
            // Python's tempfile names files directly in a temp dir with 8 characters of [a-z0-9_],
            // which may all be letters: there, any such name is per-run.
            if (prev == "tmp" || prev == "temp") && c.count == 8 && c.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) {
                return "*"
            }
            return shape(String(c), inTempDir: prev == "tmp" || prev == "temp", pids: pids)
        }.joined(separator: "/")
    }

    static func isRandom(_ t: String, loose: Bool = false) -> Bool {
        let digits = t.filter(\.isNumber).count
        if digits == t.count { return t.count >= 4 }  // pids (temp-9103.rdb), ids, timestamps
        if digits >= 8 && t.allSatisfy({ $0.isNumber || $0 == "T" || $0 == "Z" }) { return true }  // 20261124T114229
        // Hashes: long runs of hex digits with at least one digit.
        if t.count >= 12 && digits > 0 && t.allSatisfy({ $0.isHexDigit && ($0.isNumber || $0.isLowercase) }) { return true }
        // Upper-case hex of a UUID's width or more (a UUID's first group, .NET/Go temp names): an id.
        if t.count >= 8 && digits > 0 && t.allSatisfy({ $0.isHexDigit && ($0.isNumber || $0.isUppercase) }) { return true }
        guard t.count >= (loose ? 5 : 6) else { return false }
        guard t.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return false }
        let letters = t.filter(\.isLetter).count
        // Python's tempfile: 8 characters of [a-z0-9_].
        if t.count == 8 && t.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" })
            && (digits > 0 || t.contains("_") && !t.hasPrefix("__") && !t.hasSuffix("__")) { return true }
        if loose { return digits >= 1 || t.contains(where: \.isUppercase) && t.contains(where: \.isLowercase) }
        // Mixed letters and digits in a short token: mkstemp-style.
        return digits >= 1 && letters >= 1 && t.count <= 12 && digits * 5 >= t.count
    }

    /// A word followed by a per-run number (pgsql_tmp30095, upload1246625846273850080): the word and a glob.
    static func numberedWord(_ t: String) -> String? {
        let trailing = t.reversed().prefix { $0.isASCII && $0.isNumber }.count
        guard trailing >= 4, trailing < t.count else { return nil }
        let word = t.dropLast(trailing)
        // A word: at least three letters, some lower-case (an upper-case hex prefix such as C1234567 is an id).
        guard word.count >= 3, word.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "_") }),
              word.contains(where: { $0.isLowercase || $0 == "_" }) else { return nil }
        return String(word) + "*"
    }
}
