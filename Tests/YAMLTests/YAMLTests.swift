import Foundation
import Testing
import Yams
@testable import YAML

/// roprof's YAML reader and writer, checked against an independent one (Yams) where it matters:
/// what roprof writes must read back as the same values everywhere, Kubernetes' YAML 1.1 included.
struct YAMLTests {
    struct Probe: Codable, Equatable {
        var name: String
        var count: Int
        var ratio: Double?
        var on: Bool
        var tags: [String]
        var labels: [String: String]
        var nested: [Inner]?
        struct Inner: Codable, Equatable { var path: String; var size: Int? }
    }

    /// Strings that a YAML 1.1 reader would take for another type come out quoted, and everything
    /// reads back as written, by Yams too.
    @Test func writtenValuesReadBackTheSameEverywhere() throws {
        let tricky = ["yes", "no", "on", "Off", "true", "null", "~", "", "0755", "1:30", "0x1F", "1e3", ".inf", "2001-12-14",
                      "-", "a: b", "#x", "- x", "café", "line\nbreak", "tab\there", " lead", "trail ", "@at", "*star", "&amp", "!bang", "%pct", "'q'", "\"dq\""]
        let v = Probe(name: "x", count: 3, ratio: 0.25, on: true, tags: tricky, labels: ["b": "2", "a": "yes", "c": "null"],
                      nested: [.init(path: "/tmp/a b", size: nil), .init(path: "/var/lib/x", size: 42)])
        let text = try YAMLEncoder().encode(v)
        #expect(try YAMLDecoder().decode(Probe.self, from: text) == v, "\(text)")
        // Yams reads the same strings, so a YAML 1.1 reader sees strings where roprof meant strings.
        let other = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(other["tags"] as? [String] == tricky, "\(text)")
        #expect((other["labels"] as? [String: String]) == ["a": "yes", "b": "2", "c": "null"])
        #expect(other["count"] as? Int == 3 && other["on"] as? Bool == true)
        // A dictionary's keys are sorted: the same value always prints the same text.
        #expect(text.contains("labels:\n  a: 'yes'\n  b: '2'\n  c: 'null'\n"), "\(text)")
        #expect(!text.contains("size: null"), "nil optionals are left out: \(text)")
    }

    /// A manifest as users write it (comments, flow style, anchors, block text, quoted numbers, a
    /// second document) reads as Yams reads it, and writing it back keeps its values and styles.
    @Test func userManifestsRoundTrip() throws {
        let text = """
        # a comment
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, labels: {app: web}}
        spec:
          replicas: 2
          template:
            spec:
              containers:
                - name: app
                  image: "nginx:1.25"
                  args: [--port, "8080"]
                  env: &env
                    - {name: MODE, value: "on"}
                  resources: {limits: {memory: 64Mi}}
                  command:
                    - sh
                    - -c
                    - |
                      echo hi
                      exec nginx
                - name: side
                  image: busybox
                  env: *env
        ---
        apiVersion: v1
        kind: ConfigMap
        data:
          port: '8080'
          enabled: yes
        """
        let docs = try YAML.composeAll(text)
        #expect(docs.count == 2)
        let c = try #require(docs[0]["spec"]?["template"]?["spec"]?["containers"]?.sequence)
        #expect(c[0]["args"]?.sequence?.compactMap(\.string) == ["--port", "8080"])
        #expect(c[1]["env"]?.sequence?.first?["value"]?.string == "on", "the alias is the anchored list")
        #expect(c[0]["command"]?.sequence?.last?.string == "echo hi\nexec nginx\n")
        #expect(docs[0]["spec"]?["replicas"]?.int == 2 && docs[1]["data"]?["enabled"]?.bool == true)
        let written = try YAML.serialize(docs)
        let mine = try YAML.composeAll(written)
        #expect(mine == docs, "\(written)")
        let theirs = try Array(Yams.load_all(yaml: written))
        let theirsOriginal = try Array(Yams.load_all(yaml: text))
        func canonical(_ v: [Any]) throws -> String { String(decoding: try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]), as: UTF8.self) }
        #expect(try canonical(theirs) == canonical(theirsOriginal), "\(written)")
        #expect(written.contains("\n---\n") && written.contains("image: \"nginx:1.25\"") && written.contains("port: '8080'"), "\(written)")
    }

    /// Bad input is an error naming the line, never a crash; aliases cannot expand without bound.
    @Test func badInputIsAnErrorWithItsLine() throws {
        #expect(throws: YAMLError.self) { try YAML.composeAll("a: 1\nb: [1, 2\nc: 3\n") }
        do { _ = try YAML.composeAll("a: 1\n  b: 2\n"); Issue.record("not an error") } catch let e as YAMLError {
            #expect(e.mark?.line == 2, "\(e)")
        }
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...8 { bomb += "a\(i): &a\(i) [" + Array(repeating: i == 1 ? "*a" : "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: YAMLError.self) { try YAML.composeAll(bomb, maxNodes: 100_000) }
        #expect(throws: YAMLError.self) { try YAML.composeAll("a: *nope\n") }
        struct Need: Decodable { var size: Int }
        do { _ = try YAMLDecoder().decode(Need.self, from: "size: big\n"); Issue.record("not an error") } catch let DecodingError.typeMismatch(_, ctx) {
            #expect(ctx.codingPath.map(\.stringValue) == ["size"] && ctx.debugDescription.contains("line 1"), "\(ctx)")
        }
    }

    /// YAML 1.1's implicit types, as Kubernetes reads them.
    @Test func plainScalarsResolveAsYAML11() {
        for s in ["yes", "NO", "on", "True"] { #expect(Tag.resolve(plain: s) == .bool, "\(s)") }
        for s in ["0", "-12", "0o17", "0755", "0x1f", "0b101", "1_000", "1:30"] { #expect(Tag.resolve(plain: s) == .int, "\(s)") }
        for s in ["1.5", "-.inf", ".nan", "1e3", "6.02e+23", ".5"] { #expect(Tag.resolve(plain: s) == .float, "\(s)") }
        for s in ["", "~", "null"] { #expect(Tag.resolve(plain: s) == .null, "\(s)") }
        for s in ["64Mi", "nginx", "1.2.3", "0x", "e3", "1:", "v1", "10.0.0.1"] { #expect(Tag.resolve(plain: s) == .str, "\(s)") }
        #expect(Node("0755").int == 493 && Node("1_000").int == 1000 && Node("1:30").int == 90)
    }
}
