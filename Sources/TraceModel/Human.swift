import Foundation

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

    /// A printable form of a path: control characters (newlines, tabs, escapes) shown escaped.
    public static func printable(_ s: String) -> String {
        escape(s) { u in
            switch u {
            case "\n": return "\\n"
            case "\t": return "\\t"
            case "\r": return "\\r"
            default: return u.value < 0x20 || u.value == 0x7f ? String(format: "\\x%02x", u.value) : nil
            }
        }
    }

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

