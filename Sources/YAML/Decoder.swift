/// Decodable values from YAML. Errors are `DecodingError`s whose coding path names where, and whose
/// description names the line.
public final class YAMLDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        guard let root = try compose(text) else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: [], debugDescription: "the document is empty"))
        }
        return try decode(type, from: root)
    }

    public func decode<T: Decodable>(_ type: T.Type, from node: Node) throws -> T {
        try Self.value(type, node, path: [])
    }

    static func where_(_ n: Node) -> String { n.mark.map { " (line \($0.line))" } ?? "" }

    static func mismatch<T>(_ type: T.Type, _ n: Node, _ path: [CodingKey], _ what: String) -> DecodingError {
        .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(what)\(where_(n))"))
    }

    static func value<T: Decodable>(_ type: T.Type, _ n: Node, path: [CodingKey]) throws -> T {
        if T.self == String.self {
            guard let s = n.string else { throw mismatch(type, n, path, "text") }
            return s as! T
        }
        if T.self == Bool.self {
            guard let b = n.bool else { throw mismatch(type, n, path, "true or false") }
            return b as! T
        }
        if T.self == Double.self {
            guard let d = n.double else { throw mismatch(type, n, path, "a number") }
            return d as! T
        }
        if T.self == Float.self {
            guard let d = n.double else { throw mismatch(type, n, path, "a number") }
            return Float(d) as! T
        }
        // Integers by their exact type: a metadata comparison, where a cast to a protocol would search
        // the conformance tables (milliseconds, the first time, in a short-lived process).
        func integer<I: FixedWidthInteger>(_: I.Type) throws -> T {
            guard let s = n.string, let v = Node.parseInt(s), let r = I(exactly: v) else { throw mismatch(type, n, path, "a whole number") }
            return r as! T
        }
        if T.self == Int.self { return try integer(Int.self) }
        if T.self == Int64.self { return try integer(Int64.self) }
        if T.self == Int32.self { return try integer(Int32.self) }
        if T.self == UInt64.self { return try integer(UInt64.self) }
        if T.self == UInt32.self { return try integer(UInt32.self) }
        if T.self == UInt.self { return try integer(UInt.self) }
        if T.self == Int16.self { return try integer(Int16.self) }
        if T.self == UInt16.self { return try integer(UInt16.self) }
        if T.self == Int8.self { return try integer(Int8.self) }
        if T.self == UInt8.self { return try integer(UInt8.self) }
        return try T(from: Impl(node: n, codingPath: path))
    }

    struct Impl: Decoder {
        let node: Node
        var codingPath: [CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            guard let m = node.mapping else { throw YAMLDecoder.mismatch([String: String].self, node, codingPath, "a mapping") }
            return KeyedDecodingContainer(Keyed<Key>(pairs: m.pairs, codingPath: codingPath))
        }
        func unkeyedContainer() throws -> UnkeyedDecodingContainer {
            guard let s = node.sequence else { throw YAMLDecoder.mismatch([String].self, node, codingPath, "a list") }
            return Unkeyed(items: s, codingPath: codingPath)
        }
        func singleValueContainer() throws -> SingleValueDecodingContainer { Single(node: node, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let pairs: [(key: Node, value: Node)]
        var codingPath: [CodingKey]
        var allKeys: [Key] { pairs.compactMap { $0.key.string.flatMap(Key.init(stringValue:)) } }

        func contains(_ key: Key) -> Bool { pairs.contains { $0.key.string == key.stringValue } }
        func node(_ key: Key) throws -> Node {
            guard let n = pairs.first(where: { $0.key.string == key.stringValue })?.value else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no key '\(key.stringValue)'"))
            }
            return n
        }
        func decodeNil(forKey key: Key) throws -> Bool { try node(key).isNull }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try YAMLDecoder.value(type, node(key), path: codingPath + [key])
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try Impl(node: node(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            try Impl(node: node(key), codingPath: codingPath + [key]).unkeyedContainer()
        }
        func superDecoder() throws -> Decoder { Impl(node: Node(pairs.map { ($0.key, $0.value) }), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> Decoder { Impl(node: try node(key), codingPath: codingPath + [key]) }
    }

    struct Index: CodingKey {
        var intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ i: Int) { intValue = i }
        init?(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { return nil }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [Node]
        var codingPath: [CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        init(items: [Node], codingPath: [CodingKey]) { self.items = items; self.codingPath = codingPath }

        mutating func next<T>(_ type: T.Type) throws -> Node {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [Index(currentIndex)], debugDescription: "the list has no more items"))
            }
            defer { currentIndex += 1 }
            return items[currentIndex]
        }
        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, items[currentIndex].isNull else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let path = codingPath + [Index(currentIndex)]
            return try YAMLDecoder.value(type, next(type), path: path)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let path = codingPath + [Index(currentIndex)]
            return try Impl(node: next(type), codingPath: path).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
            let path = codingPath + [Index(currentIndex)]
            return try Impl(node: next([String].self), codingPath: path).unkeyedContainer()
        }
        mutating func superDecoder() throws -> Decoder {
            let path = codingPath + [Index(currentIndex)]
            return Impl(node: try next(Node.self), codingPath: path)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let node: Node
        var codingPath: [CodingKey]
        func decodeNil() -> Bool { node.isNull }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try YAMLDecoder.value(type, node, path: codingPath) }
    }
}
