internal import CYAML

/// Documents as YAML text (block style, two-space indent, lines of up to 80 columns, non-ASCII
/// escaped; a second document starts with `---`). A string whose plain form would read as another
/// type (`yes`, `1.0`, `null`, an empty string) is quoted.
public func serialize(_ documents: [Node]) throws -> String {
    let out = Output()
    var emitter = yaml_emitter_t()
    guard yaml_emitter_initialize(&emitter) == 1 else { throw YAMLError("libyaml could not start an emitter") }
    defer { yaml_emitter_delete(&emitter) }
    let context = Unmanaged.passUnretained(out).toOpaque()
    yaml_emitter_set_output(&emitter, { data, buffer, size in
        guard let data, let buffer else { return 0 }
        Unmanaged<Output>.fromOpaque(data).takeUnretainedValue().bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
        return 1
    }, context)
    yaml_emitter_set_encoding(&emitter, YAML_UTF8_ENCODING)
    yaml_emitter_set_indent(&emitter, 2)
    yaml_emitter_set_width(&emitter, 80)
    yaml_emitter_set_unicode(&emitter, 0)
    yaml_emitter_set_break(&emitter, YAML_LN_BREAK)
    var e = Events(emitter: &emitter)
    var event = yaml_event_t()
    yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
    try e.emit(&event)
    for doc in documents {
        yaml_document_start_event_initialize(&event, nil, nil, nil, 1)
        try e.emit(&event)
        try e.node(doc)
        yaml_document_end_event_initialize(&event, 1)
        try e.emit(&event)
    }
    yaml_stream_end_event_initialize(&event)
    try e.emit(&event)
    return String(decoding: out.bytes, as: UTF8.self)
}

private final class Output { var bytes: [UInt8] = [] }

private struct Events {
    let emitter: UnsafeMutablePointer<yaml_emitter_t>
    init(emitter: UnsafeMutablePointer<yaml_emitter_t>) { self.emitter = emitter }

    func emit(_ event: inout yaml_event_t) throws {
        guard yaml_emitter_emit(emitter, &event) == 1 else {
            throw YAMLError(emitter.pointee.problem.map { String(cString: $0) } ?? "libyaml could not write the document")
        }
    }

    static func tagText(_ t: Tag.Name) -> String {
        switch t {
        case .str: return "tag:yaml.org,2002:str"
        case .int: return "tag:yaml.org,2002:int"
        case .bool: return "tag:yaml.org,2002:bool"
        case .float: return "tag:yaml.org,2002:float"
        case .null: return "tag:yaml.org,2002:null"
        case .seq: return "tag:yaml.org,2002:seq"
        case .map: return "tag:yaml.org,2002:map"
        case .implicit: return "tag:yaml.org,2002:str"
        case .other(let s): return s
        }
    }

    func node(_ n: Node) throws {
        var event = yaml_event_t()
        // A tag of its own (not one of the core schema's) is written out; the core ones are implied.
        var custom = false
        if case .other(let s) = n.tag.name, !s.hasPrefix("tag:yaml.org,2002:") { custom = true }
        var tag = Array(Self.tagText(n.resolvedTag).utf8CString)
        /// The tag as libyaml takes it (a NUL-terminated byte string), for the event being made.
        func withTag(_ body: (UnsafeMutablePointer<yaml_char_t>) -> Void) {
            tag.withUnsafeMutableBufferPointer { t in
                t.baseAddress!.withMemoryRebound(to: yaml_char_t.self, capacity: t.count) { body($0) }
            }
        }
        switch n.value {
        case .scalar(let s):
            var style = n.style
            if style == .any || style == .plain, n.resolvedTag == .str, Tag.resolve(plain: s) != .str { style = .singleQuoted }
            let ystyle: yaml_scalar_style_t
            switch style {
            case .any: ystyle = YAML_ANY_SCALAR_STYLE
            case .plain: ystyle = YAML_PLAIN_SCALAR_STYLE
            case .singleQuoted: ystyle = YAML_SINGLE_QUOTED_SCALAR_STYLE
            case .doubleQuoted: ystyle = YAML_DOUBLE_QUOTED_SCALAR_STYLE
            case .literal: ystyle = YAML_LITERAL_SCALAR_STYLE
            case .folded: ystyle = YAML_FOLDED_SCALAR_STYLE
            }
            var value = Array(s.utf8)
            let implicit: Int32 = custom ? 0 : 1
            value.withUnsafeMutableBufferPointer { v in
                withTag { tp in
                    _ = yaml_scalar_event_initialize(&event, nil, tp, v.baseAddress ?? UnsafeMutablePointer(mutating: emptyByte), Int32(v.count),
                                                     implicit, implicit, ystyle)
                }
            }
            try emit(&event)
        case .sequence(let items):
            withTag { _ = yaml_sequence_start_event_initialize(&event, nil, $0, custom ? 0 : 1, n.flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_ANY_SEQUENCE_STYLE) }
            try emit(&event)
            for i in items { try node(i) }
            yaml_sequence_end_event_initialize(&event)
            try emit(&event)
        case .mapping(let pairs):
            withTag { _ = yaml_mapping_start_event_initialize(&event, nil, $0, custom ? 0 : 1, n.flow ? YAML_FLOW_MAPPING_STYLE : YAML_ANY_MAPPING_STYLE) }
            try emit(&event)
            for p in pairs { try node(p.key); try node(p.value) }
            yaml_mapping_end_event_initialize(&event)
            try emit(&event)
        }
    }
}

private let emptyByte: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.pointee = 0
    return UnsafePointer(p)
}()
