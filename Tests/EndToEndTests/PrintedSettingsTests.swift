import Foundation
import Testing
import TestSupport
import Yams
@testable import TraceModel

/// What `suggest` prints is what a user pastes: every file it names is written by the same call or
/// named with the one command that writes it, shell words expand what must expand, kustomize reads
/// the paths as written, and the user's published addresses are kept.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PrintedSettingsTests {
    let roprof = Support.roprof
    static let webapp = Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/webapp.json").path

    /// A base with one Deployment whose containers are not named `app`.
    func writeBase(_ dir: String, containers: [String] = ["frontend"], replicas: Int = 1) throws {
        try KustomizeBase.write(dir, containers: containers.map { .init(name: $0, image: "registry.example/\($0):1") }, replicas: replicas)
    }

    func deployment(_ yaml: String) throws -> [String: Any] {
        let docs = try Array(Yams.load_all(yaml: yaml)).compactMap { $0 as? [String: Any] }
        return try #require(docs.first { $0["kind"] as? String == "Deployment" })
    }

    func containers(_ d: [String: Any]) -> [[String: Any]] {
        ((((d["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]]) ?? []
    }

    @Test func aRelativeBaseWithOneDifferentlyNamedContainerIsHardened() throws {
        let kubectl = try Support.which("kubectl")
        let work = Support.scratch("kbase")
        try writeBase(work + "/base")
        // As a user types it: from the work directory, both paths relative.
        let o = try Support.run([roprof, "suggest", "--format", "kubernetes", "-o", "overlay/", "--kustomize-base", "../base", Self.webapp], cwd: work)
        #expect(o.status == 0, "\(o.stderr)")
        #expect(!o.stderr.contains("not readable"), "\(o.stderr)")
        #expect(o.stderr.contains("Deployment shop, container frontend"), "\(o.stderr)")
        let k = try Support.run([kubectl, "kustomize", work + "/overlay"])
        #expect(k.status == 0, "kubectl kustomize: \(k.stderr)")
        let d = try deployment(k.stdout)
        let cs = containers(d)
        #expect(cs.count == 1, "no second, image-less container: \(cs.map { $0["name"] ?? "?" })")
        let sc = cs.first?["securityContext"] as? [String: Any]
        #expect(sc?["readOnlyRootFilesystem"] as? Bool == true, "the built Deployment is hardened")
        #expect(cs.first?["image"] as? String == "registry.example/frontend:1")

        // An absolute base is written relative to the overlay (kustomize refuses absolute resources).
        let abs = try Support.run([roprof, "suggest", "--format", "kubernetes", "-o", work + "/overlay2/", "--kustomize-base", work + "/base", Self.webapp])
        #expect(abs.status == 0, "\(abs.stderr)")
        let kz = try String(contentsOfFile: work + "/overlay2/kustomization.yaml", encoding: .utf8)
        #expect(kz.contains("- ../base") && !kz.contains(work + "/base"), "\(kz)")
        #expect(try Support.run([kubectl, "kustomize", work + "/overlay2"]).status == 0)
    }

    @Test func aBaseWhoseContainerCannotBeToldIsAnError() throws {
        let work = Support.scratch("kbase2")
        try writeBase(work + "/base", containers: ["web", "sidecar"], replicas: 2)
        let o = try Support.run([roprof, "suggest", "--format", "kubernetes", "-o", work + "/overlay/", Self.webapp])
        #expect(o.status == 2, "\(o.stderr)")
        #expect(o.stderr.contains("web, sidecar") && o.stderr.contains("--container"), "\(o.stderr)")
        #expect(o.stderr.split(separator: "\n").count == 1)
        let named = try Support.run([roprof, "suggest", "--format", "kubernetes", "--container", "web", "-o", work + "/overlay/", Self.webapp])
        #expect(named.status == 0, "\(named.stderr)")
        #expect(named.stderr.contains("replicas") && named.stderr.contains("ReadWriteOnce"), "replicas vs access mode: \(named.stderr)")
    }

    @Test func dockerOutputNamesOnlyFilesItWritesAndRunsFromItsDirectory() throws {
        let dir = Support.scratch("bundle")
        let o = try Support.run([roprof, "suggest", "--format", "docker", "-o", dir + "/run/", Self.webapp])
        #expect(o.status == 0, "\(o.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/run"))
        #expect(files.isSuperset(of: ["docker-run.sh", "roprof-seccomp.json"]), "\(files)")
        let script = try String(contentsOfFile: dir + "/run/docker-run.sh", encoding: .utf8)
        #expect(script.contains("cd \"$(dirname \"$0\")\"") && script.contains("--security-opt=seccomp=roprof-seccomp.json"), "\(script)")
        let profile = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/roprof-seccomp.json"))
        #expect((try JSONSerialization.jsonObject(with: profile) as? [String: Any])?["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        // On stdout the command says which command writes the profile it names.
        let text = try Support.run([roprof, "suggest", "--format", "docker", Self.webapp])
        #expect(text.stdout.contains("roprof suggest --format seccomp -o roprof-seccomp.json"), "\(text.stdout)")
        // The shell reads every word as roprof meant it (sh -n parses; the words come back unchanged).
        let sh = try Support.run(["/bin/sh", "-n", dir + "/run/docker-run.sh"])
        #expect(sh.status == 0, "\(sh.stderr)")
    }

    @Test func publishedAddressesAreParsedAndRefusedInOneLine() throws {
        for good in ["8080", "8080:80", "127.0.0.1:8080:80", "[::1]:8080:80"] {
            #expect((try? PublishedPort(parsing: good)) != nil, "\(good)")
        }
        #expect(try PublishedPort(parsing: "127.0.0.1:8080:80").description == "127.0.0.1:8080:80")
        #expect(try PublishedPort(parsing: "8080").description == "8080:8080")
        let bad = try Support.run([roprof, "record", "--image", "x", "--publish", "80:http", "-o", Support.scratch("p") + "/r.json"])
        #expect(bad.status == 2 && bad.stderr.contains("'http' is not a port"), "\(bad.stderr)")
    }
}
