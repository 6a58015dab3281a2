import FoundationEssentials
import Glibc
import TraceModel

/// What each backend cost on this machine, measured by earlier runs and kept between them, so that
/// `--backend auto` can pick the cheaper one for the run at hand: the eBPF probe's load (a fixed cost
/// per run), the ptrace stop (a cost per event), and how many stops each command needed last time.
/// Kept in `$XDG_CACHE_HOME/roprof/backend-costs.json` (or ~/.cache/…); per kernel release.
struct BackendCosts: Codable {
    var kernel: String
    /// The last few measurements (milliseconds; microseconds per stop). What each backend adds to a
    /// run besides the app's own lifetime: ptrace's start, survey and recording (`ptraceFixedMs`; its
    /// stops lengthen the app itself and are counted per stop), and eBPF's — with the probe loaded
    /// and pinned by this run (`ebpfLoadMs`: once per boot, or every run where pinning is not
    /// possible) or found pinned (`ebpfWarmMs`: attach, drain, detach).
    var ebpfLoadMs: [Double] = []
    var ebpfWarmMs: [Double] = []
    var ptraceFixedMs: [Double] = []
    var ptraceStopUs: [Double] = []
    /// Command key → the events the run stopped on (or, under eBPF, that a ptrace run would stop on).
    var commands: [String: Int] = [:]

    static let keep = 5, maxCommands = 256
    /// Until measured here: what docs/performance.md measured on the 2-vCPU VMs.
    static let defaultLoadMs = 60.0, defaultWarmMs = 24.0, defaultPtraceFixedMs = 19.0, defaultStopUs = 40.0
    /// eBPF only when ptrace's estimate is this much dearer: both are estimates, and ptrace sees more
    /// (failed writes, the io_uring fallback).
    static let ptraceBias = 1.2

    init(kernel: String) { self.kernel = kernel }

    /// A cache written by an older roprof (fewer series) still counts.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kernel = try c.decode(String.self, forKey: .kernel)
        ebpfLoadMs = try c.decodeIfPresent([Double].self, forKey: .ebpfLoadMs) ?? []
        ebpfWarmMs = try c.decodeIfPresent([Double].self, forKey: .ebpfWarmMs) ?? []
        ptraceFixedMs = try c.decodeIfPresent([Double].self, forKey: .ptraceFixedMs) ?? []
        ptraceStopUs = try c.decodeIfPresent([Double].self, forKey: .ptraceStopUs) ?? []
        commands = try c.decodeIfPresent([String: Int].self, forKey: .commands) ?? [:]
    }

    static var path: String? {
        let env = ProcessInfo.processInfo.environment
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/roprof/backend-costs.json" }
        if let h = env["HOME"], h.hasPrefix("/") { return h + "/.cache/roprof/backend-costs.json" }
        return nil
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func load() -> BackendCosts {
        let kernel = kernelRelease()
        guard let p = path, let data = FileManager.default.contents(atPath: p), data.count < 1 << 20,
              let c = try? JSONDecoder().decode(BackendCosts.self, from: data), c.kernel == kernel else { return BackendCosts(kernel: kernel) }
        return c
    }

    /// Best effort: a cache that cannot be written is no error. Written beside and renamed over
    /// (plain system calls: this runs at the end of every launched run).
    func save() {
        guard let p = Self.path, let data = try? JSONEncoder().encode(self) else { return }
        var dir = ""
        for part in Paths.parent(p).split(separator: "/") {
            dir += "/" + part
            _ = mkdir(dir, 0o755)
        }
        let tmp = p + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let ok = StdIO.write(fd, Array(data))
        close(fd)
        if !ok || rename(tmp, p) != 0 { unlink(tmp) }
    }

    /// The command as it was launched, where it ran: the key of its measurements.
    static func key(_ argv: [String], cwd: String?) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (argv.joined(separator: "\u{0}") + "\u{1}" + (cwd ?? "")).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    static func median(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.sorted()[xs.count / 2] }

    var loadMs: Double { Self.median(ebpfLoadMs) ?? Self.defaultLoadMs }
    var warmMs: Double { Self.median(ebpfWarmMs) ?? Self.defaultWarmMs }
    var ptraceFixed: Double { Self.median(ptraceFixedMs) ?? Self.defaultPtraceFixedMs }
    var stopUs: Double { Self.median(ptraceStopUs) ?? Self.defaultStopUs }

    private static func noted(_ xs: [Double], _ x: Double) -> [Double] { x.isFinite && x >= 0 ? Array((xs + [x]).suffix(keep)) : xs }
    /// What an eBPF run added: `loaded` when it loaded the probe (pinned by it, or for itself alone).
    mutating func noteEBPF(ms: Double, loaded: Bool) {
        if loaded { ebpfLoadMs = Self.noted(ebpfLoadMs, ms) } else { ebpfWarmMs = Self.noted(ebpfWarmMs, ms) }
    }
    mutating func notePtraceFixed(ms: Double) { ptraceFixedMs = Self.noted(ptraceFixedMs, ms) }
    mutating func noteStopCost(us: Double) {
        if us > 0 { ptraceStopUs = Self.noted(ptraceStopUs, us) }
    }
    mutating func noteCommand(_ key: String, stops: Int) {
        commands[key] = stops
        if commands.count > Self.maxCommands, let drop = commands.keys.sorted().first(where: { $0 != key }) { commands.removeValue(forKey: drop) }
    }

    /// The cheaper backend for a launched command, and why, in one line. `probePinned`: the probe is
    /// loaded already (this boot), so an eBPF run only attaches it; otherwise this run pays the load.
    func choose(key: String, probePinned: Bool) -> (ebpf: Bool, why: String) {
        let ebpfMs = probePinned ? warmMs : loadMs
        let ebpfWhat = probePinned ? "the probe is loaded: attach, drain" : "the probe is not loaded yet: load, attach, drain"
        guard let stops = commands[key] else {
            return (false, "ptrace: this command has not been measured here yet (eBPF adds ~\(Format.fixed(ebpfMs, 0)) ms a run, \(ebpfWhat); ptrace ~\(Format.fixed(ptraceFixed, 0)) ms and ~\(Format.fixed(stopUs, 0)) µs a stop)")
        }
        let ptraceMs = ptraceFixed + Double(stops) * stopUs / 1000
        let why = "\(stops) stops last time × \(Format.fixed(stopUs, 0)) µs + ~\(Format.fixed(ptraceFixed, 0)) ms ≈ \(Format.fixed(ptraceMs, 1)) ms under ptrace, against eBPF's ~\(Format.fixed(ebpfMs, 0)) ms (\(ebpfWhat))"
        return ptraceMs <= ebpfMs * Self.ptraceBias ? (false, "ptrace: " + why) : (true, "eBPF: " + why)
    }
}

/// This process's CPU time (user + system), in microseconds.
func cpuMicroseconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
}
