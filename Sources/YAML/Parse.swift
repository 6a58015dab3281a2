internal import CYAML

/// Every document of a YAML text, as nodes (anchors and aliases resolved: an alias is a copy of the
/// node its anchor named). `maxNodes` bounds what aliases may expand to.
public func composeAll(_ text: String, maxNodes: Int = 1_000_000) throws -> [Node] {
    var composer = Composer(maxNodes: maxNodes)
    return try composer.run(Array(text.utf8))
}

/// The first document of a YAML text; nil when the text holds none.
public func compose(_ text: String) throws -> Node? { try composeAll(text).first }

private let coreTagPrefix = "tag:yaml.org,2002:"

private struct Composer {
    let maxNodes: Int
    var nodes = 0
    var anchors: [String: Node] = [:]

    init(maxNodes: Int) { self.maxNodes = maxNodes }

    /// A frame being built: a sequence's items, or a mapping's keys and values in turn.
    struct Frame {
        var isMapping: Bool
        var items: [Node] = []
        var pairs: [(key: Node, value: Node)] = []
        var pendingKey: Node?
        var tag: Tag
        var anchor: String?
        var mark: Mark
        var flow: Bool
    }

    static func tag(_ raw: UnsafeMutablePointer<yaml_char_t>?, default d: Tag.Name) -> Tag {
        guard let raw else { return Tag(d) }
        let s = String(cString: raw)
        if s.hasPrefix(coreTagPrefix) {
            switch s.dropFirst(coreTagPrefix.count) {
            case "str": return Tag(.str)
            case "int": return Tag(.int)
            case "bool": return Tag(.bool)
            case "float": return Tag(.float)
            case "null": return Tag(.null)
            case "seq": return Tag(.seq)
            case "map": return Tag(.map)
            default: break
            }
        }
        if s == "!" { return Tag(d == .implicit ? .str : d) }  // the non-specific tag: a string, for a scalar
        return Tag(.other(s))
    }

    static func mark(_ m: yaml_mark_t) -> Mark { Mark(line: Int(m.line) + 1, column: Int(m.column) + 1) }

    mutating func counted() throws {
        nodes += 1
        if nodes > maxNodes { throw YAMLError("more than \(maxNodes) nodes (aliases expand too far)") }
    }

    /// Counts the nodes an alias copies.
    mutating func count(_ n: Node) throws {
        try counted()
        switch n.value {
        case .scalar: break
        case .sequence(let s): for x in s { try count(x) }
        case .mapping(let m): for p in m { try count(p.key); try count(p.value) }
        }
    }

    mutating func run(_ bytes: [UInt8]) throws -> [Node] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLError("libyaml could not start a parser") }
        defer { yaml_parser_delete(&parser) }
        var documents: [Node] = []
        var stack: [Frame] = []
        var root: Node?
        return try bytes.withUnsafeBufferPointer { buf -> [Node] in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            func add(_ n: Node, anchor: String?) throws {
                if let a = anchor { anchors[a] = n }
                guard !stack.isEmpty else { root = n; return }
                if stack[stack.count - 1].isMapping {
                    if let k = stack[stack.count - 1].pendingKey {
                        stack[stack.count - 1].pairs.append((key: k, value: n))
                        stack[stack.count - 1].pendingKey = nil
                    } else {
                        stack[stack.count - 1].pendingKey = n
                    }
                } else {
                    stack[stack.count - 1].items.append(n)
                }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                    let context = parser.context.map { String(cString: $0) + ", " } ?? ""
                    throw YAMLError(context + problem, mark: Self.mark(parser.problem_mark))
                }
                defer { yaml_event_delete(&event) }
                let m = Self.mark(event.start_mark)
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return documents
                case YAML_DOCUMENT_START_EVENT:
                    root = nil; anchors = [:]
                case YAML_DOCUMENT_END_EVENT:
                    if let r = root { documents.append(r) }
                case YAML_ALIAS_EVENT:
                    let name = String(cString: event.data.alias.anchor)
                    guard let target = anchors[name] else { throw YAMLError("unknown alias *\(name)", mark: m) }
                    try count(target)
                    try add(target, anchor: nil)
                case YAML_SCALAR_EVENT:
                    try counted()
                    let s = event.data.scalar
                    let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                    let style: ScalarStyle
                    switch s.style {
                    case YAML_PLAIN_SCALAR_STYLE: style = .plain
                    case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
                    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
                    case YAML_LITERAL_SCALAR_STYLE: style = .literal
                    case YAML_FOLDED_SCALAR_STYLE: style = .folded
                    default: style = .any
                    }
                    let node = Node(text, Self.tag(s.tag, default: .implicit), style, mark: m)
                    try add(node, anchor: s.anchor.map { String(cString: $0) })
                case YAML_SEQUENCE_START_EVENT:
                    try counted()
                    let s = event.data.sequence_start
                    stack.append(Frame(isMapping: false, tag: Self.tag(s.tag, default: .seq), anchor: s.anchor.map { String(cString: $0) },
                                       mark: m, flow: s.style == YAML_FLOW_SEQUENCE_STYLE))
                case YAML_MAPPING_START_EVENT:
                    try counted()
                    let s = event.data.mapping_start
                    stack.append(Frame(isMapping: true, tag: Self.tag(s.tag, default: .map), anchor: s.anchor.map { String(cString: $0) },
                                       mark: m, flow: s.style == YAML_FLOW_MAPPING_STYLE))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    let f = stack.removeLast()
                    var n = f.isMapping ? Node(f.pairs.map { ($0.key, $0.value) }, mark: f.mark) : Node(f.items, mark: f.mark)
                    n.tag = f.tag
                    n.flow = f.flow
                    try add(n, anchor: f.anchor)
                default:
                    break
                }
            }
        }
    }
}
