internal import CBPF
import FoundationEssentials
import Glibc
import Seccomp
import TraceModel

/// Why the eBPF backend cannot run here: one line naming what is missing and the fix.
public struct EBPFUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "the eBPF backend cannot run here: \(reason)" }
}

/// The probe, attached for one run: its maps, the run's ring buffer, and the links that attach it.
///
/// Pinned (the default where the kernel allows it): the programs and maps are loaded once, pinned in
/// bpffs under /sys/fs/bpf/roprof/KEY (KEY: this probe's bytes and this kernel) and never attached
/// while idle. A run claims one of ROPROF_RUNS slots (a lock file it holds while it runs), resets
/// the slot's tables, drains the slot's ring buffer (pinned too, made once), and attaches its own links with slot + 1 as their
/// cookie; closing the links (or roprof's end, SIGKILL included: the kernel closes its descriptors)
/// detaches them. Elsewhere (kernels before 6.10, no bpffs, every slot busy, ROPROF_EBPF_PIN=0) the
/// probe is loaded for the run and freed with it, as before.
final class EBPFProbe {
    private var object: OpaquePointer?              // loaded for this run only
    private var image: UnsafeMutableRawBufferPointer?
    private var links: [OpaquePointer] = []         // per-run: libbpf's links
    private var linkFds: [Int32] = []               // pinned: this run's links
    private var programFds: [Int32] = []            // pinned: the programs, from their pins
    private var ownedFds: [Int32] = []              // pinned: map descriptors from their pins
    private var ring: OpaquePointer?
    private var ringMap: Int32 = -1
    private var slotLock: Int32 = -1
    let tracked: Int32, descs: Int32, counts: Int32, stats: Int32, config: Int32, cgroup: Int32, events: Int32
    let cpus: Int
    /// The run's slot in the per-run tables (0 when loaded per run).
    let slot: UInt32
    /// Whether this run uses the pinned probe (and how it got it: loaded now, or already there).
    let pinned: Bool
    let loadedNow: Bool

    /// Where the record bytes of the callback go.
    var onRecord: ((UnsafeRawBufferPointer) -> Void)?

    static let programNames = ["on_sys_enter", "on_sys_exit", "on_fork", "on_exec", "on_exit"]
    static let mapNames = ["events", "tracked", "descs", "counts", "stats", "config", "cgroup"]
    static let pinRoot = "/sys/fs/bpf/roprof"
    static let cfgCount = UInt32(ROPROF_CFG_COUNT.rawValue), statCount = UInt32(ROPROF_STAT_COUNT.rawValue)
    static let lockDir = "/run/roprof"

    /// The short reason the eBPF backend cannot load here, checked without loading anything.
    static func precheck() -> String? {
        if access("/sys/kernel/btf/vmlinux", R_OK) != 0 {
            return "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing; it needs CONFIG_DEBUG_INFO_BTF=y)"
        }
        let caps = ProcFS.statusField(pid: getpid(), "CapEff").flatMap { UInt64($0, radix: 16) } ?? 0
        let sysAdmin: UInt64 = 1 << 21, perfmon: UInt64 = 1 << 38, bpf: UInt64 = 1 << 39
        if caps & sysAdmin == 0 && (caps & bpf == 0 || caps & perfmon == 0) {
            return "missing CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run roprof as root, or grant them (docker run --cap-add BPF --cap-add PERFMON)"
        }
        return nil
    }

    /// The embedded probe object, decoded once (auto's pin check and the run both need it).
    private static let embedded = Data(base64Encoded: probeObjectBase64)
    /// Its pin key on this kernel, computed once.
    private static let embeddedPinKey = embedded.map(pinKey)

    static func probeObject() throws -> Data {
        guard let data = embedded else { throw EBPFUnavailable(reason: "the embedded probe is damaged (rebuild roprof)") }
        return data
    }

    /// Opens the object and loads it into the kernel (`pinnedMode`: runs told apart by cookies).
    static func load(_ data: Data, pinnedMode: Bool) throws -> (OpaquePointer, UnsafeMutableRawBufferPointer) {
        let img = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 16)
        data.copyBytes(to: img)
        var opts = bpf_object_open_opts()
        opts.sz = MemoryLayout<bpf_object_open_opts>.size
        let opened = "roprof".withCString { name -> OpaquePointer? in
            opts.object_name = name
            return bpf_object__open_mem(img.baseAddress, img.count, &opts)
        }
        EBPFBackend.phase("probe-opened")
        guard let obj = opened else {
            let e = errno
            img.deallocate()
            throw EBPFUnavailable(reason: "libbpf could not open the probe (\(String(cString: strerror(e))))")
        }
        if pinnedMode, let rodata = bpf_object__find_map_by_name(obj, ".rodata") {
            var one: UInt32 = 1
            _ = bpf_map__set_initial_value(rodata, &one, MemoryLayout<UInt32>.size)
        }
        let rc = bpf_object__load(obj)
        EBPFBackend.phase("probe-verified")
        if rc != 0 {
            let e = -rc
            bpf_object__close(obj)
            img.deallocate()
            let why: String
            switch e {
            case EPERM, EACCES: why = "the kernel refused to load the probe (\(ErrnoName.name(e))): roprof needs root, or CAP_BPF + CAP_PERFMON, and a kernel without lockdown of BPF"
            case EINVAL, E2BIG, ENOTSUP, ENOENT, ESRCH: why = "the kernel rejected the probe (\(ErrnoName.name(e))): it needs Linux 5.17 or later with BTF, raw syscall tracepoints and bpf_loop"
            default: why = "loading the probe failed: \(String(cString: strerror(e)))"
            }
            throw EBPFUnavailable(reason: why)
        }
        return (obj, img)
    }

    init() throws {
        if let why = Self.precheck() { throw EBPFUnavailable(reason: why) }
        libbpf_set_print(nil)  // errors are reported by roprof, in one line
        let data = try Self.probeObject()
        cpus = Int(libbpf_num_possible_cpus())
        if let p = Self.claimPinned() {
            pinned = true
            loadedNow = p.loadedNow
            slot = p.slot
            slotLock = p.lock
            programFds = p.programs
            ownedFds = p.maps
            ringMap = p.ring
            linkFds = [p.forkLink]  // attached already; the slot follows nothing yet
            events = p.maps[0]; tracked = p.maps[1]; descs = p.maps[2]; counts = p.maps[3]
            stats = p.maps[4]; config = p.maps[5]; cgroup = p.maps[6]
            EBPFBackend.phase(p.loadedNow ? "probe-pinned" : "probe-from-pins")
            resetSlot()
            EBPFBackend.phase("slot-reset")
        } else {
            let (obj, img) = try Self.load(data, pinnedMode: false)
            pinned = false
            loadedNow = true
            slot = 0
            object = obj
            image = img
            func fd(_ name: String) -> Int32 { bpf_object__find_map_fd_by_name(obj, name) }
            events = fd("events"); tracked = fd("tracked"); descs = fd("descs"); counts = fd("counts")
            stats = fd("stats"); config = fd("config"); cgroup = fd("cgroup")
        }
        if !pinned { ringMap = Self.makeRing() }
        var key = slot, value = ringMap
        // Replacing an inner map waits for an RCU grace period (the kernel's promise that no program
        // still writes to the old one): a pinned slot whose ring is already in place skips it.
        if ringMap < 0 || !(pinned && Self.holds(events, key, ringMap)) && bpf_map_update_elem(events, &key, &value, UInt64(BPF_ANY)) != 0 {
            let e = errno
            close()
            throw EBPFUnavailable(reason: "the ring buffer could not be set up (\(String(cString: strerror(e))))")
        }
        EBPFBackend.phase("ring-made")
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        ring = ring_buffer__new(ringMap, { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let probe = Unmanaged<EBPFProbe>.fromOpaque(ctx).takeUnretainedValue()
            probe.onRecord?(UnsafeRawBufferPointer(start: data, count: Int(size)))
            return 0
        }, ctx, nil)
        if ring == nil { close(); throw EBPFUnavailable(reason: "the ring buffer could not be set up (\(String(cString: strerror(errno))))") }
        if pinned { drain() }  // what a run killed before this one left in the slot's ring: not this run's
    }

    /// A run's ring buffer (a map of its own, put at the run's slot of `events`).
    static func makeRing() -> Int32 { bpf_map_create(BPF_MAP_TYPE_RINGBUF, "roprof_ring", 0, 0, UInt32(ROPROF_RING_BYTES), nil) }

    // MARK: - The pinned probe

    /// Whether the map-of-maps `outer` holds the map `inner` at `key` (a lookup gives the inner map's id).
    static func holds(_ outer: Int32, _ key: UInt32, _ inner: Int32) -> Bool {
        var k = key, id: UInt32 = 0
        guard bpf_map_lookup_elem(outer, &k, &id) == 0 else { return false }
        var info = bpf_map_info()
        var len = UInt32(MemoryLayout<bpf_map_info>.size)
        guard bpf_obj_get_info_by_fd(inner, &info, &len) == 0 else { return false }
        return info.id == id
    }

    /// A link for `program` with `cookie`, through bpf(2) (libbpf 1.1 drops the cookie of a raw
    /// tracepoint link). The descriptor, or -errno.
    static func link(program: Int32, cookie: UInt64) -> Int32 {
        var attr = bpf_attr()
        attr.link_create.prog_fd = UInt32(bitPattern: program)
        attr.link_create.attach_type = BPF_TRACE_RAW_TP.rawValue
        attr.link_create.tracing.cookie = cookie
        let fd = roprof_bpf(Int32(BPF_LINK_CREATE.rawValue), &attr, UInt32(MemoryLayout<bpf_attr>.size))
        return fd >= 0 ? Int32(fd) : -errno
    }

    /// Whether this kernel gives raw tracepoint links a cookie (Linux 6.10).
    static func kernelHasRawTracepointCookies() -> Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return (parts[0], parts[1]) >= (6, 10)
    }

    /// This probe on this kernel: a different object or kernel gets another directory, and stale
    /// directories are removed when the probe is pinned anew.
    static func pinKey(_ data: Data) -> String {
        var u = utsname()
        uname(&u)
        var h: UInt64 = 0xcbf29ce484222325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 { for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 } }
        mix(data)
        withUnsafeBytes(of: &u.release) { mix($0) }
        withUnsafeBytes(of: &u.version) { mix($0) }
        return String(h, radix: 16)
    }

    /// bpffs at /sys/fs/bpf, mounted if it is not.
    static func ensureBPFFS() -> Bool {
        func mounted() -> Bool {
            let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
            return mounts.split(separator: "\n").contains { line in
                let f = line.split(separator: " ")
                return f.count > 2 && f[1] == "/sys/fs/bpf" && f[2] == "bpf"
            }
        }
        if mounted() { return true }
        _ = mkdir("/sys/fs/bpf", 0o700)
        return mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0 && mounted()
    }

    static func removePins(_ dir: String) {
        for e in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] { unlink(dir + "/" + e) }
        rmdir(dir)
    }

    /// Whether a run would find the probe pinned (this roprof's probe, this kernel, loaded this boot),
    /// checked without loading anything: what `auto` needs to know the cost of an eBPF run.
    static func pinnedAndReady() -> Bool {
        guard ProcessInfo.processInfo.environment["ROPROF_EBPF_PIN"] != "0", kernelHasRawTracepointCookies(),
              precheck() == nil, let key = embeddedPinKey else { return false }
        return access(pinRoot + "/" + key + "/" + programNames[0], F_OK) == 0
    }

    /// The embedded probe pinned (loaded and pinned first if it is not there), and a free slot: nil where
    /// pinning is not possible (the caller loads the probe for the run instead).
    static func claimPinned() -> (programs: [Int32], maps: [Int32], slot: UInt32, lock: Int32, ring: Int32, forkLink: Int32, loadedNow: Bool)? {
        guard let data = embedded, let key = embeddedPinKey else { return nil }
        if ProcessInfo.processInfo.environment["ROPROF_EBPF_PIN"] == "0" { return nil }
        guard kernelHasRawTracepointCookies(), ensureBPFFS() else { return nil }
        _ = mkdir(lockDir, 0o700)
        let setup = open(lockDir + "/ebpf.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard setup >= 0 else { return nil }
        defer { Glibc.close(setup) }
        guard flock(setup, LOCK_EX) == 0 else { return nil }
        _ = mkdir(pinRoot, 0o700)
        let dir = pinRoot + "/" + key
        let names = programNames + mapNames
        func pinned() -> [Int32]? {
            var fds: [Int32] = []
            for n in names {
                let fd = bpf_obj_get(dir + "/" + n)
                if fd < 0 { fds.forEach { Glibc.close($0) }; return nil }
                fds.append(fd)
            }
            return fds
        }
        var loadedNow = false
        var fds = pinned()
        if fds == nil {
            removePins(dir)
            guard mkdir(dir, 0o700) == 0, let (obj, img) = try? load(data, pinnedMode: true) else { removePins(dir); return nil }
            defer { bpf_object__close(obj); img.deallocate() }
            var ok = true
            for n in programNames {
                guard let p = bpf_object__find_program_by_name(obj, n) else { ok = false; break }
                if bpf_obj_pin(bpf_program__fd(p), dir + "/" + n) != 0 { ok = false; break }
            }
            for n in mapNames where ok {
                if bpf_obj_pin(bpf_object__find_map_fd_by_name(obj, n), dir + "/" + n) != 0 { ok = false }
            }
            fds = ok ? pinned() : nil
            if fds == nil { removePins(dir); return nil }
            loadedNow = true
            // Another roprof's or another kernel's probe: unpinned (a run using it keeps its descriptors).
            for other in (try? FileManager.default.contentsOfDirectory(atPath: pinRoot)) ?? [] where pinRoot + "/" + other != dir {
                removePins(pinRoot + "/" + other)
            }
        }
        guard let all = fds else { return nil }
        let programs = Array(all.prefix(programNames.count)), maps = Array(all.dropFirst(programNames.count))
        // A slot nobody holds (a lock dies with its holder, SIGKILL included).
        for s in 0..<UInt32(ROPROF_RUNS) {
            let lock = open(lockDir + "/ebpf-slot-\(s).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if lock < 0 { continue }
            if flock(lock, LOCK_EX | LOCK_NB) == 0 {
                // The kernel gives links cookies: tried on the fork tracepoint, and kept as this run's
                // link there (closing it would make the next link wait for a grace period, ~15 ms).
                let forkLink = link(program: programs[programNames.firstIndex(of: "on_fork")!], cookie: UInt64(s) + 1)
                if forkLink < 0 { Glibc.close(lock); all.forEach { Glibc.close($0) }; return nil }
                // The slot's ring buffer stays pinned too: making 16 MiB of ring costs ~15 ms a run.
                let ringPin = dir + "/ring-\(s)"
                var ring = bpf_obj_get(ringPin)
                if ring < 0 {
                    ring = makeRing()
                    if ring >= 0 && bpf_obj_pin(ring, ringPin) != 0 { Glibc.close(ring); ring = -1 }
                }
                if ring < 0 { Glibc.close(forkLink); Glibc.close(lock); all.forEach { Glibc.close($0) }; return nil }
                return (programs, maps, s, lock, ring, forkLink, loadedNow)
            }
            Glibc.close(lock)
        }
        all.forEach { Glibc.close($0) }
        return nil  // every slot busy: this run loads its own
    }

    /// The slot's tables as a new run needs them: what a run killed before it left is cleared.
    private func resetSlot() {
        forgetTrackedProcesses()
        var zero: UInt64 = 0
        for k in 0..<Self.cfgCount {
            var key = slot * Self.cfgCount + k
            _ = bpf_map_update_elem(config, &key, &zero, UInt64(BPF_ANY))
        }
        let ncpu = max(cpus, 1)
        var zeros = [UInt64](repeating: 0, count: ncpu)
        for k in 0..<Self.statCount {
            var key = slot * Self.statCount + k
            _ = bpf_map_update_elem(stats, &key, &zeros, UInt64(BPF_ANY))
        }
        let n = Int(ROPROF_NARCH) * Int(ROPROF_NCALLS)
        var keys = (0..<n).map { UInt32(slot) * UInt32(n) + UInt32($0) }
        var values = [UInt64](repeating: 0, count: n * ncpu)
        var count = UInt32(n)
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        if bpf_map_update_batch(counts, &keys, &values, &count, &opts) != 0 {
            for var k in keys { _ = bpf_map_update_elem(counts, &k, &zeros, UInt64(BPF_ANY)) }
        }
        var k = slot
        _ = bpf_map_delete_elem(cgroup, &k)
    }

    /// Removes the slot's entries from the tracked map (processes that outlived their run).
    private func forgetTrackedProcesses() {
        var mine: [UInt32] = []
        var key: UInt32 = 0, next: UInt32 = 0
        var first = true
        while (first ? bpf_map_get_next_key(tracked, nil, &next) : bpf_map_get_next_key(tracked, &key, &next)) == 0 {
            first = false
            var value: UInt32 = 0
            if bpf_map_lookup_elem(tracked, &next, &value) == 0 && value >> 8 == slot { mine.append(next) }
            key = next
        }
        for var k in mine { _ = bpf_map_delete_elem(tracked, &k) }
    }

    /// Attaches every program. Until then, nothing runs in the kernel for this run.
    func attach() throws {
        if pinned {
            for (i, fd) in programFds.enumerated() where Self.programNames[i] != "on_fork" {
                let l = Self.link(program: fd, cookie: UInt64(slot) + 1)
                guard l >= 0 else {
                    throw EBPFUnavailable(reason: "attaching \(Self.programNames[i]) failed (\(String(cString: strerror(-l))))")
                }
                linkFds.append(l)
            }
            return
        }
        guard let obj = object else { return }
        var prog = bpf_object__next_program(obj, nil)
        while let p = prog {
            guard let link = bpf_program__attach(p) else {
                let e = errno
                let name = String(cString: bpf_program__name(p))
                throw EBPFUnavailable(reason: "attaching \(name) failed (\(String(cString: strerror(e)))); tracepoints may need `mount -t tracefs nodev /sys/kernel/tracing`")
            }
            links.append(link)
            prog = bpf_object__next_program(obj, p)
        }
    }

    /// Delivers what the ring buffer holds; waits up to `timeoutMs` for the first record.
    /// Returns false when interrupted by a signal (the caller's lifecycle handles it).
    @discardableResult
    func poll(timeoutMs: Int32) -> Bool {
        guard let ring else { return true }
        return ring_buffer__poll(ring, timeoutMs) >= 0
    }

    func drain() { if let ring { _ = ring_buffer__consume(ring) } }

    /// Follows the process (and what it forks): recorded, or only followed until it runs a program
    /// in another mount namespace (start mode).
    func track(_ tgid: UInt32, recorded: Bool = true) {
        var k = tgid, v: UInt32 = (recorded ? 2 : 1) | slot << 8
        _ = bpf_map_update_elem(tracked, &k, &v, UInt64(BPF_ANY))
    }

    func setConfig(_ key: UInt32, _ value: UInt64) {
        var k = slot * Self.cfgCount + key, v = value
        _ = bpf_map_update_elem(config, &k, &v, UInt64(BPF_ANY))
    }

    func setCgroup(fd: Int32) -> Bool {
        var k: UInt32 = slot, v = UInt32(bitPattern: fd)
        return bpf_map_update_elem(cgroup, &k, &v, UInt64(BPF_ANY)) == 0
    }

    /// The call table, in one batch update (one system call instead of one per entry; per entry
    /// where the kernel has no batch operations on arrays).
    func setDescriptors(_ entries: [(index: UInt32, desc: roprof_desc)]) {
        var keys = entries.map(\.index), values = entries.map(\.desc)
        var count = UInt32(entries.count)
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        opts.elem_flags = UInt64(BPF_ANY)
        if !entries.isEmpty && bpf_map_update_batch(descs, &keys, &values, &count, &opts) == 0 && count == UInt32(entries.count) { return }
        for e in entries {
            var k = e.index, v = e.desc
            _ = bpf_map_update_elem(descs, &k, &v, UInt64(BPF_ANY))
        }
    }

    /// The sum over CPUs of one per-CPU u64 counter.
    func perCPUSum(_ map: Int32, _ key: UInt32) -> UInt64 {
        var values = [UInt64](repeating: 0, count: max(cpus, 1))
        var k = key
        guard bpf_map_lookup_elem(map, &k, &values) == 0 else { return 0 }
        return values.reduce(0, &+)
    }

    func stat(_ key: Int32) -> UInt64 { perCPUSum(stats, slot * Self.statCount + UInt32(key)) }

    /// The run's syscall counts (architecture × number), summed over CPUs, in one batch where the
    /// kernel has batch lookups (one syscall, not one per key).
    func callCounts() -> [UInt64] {
        let count = Int(ROPROF_NARCH) * Int(ROPROF_NCALLS)
        let base = Int(slot) * count
        let ncpu = max(cpus, 1)
        var keys = [UInt32](repeating: 0, count: count)
        var values = [UInt64](repeating: 0, count: count * ncpu)
        var n = UInt32(count)
        var out: UInt32 = 0
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        // An array's batch continues after the key it is given: the one before the run's first.
        var from = UInt32(max(base - 1, 0))
        let rc = base == 0 ? bpf_map_lookup_batch(counts, nil, &out, &keys, &values, &n, &opts)
                           : bpf_map_lookup_batch(counts, &from, &out, &keys, &values, &n, &opts)
        if rc != 0 && errno != ENOENT || n == 0 {
            return (0..<count).map { perCPUSum(counts, UInt32(base + $0)) }  // a kernel without batch lookups
        }
        var sums = [UInt64](repeating: 0, count: count)
        for i in 0..<Int(n) where Int(keys[i]) >= base && Int(keys[i]) < base + count {
            var total: UInt64 = 0
            for c in 0..<ncpu { total &+= values[i * ncpu + c] }
            sums[Int(keys[i]) - base] = total
        }
        return sums
    }

    /// Detaches every program of this run and frees what it made; a pinned probe stays loaded
    /// (unattached: nothing runs in the kernel for it).
    func close() {
        for l in links { bpf_link__destroy(l) }
        links.removeAll()
        for l in linkFds { Glibc.close(l) }
        linkFds.removeAll()
        if let r = ring { ring_buffer__free(r); ring = nil }
        if ringMap >= 0 {
            var k = slot
            if !pinned { _ = bpf_map_delete_elem(events, &k) }  // a pinned slot keeps its ring
            Glibc.close(ringMap)
            ringMap = -1
        }
        if pinned && slotLock >= 0 {
            forgetTrackedProcesses()
            var k = slot
            _ = bpf_map_delete_elem(cgroup, &k)
        }
        for fd in programFds + ownedFds { Glibc.close(fd) }
        programFds.removeAll(); ownedFds.removeAll()
        if slotLock >= 0 { Glibc.close(slotLock); slotLock = -1 }
        if let o = object { bpf_object__close(o); object = nil }
        if let img = image { img.deallocate(); image = nil }
    }

    deinit { close() }
}
