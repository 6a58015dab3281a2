import Foundation
import Testing
import TestSupport
import Yams
@testable import Emitters
import Hardening
@testable import TraceModel

/// Output used the way each ecosystem works: kustomize overlays and kubectl patch, the Security
/// Profiles Operator's names and paths, Pod Security levels, Fargate's capability rule, systemd's own
/// directory settings (checked by systemd-analyze), AppArmor (checked by apparmor_parser), and the
/// command-line conventions users expect.
@Suite(.serialized)
struct EcosystemTests {
    let roprof = Support.roprof
    static let webapp = Support.packageRoot.appendingPathComponent("Tests/Data/Recordings/webapp.json").path
    static let base = Support.packageRoot.appendingPathComponent("Fixtures/manifests/kustomize-base").path

    func suggest(_ args: [String]) throws -> Support.Output { try Support.run([roprof, "suggest"] + args) }

    func kubernetesValidate(_ yaml: String) throws -> Support.Output {
        let tool = Support.packageRoot.appendingPathComponent(".build-py/bin/kubernetes-validate").path
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw Support.MissingTool(tool: "kubernetes-validate") }
        let file = Support.scratch("k8s") + "/out.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        return try Support.run([tool, "--strict", "--quiet", file])
    }

    // MARK: - Kubernetes

    @Test func kustomizeOverlayBuildsOnARealBaseAndKeepsTheUsersChoices() throws {
        let kubectl = try Support.which("kubectl")
        let dir = Support.scratch("kustomize")
        try FileManager.default.copyItem(atPath: Self.base, toPath: dir + "/base")
        let o = try suggest(["--format", "kubernetes", "--name", "web", "--container", "web", "-o", dir + "/overlay/", Self.webapp])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stderr.contains("kept your volume scratch at /tmp"), "\(o.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/overlay"))
        #expect(files.isSuperset(of: ["kustomization.yaml", "roprof-patch.yaml", "roprof-claims.yaml"]), "\(files)")
        let k = try Support.run([kubectl, "kustomize", dir + "/overlay"])
        #expect(k.status == 0, "kubectl kustomize: \(k.stderr)")
        let docs = try Array(Yams.load_all(yaml: k.stdout)).compactMap { $0 as? [String: Any] }
        let kinds = docs.compactMap { $0["kind"] as? String }.sorted()
        #expect(kinds == ["ConfigMap", "Deployment", "PersistentVolumeClaim", "Service"], "\(kinds)")
        let deployment = try #require(docs.first { $0["kind"] as? String == "Deployment" })
        let pod = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        let web = try #require((pod?["containers"] as? [[String: Any]])?.first { $0["name"] as? String == "web" })
        let sc = web["securityContext"] as? [String: Any]
        #expect(sc?["readOnlyRootFilesystem"] as? Bool == true)
        #expect(sc?["runAsUser"] as? Int == 1000, "the base's user is kept")
        #expect(((sc?["capabilities"] as? [String: Any])?["add"] as? [String])?.contains("NET_BIND_SERVICE") == true)
        let mounts = (web["volumeMounts"] as? [[String: Any]] ?? []).map { ($0["mountPath"] as! String, $0["name"] as! String) }
        #expect(mounts.contains { $0 == ("/tmp", "scratch") }, "the user's disk-backed /tmp stays: \(mounts)")
        #expect(mounts.contains { $0.0 == "/srv/webapp/data" })
        let volumes = (pod?["volumes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(!volumes.contains("roprof-tmp"), "no unused volume: \(volumes)")
        let v = try kubernetesValidate(k.stdout)
        #expect(v.status == 0, "kubernetes-validate: \(v.stdout)\(v.stderr)")
    }

    @Test func patchOnStandardOutputIsWhatKubectlPatchTakes() throws {
        let kubectl = try Support.which("kubectl")
        let o = try suggest(["--format", "kubernetes", "--name", "web", "--container", "web", Self.webapp])
        #expect(o.status == 0)
        let docs = try Array(Yams.load_all(yaml: o.stdout))
        #expect(docs.count == 1, "the patch alone")
        #expect(o.stdout.contains("kubectl patch deployment web") && o.stdout.contains("roprof-srv-webapp-data"), "the header names the claims to create:\n\(o.stdout)")
        let dir = Support.scratch("patch")
        try o.stdout.write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let k = try Support.run([kubectl, "patch", "--local", "-f", Self.base + "/deployment.yaml", "--type", "strategic", "--patch-file", dir + "/p.yaml", "-o", "yaml"])
        #expect(k.status == 0, "\(k.stderr)")
        #expect(k.stdout.contains("readOnlyRootFilesystem: true"))
        let withClaims = try suggest(["--format", "kubernetes", "--claims", Self.webapp])
        #expect(try Array(Yams.load_all(yaml: withClaims.stdout)).count == 2, "claims only when asked")
    }

    @Test func manifestKeepsTheUsersChoicesAndSaysWhatChanged() throws {
        let o = try suggest(["--format", "kubernetes", "--manifest", Self.base + "/deployment.yaml", "--container", "web", Self.webapp])
        #expect(o.status == 0, "\(o.stderr)")
        let doc = try #require(try Yams.load_all(yaml: o.stdout).first { ($0 as? [String: Any])?["kind"] as? String == "Deployment" } as? [String: Any])
        let pod = ((doc["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        let web = try #require((pod?["containers"] as? [[String: Any]])?.first { $0["name"] as? String == "web" })
        let sc = try #require(web["securityContext"] as? [String: Any])
        #expect(sc["runAsUser"] as? Int == 1000)
        #expect(((sc["capabilities"] as? [String: Any])?["add"] as? [String]) == ["NET_BIND_SERVICE"])
        #expect((web["volumeMounts"] as? [[String: Any]])?.first { $0["mountPath"] as? String == "/tmp" }?["name"] as? String == "scratch")
        let scratch = (pod?["volumes"] as? [[String: Any]])?.first { $0["name"] as? String == "scratch" }
        #expect((scratch?["emptyDir"] as? [String: Any])?["medium"] == nil, "disk-backed as the user had it")
        #expect(o.stderr.contains("changed:") && o.stderr.contains("readOnlyRootFilesystem") && o.stderr.contains("kept your volume scratch at /tmp"), "\(o.stderr)")
        #expect(o.stderr.contains("comments") , "it says the comments are not kept: \(o.stderr)")
        // The pod's level, with the container roprof did not touch named.
        #expect(o.stderr.contains("Pod Security Standards: Deployment/web meets baseline, not restricted") && o.stderr.contains("container log-shipper"), "\(o.stderr)")
        let v = try kubernetesValidate(o.stdout)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    }

    @Test func seccompProfileNamesAndPathsMatchTheOperator() throws {
        let spo = try suggest(["--format", "spo", "--name", "web", "--namespace", "shop", "--bind-image", "registry.example.com/shop/web:1.4.2", Self.webapp])
        #expect(spo.status == 0, "\(spo.stderr)")
        let docs = try Array(Yams.load_all(yaml: spo.stdout)).compactMap { $0 as? [String: Any] }
        let profile = try #require(docs.first { $0["kind"] as? String == "SeccompProfile" })
        let meta = profile["metadata"] as? [String: Any]
        #expect(meta?["name"] as? String == "web" && meta?["namespace"] as? String == "shop")
        let binding = try #require(docs.first { $0["kind"] as? String == "ProfileBinding" })
        let spec = binding["spec"] as? [String: Any]
        #expect((spec?["profileRef"] as? [String: Any])?["name"] as? String == "web" && spec?["image"] as? String == "registry.example.com/shop/web:1.4.2")
        #expect(spo.stdout.contains("operator/shop/web.json") && spo.stdout.contains("--format kubernetes --spo"))
        let k8s = try suggest(["--format", "kubernetes", "--spo", "--name", "web", "--namespace", "shop", "--container", "web", Self.webapp])
        #expect(k8s.stdout.contains("localhostProfile: operator/shop/web.json"), "\(k8s.stdout)")
        #expect(k8s.stdout.contains("--format spo --name web --namespace shop"))
    }

    // MARK: - Engines, ECS, systemd, AppArmor

    @Test func fargateGetsOnlyTheCapabilityItAccepts() throws {
        let dir = Support.scratch("ecs")
        var r = try TraceModelFixtures.rootRecording()
        r.capabilityHints = ["NET_BIND_SERVICE": ["/usr/bin/python3"]]
        try r.encoded().write(to: URL(fileURLWithPath: dir + "/r.json"))
        let o = try suggest(["--format", "ecs", dir + "/r.json"])
        #expect(o.status == 0)
        let task = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as! [String: Any]
        let c = (task["containerDefinitions"] as! [[String: Any]])[0]
        let add = ((c["linuxParameters"] as? [String: Any])?["capabilities"] as? [String: Any])?["add"] as? [String]
        #expect((add ?? []).allSatisfy { $0 == "SYS_PTRACE" }, "Fargate accepts only SYS_PTRACE: \(add ?? [])")
        #expect(o.stderr.contains("Fargate accepts only SYS_PTRACE") && o.stderr.contains("CHOWN"), "\(o.stderr)")
        #expect(!o.stderr.contains("runAsNonRoot"), "ECS words, not Kubernetes ones: \(o.stderr)")
        let sd = try suggest(["--format", "systemd", dir + "/r.json"])
        #expect(!sd.stderr.contains("runAsNonRoot"), "\(sd.stderr)")
    }

    @Test func composeTmpfsHasTheModeDockerGets() throws {
        let o = try suggest(["--format", "compose", Self.webapp])
        let doc = try #require(try Yams.load(yaml: o.stdout) as? [String: Any])
        let vols = ((doc["services"] as? [String: Any])?["app"] as? [String: Any])?["volumes"] as? [[String: Any]] ?? []
        let tmp = try #require(vols.first { $0["target"] as? String == "/tmp" })
        #expect((tmp["tmpfs"] as? [String: Any])?["mode"] as? Int == 0o1777)
        let docker = try suggest(["--format", "docker", Self.webapp]).stdout
        #expect(docker.contains("destination=/tmp,") && docker.contains("tmpfs-mode=1777"))
    }

    @Test func systemdUsesItsOwnDirectorySettingsAndPassesSystemdAnalyze() throws {
        let analyze = try Support.which("systemd-analyze")
        // The key-value server's recording: /var/lib/roprof-kv (state) and /run/roprof-kv (runtime).
        let dir = Support.scratch("systemd")
        let r = try TraceModelFixtures.kvRecording()
        try r.encoded().write(to: URL(fileURLWithPath: dir + "/kv.json"))
        let o = try suggest(["--format", "systemd", dir + "/kv.json"])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("StateDirectory=roprof-kv") && o.stdout.contains("RuntimeDirectory=roprof-kv"), "\(o.stdout)")
        #expect(!o.stdout.contains("TemporaryFileSystem=/run") && !o.stdout.contains("ReadWritePaths=/var/lib/roprof-kv"), "\(o.stdout)")
        // A whole unit with the drop-in's settings, checked by systemd itself.
        let unit = "[Unit]\nDescription=roprof test\n\n[Service]\nExecStart=/bin/true\n" + o.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") && $0 != "[Service]" }.joined(separator: "\n") + "\n"
        try unit.write(toFile: dir + "/roprof-test.service", atomically: true, encoding: .utf8)
        let v = try Support.run([analyze, "verify", dir + "/roprof-test.service"])
        #expect(v.status == 0, "systemd-analyze verify: \(v.stdout)\(v.stderr)")
        #expect(!v.stderr.contains("Unknown key") && !v.stderr.contains("Failed to parse"), "\(v.stderr)")
        let sec = try Support.run([analyze, "security", "--offline=yes", dir + "/roprof-test.service"])
        #expect(sec.status == 0 || sec.stdout.contains("Overall exposure level"), "\(sec.stdout)\(sec.stderr)")
        #expect(sec.stdout.contains("Overall exposure level"), "\(sec.stdout)")
    }

    @Test func apparmorProfileParsesAndIsReferencedByName() throws {
        let parser = try Support.which("apparmor_parser")
        let o = try suggest(["--format", "apparmor", "--name", "web", Self.webapp])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("profile roprof-web ") && o.stdout.contains(" mr,"), "\(o.stdout)")
        let dir = Support.scratch("apparmor")
        try o.stdout.write(toFile: dir + "/roprof-web", atomically: true, encoding: .utf8)
        let p = try Support.run([parser, "-QTK", dir + "/roprof-web"])
        #expect(p.status == 0, "apparmor_parser: \(p.stdout)\(p.stderr)")
        let docker = try suggest(["--format", "docker", "--apparmor", "--name", "web", Self.webapp]).stdout
        #expect(docker.contains("--security-opt=apparmor=roprof-web"))
        let k8s = try suggest(["--format", "kubernetes", "--apparmor", "--name", "web", Self.webapp]).stdout
        #expect(k8s.contains("appArmorProfile:") && k8s.contains("localhostProfile: roprof-web"))
    }

    @Test(arguments: [
        (["setpriv", "--reuid=65534", "--regid", "65534", "--clear-groups", "python3", "app.py"], ["python3", "app.py"]),
        (["/usr/sbin/gosu", "app", "gunicorn", "-b", ":8000"], ["gunicorn", "-b", ":8000"]),
        (["su-exec", "1000:1000", "node", "server.js"], ["node", "server.js"]),
        (["runuser", "-u", "www-data", "--", "php-fpm"], ["php-fpm"]),
        (["chpst", "-u", "app", "./run"], ["./run"]),
        (["tini", "--", "gosu", "app", "x"], ["tini", "--", "gosu", "app", "x"]),
        (["runuser", "app", "-c", "x"], ["runuser", "app", "-c", "x"]),
    ])
    func privilegeWrappersAreRecognised(_ argv: [String], _ expected: [String]) {
        #expect(PrivilegeWrapper.strip(argv).command == expected)
    }

    // MARK: - CI output

    @Test func sarifPointsAtTheBaselineLineWithStableFingerprints() throws {
        let dir = Support.scratch("sarif")
        let base = try Support.run([roprof, "baseline", Self.webapp]).stdout
        try base.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        let writesLine = (base.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("writes:") } ?? -1) + 1
        let cmd = ["--", "sh", "-c", "echo > /var/tmp/roprof-a-$$; echo > /var/tmp/roprof-b-$$; rm -f /var/tmp/roprof-?-$$"]
        var prints: [[String]] = []
        for _ in 0..<2 {
            let o = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/base.yaml", "--format", "sarif"] + cmd)
            #expect(o.status == 1)
            let log = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as! [String: Any]
            let run = (log["runs"] as! [[String: Any]])[0]
            #expect(((run["tool"] as? [String: Any])?["driver"] as? [String: Any])?["informationUri"] == nil, "no placeholder URL")
            let results = run["results"] as! [[String: Any]]
            let writes = results.filter { $0["ruleId"] as? String == "ROPROF001" }
            #expect(!writes.isEmpty)
            for r in writes {
                let region = (((r["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])?["region"] as? [String: Any])
                #expect(region?["startLine"] as? Int == writesLine, "a new write points at the baseline's writes: line (\(writesLine))")
            }
            prints.append(results.compactMap { ($0["partialFingerprints"] as? [String: String])?["roprofFinding/v1"] }.sorted())
        }
        #expect(prints[0] == prints[1] && !prints[0].isEmpty, "fingerprints are the same across runs (pids shaped)")
        let text = try Support.run([roprof, "check", "--quiet", "--baseline", dir + "/base.yaml"] + cmd).stdout
        let entries = text.split(separator: "\n").filter { $0.contains("- path: '/var/tmp/**'") }
        #expect(entries.count == 1, "each baseline entry once:\n\(text)")
    }

    // MARK: - The command line

    @Test func outputFlagMeansAFileAndDashIsStandardStreams() throws {
        let dir = Support.scratch("cli")
        let f = try suggest(["--format", "docker", "-o", dir + "/yaml", Self.webapp])
        #expect(f.status == 0, "\(f.stderr)")
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir + "/yaml", isDirectory: &isDir) && !isDir.boolValue, "-o is a file")
        let written = try String(contentsOfFile: dir + "/yaml", encoding: .utf8)
        #expect(written.contains("\ndocker run \\\n") && written.hasPrefix("# roprof-seccomp.json is the seccomp profile"), "\(written)")
        let noFormat = try suggest(["-o", dir + "/x", Self.webapp])
        #expect(noFormat.status == 2 && noFormat.stderr.contains("--all DIR"), "\(noFormat.stderr)")
        // - as a recording: standard input.
        let rep = try Support.run([roprof, "report", "-"], stdin: try String(contentsOfFile: Self.webapp, encoding: .utf8))
        #expect(rep.status == 0 && rep.stdout.contains("/srv/webapp/data"), "\(rep.stderr)")
        // A Foundation error never reaches the user raw.
        let proc = try suggest(["--format", "docker", "-o", "/proc/nope/x", Self.webapp])
        #expect(proc.status == 2 && !proc.stderr.contains("NSCocoaErrorDomain") && proc.stderr.contains("/proc/nope"), "\(proc.stderr)")
        #expect(proc.stderr.split(separator: "\n").count == 1)
    }

    @Test(arguments: [
        (["sugest", "x"], "did you mean 'suggest'"),
        (["suggest", "--formt", "docker", "x"], "did you mean '--format'"),
        (["report", "--colour", "x"], "unknown option '--colour'"),
        (["--color=sometimes", "report", "x"], "not one of auto, always, never"),
        (["diff", "--format", "markdown", "a", "b"], "'markdown' is invalid"),
    ])
    func usageErrorsAreOneLineAndHelpful(_ args: [String], _ expected: String) throws {
        let o = try Support.run([roprof] + args)
        #expect(o.status == 2)
        #expect(o.stderr.contains(expected), "\(o.stderr)")
        #expect(o.stderr.split(separator: "\n").count == 1, "\(o.stderr)")
    }

    @Test func colourFollowsNoColorAndTheFlag() throws {
        let plain = try Support.run([roprof, "report", Self.webapp])
        #expect(!plain.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
        let forced = try Support.run([roprof, "--color", "always", "report", Self.webapp])
        #expect(forced.stdout.contains("\u{1B}["))
        let after = try Support.run([roprof, "report", "--color=always", Self.webapp])
        #expect(after.stdout.contains("\u{1B}["), "the flag works after the command too")
        let noColor = try Support.run([roprof, "--color", "auto", "report", Self.webapp], env: ["NO_COLOR": "1"])
        #expect(!noColor.stdout.contains("\u{1B}["))
    }

    @Test func helpNamesOnlyFlagsThatExist() throws {
        for cmd in ["run", "record", "report", "suggest", "verify", "diagnose", "check", "baseline", "diff", "merge"] {
            let help = try Support.run([roprof, cmd, "--help"]).stdout
            #expect(!help.contains("--report-junit"), "\(cmd)")
            for token in help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "(" || $0 == ")" || $0 == "`" || $0 == "'" })
            where token.hasPrefix("--") && token.count > 2 {
                let name = String(token.split(separator: "=").first!.split(separator: "[").first!)
                    .trimmingCharacters(in: CharacterSet(charactersIn: ".;:"))
                if name == "--" || name.count < 3 { continue }
                let probe = try Support.run([roprof, cmd, name, "--help"])
                #expect(!probe.stderr.contains("unknown option"), "`roprof \(cmd) --help` names \(name), which does not exist: \(probe.stderr)")
            }
        }
    }

    /// The help's prose flows: wrapped to the 80 columns it is printed at (lines of at most 79), not broken where the
    /// source's lines happened to end (a line whose next word would have fitted on it).
    @Test func helpParagraphsFlowAtEightyColumns() throws {
        for cmd in ["", "run", "record", "report", "suggest", "verify", "diagnose", "check", "baseline", "diff", "merge"] {
            let help = try Support.run([roprof] + (cmd.isEmpty ? [] : [cmd]) + ["--help"]).stdout
            let prose = help.components(separatedBy: "USAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (a, b) in zip(prose, prose.dropFirst()) where !a.isEmpty && !b.isEmpty && !b.hasPrefix(" ") && !a.hasPrefix(" ") {
                let word = b.split(separator: " ").first.map(String.init) ?? ""
                #expect(a.count + 1 + word.count >= 80, "`roprof \(cmd) --help` breaks a line early:\n\(a)\n\(b)")
            }
        }
    }
}

/// Small recordings built in code for emitter tests.
enum TraceModelFixtures {
    static func rootRecording() throws -> TraceModel.Recording {
        var r = try TraceModel.Recording.load(path: EcosystemTests.webapp)
        for i in r.runs.indices { for j in r.runs[i].processes.indices { r.runs[i].processes[j].uid = 0 } }
        r.syscalls["x86_64", default: [:]]["chown"] = 1
        r.syscalls["x86_64", default: [:]]["setgid"] = 1
        return r
    }

    static func kvRecording() throws -> TraceModel.Recording {
        var r = try TraceModel.Recording.load(path: EcosystemTests.webapp)
        r.files = [
            .init(path: "/var/lib/roprof-kv/kv.log", operation: .create, count: 1, succeeded: 1, syscalls: ["openat"], processes: ["/usr/bin/python3"]),
            .init(path: "/var/lib/roprof-kv/kv.log", operation: .sync, count: 1, succeeded: 1, syscalls: ["fsync"], processes: ["/usr/bin/python3"]),
            .init(path: "/run/roprof-kv/kv.pid", operation: .create, count: 1, succeeded: 1, syscalls: ["openat"], processes: ["/usr/bin/python3"]),
        ]
        r.filesystem = TraceModel.FilesystemFacts(directories: [
            "/var/lib/roprof-kv": .init(uid: 65534, gid: 65534, mode: 0o750, entries: ["kv.log"], entryCount: 1),
            "/run/roprof-kv": .init(uid: 65534, gid: 65534, mode: 0o755, entries: ["kv.pid"], entryCount: 1),
        ])
        return r
    }
}
