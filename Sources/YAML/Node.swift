/// YAML documents as values: what roprof reads (profiles, baselines, the manifests it patches) and
/// writes (Kubernetes, compose, seccomp CRDs, baselines). Parsing and emitting go through libyaml
/// (`YAML.composeAll`, `YAML.serialize`); `YAMLEncoder` / `YAMLDecoder` map Codable values onto
/// nodes. No Foundation: the static binary carries no ICU.

/// Where a node began in its text (1-based line and column).
public struct Mark: Sendable, Equatable, CustomStringConvertible {
    public var line: Int, column: Int
    public var description: String { "\(line):\(column)" }
}

/// A node's tag: the core schema's types, or any other tag the text named.
public struct Tag: Sendable, Equatable {
    public enum Name: Sendable, Equatable {
        case str, int, bool, float, null, seq, map
        /// Plain text without a tag: its type is resolved from the text (`Tag.resolve`).
        case implicit
        case other(String)
    }
    public var name: Name
    public init(_ name: Name) { self.name = name }

    /// YAML 1.1's implicit types of a plain scalar (what Kubernetes' YAML reader follows too: an
    /// unquoted `yes` is a boolean there), so a string that would read as another type is quoted.
    public static func resolve(plain s: String) -> Name {
        let u = Array(s.utf8)
        if u.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" { return .null }
        if ["yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
            "on", "On", "ON", "off", "Off", "OFF"].contains(s) { return .bool }
        if isInt(u) { return .int }
        if isFloat(u) { return .float }
        if s == "<<" { return .other("merge") }
        if isTimestamp(u) { return .other("timestamp") }
        return .str
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    static func isInt(_ u: [UInt8]) -> Bool {
        var b = u[...]
        if let f = b.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { b = b.dropFirst() }
        guard let first = b.first else { return false }
        func all(_ s: ArraySlice<UInt8>, _ ok: (UInt8) -> Bool) -> Bool { !s.isEmpty && s.allSatisfy { $0 == UInt8(ascii: "_") || ok($0) } }
        if b.starts(with: Array("0b".utf8)) { return all(b.dropFirst(2)) { $0 == 48 || $0 == 49 } }
        if b.starts(with: Array("0x".utf8)) { return all(b.dropFirst(2)) { isDigit($0) || (65...70).contains($0) || (97...102).contains($0) } }
        if b.starts(with: Array("0o".utf8)) { return all(b.dropFirst(2)) { (48...55).contains($0) } }
        if first == 48 { return b.count == 1 || all(b.dropFirst()) { (48...55).contains($0) } }  // 0, or octal 0755
        guard isDigit(first) else { return false }
        // Decimal, or base 60 (1:30) as YAML 1.1 has it.
        let parts = b.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard all(parts[0], isDigit) else { return false }
        return parts.dropFirst().allSatisfy { p in !p.isEmpty && p.count <= 2 && p.allSatisfy(isDigit) && (p.count == 1 || p.first! <= UInt8(ascii: "5")) }
    }

    static func isFloat(_ u: [UInt8]) -> Bool {
        let s = String(decoding: u, as: UTF8.self)
        if [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"].contains(s) { return true }
        var b = u[...]
        if let f = b.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { b = b.dropFirst() }
        // [0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?  or  \.[0-9_]+([eE][-+][0-9]+)?  (YAML 1.1)
        var i = b.startIndex
        let leadingDigits = i < b.endIndex && isDigit(b[i])
        while i < b.endIndex, isDigit(b[i]) || b[i] == UInt8(ascii: "_") { i += 1 }
        var fraction = false
        if i < b.endIndex, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.endIndex, isDigit(b[i]) || b[i] == UInt8(ascii: "_") { i += 1 }
            fraction = true
            if !leadingDigits && i == start { return false }
        }
        guard leadingDigits || fraction else { return false }
        if i < b.endIndex, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.endIndex, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
            let start = i
            while i < b.endIndex, isDigit(b[i]) { i += 1 }
            if i == start { return false }
        }
        return i == b.endIndex && (fraction || u.contains(UInt8(ascii: "e")) || u.contains(UInt8(ascii: "E")) || leadingDigits)
    }

    static func isTimestamp(_ u: [UInt8]) -> Bool {
        // 2001-12-14 (and with a time): the date part is enough to make a plain string read as a timestamp.
        guard u.count >= 8, u.count <= 40 else { return false }
        let s = Array(u.prefix(10))
        func d(_ i: Int) -> Bool { i < s.count && isDigit(s[i]) }
        return d(0) && d(1) && d(2) && d(3) && s.count > 4 && s[4] == UInt8(ascii: "-") && d(5)
            && (u.count == 10 ? (s[7] == UInt8(ascii: "-") && d(8) && d(9) && d(6)) : u.contains(UInt8(ascii: ":")))
    }
}

/// How a scalar is written (`.any`: the emitter chooses).
public enum ScalarStyle: Sendable, Equatable {
    case any, plain, singleQuoted, doubleQuoted, literal, folded
}

/// One node of a document: a scalar, a sequence or a mapping (its pairs in their order).
public struct Node: Sendable {
    public enum Value: Sendable {
        case scalar(String)
        case sequence([Node])
        case mapping([(key: Node, value: Node)])
    }
    public var value: Value
    public var tag: Tag
    public var style: ScalarStyle
    public var mark: Mark?
    /// A sequence or mapping written in flow style (`[a, b]`, `{k: v}`), kept when it is written again.
    public var flow = false

    /// A scalar: `.implicit` means its type follows from the text.
    public init(_ string: String, _ tag: Tag = Tag(.implicit), _ style: ScalarStyle = .any, mark: Mark? = nil) {
        value = .scalar(string); self.tag = tag; self.style = style; self.mark = mark
    }
    public init(_ items: [Node], mark: Mark? = nil) {
        value = .sequence(items); tag = Tag(.seq); style = .any; self.mark = mark
    }
    public init(_ pairs: [(Node, Node)], mark: Mark? = nil) {
        value = .mapping(pairs.map { (key: $0.0, value: $0.1) }); tag = Tag(.map); style = .any; self.mark = mark
    }
    /// An empty mapping.
    public static var emptyMapping: Node { Node([(Node, Node)]()) }

    /// The type a scalar has: its tag, or (plain, untagged) what its text resolves to.
    public var resolvedTag: Tag.Name {
        switch value {
        case .sequence: return .seq
        case .mapping: return .map
        case .scalar(let s):
            if tag.name != .implicit { return tag.name }
            return style == .plain || style == .any ? Tag.resolve(plain: s) : .str
        }
    }

    /// A scalar's text (of any type).
    public var string: String? { if case .scalar(let s) = value { return s }; return nil }
    public var int: Int? {
        guard let s = string, resolvedTag == .int || resolvedTag == .str else { return nil }
        return Self.parseInt(s)
    }
    public var bool: Bool? {
        guard let s = string else { return nil }
        switch s {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }
    public var double: Double? {
        guard let s = string else { return nil }
        switch s {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: return Double(s.filter { $0 != "_" }) ?? Self.parseInt(s).map(Double.init)
        }
    }
    public var isNull: Bool {
        guard case .scalar = value else { return false }
        return resolvedTag == .null
    }
    public var sequence: [Node]? { if case .sequence(let s) = value { return s }; return nil }
    public var mapping: Mapping? { if case .mapping(let m) = value { return Mapping(pairs: m) }; return nil }

    /// A mapping's value for a key (the first pair whose key's text is `key`); setting adds or replaces.
    public subscript(key: String) -> Node? {
        get {
            guard case .mapping(let m) = value else { return nil }
            return m.first { $0.key.string == key }?.value
        }
        set {
            guard case .mapping(var m) = value else { return }
            if let i = m.firstIndex(where: { $0.key.string == key }) {
                if let v = newValue { m[i].value = v } else { m.remove(at: i) }
            } else if let v = newValue {
                m.append((key: Node(key), value: v))
            }
            value = .mapping(m)
        }
    }

    /// Integers as YAML 1.1 writes them: signs, underscores, 0x, 0o / leading-zero octal, 0b.
    static func parseInt(_ text: String) -> Int? {
        var s = Substring(text.filter { $0 != "_" })
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        let v: Int?
        if s.hasPrefix("0x") { v = Int(s.dropFirst(2), radix: 16) }
        else if s.hasPrefix("0o") { v = Int(s.dropFirst(2), radix: 8) }
        else if s.hasPrefix("0b") { v = Int(s.dropFirst(2), radix: 2) }
        else if s.count > 1 && s.hasPrefix("0") { v = Int(s.dropFirst(), radix: 8) }
        else if s.contains(":") {
            var total = 0
            for part in s.split(separator: ":") { guard let p = Int(part) else { return nil }; total = total * 60 + p }
            v = total
        } else { v = Int(s) }
        return v.map { negative ? -$0 : $0 }
    }
}

/// A mapping's pairs, in their order, with lookup by key text.
public struct Mapping: Sequence, Sendable, ExpressibleByDictionaryLiteral {
    public var pairs: [(key: Node, value: Node)]
    public init(pairs: [(key: Node, value: Node)]) { self.pairs = pairs }
    public init(dictionaryLiteral elements: (Node, Node)...) { pairs = elements.map { (key: $0.0, value: $0.1) } }
    public func makeIterator() -> IndexingIterator<[(key: Node, value: Node)]> { pairs.makeIterator() }
    public var keys: [Node] { pairs.map(\.key) }
    public var count: Int { pairs.count }
    public subscript(key: String) -> Node? { pairs.first { $0.key.string == key }?.value }
}

/// A YAML text that could not be read or written, with where (when known).
public struct YAMLError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var mark: Mark?
    public init(_ message: String, mark: Mark? = nil) { self.message = message; self.mark = mark }
    public var description: String { mark.map { "line \($0.line), column \($0.column): \(message)" } ?? message }
}

extension Node: Equatable {
    /// Equal in content and type (where a node came from and how it was quoted do not count).
    public static func == (a: Node, b: Node) -> Bool {
        switch (a.value, b.value) {
        case let (.scalar(x), .scalar(y)): return x == y && a.resolvedTag == b.resolvedTag
        case let (.sequence(x), .sequence(y)): return x == y
        case let (.mapping(x), .mapping(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }
}
