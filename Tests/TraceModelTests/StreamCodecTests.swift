import Foundation
import Testing
@testable import TraceModel

/// The streamed reader and writer give exactly what reading and writing the whole document gave.
@Suite struct StreamCodecTests {
    static var recordingFiles: [URL] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Data/Recordings")
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }

    /// What the writer produced before it streamed: JSONEncoder over the whole normalized recording.
    static func wholeDocument(_ r: Recording) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var d = try enc.encode(r.normalized())
        d.append(0x0A)
        return d
    }

    /// More entries than a batch, unsorted, with the odd strings a recording can hold.
    static func large() -> Recording {
        var files: [FileMutation] = []
        for i in (0..<(Recording.streamBatch * 2 + 7)).reversed() {
            var f = FileMutation(path: "/srv/d\(i % 13)/f\(i)\(i % 5 == 0 ? " \"q\"\\\u{7}é\u{202E}" : "")", operation: i % 3 == 0 ? .create : .write,
                                 count: 2, succeeded: 1, errors: i % 4 == 0 ? ["EROFS": 1] : [:], flags: ["O_WRONLY", "O_CREAT"],
                                 syscalls: ["openat"], processes: ["/usr/bin/p\(i % 3)"], pids: [i % 7 + 2, 1],
                                 bytes: i % 2 == 0 ? i : nil, existedBefore: i % 3 == 0 ? false : nil, runs: ["run-a"])
            f.unknownOutcome = 1
            files.append(f)
        }
        let run = RunInfo(id: "run-a", command: ["app", "--x"], cwd: "/", mode: .full, host: HostFacts(arch: "x86_64", kernel: "6", uid: 0, gid: 0),
                          startedAt: "2026-12-02T00:00:00Z", durationSeconds: 1.5, exit: ExitInfo(code: 0), attachedPid: nil, complete: true, processes: [])
        return Recording(runs: [run], files: files, syscalls: ["x86_64": ["openat": 3]], blindSpots: [],
                         filesystem: FilesystemFacts(directories: ["/srv": DirectoryFacts(uid: 0, gid: 0, mode: 0o755, entries: [], entryCount: 0)]))
    }

    @Test func writerMatchesTheWholeDocument() throws {
        var samples = [Self.large(), Recording(runs: [], files: [], syscalls: [:], blindSpots: [])]
        for url in Self.recordingFiles { samples.append(try Recording.load(path: url.path)) }
        #expect(samples.count > 3)
        for r in samples {
            let streamed = try r.encoded()
            #expect(streamed == (try Self.wholeDocument(r)))
            #expect(try Recording.decode(streamed, source: "t") == r.normalized())
        }
    }

    @Test func readerNamesTheEntryAtFaultBeyondTheFirstBatch() throws {
        let r = Self.large()
        var text = String(decoding: try r.encoded(), as: UTF8.self)
        let n = Recording.streamBatch + 5
        let path = r.normalized().files[n].path
        let escaped = String(decoding: try JSONEncoder().encode(path), as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
        text = text.replacingOccurrences(of: "\"path\" : \(escaped)", with: "\"path\" : 7")
        #expect(throws: ModelError.self) { try Recording.decode(Data(text.utf8), source: "r.json") }
        do { _ = try Recording.decode(Data(text.utf8), source: "r.json") } catch {
            #expect("\(error)".contains("files[\(n)].path"), "\(error)")
        }
    }

    @Test(arguments: [
        ("", "not valid JSON"), ("[]", "does not start with '{'"), ("{\"files\": [ {}, ", "not valid JSON"),
        ("{\"format\": \"roprof-recording\", \"format\": \"x\"}", "appears twice"),
        ("{\"format\":\"roprof-recording\",\"version\":2,\"runs\":[],\"files\":[],\"syscalls\":{},\"blindSpots\":[]} x", "more text"),
        ("{\"files\": \(String(repeating: "[", count: 300))", "nested more than"),
        ("{\"format\": \"other\", \"files\": [{\"x\": 1}]}", "\"format\" is 'other'"),
    ])
    func malformedTextIsNamed(text: String, says: String) {
        do {
            _ = try Recording.decode(Data(text.utf8), source: "bad.json")
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains(says), "\(error)")
            #expect("\(error)".contains("bad.json"))
        }
    }

    @Test func equalArraysAreShared() throws {
        let back = try Recording.decode(try Self.large().encoded(), source: "t")
        let a = back.files[0].processes, b = back.files.first { $0.processes == a && $0.path != back.files[0].path }!.processes
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in #expect(pa.baseAddress == pb.baseAddress) } }
    }
}
