import FoundationEssentials
import Glibc

/// Human formatting helpers.
public enum Human {
    public static func bytes(_ n: Int?) -> String {
        guard let n else { return "-" }
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var v = Double(n) / 1024, i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return v >= 10 ? "\(Int(v.rounded())) \(units[i])" : "\((v * 10).rounded() / 10) \(units[i])"
    }

    /// Pads to a display width (counting characters), truncating from the left with "…".
    public static func pad(_ s: String, _ width: Int, truncateLeft: Bool = true) -> String {
        if s.count > width {
            return truncateLeft ? "…" + s.suffix(width - 1) : s.prefix(width - 1) + "…"
        }
        return s + String(repeating: " ", count: width - s.count)
    }

    /// A printable form of a path: control characters (C0, DEL and C1: newlines, tabs, terminal
    /// escapes) and the invisible characters that reorder or hide text (bidi overrides and isolates,
    /// zero-width marks) shown escaped, so a file name cannot rewrite what the terminal shows.
    public static func printable(_ s: String) -> String {
        escape(s) { u in
            switch u {
            case "\n": return "\\n"
            case "\t": return "\\t"
            case "\r": return "\\r"
            default:
                let v = u.value
                if v < 0x20 || v == 0x7f { return "\\x" + Format.hex(v, width: 2) }
                if (0x80...0x9f).contains(v) || deceptive.contains(v) { return "\\u{" + Format.hex(v, width: 4) + "}" }
                return nil
            }
        }
    }

    /// Bidi embeddings, overrides and isolates, zero-width characters, and the line/paragraph separators.
    static let deceptive: Set<UInt32> = [0x061c, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c,
                                         0x202d, 0x202e, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff]

    /// Rewrites each scalar that `replacement` maps (nil keeps it): the one escaping loop that
    /// printable text, XML and systemd quoting share.
    public static func escape(_ s: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if let r = replacement(u) { out += r } else { out.unicodeScalars.append(u) }
        }
        return out
    }
}

/// "Did you mean": the candidate nearest to a mistyped word.
public enum DidYouMean {
    /// The candidate nearest to `word` (edit distance at most 2, or a prefix of at least 3 characters), if any.
    public static func closest(_ word: String, _ candidates: [String]) -> String? {
        let w = Array(word)
        let best = candidates.map { ($0, distance(w, Array($0))) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        if let b = best, b.1 <= 2 { return b.0 }
        return candidates.filter { $0.hasPrefix(word) && word.count >= 3 }.sorted().first
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var cur = [i + 1]
            for (j, cb) in b.enumerated() { cur.append(min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1))) }
            prev = cur
        }
        return prev[b.count]
    }
}
