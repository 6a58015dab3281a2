import Foundation
import Testing
import TestSupport
import Yams
@testable import TraceModel

/// The image workflow in the real engine (podman + runc, images built offline by .ci/setup):
/// `record --image` → `suggest --format podman` → the printed command, run as printed, serves
/// requests under --read-only and keeps its data across a restart; `verify --image` proves it;
/// leaving a mount out fails; bad input gets one line and leaves no container behind.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ImageTests {
    let roprof = Support.roprof
    static let image = "localhost/roprof-test/pyweb:1"
    static var conf: String { Support.packageRoot.appendingPathComponent("Fixtures/podman/containers.conf").path }
    static var env: [String: String] { ["CONTAINERS_CONF": conf] }
    static let port = 18000 + Int(getpid() % 1000)

    func requireImage() throws {
        _ = try Support.which("podman")
        guard Support.spawnAndWait(["podman", "image", "exists", Self.image], env: Self.env) == 0 else {
            throw Support.MissingTool(tool: "the test image \(Self.image) (bash .ci/setup builds it)")
        }
    }

    /// roprof's containers still there (there must be none after any command).
    func leftovers() throws -> [String] {
        let o = try Support.run(["podman", "ps", "-a", "--format", "{{.Names}}"], env: Self.env)
        return o.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("roprof-") }
    }

    func get(_ path: String) -> String {
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:\(Self.port)\(path)').read().decode())\""
    }

    @Test func recordSuggestRunAsPrintedVerify() throws {
        try requireImage()
        let dir = Support.scratch("image")
        // The image's entrypoint takes PORT from the environment; the command after -- overrides CMD (none here).
        let rec = dir + "/image.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--image", Self.image, "--ready-url", "http://127.0.0.1:8000/health",
                                 "--while", get("/items/a").replacingOccurrences(of: "\(Self.port)", with: "8000")], env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try leftovers().isEmpty)
        let recording = try Recording.load(path: rec)
        let run = try #require(recording.runs.first)
        #expect(run.image?.reference == Self.image && run.image?.user == "app" && run.image?.workingDir == "/app", "\(String(describing: run.image))")
        #expect(run.processes.contains { $0.uid == 10001 }, "the app ran as the image's USER")
        #expect(recording.filesystem?.directories["/data/db"] != nil, "facts were taken inside the container")
        let report = try Support.run([roprof, "report", "--format", "json", "--runtime", "docker", rec])
        let a = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as! [String: Any]
        let mounts = (a["mounts"] as! [[String: Any]]).map { ($0["path"] as! String, $0["kind"] as! String) }
        #expect(mounts.contains { $0 == ("/data/db", "persistent") }, "\(mounts)")

        let printed = try Support.run([roprof, "suggest", "--format", "podman", "--runtime", "docker", rec])
        #expect(printed.status == 0)
        #expect(printed.stdout.contains(Self.image) && printed.stdout.contains("--publish=127.0.0.1:8000:8000") && !printed.stdout.contains("setpriv"), "the --ready-url port as the URL names it (loopback stays loopback): \(printed.stdout)")
        // Run exactly as printed (detached, with a name so the test can stop it), twice on the same volume.
        try Support.run([roprof, "suggest", "--format", "seccomp", rec]).stdout.write(toFile: dir + "/roprof-seccomp.json", atomically: true, encoding: .utf8)
        let name = "roprof-asprinted-\(getpid())"
        let script = printed.stdout.replacingOccurrences(of: "podman run", with: "podman run -d --name \(name)")
        var answers: [String] = []
        defer {
            _ = Support.spawnAndWait(["podman", "rm", "-f", name], env: Self.env)
            _ = Support.spawnAndWait(["podman", "volume", "rm", "-f", "roprof-data-db"], env: Self.env)
        }
        _ = Support.spawnAndWait(["podman", "volume", "rm", "-f", "roprof-data-db"], env: Self.env)
        for round in 0..<2 {
            #expect(Support.spawnAndWait(["/bin/sh", "-c", "cd \(dir) && " + script], env: Self.env) == 0, "round \(round): the printed command did not start")
            var ok = false
            for _ in 0..<100 where !ok {
                ok = (try? Support.run(["/bin/sh", "-c", get("/health").replacingOccurrences(of: "\(Self.port)", with: "8000")]).status) == 0
                if !ok { usleep(100_000) }
            }
            let logs = (try? Support.run(["podman", "logs", name], env: Self.env).stderr) ?? ""
            #expect(ok, "round \(round): the printed command does not serve: \(logs)")
            answers.append(try Support.run(["/bin/sh", "-c", get("/items/round\(round)").replacingOccurrences(of: "\(Self.port)", with: "8000")]).stdout)
            _ = Support.spawnAndWait(["podman", "rm", "-f", "-t", "5", name], env: Self.env)
        }
        let counts = answers.compactMap { a in a.split(whereSeparator: { !$0.isNumber }).last.flatMap { Int($0) } }
        #expect(counts.count == 2 && counts[1] == counts[0] + 1, "the data survived the restart: \(answers)")

        // verify --image: PASS with the restart; without the volume: FAIL naming it; nothing left behind.
        let ex = get("/items/a").replacingOccurrences(of: "\(Self.port)", with: "8000")
        let v = try Support.run([roprof, "verify", "--runtime", "docker", "--from", rec, "--image", Self.image, "--ready-url", "http://127.0.0.1:8000/health", "--while", ex], env: Self.env)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("again on the same volumes"), "\(v.stdout)\(v.stderr)")
        let w = try Support.run([roprof, "verify", "--runtime", "docker", "--from", rec, "--image", Self.image, "--without", "/data/db",
                                 "--ready-url", "http://127.0.0.1:8000/health", "--ready-timeout", "15", "--while", ex], env: Self.env)
        #expect(w.status == 1 && w.stdout.contains("FAIL") && w.stdout.contains("/data/db"), "\(w.stdout)")
        #expect(try leftovers().isEmpty)
        // The Kubernetes output, run by podman kube play (Localhost profile, a claim), through a restart.
        let k = try Support.run([roprof, "verify", "--format", "kubernetes", "--from", rec, "--image", Self.image,
                                 "--ready-url", "http://127.0.0.1:8000/health", "--while", ex], env: Self.env)
        #expect(k.status == 0 && k.stdout.contains("PASS") && k.stdout.contains("podman kube play") && k.stdout.contains("again on the same volumes"),
                "\(k.stdout)\(k.stderr)")
        let pods = try Support.run(["podman", "pod", "ps", "--format", "{{.Name}}"], env: Self.env).stdout
        #expect(!pods.contains("roprof-verify"), "verify's pod is gone: \(pods)")
        let vols = try Support.run(["podman", "volume", "ls", "--format", "{{.Name}}"], env: Self.env).stdout
        #expect(!vols.contains("-verify-"), "verify's claims are gone: \(vols)")
        let bad = try Support.run([roprof, "verify", "--format", "kubernetes", "--engine", "docker", "--from", rec, "--image", Self.image])
        #expect(bad.status == 2 && bad.stderr.contains("podman kube play"), "\(bad.stderr)")
        // run --image: the same recording, and the report at once.
        let runIt = try Support.run([roprof, "run", "--quiet", "-o", dir + "/run.json", "--image", Self.image, "--ready-url", "http://127.0.0.1:8000/health", "--for", "1"], env: Self.env)
        #expect(runIt.status == 0 && runIt.stdout.contains("/data/db") && runIt.stdout.contains("state: must survive restarts"), "\(runIt.stdout)\(runIt.stderr)")
    }

    /// The kustomize overlay, made as a user types it (relative paths, a base whose one container is
    /// not named `app`), built by kustomize and run by `podman kube play` with the Localhost seccomp
    /// profile: it serves, and its claim keeps the data across a pod restart.
    @Test func kustomizeOverlayRunsUnderPodmanKubePlay() throws {
        try requireImage()
        let kubectl = try Support.which("kubectl")
        let work = Support.scratch("kubeplay"), rec = work + "/rec.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--image", Self.image, "--ready-url", "http://127.0.0.1:8000/health",
                                 "--while", get("/items/a").replacingOccurrences(of: "\(Self.port)", with: "8000")], env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        try KustomizeBase.write(work + "/base", containers: [.init(name: "frontend", image: Self.image, loopbackPort: 8000)])
        let o = try Support.run([roprof, "suggest", "--format", "kubernetes", "-o", "overlay/", "--kustomize-base", "../base", rec], cwd: work)
        #expect(o.status == 0, "\(o.stderr)")
        let built = try Support.run([kubectl, "kustomize", work + "/overlay"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.contains("readOnlyRootFilesystem: true") && built.stdout.contains("localhostProfile: profiles/roprof-seccomp.json"), "\(built.stdout)")
        try built.stdout.write(toFile: work + "/built.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: work + "/seccomp/profiles", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: work + "/overlay/roprof-seccomp.json", toPath: work + "/seccomp/profiles/roprof-seccomp.json")
        // The claims become podman volumes: fresh ones for this test (a claim is a new, empty volume).
        let claimNames = try Array(Yams.load_all(yaml: built.stdout)).compactMap { $0 as? [String: Any] }
            .filter { $0["kind"] as? String == "PersistentVolumeClaim" }.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(!claimNames.isEmpty, "the overlay claims the database directory")
        let dropClaims = { for c in claimNames { _ = Support.spawnAndWait(["podman", "volume", "rm", "-f", c], env: Self.env) } }
        defer { _ = Support.spawnAndWait(["podman", "kube", "down", work + "/built.yaml"], env: Self.env); dropClaims() }
        dropClaims()
        #expect(built.stdout.contains("runAsUser: 10001"), "the image's USER: \(built.stdout)")
        _ = Support.spawnAndWait(["podman", "kube", "down", work + "/built.yaml"], env: Self.env)
        // (spawnAndWait: kube play leaves conmon running, which would hold a pipe open.)
        let play = Support.spawnAndWait(["/bin/sh", "-c", "exec podman kube play --seccomp-profile-root \(work)/seccomp \(work)/built.yaml >\(work)/play.log 2>&1"], env: Self.env)
        #expect(play == 0, "podman kube play failed (status \(play)): \((try? String(contentsOfFile: work + "/play.log", encoding: .utf8)) ?? "")")
        let pod = try Support.run(["podman", "pod", "ps", "--format", "{{.Name}}"], env: Self.env).stdout
            .split(separator: "\n").map(String.init).first { $0.hasPrefix("shop-pod") } ?? "shop-pod"
        var counts: [Int] = []
        for round in 0..<2 {
            var ok = false
            for i in 0..<600 where !ok {  // a restarted pod runs its migrations again first
                ok = (try? Support.run(["/bin/sh", "-c", get("/health").replacingOccurrences(of: "\(Self.port)", with: "8000")]).status) == 0
                if !ok { usleep(100_000) }
                // podman 4.3: the restart policy (Always) can start the container while `pod stop` is still
                // stopping it, which then stops it again; `pod start` once more, as a user would.
                if !ok && round == 1 && i % 150 == 149 { _ = Support.spawnAndWait(["podman", "pod", "start", pod], env: Self.env) }
            }
            let logs = (try? Support.run(["podman", "logs", pod + "-frontend"], env: Self.env)).map { $0.stdout + $0.stderr } ?? ""
            #expect(ok, "round \(round): the pod does not serve: \(logs)")
            let a = try Support.run(["/bin/sh", "-c", get("/items/kube\(round)").replacingOccurrences(of: "\(Self.port)", with: "8000")])
            if let n = a.stdout.split(whereSeparator: { !$0.isNumber }).last.flatMap({ Int($0) }) { counts.append(n) }
            if round == 0 {
                #expect(Support.spawnAndWait(["podman", "pod", "stop", "-t", "5", pod], env: Self.env) == 0)
                #expect(Support.spawnAndWait(["podman", "pod", "start", pod], env: Self.env) == 0)
            }
        }
        #expect(counts.count == 2 && counts[1] == counts[0] + 1, "the claim kept the data across the pod restart: \(counts)")
    }

    /// Gunicorn as a non-root USER: its heartbeat files need /tmp (podman's U makes the tmpfs the
    /// user's), and its control socket under $HOME is only created once the suggested mount exists,
    /// where it calls chmod: verify names that refusal, and --refine learns it, then PASS.
    @Test func gunicornImageVerifiesAfterRefine() throws {
        _ = try Support.which("podman")
        guard Support.spawnAndWait(["podman", "image", "exists", "localhost/roprof-test/gunicorn:1"], env: Self.env) == 0 else {
            throw Support.MissingTool(tool: "the test image localhost/roprof-test/gunicorn:1 (bash .ci/setup builds it)")
        }
        let dir = Support.scratch("gunicorn-image"), rec = dir + "/g.json"
        let ex = "python3 -c \"import urllib.request as u; [u.urlopen('http://127.0.0.1:8000/').read() for i in range(3)]\""
        let common = ["--ready-url", "http://127.0.0.1:8000/health", "--while", ex]
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--image", "localhost/roprof-test/gunicorn:1"] + common, env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Support.run([roprof, "report", "--runtime", "docker", rec]).stdout
        let heartbeats = report.split(separator: "\n").filter { $0.contains("wgunicorn-") }
        #expect(!heartbeats.isEmpty && heartbeats.allSatisfy { $0.contains("wgunicorn-*") }, "per-run heartbeat names are generalised:\n\(report)")
        let printed = try Support.run([roprof, "suggest", "--format", "podman", "--runtime", "docker", rec]).stdout
        #expect(printed.contains("destination=/tmp,tmpfs-size=16777216,U"), "\(printed)")
        let plain = try Support.run([roprof, "verify", "--runtime", "docker", "--from", rec, "--image", "localhost/roprof-test/gunicorn:1"] + common, env: Self.env)
        #expect(plain.status == 1 && plain.stdout.contains("gunicorn.ctl"), "the verdict names the refusal: \(plain.stdout)")
        let refined = try Support.run([roprof, "verify", "--refine", "--runtime", "docker", "--from", rec, "--image", "localhost/roprof-test/gunicorn:1"] + common, env: Self.env)
        #expect(refined.status == 0 && refined.stdout.contains("PASS") && refined.stderr.contains("refined"), "\(refined.stdout)\(refined.stderr)")
        #expect(try leftovers().isEmpty)
    }

    /// One image, several services selected by argument: each recorded with --image and --name (the
    /// one-shot `engine` by overriding CMD), merged, then workloads that run the image's own
    /// ENTRYPOINT with only the service's argument, as its USER with its home.
    @Test func multiServiceImageBecomesWorkloads() throws {
        let image = "localhost/roprof-test/multiservice:1"
        _ = try Support.which("podman")
        guard Support.spawnAndWait(["podman", "image", "exists", image], env: Self.env) == 0 else {
            throw Support.MissingTool(tool: "the test image \(image) (bash .ci/setup builds it)")
        }
        let dir = Support.scratch("multi-image")
        let web = try Support.run([roprof, "record", "--quiet", "-o", dir + "/web.json", "--name", "webserver", "--image", image,
                                   "--ready-url", "http://127.0.0.1:8000/health", "--while", get("/health").replacingOccurrences(of: "\(Self.port)", with: "8000")], env: Self.env)
        #expect(web.status == 0, "\(web.stderr)")
        let engine = try Support.run([roprof, "record", "--quiet", "-o", dir + "/engine.json", "--name", "engine", "--image", image, "--", "engine"], env: Self.env)
        #expect(engine.status == 0, "\(engine.stderr)")
        #expect(try Support.run([roprof, "merge", "-o", dir + "/all.json", dir + "/web.json", dir + "/engine.json"]).status == 0)
        let rep = try Support.run([roprof, "report", "--format", "json", "--runtime", "docker", dir + "/all.json"])
        let a = try JSONSerialization.jsonObject(with: Data(rep.stdout.utf8)) as! [String: Any]
        let mounts = Dictionary(uniqueKeysWithValues: (a["mounts"] as! [[String: Any]]).map { ($0["path"] as! String, $0["kind"] as! String) })
        #expect(mounts["/home/svc/appdata"] == "persistent", "the USER's home, not root's: \(mounts)")
        let k8s = try Support.run([roprof, "suggest", "--format", "kubernetes", "--workloads", "--schedule", "engine=*/30 * * * *", dir + "/all.json"])
        #expect(k8s.status == 0, "\(k8s.stderr)")
        let docs = try Array(Yams.load_all(yaml: k8s.stdout)).compactMap { $0 as? [String: Any] }
        func container(_ kind: String) -> [String: Any]? {
            guard let d = docs.first(where: { $0["kind"] as? String == kind }) else { return nil }
            var spec = d["spec"] as? [String: Any]
            if kind == "CronJob" { spec = ((spec?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any]) }
            return (((spec?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first
        }
        let cron = try #require(container("CronJob")), deploy = try #require(container("Deployment"))
        #expect(cron["image"] as? String == image && deploy["image"] as? String == image)
        #expect(cron["command"] == nil && cron["args"] as? [String] == ["engine"], "the image's ENTRYPOINT with the service's argument: \(cron)")
        #expect(deploy["command"] == nil && deploy["args"] == nil, "the image's default CMD is webserver: \(deploy)")
        #expect(try leftovers().isEmpty)
    }

    /// check --image: a baseline made inside the image, then the CI check inside the image passes; a
    /// baseline without the database's directory fails naming it (SARIF too); a stop roprof made is no regression.
    @Test func checkInsideTheImage() throws {
        try requireImage()
        let dir = Support.scratch("image-check"), base = dir + "/base.yaml"
        let ex = get("/items/a").replacingOccurrences(of: "\(Self.port)", with: "8000")
        let common = ["--image", Self.image, "--ready-url", "http://127.0.0.1:8000/health", "--while", ex]
        let u = try Support.run([roprof, "check", "--quiet", "--update", "--baseline", base] + common, env: Self.env)
        #expect(u.status == 0 && FileManager.default.fileExists(atPath: base), "\(u.stdout)\(u.stderr)")
        let ok = try Support.run([roprof, "check", "--quiet", "--baseline", base] + common, env: Self.env)
        #expect(ok.status == 0 && ok.stdout.contains("passed"), "\(ok.stdout)\(ok.stderr)")
        // Take the database directory out of the baseline: the check must catch it.
        let text = try String(contentsOfFile: base, encoding: .utf8)
        var kept: [Substring] = []
        var skip = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("- path: /data/db") { skip = true; continue }
            if skip && line.hasPrefix("  ") { continue }
            skip = false
            kept.append(line)
        }
        try kept.joined(separator: "\n").write(toFile: base, atomically: true, encoding: .utf8)
        let bad = try Support.run([roprof, "check", "--quiet", "--baseline", base, "--format", "sarif", "-o", dir + "/r.sarif"] + common, env: Self.env)
        #expect(bad.status == 1 && bad.stdout.contains("/data/db"), "\(bad.stdout)\(bad.stderr)")
        #expect(try String(contentsOfFile: dir + "/r.sarif", encoding: .utf8).contains("ROPROF001"))
        #expect(try leftovers().isEmpty)
    }

    @Test func badInputIsOneLineAndLeavesNoContainer() throws {
        try requireImage()
        let dir = Support.scratch("image-bad")
        let missing = try Support.run([roprof, "record", "-o", dir + "/x.json", "--image", "localhost/roprof-test/nope:0"], env: Self.env)
        #expect(missing.status == 2 && missing.stderr.contains("no image 'localhost/roprof-test/nope:0'") && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        var noEngine = Self.env
        noEngine["PATH"] = "/nonexistent"
        let engine = try Support.run([roprof, "record", "-o", dir + "/x.json", "--image", Self.image], env: noEngine)
        #expect(engine.status == 2 && engine.stderr.contains("podman is not installed"), "\(engine.stderr)")
        let silent = try Support.run([roprof, "record", "-o", dir + "/x.json", "--image", Self.image, "--ready-url", "http://127.0.0.1:8001/health", "--ready-timeout", "5"], env: Self.env)
        #expect(silent.status == 2 && silent.stderr.contains("did not answer"), "\(silent.stderr)")
        // An image without glibc (FROM scratch with a static binary): one line before anything runs.
        try FileManager.default.copyItem(atPath: "/usr/bin/tini-static", toPath: dir + "/tini")
        try "FROM scratch\nCOPY tini /tini\nENTRYPOINT [\"/tini\", \"--\", \"/tini\", \"--version\"]\n".write(toFile: dir + "/Dockerfile", atomically: true, encoding: .utf8)
        #expect(Support.spawnAndWait(["podman", "build", "-q", "-t", "localhost/roprof-test/static:1", dir], env: Self.env) == 0)
        let stat = try Support.run([roprof, "record", "-o", dir + "/x.json", "--image", "localhost/roprof-test/static:1"], env: Self.env)
        #expect(stat.status == 2 && stat.stderr.contains("has no glibc") && stat.stderr.split(separator: "\n").count == 1, "\(stat.stderr)")
        #expect(try leftovers().isEmpty, "no container left")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.json") || (try? Recording.load(path: dir + "/x.json")) != nil)
    }

    @Test func sigintInTheMiddleStopsTheContainerAndWritesTheRecording() throws {
        try requireImage()
        let dir = Support.scratch("image-int")
        setenv("CONTAINERS_CONF", Self.conf, 1)  // the spawned roprof inherits this process's environment
        let pid = CrashTests.spawn([roprof, "record", "--quiet", "-o", dir + "/r.json", "--image", Self.image, "--for", "60"], dir: dir)
        #expect(pid > 0)
        usleep(4_000_000)
        kill(pid, SIGINT)
        let status = CrashTests.wait(pid, timeout: 40)
        #expect(status != nil, "roprof exits")
        #expect(try leftovers().isEmpty, "no container left after SIGINT")
        #expect(throws: Never.self) { _ = try Recording.load(path: dir + "/r.json") }
    }
}
