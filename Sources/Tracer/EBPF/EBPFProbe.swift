internal import CBPF
import Foundation
import Glibc
import Seccomp
import TraceModel

/// Why the eBPF backend cannot run here: one line naming what is missing and the fix.
public struct EBPFUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "the eBPF backend cannot run here: \(reason)" }
}

/// The loaded, attached probe: its maps, its ring buffer, and the links that keep it attached.
/// Closing it (or roprof's exit, however it happens) detaches every program: the kernel drops a
/// program when its last link fd closes, and nothing is ever pinned.
final class EBPFProbe {
    private var object: OpaquePointer?
    private var links: [OpaquePointer] = []
    private var ring: OpaquePointer?
    private var image: UnsafeMutableRawBufferPointer
    let tracked: Int32, descs: Int32, counts: Int32, stats: Int32, config: Int32, cgroup: Int32
    let cpus: Int

    /// Where the record bytes of the callback go.
    var onRecord: ((UnsafeRawBufferPointer) -> Void)?

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

    init() throws {
        if let why = Self.precheck() { throw EBPFUnavailable(reason: why) }
        libbpf_set_print(nil)  // errors are reported by roprof, in one line
        guard let data = Data(base64Encoded: probeObjectBase64) else { throw EBPFUnavailable(reason: "the embedded probe is damaged (rebuild roprof)") }
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
        image = img
        object = obj
        func fd(_ name: String) -> Int32 { bpf_object__find_map_fd_by_name(obj, name) }
        tracked = fd("tracked"); descs = fd("descs"); counts = fd("counts"); stats = fd("stats")
        config = fd("config"); cgroup = fd("cgroup")
        cpus = Int(libbpf_num_possible_cpus())
        let events = fd("events")
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        ring = ring_buffer__new(events, { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let probe = Unmanaged<EBPFProbe>.fromOpaque(ctx).takeUnretainedValue()
            probe.onRecord?(UnsafeRawBufferPointer(start: data, count: Int(size)))
            return 0
        }, ctx, nil)
        if ring == nil { close(); throw EBPFUnavailable(reason: "the ring buffer could not be set up (\(String(cString: strerror(errno))))") }
    }

    /// Attaches every program. Until then, nothing runs in the kernel.
    func attach() throws {
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
        var k = tgid, v: UInt32 = recorded ? 2 : 1
        _ = bpf_map_update_elem(tracked, &k, &v, UInt64(BPF_ANY))
    }

    func setConfig(_ key: UInt32, _ value: UInt64) {
        var k = key, v = value
        _ = bpf_map_update_elem(config, &k, &v, UInt64(BPF_ANY))
    }

    func setCgroup(fd: Int32) -> Bool {
        var k: UInt32 = 0, v = UInt32(bitPattern: fd)
        return bpf_map_update_elem(cgroup, &k, &v, UInt64(BPF_ANY)) == 0
    }

    func setDescriptor(index: Int, _ d: roprof_desc) {
        var k = UInt32(index), v = d
        _ = bpf_map_update_elem(descs, &k, &v, UInt64(BPF_ANY))
    }

    /// The sum over CPUs of one per-CPU u64 counter.
    func perCPUSum(_ map: Int32, _ key: UInt32) -> UInt64 {
        var values = [UInt64](repeating: 0, count: max(cpus, 1))
        var k = key
        guard bpf_map_lookup_elem(map, &k, &values) == 0 else { return 0 }
        return values.reduce(0, &+)
    }

    func stat(_ key: Int32) -> UInt64 { perCPUSum(stats, UInt32(key)) }

    /// Every entry of a per-CPU u64 array, summed over CPUs, in one batch (one syscall, not one per key).
    func perCPUArray(_ map: Int32, count: Int) -> [UInt64] {
        let ncpu = max(cpus, 1)
        var keys = [UInt32](repeating: 0, count: count)
        var values = [UInt64](repeating: 0, count: count * ncpu)
        var n = UInt32(count)
        var out: UInt32 = 0
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        let rc = bpf_map_lookup_batch(map, nil, &out, &keys, &values, &n, &opts)
        if rc != 0 && errno != ENOENT || n == 0 {
            return (0..<count).map { perCPUSum(map, UInt32($0)) }  // a kernel without batch lookups
        }
        var sums = [UInt64](repeating: 0, count: count)
        for i in 0..<Int(n) where Int(keys[i]) < count {
            var total: UInt64 = 0
            for c in 0..<ncpu { total &+= values[i * ncpu + c] }
            sums[Int(keys[i])] = total
        }
        return sums
    }

    /// Detaches every program and frees the maps.
    func close() {
        for l in links { bpf_link__destroy(l) }
        links.removeAll()
        if let r = ring { ring_buffer__free(r); ring = nil }
        if let o = object { bpf_object__close(o); object = nil; image.deallocate() }
    }

    deinit { close() }
}
