import FoundationEssentials
import Glibc

// Recordings of hundreds of thousands of paths are read and written in bounded pieces: the file list is
// streamed (decoded and encoded a batch at a time), everything else is small. Memory is then the model
// itself, with the arrays that repeat from entry to entry (processes, runs, flags, syscalls, pids)
// shared, never the text of the whole file or a parser's map of it.

extension FileMutation {
    /// Sets sorted and deduplicated, pids capped: the canonical form a recording stores.
    public mutating func normalize(_ interner: Interner? = nil) {
        func canon(_ a: [String]) -> [String] {
            var sorted = a.count < 2 ? a : Array(Set(a)).sorted()
            if let i = interner { sorted = i.intern(sorted) }
            return sorted
        }
        flags = canon(flags)
        syscalls = canon(syscalls)
        processes = canon(processes)
        runs = canon(runs)
        var p = pids.count < 2 ? pids : Array(Array(Set(pids)).sorted().prefix(16))
        if let i = interner { p = i.intern(p) }
        pids = p
    }
}

/// Shares equal arrays between entries (copy-on-write makes the sharing invisible): a recording's
/// 300,000 entries name a handful of processes, runs, flag sets and syscalls.
public final class Interner {
    private var strings: [[String]: [String]] = [:]
    private var ints: [[Int]: [Int]] = [:]
    private let limit = 1 << 16
    public init() {}
    public func intern(_ a: [String]) -> [String] {
        if a.isEmpty { return a }
        if let x = strings[a] { return x }
        if strings.count < limit { strings[a] = a }
        return a
    }
    public func intern(_ a: [Int]) -> [Int] {
        if a.isEmpty { return a }
        if let x = ints[a] { return x }
        if ints.count < limit { ints[a] = a }
        return a
    }
}

extension Recording {
    /// Entries per batch when streaming the file list.
    static let streamBatch = 1024

    /// In place: every collection sorted, so that equal content gives equal bytes.
    public mutating func normalize() {
        runs.sort { a, b in
            // A first start before its restart; otherwise by when they started (then by id: stable).
            let pa = a.phase == "restart" ? 1 : 0, pb = b.phase == "restart" ? 1 : 0
            return (pa, a.startedAt, a.id) < (pb, b.startedAt, b.id)
        }
        for i in runs.indices { runs[i].processes.sort { $0.pid < $1.pid } }
        let interner = Interner()
        for i in files.indices { files[i].normalize(interner) }
        if !files.isSortedByKey { files.sort { $0.key < $1.key } }
        blindSpots.sort { ($0.kind, $0.detail) < ($1.kind, $1.detail) }
        dangerousCallers = dangerousCallers.map { $0.mapValues { Array(Set($0)).sorted() } }
        capabilityHints = capabilityHints.map { $0.mapValues { Array(Set($0)).sorted() } }
        for i in blindSpots.indices {
            blindSpots[i].processes = Array(Set(blindSpots[i].processes)).sorted()
            blindSpots[i].runs = Array(Set(blindSpots[i].runs)).sorted()
        }
    }

    /// Sorts every collection so that equal content gives equal bytes.
    public func normalized() -> Recording {
        var r = self
        r.normalize()
        return r
    }

    /// The canonical bytes (sorted keys, sorted arrays, pretty-printed, trailing newline), handed to
    /// `emit` in pieces: the file list a batch at a time, never the whole text at once.
    public func encode(into emit: (Data) throws -> Void) throws {
        let order = files.keyOrder
        var i = 0
        var entries = AnyIterator<FileMutation> {
            guard i < files.count else { return nil }
            defer { i += 1 }
            return files[order?[i] ?? i]
        }
        try Self.encode(head: self, entries: &entries, into: emit)
    }

    /// The canonical bytes of `head` with `entries` (in key order) as its file list, which is never
    /// held whole: each entry is normalized and written a batch at a time. Returns how many there were.
    @discardableResult
    static func encode<I: IteratorProtocol>(head full: Recording, entries: inout I,
                                            into emit: (Data) throws -> Void) throws -> Int where I.Element == FileMutation {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var head = full
        head.files = []
        head.normalize()
        var text = try enc.encode(head)
        text.append(0x0A)
        guard var pending = entries.next() else { try emit(text); return 0 }
        // The top level's keys are indented by two spaces and strings hold no raw newline: this is the
        // one place the empty list stands, spliced open for the entries.
        let marker = Data("\n  \"files\" : [".utf8)
        guard let at = text.firstRange(of: marker) else { throw ModelError("internal: no file list in the encoded recording") }
        let emptyList = Data("\n\n  ]".utf8)
        guard text[at.upperBound...].starts(with: emptyList) else { throw ModelError("internal: unexpected file list layout") }
        try emit(text[..<at.upperBound])
        var written = 0
        var batch: [FileMutation] = []
        batch.reserveCapacity(Self.streamBatch)
        var more = true
        while more {
            batch.removeAll(keepingCapacity: true)
            while batch.count < Self.streamBatch {
                pending.normalize()
                batch.append(pending)
                guard let n = entries.next() else { more = false; break }
                pending = n
            }
            // "[\n  {…},\n  {…}\n]" → "\n    {…},\n    {…}": one level deeper, without the brackets.
            let list = try enc.encode(batch)
            var body: [UInt8] = []
            body.reserveCapacity(list.count + list.count / 4)
            if written > 0 { body.append(0x2C) }
            list.withUnsafeBytes { (all: UnsafeRawBufferPointer) in
                var previous: UInt8 = 0
                for b in all[1..<(all.count - 2)] {
                    if previous == 0x0A && b != 0x0A { body.append(0x20); body.append(0x20) }
                    body.append(b)
                    previous = b
                }
            }
            try emit(Data(body))
            written += batch.count
        }
        try emit(text[(at.upperBound + emptyList.count - 4)...])
        return written
    }

    /// Canonical bytes: sorted keys, sorted arrays, pretty-printed, trailing newline.
    public func encoded() throws -> Data {
        var out = Data()
        try encode { out.append($0) }
        return out
    }

    /// Writes the recording where the user pointed `-o`, a batch at a time (see `writeAtomically`).
    public func write(to path: String) throws {
        try writeAtomically(to: path) { emit in try encode(into: emit) }
    }
}

extension Array where Element == FileMutation {
    var isSortedByKey: Bool {
        var i = 1
        while i < count { if !(self[i - 1].key < self[i].key) { return false }; i += 1 }
        return true
    }

    /// The positions of the entries in key order; nil when they are in it already (as written).
    var keyOrder: [Int]? { isSortedByKey ? nil : indices.sorted { self[$0].key < self[$1].key } }
}

/// Reads one JSON text from a file descriptor (or memory) a buffer at a time, handing out the raw
/// bytes of one value at a time; a value is checked by JSONDecoder when it is decoded.
struct JSONValueReader {
    private let fd: Int32
    private var buffer: [UInt8]
    private var pos = 0
    private var end = 0
    private var eof = false
    private(set) var total = 0
    let limit: Int

    init(fd: Int32, limit: Int) {
        self.fd = fd; self.limit = limit
        buffer = [UInt8](repeating: 0, count: 1 << 20)
    }

    init(data: Data) {
        fd = -1; limit = Int.max
        buffer = [UInt8](data); end = buffer.count; eof = true; total = end
    }

    enum Failure: Error { case syntax(String), tooLarge, tooDeep, io(Int32) }

    private mutating func fill() throws -> Bool {
        if pos < end { return true }
        guard !eof else { return false }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw Failure.io(errno) }
            if n == 0 { eof = true; return false }
            pos = 0; end = n; total += n
            if total > limit { throw Failure.tooLarge }
            return true
        }
    }

    mutating func peek() throws -> UInt8? { try fill() ? buffer[pos] : nil }

    mutating func skipWhitespace() throws {
        while let b = try peek(), b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 }
    }

    /// The next byte that is not whitespace, consumed.
    mutating func next() throws -> UInt8? {
        try skipWhitespace()
        guard let b = try peek() else { return nil }
        pos += 1
        return b
    }

    /// Appends the raw bytes of the next value to `out`; `depth` is how deep the value already is.
    mutating func capture(into out: inout [UInt8], depth: Int, maxDepth: Int) throws {
        try skipWhitespace()
        guard let first = try peek() else { throw Failure.syntax("unexpected end of the file") }
        switch first {
        case 0x7B, 0x5B:
            var level = 0, inString = false, escaped = false
            while try fill() {
                let b = buffer[pos]
                pos += 1
                out.append(b)
                if inString {
                    if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                    continue
                }
                switch b {
                case 0x22: inString = true
                case 0x7B, 0x5B:
                    level += 1
                    if depth + level > maxDepth { throw Failure.tooDeep }
                case 0x7D, 0x5D:
                    level -= 1
                    if level == 0 { return }
                default: break
                }
            }
            throw Failure.syntax("unexpected end of the file")
        case 0x22:
            pos += 1
            out.append(first)
            var escaped = false
            while try fill() {
                let b = buffer[pos]
                pos += 1
                out.append(b)
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { return }
            }
            throw Failure.syntax("unterminated string")
        case 0x2C, 0x3A, 0x7D, 0x5D:
            throw Failure.syntax("unexpected '\(Character(Unicode.Scalar(first)))' where a value belongs")
        default:
            while let b = try peek(), !(b == 0x2C || b == 0x7D || b == 0x5D || b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09) {
                out.append(b)
                pos += 1
            }
        }
    }
}

extension Recording {
    /// Decodes a recording from `reader`: the file list a batch at a time (strings shared where equal),
    /// the rest whole. Errors name the place at fault, as `decode(_:source:)` documents.
    static func stream(_ reader: inout JSONValueReader, source: String) throws -> Recording {
        func notRecording(_ why: String) -> ModelError {
            ModelError("'\(source)' is not a roprof recording: \(why); record it again with `roprof record`")
        }
        func syntax(_ e: Error) -> ModelError {
            switch e {
            case JSONValueReader.Failure.syntax(let why): return notRecording("not valid JSON (\(why))")
            case JSONValueReader.Failure.tooDeep: return notRecording("nested more than \(InputLimits.maxNesting) levels deep")
            case JSONValueReader.Failure.tooLarge:
                return ModelError("cannot read recording '\(source)': larger than any recording roprof writes (at most \(InputLimits.maxRecordingBytes >> 20) MiB); is it the right file?")
            case JSONValueReader.Failure.io(let e): return ModelError("cannot read recording '\(source)': \(String(cString: strerror(e)))")
            default: return notRecording("\(e)")
            }
        }
        let decoder = JSONDecoder()
        var parts: [(key: String, raw: [UInt8])] = []
        var files: [FileMutation] = []
        var sawFiles = false
        var filesError: ModelError? = nil
        let interner = Interner()
        do {
            guard try reader.next() == 0x7B else { throw JSONValueReader.Failure.syntax("the text does not start with '{'") }
            try reader.skipWhitespace()
            if try reader.peek() == 0x7D { _ = try reader.next() } else {
                while true {
                    var rawKey: [UInt8] = []
                    try reader.capture(into: &rawKey, depth: 1, maxDepth: InputLimits.maxNesting)
                    guard rawKey.first == 0x22, let key = try? decoder.decode(String.self, from: Data(rawKey)) else {
                        throw JSONValueReader.Failure.syntax("a key is not a string")
                    }
                    guard try reader.next() == 0x3A else { throw JSONValueReader.Failure.syntax("no ':' after the key \"\(Human.printable(key))\"") }
                    if parts.contains(where: { $0.key == key }) || (key == "files" && sawFiles) {
                        throw JSONValueReader.Failure.syntax("the key \"\(Human.printable(key))\" appears twice")
                    }
                    if key == "files" {
                        sawFiles = true
                        try reader.skipWhitespace()
                        if try reader.peek() == 0x5B {
                            _ = try reader.next()
                            var batch: [UInt8] = [0x5B]
                            var inBatch = 0
                            func flush() {
                                guard inBatch > 0 else { return }
                                batch.append(0x5D)
                                if filesError == nil {
                                    do {
                                        var decoded = try decoder.decode([FileMutation].self, from: Data(batch))
                                        for i in decoded.indices { decoded[i].normalizeShared(interner) }
                                        files.append(contentsOf: decoded)
                                    } catch {
                                        filesError = ModelError("'\(source)' is a corrupt roprof recording: \(shortReason(error, offset: ("files", files.count))); record it again")
                                    }
                                }
                                batch.removeAll(keepingCapacity: true)
                                batch.append(0x5B)
                                inBatch = 0
                            }
                            try reader.skipWhitespace()
                            if try reader.peek() == 0x5D { _ = try reader.next() } else {
                                while true {
                                    if inBatch > 0 { batch.append(0x2C) }
                                    try reader.capture(into: &batch, depth: 2, maxDepth: InputLimits.maxNesting)
                                    inBatch += 1
                                    if inBatch == Self.streamBatch { flush() }
                                    let sep = try reader.next()
                                    if sep == 0x5D { break }
                                    guard sep == 0x2C else { throw JSONValueReader.Failure.syntax("expected ',' or ']' in the file list") }
                                }
                                flush()
                            }
                        } else {
                            var raw: [UInt8] = []
                            try reader.capture(into: &raw, depth: 1, maxDepth: InputLimits.maxNesting)
                            parts.append((key, raw))  // not a list: the decoder below names the mistake
                        }
                    } else {
                        var raw: [UInt8] = []
                        try reader.capture(into: &raw, depth: 1, maxDepth: InputLimits.maxNesting)
                        parts.append((key, raw))
                    }
                    let sep = try reader.next()
                    if sep == 0x7D { break }
                    guard sep == 0x2C else { throw JSONValueReader.Failure.syntax("expected ',' or '}' after a value") }
                }
            }
            if try reader.next() != nil { throw JSONValueReader.Failure.syntax("more text after the recording's closing '}'") }
        } catch let e as JSONValueReader.Failure {
            throw syntax(e)
        }
        // Everything but the file list, as one small object the decoder checks whole.
        var rest: [UInt8] = [0x7B]
        for (i, p) in parts.enumerated() {
            if i > 0 { rest.append(0x2C) }
            rest += Array(try JSONEncoder().encode(p.key)) + [0x3A] + p.raw
        }
        if sawFiles && !parts.contains(where: { $0.key == "files" }) {
            rest += Array((parts.isEmpty ? "" : ",").utf8) + Array("\"files\":[]".utf8)
        }
        rest.append(0x7D)
        let restData = Data(rest)
        struct Header: Decodable { var format: String?; var version: Int? }
        let header: Header
        do { header = try decoder.decode(Header.self, from: restData) } catch {
            throw notRecording("not valid JSON (\(shortReason(error)))")
        }
        guard header.format == formatName else {
            throw ModelError("'\(source)' is not a roprof recording: \"format\" is \(header.format.map { "'\($0)'" } ?? "missing"), expected '\(formatName)'")
        }
        guard let v = header.version else { throw ModelError("'\(source)': recording has no \"version\"") }
        guard readableVersions.contains(v) else {
            if v < readableVersions.lowerBound {
                throw ModelError("'\(source)' is recording version \(v), which this roprof cannot read (it reads \(readableVersions.lowerBound)–\(currentVersion)); record it again")
            }
            throw ModelError("'\(source)' is recording version \(v), newer than this roprof understands (\(currentVersion)); upgrade roprof")
        }
        if let e = filesError { throw e }
        do {
            var r = try decoder.decode(Recording.self, from: restData)
            if sawFiles && !parts.contains(where: { $0.key == "files" }) {
                // Exactly as long as it is: the slack of a list grown by doubling is up to half of it.
                var exact: [FileMutation] = []
                exact.reserveCapacity(files.count)
                exact.append(contentsOf: files)
                files = []
                r.files = exact
            }
            r.version = currentVersion  // read as the current model; written back in the current format
            if let why = r.invalidValue() { throw ModelError("'\(source)' is a corrupt roprof recording: \(why); record it again") }
            return r
        } catch let e as ModelError {
            throw e
        } catch {
            throw ModelError("'\(source)' is a corrupt roprof recording: \(shortReason(error)); record it again")
        }
    }
}

extension FileMutation {
    /// Shares the entry's arrays with equal ones already read (no re-sorting: a hand-edited order is
    /// kept as it was, as the decoder gave it before).
    mutating func normalizeShared(_ interner: Interner) {
        flags = interner.intern(flags)
        syscalls = interner.intern(syscalls)
        processes = interner.intern(processes)
        runs = interner.intern(runs)
        pids = interner.intern(pids)
    }
}
