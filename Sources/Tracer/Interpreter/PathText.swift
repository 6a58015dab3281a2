/// Path bytes as both backends normalise them: absolute, no `//`, no `.` component, no trailing
/// `/`, and `..` kept (folding it needs the filesystem).
enum PathText {
    /// Removes `//`, `/./` and a trailing `/.`; keeps `..`.
    static func tidy(_ p: [UInt8]) -> [UInt8] {
        if isTidy(p) { return p }
        var parts: [ArraySlice<UInt8>] = []
        for comp in p.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) where comp != [UInt8(ascii: ".")] {
            parts.append(comp)
        }
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        for c in parts { out.append(UInt8(ascii: "/")); out.append(contentsOf: c) }
        return out.isEmpty ? [UInt8(ascii: "/")] : out
    }

    /// Already in the form `tidy` produces.
    static func isTidy(_ p: [UInt8]) -> Bool {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard p.first == slash else { return false }
        if p.count == 1 { return true }
        if p.last == slash { return false }
        var prev = slash, prev2: UInt8 = 0
        for b in p.dropFirst() {
            if b == slash && (prev == slash || (prev == dot && prev2 == slash)) { return false }
            prev2 = prev; prev = b
        }
        return !(prev == dot && prev2 == slash)
    }

    /// `relative` joined to the directory `base` (both as bytes), tidied.
    static func join(_ base: [UInt8], _ relative: [UInt8]) -> [UInt8] {
        if relative.isEmpty { return base }
        var b = base
        if b.last != UInt8(ascii: "/") { b.append(UInt8(ascii: "/")) }
        return tidy(b + relative)
    }

    /// A path seen from the tracer, as the process sees it under its root (`root` nil or "/": unchanged).
    static func stripRoot(_ p: [UInt8], _ root: String?) -> [UInt8] {
        guard let root, root != "/" else { return p }
        let r = Array(root.utf8)
        if p == r { return [UInt8(ascii: "/")] }
        if p.count > r.count && p.starts(with: r) && p[r.count] == UInt8(ascii: "/") { return Array(p[r.count...]) }
        return p
    }
}
