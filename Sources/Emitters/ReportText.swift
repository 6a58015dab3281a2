import Analysis
import Hardening
import FoundationEssentials
import Glibc
import TraceModel

/// The human report: a verdict line, a tree of written paths under each mount, remedies, blind
/// spots and the next commands. Readable at 80 columns; coloured only on a TTY.
public enum ReportText {
    public static func render(_ a: Analysis, style: TextStyle, recordingPath: String?, seccomp: SeccompPlan? = nil, width: Int = 80) -> String {
        var out: [String] = []
        let brk = a.breaking.count + a.unfixable.count
        out.append(style.bold("roprof: ") + (brk == 0 ? style.green(a.verdict) : style.red(a.verdict)))
        out.append(style.dim("runtime: \(a.runtimeTitle)"))
        if let p = a.phases { out.append(style.dim("covers: " + p.joined(separator: "; "))) }
        if !a.mounts.isEmpty {
            out.append("")
            out.append(style.bold("Mounts that fix the writes"))
            for m in a.mounts {
                let label = mountLabel(m, runtime: a.runtime)
                out.append("  " + style.green(Human.printable(m.path)) + "  " + label + (m.kind == .file ? "" : "  size \(m.sizeLimit)")
                           + style.dim("  (\(Human.bytes(m.observedBytes)) seen)"))
                out.append("  " + style.dim(m.reason))
                let rows = treeRows(a.breaking.filter { $0.fixedBy == m.path }, under: m, pids: a.runPids)
                for (i, r) in rows.enumerated() {
                    let branch = i == rows.count - 1 ? "└─ " : "├─ "
                    out.append("  " + branch + r)
                }
                for alt in m.alternatives { out.append("  " + style.yellow("! ") + alt) }
                for id in m.remedies {
                    if let r = a.remedies.first(where: { $0.id == id }) {
                        out.append("  " + style.yellow("tip: ") + (r.fix ?? r.title) + style.dim(" — \(r.why)"))
                    }
                }
            }
        }
        let envRemedies = a.remedies.filter { $0.coversWithoutMount }
        if !envRemedies.isEmpty {
            out.append("")
            out.append(style.bold("Stop the writes instead (no mount needed)"))
            for r in envRemedies {
                let env = r.env.keys.sorted().map { "\($0)=\(r.env[$0]!)" }.joined(separator: " ")
                out.append("  " + style.green(env) + "  " + r.title + style.dim(" (\(r.paths.count) path\(r.paths.count == 1 ? "" : "s"))"))
                for p in r.paths.prefix(3) { out.append("    " + style.dim(Human.printable(shorten(p, width - 4)))) }
                if r.paths.count > 3 { out.append("    " + style.dim("… and \(r.paths.count - 3) more")) }
                out.append("    why: " + r.why)
            }
        }
        if !a.unfixable.isEmpty {
            out.append("")
            out.append(style.bold("Cannot be fixed with a mount"))
            for p in a.unfixable { out.append("  " + style.red(Human.printable(p.path)) + "  " + (p.note ?? "")) }
        }
        let failedOnly = a.breaking.filter(\.failsToday)
        if !failedOnly.isEmpty {
            out.append("")
            out.append(style.bold("Failed already during the recording, for want of permission" + (a.appFailedStatus.map { " (the app then exited with status \($0))" } ?? " (the app carried on)")))
            for p in failedOnly.prefix(10) {
                out.append("  " + Human.printable(shorten(p.path, 50)) + "  " + p.failed.keys.sorted().joined(separator: ",") + style.dim("  " + p.processes.map { PathGlob.name($0) }.joined(separator: ",")))
            }
        }
        if !a.harmless.isEmpty {
            out.append("")
            out.append(style.bold("Harmless") + style.dim(" (writable in \(a.runtime) already)"))
            let shown = Array(Set(a.harmless.map { NameShape.shapePath($0.path, pids: a.runPids) })).sorted()
            out.append("  " + shown.prefix(12).map(Human.printable).joined(separator: "  ") + (shown.count > 12 ? "  …" : ""))
        }
        if !a.unknown.isEmpty {
            out.append("")
            out.append(style.bold("Unresolved paths") + style.dim(" (recorded, but where they point is unknown)"))
            for p in a.unknown.prefix(10) { out.append("  " + Human.printable(shorten(p.path, 40)) + "  " + style.dim(p.note ?? "")) }
        }
        if !a.blindSpots.isEmpty {
            out.append("")
            out.append(style.bold("Blind spots") + style.dim(" (what tracing could not fully see)"))
            for b in a.blindSpots {
                out.append("  " + style.yellow(b.kind.rawValue) + "  " + Human.printable(b.detail) + (b.count > 1 ? style.dim(" ×\(b.count)") : ""))
            }
        }
        if let plan = seccomp {
            out.append("")
            out.append(style.bold("Seccomp profile") + style.dim(" (roprof suggest --format seccomp)"))
            out += seccompSummary(plan, a).map { "  " + $0 }
        }
        for w in a.warnings { out.append(style.yellow("warning: ") + w) }
        if let rec = recordingPath, brk > 0 {
            out.append("")
            out.append(style.bold("Next"))
            let fmt = ["docker": "docker", "podman": "podman", "ecs": "ecs", "systemd": "systemd"][a.runtime] ?? "kubernetes"
            // Driven as it was recorded: a server waits for its readiness and its exercise, not forever.
            let drive = (a.driveArguments ?? []).isEmpty ? "" : " " + a.driveArguments!.map(shellQuote).joined(separator: " ")
            out.append("  roprof suggest --format \(fmt) \(rec)      the settings to paste")
            out.append("  roprof suggest --format seccomp \(rec)     a seccomp profile")
            if let services = a.services {
                out.append("  roprof suggest --format kubernetes --workloads \(rec)      a workload per service (\(services.keys.sorted().joined(separator: ", ")))")
                for name in services.keys.sorted() {
                    out.append("  roprof verify --from \(rec) --service \(name) -- \(services[name]!.map(shellQuote).joined(separator: " "))")
                }
            } else if let image = a.image {
                out.append("  roprof verify --from \(rec) --image \(shellQuote(image))\(drive)      prove them on the image")
            } else {
                let cmd = a.commands.first.map { $0.map(shellQuote).joined(separator: " ") } ?? "CMD"
                out.append("  roprof verify --from \(rec)\(drive) -- \(cmd)")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// What the generated profile allows and what it keeps denied, in a few lines.
    public static func seccompSummary(_ plan: SeccompPlan, _ a: Analysis) -> [String] {
        let dangerousAllowed = plan.names.filter { Recording.dangerousSyscalls.contains($0) }
        var lines = ["allows \(plan.names.count) calls on \(plan.arch.rawValue)"
                     + (plan.familiesAdded.isEmpty ? "" : ", \(plan.familiesAdded.values.map(\.count).reduce(0, +)) of them equivalent entry points of calls seen (\(plan.familiesAdded.keys.sorted().joined(separator: ", ")))")]
        lines.append("of the \(Recording.dangerousSyscalls.count) calls that matter for security (mount, ptrace, bpf, unshare, …), "
                     + (dangerousAllowed.isEmpty ? "all stay denied"
                        : "\(dangerousAllowed.joined(separator: ", ")) \(dangerousAllowed.count == 1 ? "is" : "are") allowed because the app used \(dangerousAllowed.count == 1 ? "it" : "them") (see the warnings); the rest stay denied"))
        if plan.dockerDefaultCount > 0 {
            let pct = plan.names.count * 100 / plan.dockerDefaultCount
            lines.append("Docker's default profile allows \(plan.dockerDefaultCount) calls on \(plan.arch.rawValue): this one allows \(plan.names.count) (\(pct)% of that)"
                         + (plan.beyondDockerDefault.isEmpty ? ", none beyond it"
                            : "; beyond it: " + plan.beyondDockerDefault.map { $0 == "clone3" ? "clone3 (Docker answers it ENOSYS; the app calls it)" : $0 }.joined(separator: ", ")))
        }
        let entryPoints = plan.enosys.filter { !plan.asyncDenied.contains($0) }
        if !entryPoints.isEmpty { lines.append("answered ENOSYS so libc falls back: \(entryPoints.joined(separator: ", "))") }
        if !plan.asyncDenied.isEmpty {
            lines.append("answered ENOSYS as while recording, so the app uses plain calls: \(plan.asyncDenied.joined(separator: ", ")) (allowing only the setup would break it; the whole interface would hide its I/O)")
        }
        for f in plan.foreseen { lines.append("allows \(f.calls.joined(separator: ", ")) although unseen: \(f.why)") }
        lines.append("covers " + (a.phases?.joined(separator: "; ") ?? "one start (record without --no-restart, or merge a restart's recording, to cover a restart)"))
        lines.append("not seen: what the app does on work the recording did not give it (other requests, error paths, upgrades): roll out with --seccomp-log-only, then suggest --kernel-log")
        return lines
    }

    public static func mountLabel(_ m: MountSuggestion, runtime: String) -> String {
        switch (runtime, m.kind) {
        case ("kubernetes", .tmpfs): return "emptyDir (medium: Memory)"
        case ("kubernetes", .persistent): return "PersistentVolumeClaim"
        case ("kubernetes", .file): return "single file (subPath)"
        case ("ecs", .tmpfs): return "task volume (Fargate has no tmpfs)"
        case ("systemd", .tmpfs): return "TemporaryFileSystem="
        case ("systemd", .persistent): return "StateDirectory= / ReadWritePaths="
        case (_, .tmpfs): return "tmpfs"
        case (_, .persistent): return "volume"
        case (_, .file): return "single-file bind mount"
        }
    }

    /// One row per shaped path: name, operations, count, size, processes.
    static func treeRows(_ items: [PathFinding], under m: MountSuggestion, pids: Set<String> = []) -> [String] {
        struct Row { var name: String; var ops: Set<String>; var count: Int; var bytes: Int?; var procs: Set<String> }
        var rows: [String: Row] = [:]
        for p in items {
            // Shaped whole, then made relative: a name's shape can depend on the directory above it
            // (Python's all-letter temporary names directly in /tmp).
            let shaped = NameShape.shapePath(p.path, pids: pids)
            var rel = m.kind == .file ? PathGlob.name(p.path)
                : PathGlob.isUnder(shaped, m.path) ? PathGlob.relative(shaped, to: m.path) : NameShape.shapePath(PathGlob.relative(p.path, to: m.path), pids: pids)
            if rel == "." { rel = "(the directory itself)" }
            var r = rows[rel] ?? Row(name: rel, ops: [], count: 0, bytes: nil, procs: [])
            r.ops.formUnion(p.operations); r.count += p.count
            if let b = p.bytes { r.bytes = max(r.bytes ?? 0, b) }
            r.procs.formUnion(p.processes.map { PathGlob.name($0) })
            rows[rel] = r
        }
        let sorted = rows.values.sorted { $0.name < $1.name }
        let limit = 15
        var lines = sorted.prefix(limit).map { r in
            Human.pad(Human.printable(r.name), 30) + " " + Human.pad(r.ops.sorted().joined(separator: ","), 20, truncateLeft: false)
                + " " + Human.pad("\(r.count)×", 6) + Human.pad(Human.bytes(r.bytes), 9) + r.procs.sorted().prefix(2).joined(separator: ",")
        }
        if sorted.count > limit { lines.append("… \(sorted.count - limit) more") }
        return lines
    }

    static func shorten(_ s: String, _ w: Int) -> String { s.count <= w ? s : "…" + s.suffix(w - 1) }
}

/// Quotes an argument for a POSIX shell when it needs it.
public func shellQuote(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
    return "'" + s.replacing("'", with: "'\\''") + "'"
}
