import Foundation

/// Errors reading or writing model files; each names the file and what to do.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Recording {
    /// Canonical bytes: sorted keys, sorted arrays, pretty-printed, trailing newline.
    public func encoded() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try enc.encode(self.normalized())
        data.append(0x0A)
        return data
    }

    /// Sorts every collection so that equal content gives equal bytes.
    public func normalized() -> Recording {
        var r = self
        r.runs.sort { $0.id < $1.id }
        for i in r.runs.indices { r.runs[i].processes.sort { $0.pid < $1.pid } }
        r.files.sort { $0.key < $1.key }
        for i in r.files.indices {
            r.files[i].flags = Array(Set(r.files[i].flags)).sorted()
            r.files[i].syscalls = Array(Set(r.files[i].syscalls)).sorted()
            r.files[i].processes = Array(Set(r.files[i].processes)).sorted()
            r.files[i].pids = Array(Array(Set(r.files[i].pids)).sorted().prefix(16))
            r.files[i].runs = Array(Set(r.files[i].runs)).sorted()
        }
        r.blindSpots.sort { ($0.kind, $0.detail) < ($1.kind, $1.detail) }
        r.dangerousCallers = r.dangerousCallers.map { $0.mapValues { Array(Set($0)).sorted() } }
        r.capabilityHints = r.capabilityHints.map { $0.mapValues { Array(Set($0)).sorted() } }
        for i in r.blindSpots.indices {
            r.blindSpots[i].processes = Array(Set(r.blindSpots[i].processes)).sorted()
            r.blindSpots[i].runs = Array(Set(r.blindSpots[i].runs)).sorted()
        }
        return r
    }

    /// Reads a recording file, with one-line errors that name the file and the fix.
    public static func load(path: String) throws -> Recording {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError("cannot read recording '\(path)': no such file or not readable (make one with `roprof record -o \(path) -- CMD`)")
        }
        return try decode(data, source: path)
    }

    public static func decode(_ data: Data, source: String) throws -> Recording {
        struct Header: Decodable { var format: String?; var version: Int? }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: data) } catch {
            throw ModelError("'\(source)' is not a roprof recording: not valid JSON (\(shortReason(error))); record it again with `roprof record`")
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
        do {
            var r = try JSONDecoder().decode(Recording.self, from: data)
            r.version = currentVersion  // read as the current model; written back in the current format
            return r
        } catch {
            throw ModelError("'\(source)' is a corrupt roprof recording: \(shortReason(error)); record it again")
        }
    }
}

/// One line describing a decoding error, with the JSON path at fault.
public func shortReason(_ error: Error) -> String {
    func pathString(_ path: [CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
        return "missing key '\(key.stringValue)' at \(pathString(ctx.codingPath).isEmpty ? "top level" : pathString(ctx.codingPath))"
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
        return "wrong type at \(pathString(ctx.codingPath)): \(ctx.debugDescription)"
    case DecodingError.dataCorrupted(let ctx):
        let p = pathString(ctx.codingPath)
        let underlying = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return (p.isEmpty ? "" : "at \(p): ") + (underlying ?? ctx.debugDescription)
    default:
        return "\(error)"
    }
}

/// Writes bytes to a file atomically (temp file in the same directory, then rename): never a half-written file.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw ModelError("cannot write '\(path)': directory '\(dir)' does not exist")
    }
    let tmp = dir + "/.\(url.lastPathComponent).tmp-\(getpid())"
    guard FileManager.default.createFile(atPath: tmp, contents: data) else {
        throw ModelError("cannot write '\(path)': directory '\(dir)' is not writable (choose another path with -o)")
    }
    if rename(tmp, path) != 0 {
        let e = errno
        unlink(tmp)
        throw ModelError("cannot write '\(path)': \(String(cString: strerror(e)))")
    }
}
