/// Encodable values as YAML: structs as mappings in their keys' order, dictionaries with their keys
/// sorted (so output is stable), `nil` left out (or `null` where a value must be written).
public final class YAMLEncoder {
    /// Sort every mapping's keys, not only dictionaries'.
    public var sortKeys = false

    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> String {
        try serialize([node(value)])
    }

    /// The value as a node, to combine with other nodes before writing.
    public func node<T: Encodable>(_ value: T) throws -> Node {
        let root = Box()
        try Self.encode(value, into: root, path: [], sortKeys: sortKeys)
        return root.node(sortKeys: sortKeys)
    }

    static func encode<T: Encodable>(_ value: T, into box: Box, path: [CodingKey], sortKeys: Bool) throws {
        // Scalars by their exact type (a metadata comparison, not a search of conformance tables).
        let t = T.self
        if t == String.self { box.set(Node(value as! String, Tag(.str))) }
        else if t == Bool.self { box.set(Node(value as! Bool ? "true" : "false", Tag(.bool))) }
        else if t == Int.self || t == Int64.self || t == Int32.self || t == UInt64.self || t == UInt32.self || t == UInt.self
                    || t == Int16.self || t == UInt16.self || t == Int8.self || t == UInt8.self { box.set(Node("\(value)", Tag(.int))) }
        else if t == Double.self { box.set(Node(Self.text(value as! Double), Tag(.float))) }
        else if t == Float.self { box.set(Node(Self.text(Double(value as! Float)), Tag(.float))) }
        else { try value.encode(to: Impl(box: box, codingPath: path, sortKeys: sortKeys)) }
    }

    static func text(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        return "\(d)"
    }

    /// What an encoder writes into: nothing yet, a scalar, a list, or keyed entries (appended in
    /// place: no copy of the list per item).
    final class Box {
        enum Kind { case none, scalar, list, keyed }
        var kind = Kind.none
        var scalar: Node?
        var list: [Box] = []
        var entries: [(String, Box)] = []
        var sortedKeys = false

        func set(_ n: Node) { kind = .scalar; scalar = n }

        func node(sortKeys: Bool) -> Node {
            switch kind {
            case .none: return Node("null", Tag(.null))
            case .scalar: return scalar!
            case .list: return Node(list.map { $0.node(sortKeys: sortKeys) })
            case .keyed:
                let ordered = sortedKeys || sortKeys ? entries.sorted { $0.0 < $1.0 } : entries
                return Node(ordered.map { (Node($0.0, Tag(.str)), $0.1.node(sortKeys: sortKeys)) })
            }
        }
    }

    struct Impl: Encoder {
        let box: Box
        var codingPath: [CodingKey]
        let sortKeys: Bool
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            // A dictionary's keys come in hash order: sorted, so the same value always reads the same.
            let isDictionary = String(describing: Key.self).contains("DictionaryCodingKey")
            if box.kind != .keyed { box.kind = .keyed; box.entries = []; box.sortedKeys = isDictionary }
            return KeyedEncodingContainer(Keyed<Key>(box: box, codingPath: codingPath, sortKeys: sortKeys))
        }
        func unkeyedContainer() -> UnkeyedEncodingContainer {
            if box.kind != .list { box.kind = .list; box.list = [] }
            return Unkeyed(box: box, codingPath: codingPath, sortKeys: sortKeys)
        }
        func singleValueContainer() -> SingleValueEncodingContainer { Single(box: box, codingPath: codingPath, sortKeys: sortKeys) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: Box
        var codingPath: [CodingKey]
        let sortKeys: Bool

        func child(_ key: Key) -> Box {
            let b = Box()
            box.entries.append((key.stringValue, b))
            return b
        }
        mutating func encodeNil(forKey key: Key) throws { child(key).set(Node("null", Tag(.null))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try YAMLEncoder.encode(value, into: child(key), path: codingPath + [key], sortKeys: sortKeys)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            Impl(box: child(key), codingPath: codingPath + [key], sortKeys: sortKeys).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            Impl(box: child(key), codingPath: codingPath + [key], sortKeys: sortKeys).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { Impl(box: box, codingPath: codingPath, sortKeys: sortKeys) }
        mutating func superEncoder(forKey key: Key) -> Encoder { Impl(box: child(key), codingPath: codingPath + [key], sortKeys: sortKeys) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let box: Box
        var codingPath: [CodingKey]
        let sortKeys: Bool
        var count: Int { box.list.count }

        func next() -> Box {
            let b = Box()
            box.list.append(b)
            return b
        }
        mutating func encodeNil() throws { next().set(Node("null", Tag(.null))) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try YAMLEncoder.encode(value, into: next(), path: codingPath, sortKeys: sortKeys)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            Impl(box: next(), codingPath: codingPath, sortKeys: sortKeys).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            Impl(box: next(), codingPath: codingPath, sortKeys: sortKeys).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { Impl(box: next(), codingPath: codingPath, sortKeys: sortKeys) }
    }

    struct Single: SingleValueEncodingContainer {
        let box: Box
        var codingPath: [CodingKey]
        let sortKeys: Bool
        mutating func encodeNil() throws { box.set(Node("null", Tag(.null))) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try YAMLEncoder.encode(value, into: box, path: codingPath, sortKeys: sortKeys)
        }
    }
}
