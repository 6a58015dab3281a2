import Foundation
import Testing
import TestSupport
import Yams
@testable import Emitters
import Hardening
@testable import Seccomp
@testable import TraceModel

/// Every `suggest` format on checked-in recordings: golden output, real schemas, no injection.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct EmitterTests {
    static let recordings = ["webapp", "nasty"]
    static let formats = ["kubernetes", "docker", "compose", "podman", "ecs", "systemd", "seccomp", "spo", "apparmor"]
    static func recording(_ name: String) -> String { Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/\(name).json").path }

    func suggest(_ args: [String]) throws -> Support.Output { try Support.run([Support.roprof, "suggest"] + args) }

    static var venv: String { Support.packageRoot.appendingPathComponent(".build-py").path }
    func kubernetesValidate(_ yaml: String) throws -> Support.Output {
        let tool = Self.venv + "/bin/kubernetes-validate"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw Support.MissingTool(tool: "kubernetes-validate") }
        let file = Support.scratch("k8s") + "/out.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        return try Support.run([tool, "--strict", "--quiet", file])
    }

    @Test("manifest output validates against the Kubernetes schemas", arguments: recordings)
    func kubernetesSchema(_ rec: String) throws {
        let manifest = Support.packageRoot.appendingPathComponent("Fixtures/manifests/web.yaml").path
        let o = try suggest(["--format", "kubernetes", "--manifest", manifest, "--container", "web", Self.recording(rec)])
        #expect(o.status == 0, "\(o.stderr)")
        let v = try kubernetesValidate(o.stdout)
        #expect(v.status == 0, "kubernetes-validate: \(v.stdout)\(v.stderr)")
    }

    /// A single file the app writes in /etc: the Kubernetes output makes it in its emptyDir with an init
    /// container in the app's image (a subPath the kubelet has to create would be a directory, which
    /// cannot be mounted over a file); without a known image it says what to add. Valid under the schemas.
    @Test func aSingleFileMountGetsItsFileMadeFirst() throws {
        var r = RecordingFixture.recording([RecordingFixture.m("/etc/motd", .truncate, bytes: 29)], uid: 1000)
        r.filesystem = RecordingFixture.facts(["/etc": ["motd", "passwd"]])
        let dir = Support.scratch("filemount")
        try r.encoded().write(to: URL(fileURLWithPath: dir + "/plain.json"))
        r.runs[0].image = ImageRun(reference: "registry.example/motd:1", id: "sha256:0", digest: nil, engine: "podman", user: "1000",
                                   workingDir: "/", entrypoint: [], cmd: ["app"], env: [])
        try r.encoded().write(to: URL(fileURLWithPath: dir + "/image.json"))
        let o = try suggest(["--format", "kubernetes", dir + "/image.json"])
        #expect(o.status == 0, "\(o.stderr)")
        let doc = try Yams.load(yaml: o.stdout) as? [String: Any]
        let spec = (((doc?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]) ?? [:]
        let initC = (spec["initContainers"] as? [[String: Any]])?.first
        #expect(initC?["image"] as? String == "registry.example/motd:1", "\(o.stdout)")
        #expect(((initC?["command"] as? [String])?.last ?? "").contains("cp -p /etc/motd"), "\(o.stdout)")
        let mount = ((spec["containers"] as? [[String: Any]])?.first?["volumeMounts"] as? [[String: Any]])?.first
        #expect(mount?["subPath"] as? String == "motd" && mount?["mountPath"] as? String == "/etc/motd")
        let m = try suggest(["--format", "kubernetes", "--manifest", Support.packageRoot.appendingPathComponent("Fixtures/manifests/web.yaml").path,
                             "--container", "web", dir + "/plain.json"])
        #expect(m.status == 0 && m.stdout.contains("roprof-files") && m.stderr.contains("initContainers: added roprof-files"), "the manifest's own image: \(m.stderr)")
        let v = try kubernetesValidate(m.stdout)
        #expect(v.status == 0, "kubernetes-validate: \(v.stdout)\(v.stderr)")
        let plain = try suggest(["--format", "kubernetes", dir + "/plain.json"])
        #expect(!plain.stdout.contains("initContainers") && plain.stderr.contains("/etc/motd: a subPath of an emptyDir"), "\(plain.stderr)")
    }

    @Test func manifestPatchChangesOnlyTheContainerAndPodVolumes() throws {
        let manifest = Support.packageRoot.appendingPathComponent("Fixtures/manifests/web.yaml").path
        let o = try suggest(["--format", "kubernetes", "--manifest", manifest, "--container", "web", Self.recording("webapp")])
        let before = try Array(Yams.load_all(yaml: String(contentsOfFile: manifest, encoding: .utf8))).map { $0 as! [String: Any] }
        let after = try Array(Yams.load_all(yaml: o.stdout)).map { $0 as! [String: Any] }
        #expect(after.count == before.count + 1, "one PersistentVolumeClaim added")
        #expect((after.last?["kind"] as? String) == "PersistentVolumeClaim")
        for (b, a) in zip(before, after) where (b["kind"] as? String) != "Deployment" {
            #expect(NSDictionary(dictionary: b).isEqual(to: a), "\(b["kind"] ?? "") changed")
        }
        let dep = after[1], depBefore = before[1]
        let spec = ((dep["spec"] as! [String: Any])["template"] as! [String: Any])["spec"] as! [String: Any]
        let specBefore = ((depBefore["spec"] as! [String: Any])["template"] as! [String: Any])["spec"] as! [String: Any]
        let containers = spec["containers"] as! [[String: Any]]
        let containersBefore = specBefore["containers"] as! [[String: Any]]
        #expect(NSDictionary(dictionary: containers[1]).isEqual(to: containersBefore[1]), "the sidecar is untouched")
        let web = containers[0]
        let sc = web["securityContext"] as! [String: Any]
        #expect(sc["readOnlyRootFilesystem"] as? Bool == true)
        #expect(sc["runAsUser"] as? Int == 1000)
        #expect(sc["runAsNonRoot"] as? Bool == true)
        #expect(((sc["capabilities"] as! [String: Any])["drop"] as! [String]) == ["ALL"])
        #expect(((sc["capabilities"] as! [String: Any])["add"] as! [String]) == ["NET_BIND_SERVICE"])
        let env = (web["env"] as! [[String: Any]]).map { $0["name"] as! String }
        #expect(env == ["LOG_LEVEL", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE"], "existing env kept first")
        let mounts = (web["volumeMounts"] as! [[String: Any]]).map { $0["mountPath"] as! String }
        #expect(mounts == ["/etc/web", "/srv/webapp/data", "/tmp"])
        let vols = (spec["volumes"] as! [[String: Any]]).map { $0["name"] as! String }
        #expect(vols.first == "config")
        #expect(vols.count == 3)
        for key in Set(specBefore.keys).subtracting(["containers", "volumes"]) {
            #expect(String(describing: spec[key]) == String(describing: specBefore[key]))
        }
    }

    @Test func unknownContainerIsAOneLineErrorNamingTheChoices() throws {
        let manifest = Support.packageRoot.appendingPathComponent("Fixtures/manifests/web.yaml").path
        let o = try suggest(["--format", "kubernetes", "--manifest", manifest, "--container", "nope", Self.recording("webapp")])
        #expect(o.status == 2)
        #expect(o.stderr.contains("metrics-sidecar") && o.stderr.contains("web"))
    }

    @Test("compose output validates against the compose specification", arguments: recordings)
    func composeSchema(_ rec: String) throws {
        let schema = Self.venv + "/compose_spec.json"
        guard FileManager.default.fileExists(atPath: schema) else { throw Support.MissingTool(tool: "compose schema (bash .ci/setup)") }
        let o = try suggest(["--format", "compose", Self.recording(rec)])
        let file = Support.scratch("compose") + "/compose.yaml"
        try o.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        // The 2021 schema is strict but predates tmpfs.mode; compose-spec (the current specification) checks the file with it.
        let script = """
        import json, sys, yaml, jsonschema, compose_spec
        text = open(sys.argv[2]).read()
        compose_spec.PyCompose.from_yaml(text)
        doc = yaml.safe_load(text)
        for svc in doc["services"].values():
            for v in svc.get("volumes", []):
                assert v.get("type") != "tmpfs" or v["tmpfs"].get("mode") == 0o1777, v
                v.get("tmpfs", {}).pop("mode", None)
        jsonschema.validate(doc, json.load(open(sys.argv[1])))
        print("ok")
        """
        let v = try Support.run([Self.venv + "/bin/python", "-c", script, schema, file])
        #expect(v.status == 0, "\(v.stderr)")
    }

    /// The exact hostile paths of nasty.json that a format can express.
    static let hostile = ["/srv/nasty/line\nbreak", "/srv/nasty/quote\"s and 'single'", "/srv/nasty/colon:dir/hash#tag",
                          "/srv/nasty/ünïcødé/日本", "/srv/nasty/comma,equals=", "/srv/nasty/glob*?[x]"]

    @Test func hostilePathsSurviveYAMLAndJSONExactly() throws {
        let k8s = try suggest(["--format", "kubernetes", Self.recording("nasty")]).stdout
        let docs = try Array(Yams.load_all(yaml: k8s))
        let dep = docs[0] as! [String: Any]
        let c = ((((dep["spec"] as! [String: Any])["template"] as! [String: Any])["spec"] as! [String: Any])["containers"] as! [[String: Any]])[0]
        let paths = Set((c["volumeMounts"] as! [[String: Any]]).map { $0["mountPath"] as! String })
        #expect(paths.isSuperset(of: Self.hostile), "missing: \(Set(Self.hostile).subtracting(paths))")
        #expect(!paths.contains { $0.contains("\u{FFFD}") }, "invalid UTF-8 must not be written as U+FFFD")
        let ecs = try suggest(["--format", "ecs", Self.recording("nasty")]).stdout
        let obj = try JSONSerialization.jsonObject(with: Data(ecs.utf8)) as! [String: Any]
        let ecsPaths = Set(((obj["containerDefinitions"] as! [[String: Any]])[0]["mountPoints"] as! [[String: Any]]).map { $0["containerPath"] as! String })
        #expect(ecsPaths.isSuperset(of: Self.hostile))
        let compose = try suggest(["--format", "compose", Self.recording("nasty")]).stdout
        let cdoc = try Yams.load(yaml: compose) as! [String: Any]
        let svc = (cdoc["services"] as! [String: Any])["app"] as! [String: Any]
        #expect(Set((svc["volumes"] as! [[String: Any]]).map { $0["target"] as! String }).isSuperset(of: Self.hostile))
    }

    @Test func hostilePathsNeverInjectIntoShellOrUnitFiles() throws {
        let pwned = "/tmp/pwned"
        try? FileManager.default.removeItem(atPath: pwned)
        let docker = try suggest(["--format", "docker", Self.recording("nasty")]).stdout
        // Evaluate the emitted command line with a shell, with printf in place of docker.
        let script = docker.replacingOccurrences(of: "docker run", with: "printf '%s\\n'")
        let o = try Support.run(["/bin/sh", "-c", script])
        #expect(o.status == 0)
        #expect(!FileManager.default.fileExists(atPath: pwned), "a path was executed by the shell")
        let args = o.stdout.split(separator: "\n").map(String.init)
        // (Directories under /srv hold state by the FHS: named volumes.)
        #expect(args.contains { $0.hasPrefix("--mount=type=volume,") && $0.hasSuffix(",destination=/srv/nasty/ünïcødé/日本") }, "\(args)")
        #expect(args.contains { $0.hasPrefix("--mount=type=volume,") && $0.hasSuffix(",destination=/srv/nasty/glob*?[x]") })
        #expect(!args.contains { $0.contains("line") }, "a newline path must be left out of flags, not split")
        let unit = try suggest(["--format", "systemd", Self.recording("nasty")]).stdout
        for line in unit.split(separator: "\n") {
            #expect(line.hasPrefix("#") || line.hasPrefix("[") || line.contains("="), "injected line: \(line)")
        }
        let apparmor = try suggest(["--format", "apparmor", Self.recording("nasty")])
        #expect(!apparmor.stdout.contains("line\nbreak"))
        #expect(apparmor.stderr.contains("left out"))
    }

    @Test func seccompProfileLoadsInLibseccomp() throws {
        let o = try suggest(["--format", "seccomp", Self.recording("webapp")])
        let names = try SeccompPlan.allowedNames(fromJSON: Data(o.stdout.utf8))
        #expect(names.isSuperset(of: ["read", "openat", "execve", "exit_group"]))
        let f = try SeccompFilter(defaultAction: .errno(1), arches: [.x86_64, .x86, .x32])
        for n in names.sorted() { #expect(try f.add(.allow, syscall: n), "libseccomp does not know \(n)") }
        #expect(try f.exportBPF().count > 0)
    }

    @Test func seccompMapsNamesForAnotherArchitecture() throws {
        let o = try suggest(["--format", "seccomp", "--arch", "aarch64", Self.recording("nasty")])
        #expect(o.status == 0)
        let names = try SeccompPlan.allowedNames(fromJSON: Data(o.stdout.utf8))
        #expect(names.contains("openat") && !names.contains("open"), "open → openat on aarch64")
        #expect(!names.contains("arch_prctl"))
        #expect(o.stderr.contains("aarch64 has no") && o.stderr.contains("arch_prctl"))
        #expect(o.stdout.contains("SCMP_ARCH_AARCH64") && o.stdout.contains("SCMP_ARCH_ARM"))
    }

    @Test func dangerousSyscallsAreKeptOnlyWithAWarningNamingTheProcess() throws {
        let o = try suggest(["--format", "seccomp", Self.recording("nasty")])
        #expect(o.stderr.contains("ptrace is allowed because gdb used it"))
        #expect(o.stderr.contains("mount is allowed because unshare used it"))
    }

    @Test func writesModeRecordingsGetNoSeccompProfile() throws {
        var r = try Recording.load(path: Self.recording("webapp"))
        r.runs[0].mode = .writes
        let file = Support.scratch("writes") + "/r.json"
        try writeAtomically(r.encoded(), to: file)
        let o = try suggest(["--format", "seccomp", file])
        #expect(o.status == 2)
        #expect(o.stderr.contains("--mode full"))
    }

    @Test func outputDirectoryGetsEveryFormatAndAnIndex() throws {
        let dir = Support.scratch("suggest-all")
        let o = try suggest(["--all", dir, Self.recording("webapp")])
        #expect(o.status == 0, "\(o.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(files.isSuperset(of: ["README.md", "kubernetes-patch.yaml", "roprof-seccomp.json", "compose.yaml", "docker-run.sh",
                                      "podman-run.sh", "ecs-task-fragment.json", "systemd-roprof.conf", "seccomp-profile-cr.yaml", "apparmor-profile"]))
        let index = try String(contentsOfFile: dir + "/README.md", encoding: .utf8)
        #expect(index.contains("[compose.yaml](compose.yaml)"))
    }

    @Test func nonRootAppPassesRestrictedAndRootAppIsWarned() throws {
        let ok = try suggest(["--format", "kubernetes", Self.recording("webapp")])
        #expect(!ok.stderr.contains("Pod Security Standards"), "\(ok.stderr)")
        #expect(ok.stdout.contains("runAsNonRoot: true"))
        let root = try suggest(["--format", "kubernetes", Self.recording("nasty")])
        #expect(root.stderr.contains("Pod Security Standards (restricted): runAsNonRoot"))
        #expect(!root.stdout.contains("runAsNonRoot"))
    }
}

/// The in-cluster manifests in docs/kubernetes.md validate against the Kubernetes schemas.
@Suite struct InClusterManifestTests {
    @Test(arguments: ["entrypoint-wrapper.yaml", "ephemeral-debug-pod.yaml", "sidecar.yaml", "node-agent-daemonset.yaml"])
    func validates(_ file: String) throws {
        let tool = Support.packageRoot.appendingPathComponent(".build-py/bin/kubernetes-validate").path
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw Support.MissingTool(tool: "kubernetes-validate") }
        let path = Support.packageRoot.appendingPathComponent("Fixtures/manifests/incluster/\(file)").path
        let o = try Support.run([tool, "--strict", "--quiet", path])
        #expect(o.status == 0, "\(o.stdout)\(o.stderr)")
    }
}

