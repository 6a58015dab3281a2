import Foundation
import Glibc

/// What each backend cost on this machine, measured by earlier runs and kept between them, so that
/// `--backend auto` can pick the cheaper one for the run at hand: the eBPF probe's load (a fixed cost
/// per run), the ptrace stop (a cost per event), and how many stops each command needed last time.
/// Kept in `$XDG_CACHE_HOME/roprof/backend-costs.json` (or ~/.cache/…); per kernel release.
struct BackendCosts: Codable {
    var kernel: String
    /// The last few measurements (milliseconds; microseconds per stop).
    var ebpfLoadMs: [Double] = []
    var ptraceStopUs: [Double] = []
    /// Command key → the events the run stopped on (or, under eBPF, that a ptrace run would stop on).
    var commands: [String: Int] = [:]

    static let keep = 5, maxCommands = 256
    /// Until measured here: what docs/performance.md measured on the 2-vCPU VMs.
    static let defaultLoadMs = 60.0, defaultStopUs = 40.0
    /// eBPF only when ptrace's estimate is this much dearer: both are estimates, and ptrace sees more
    /// (failed writes, the io_uring fallback).
    static let ptraceBias = 1.5

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

    /// Best effort: a cache that cannot be written is no error.
    func save() {
        guard let p = Self.path, let data = try? JSONEncoder().encode(self) else { return }
        let dir = (p as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = p + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else { return }
        if rename(tmp, p) != 0 { unlink(tmp) }
    }

    /// The command as it was launched, where it ran: the key of its measurements.
    static func key(_ argv: [String], cwd: String?) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (argv.joined(separator: "\u{0}") + "\u{1}" + (cwd ?? "")).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    static func median(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.sorted()[xs.count / 2] }

    var loadMs: Double { Self.median(ebpfLoadMs) ?? Self.defaultLoadMs }
    var stopUs: Double { Self.median(ptraceStopUs) ?? Self.defaultStopUs }

    mutating func noteLoad(ms: Double) { ebpfLoadMs = Array((ebpfLoadMs + [ms]).suffix(Self.keep)) }
    mutating func noteStopCost(us: Double) {
        if us.isFinite, us > 0 { ptraceStopUs = Array((ptraceStopUs + [us]).suffix(Self.keep)) }
    }
    mutating func noteCommand(_ key: String, stops: Int) {
        commands[key] = stops
        if commands.count > Self.maxCommands, let drop = commands.keys.sorted().first(where: { $0 != key }) { commands.removeValue(forKey: drop) }
    }

    /// The cheaper backend for a launched command, and why, in one line.
    func choose(key: String) -> (ebpf: Bool, why: String) {
        guard let stops = commands[key] else {
            return (false, String(format: "ptrace: this command has not been measured here yet (eBPF costs ~%.0f ms a run; a ptrace stop ~%.0f µs)", loadMs, stopUs))
        }
        let ptraceMs = Double(stops) * stopUs / 1000
        let why = String(format: "%d stops last time × %.0f µs ≈ %.1f ms under ptrace, against eBPF's ~%.0f ms (load, attach, drain)", stops, stopUs, ptraceMs, loadMs)
        return ptraceMs <= loadMs * Self.ptraceBias ? (false, "ptrace: " + why) : (true, "eBPF: " + why)
    }
}

/// This process's CPU time (user + system), in microseconds.
func cpuMicroseconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
}
