import Foundation
import Testing
import TestSupport
@testable import TraceModel

/// Docker, as a Docker user would: `record --image --engine docker` of a threaded server (aiosqlite
/// starts a thread per connection) as a non-root USER, then the printed `docker run` (written with
/// its profile by `suggest -o DIR/`) and the printed compose file, each run as printed, serving
/// requests (new threads included) and keeping its data across a restart; `verify --image --engine
/// docker` proves it. The daemon is a private one (scripts/private-dockerd), the image built offline.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct DockerTests {
    let roprof = Support.roprof
    static let image = "localhost/roprof-test/pyweb:1"
    static let socket = "unix:///run/roprof-docker.sock"
    static var env: [String: String] { ["DOCKER_HOST": socket] }

    func requireDocker() throws {
        _ = try Support.which("docker")
        _ = try Support.which("dockerd")
        if Support.spawnAndWait(["docker", "version"], env: Self.env) != 0 {
            _ = Support.spawnAndWait(["bash", Support.packageRoot.appendingPathComponent("scripts/private-dockerd").path, "start"])
        }
        guard Support.spawnAndWait(["docker", "image", "inspect", Self.image], env: Self.env) == 0 else {
            throw Support.MissingTool(tool: "the docker test image \(Self.image) (bash .ci/setup builds it)")
        }
    }

    func get(_ path: String) -> String {
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000\(path)', timeout=5).read().decode())\""
    }

    func waitServing() -> Bool {
        for _ in 0..<150 {
            if (try? Support.run(["/bin/sh", "-c", get("/health")]).status) == 0 { return true }
            usleep(100_000)
        }
        return false
    }

    /// Runs the printed script (only the app's `docker run` detached and named; any line before it as
    /// printed) twice on the same volume, `requests` new connections each time (new threads under the
    /// printed profile); the last answer's item count of each round.
    func runAsPrintedTwice(_ script: String, dir: String, name: String, volume: String, requests: Int) throws -> [Int] {
        let detached = dir + "/run/detached.sh"
        try script.replacingOccurrences(of: "docker run \\\n", with: "docker run -d --name \(name) \\\n")
            .write(toFile: detached, atomically: true, encoding: .utf8)
        defer {
            _ = Support.spawnAndWait(["docker", "rm", "-f", name], env: Self.env)
            _ = Support.spawnAndWait(["docker", "volume", "rm", "-f", volume], env: Self.env)
        }
        _ = Support.spawnAndWait(["docker", "volume", "rm", "-f", volume], env: Self.env)
        var counts: [Int] = []
        for round in 0..<2 {
            #expect(Support.spawnAndWait(["/bin/sh", detached], env: Self.env) == 0, "round \(round): the printed script failed")
            let serving = waitServing()
            let logs = (try? Support.run(["docker", "logs", name], env: Self.env)).map { $0.stdout + $0.stderr } ?? ""
            #expect(serving, "round \(round): the printed docker run does not serve: \(logs)")
            for i in 0..<requests {
                let a = try Support.run(["/bin/sh", "-c", get("/items/round\(round)-\(i)")])
                #expect(a.status == 0, "round \(round): \(a.stderr)")
                if i == requests - 1, let n = count(a.stdout) { counts.append(n) }
            }
            let after = (try? Support.run(["docker", "logs", name], env: Self.env)).map { $0.stdout + $0.stderr } ?? ""
            #expect(!after.contains("can't start new thread") && !after.contains("Operation not permitted"), "\(after)")
            _ = Support.spawnAndWait(["docker", "rm", "-f", name], env: Self.env)
        }
        return counts
    }

    /// Items stored so far, from the app's answer ({"items": N}).
    func count(_ answer: String) -> Int? { answer.split(whereSeparator: { !$0.isNumber }).last.flatMap { Int($0) } }

    @Test func aThreadedServerRunsAsPrintedInDockerAndCompose() throws {
        try requireDocker()
        let dir = Support.scratch("docker"), rec = dir + "/rec.json"
        // Several requests: each opens a database connection on a thread of its own.
        let exercise = (1...3).map { get("/items/rec\($0)") }.joined(separator: " && ")
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--engine", "docker", "--image", Self.image,
                                 "--ready-url", "http://127.0.0.1:8000/health", "--while", exercise], env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("seccomp profile off"), "record --image says the engine's profile was off: \(r.stderr)")
        let recording = try Recording.load(path: rec)
        #expect(recording.runs.first?.image?.engine == "docker")
        #expect(recording.allSyscallNames.contains("clone3") || recording.allSyscallNames.contains("clone"), "threads were started")

        // docker run, as printed, with the profile written beside it.
        let out = try Support.run([roprof, "suggest", "--format", "docker", "--runtime", "docker", "-o", dir + "/run/", rec])
        #expect(out.status == 0, "\(out.stderr)")
        let script = try String(contentsOfFile: dir + "/run/docker-run.sh", encoding: .utf8)
        #expect(script.contains("--publish=127.0.0.1:8000:8000") && script.contains("--security-opt=seccomp=roprof-seccomp.json"), "\(script)")
        let counts = try runAsPrintedTwice(script, dir: dir, name: "roprof-docker-asprinted-\(getpid())", volume: "roprof-data-db", requests: 3)
        #expect(counts.count == 2 && counts[1] == counts[0] + 3, "the data survived the restart: \(counts)")

        // docker-compose, as printed: up, down (the volume stays), up again.
        let compose = try Support.which("docker-compose")
        let c = try Support.run([roprof, "suggest", "--format", "compose", "--runtime", "docker", "-o", dir + "/compose/", rec])
        #expect(c.status == 0, "\(c.stderr)")
        let file = dir + "/compose/compose.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("image: localhost/roprof-test/pyweb:1") && text.contains("127.0.0.1:8000:8000"), "a complete service: \(text)")
        let project = "roprof\(getpid())"
        // As the note says: `docker-compose up` in that directory (compose reads the profile relative to it).
        let composeDir = dir + "/compose"
        #expect(c.stderr.contains("run `docker-compose up` there"), "\(c.stderr)")
        defer { _ = try? Support.run([compose, "-p", project, "down", "-v", "-t", "2"], env: Self.env, cwd: composeDir) }
        var composeCounts: [Int] = []
        for round in 0..<2 {
            let up = try Support.run([compose, "-p", project, "up", "-d"], env: Self.env, cwd: composeDir)
            #expect(up.status == 0, "round \(round): docker-compose up: \(up.stderr)")
            #expect(waitServing(), "round \(round): the compose service does not serve")
            let a = try Support.run(["/bin/sh", "-c", get("/items/compose\(round)")])
            if let n = count(a.stdout) { composeCounts.append(n) }
            _ = try Support.run([compose, "-p", project, "down", "-t", "2"], env: Self.env, cwd: composeDir)
        }
        #expect(composeCounts.count == 2 && composeCounts[1] == composeCounts[0] + 1, "compose kept the data across down/up: \(composeCounts)")

        // verify in the real engine: PASS, again on the same volumes.
        let v = try Support.run([roprof, "verify", "--runtime", "docker", "--engine", "docker", "--from", rec, "--image", Self.image,
                                 "--ready-url", "http://127.0.0.1:8000/health", "--while", get("/items/v")], env: Self.env)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("again"), "\(v.stdout)\(v.stderr)")
    }

    /// A state directory the app makes at run time (NATS JetStream's store, `mkdir -p $DATA_DIR`) as a
    /// non-root USER: a new Docker volume there belongs to root. The printed docker script and compose
    /// file hand it to the app's user first; podman does that itself. Each runs as printed, serves and
    /// keeps its data across a restart; verify --image creates the volume as the engine does and passes.
    @Test func aStateDirMadeAtRunTimeIsHandedToTheAppsUser() throws {
        try requireDocker()
        let image = "localhost/roprof-test/pyweb-rundir:1"
        guard Support.spawnAndWait(["docker", "image", "inspect", image], env: Self.env) == 0 else {
            throw Support.MissingTool(tool: "the docker test image \(image) (bash .ci/setup builds it)")
        }
        let dir = Support.scratch("docker-rundir"), rec = dir + "/rec.json"
        let r = try Support.run([roprof, "record", "--quiet", "-o", rec, "--engine", "docker", "--image", image,
                                 "--ready-url", "http://127.0.0.1:8000/health", "--while", get("/items/rec")], env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        // A server in an image is started a second time, as the same container on its own files.
        let phases = try Recording.load(path: rec).runs.compactMap(\.phase)
        #expect(Set(phases) == ["first", "restart"], "\(phases) \(r.stderr)")
        let out = try Support.run([roprof, "suggest", "--format", "docker", "--runtime", "docker", "-o", dir + "/run/", rec])
        #expect(out.stderr.contains("/data/store: a new Docker volume belongs to root"), "\(out.stderr)")
        let script = try String(contentsOfFile: dir + "/run/docker-run.sh", encoding: .utf8)
        #expect(script.contains("--entrypoint=chown") && script.contains("10001:10001 /data/store"), "\(script)")
        let counts = try runAsPrintedTwice(script, dir: dir, name: "roprof-docker-rundir-\(getpid())", volume: "roprof-data-store", requests: 1)
        #expect(counts == [1, 2], "served as the non-root user and kept the data across a restart: \(counts)")

        // compose, as printed: a one-off service hands the volume over before the app starts.
        let compose = try Support.which("docker-compose")
        let c = try Support.run([roprof, "suggest", "--format", "compose", "--runtime", "docker", "-o", dir + "/compose/", rec])
        let composeText = (try? String(contentsOfFile: dir + "/compose/compose.yaml", encoding: .utf8)) ?? ""
        #expect(c.status == 0 && composeText.contains("service_completed_successfully"), "\(composeText)")
        let project = "roprofrundir\(getpid())", composeDir = dir + "/compose"
        defer { _ = try? Support.run([compose, "-p", project, "down", "-v", "-t", "2"], env: Self.env, cwd: composeDir) }
        let up = try Support.run([compose, "-p", project, "up", "-d"], env: Self.env, cwd: composeDir)
        #expect(up.status == 0 && waitServing(), "docker-compose up: \(up.stderr)")
        let composeAnswer = try Support.run(["/bin/sh", "-c", get("/items/compose")]).stdout
        #expect(count(composeAnswer) == 1, "the compose service writes its volume: \(composeAnswer)")
        _ = try Support.run([compose, "-p", project, "down", "-v", "-t", "2"], env: Self.env, cwd: composeDir)

        // podman, as printed (podman gives a new volume to the container's user itself).
        let podmanEnv = ["CONTAINERS_CONF": Support.packageRoot.appendingPathComponent("Fixtures/podman/containers.conf").path]
        if (try? Support.which("podman")) != nil, Support.spawnAndWait(["podman", "image", "exists", image], env: podmanEnv) == 0 {
            let p = try Support.run([roprof, "suggest", "--format", "podman", "--runtime", "podman", "-o", dir + "/podman/", rec])
            #expect(p.status == 0, "\(p.stderr)")
            let ptext = try String(contentsOfFile: dir + "/podman/podman-run.sh", encoding: .utf8)
            #expect(!ptext.contains("--entrypoint=chown"), "\(ptext)")
            let pname = "roprof-podman-rundir-\(getpid())"
            try ptext.replacingOccurrences(of: "podman run \\\n", with: "podman run -d --name \(pname) \\\n")
                .write(toFile: dir + "/podman/detached.sh", atomically: true, encoding: .utf8)
            defer {
                _ = Support.spawnAndWait(["podman", "rm", "-f", pname], env: podmanEnv)
                _ = Support.spawnAndWait(["podman", "volume", "rm", "-f", "roprof-data-store"], env: podmanEnv)
            }
            #expect(Support.spawnAndWait(["/bin/sh", dir + "/podman/detached.sh"], env: podmanEnv) == 0)
            #expect(waitServing(), "the printed podman run serves")
            let podmanAnswer = try Support.run(["/bin/sh", "-c", get("/items/podman")]).stdout
            #expect(count(podmanAnswer) == 1, "the podman service writes its volume: \(podmanAnswer)")
        }

        let v = try Support.run([roprof, "verify", "--runtime", "docker", "--engine", "docker", "--from", rec, "--image", image,
                                 "--ready-url", "http://127.0.0.1:8000/health", "--while", get("/items/v")], env: Self.env)
        #expect(v.status == 0 && v.stdout.contains("PASS") && v.stdout.contains("again"), "\(v.stdout)\(v.stderr)")
    }
}
