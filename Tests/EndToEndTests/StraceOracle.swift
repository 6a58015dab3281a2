import Foundation

/// Reads `strace -f -qq -y -e status=successful` output and lists the (operation family, path)
/// pairs it shows mutated: the oracle the recordings are compared against.
enum StraceOracle {
    struct Mutation: Hashable, CustomStringConvertible {
        var family: String
        var path: String
        var description: String { "\(family) \(path)" }
    }

    /// roprof operations that satisfy each oracle family.
    static let families: [String: Set<String>] = [
        "open-write": ["create", "write", "truncate", "tmpfile"],
        "mkdir": ["mkdir"], "unlink": ["unlink"], "rmdir": ["rmdir"],
        "rename-from": ["rename-from", "exchange", "whiteout"], "rename-to": ["rename-to", "exchange"],
        "symlink": ["symlink"], "link": ["link", "create"], "chmod": ["chmod"], "chown": ["chown"],
        "utimes": ["utimes"], "truncate": ["truncate"], "mknod": ["mknod"],
    ]

    static let traceSet = "open,openat,creat,openat2,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,symlink,symlinkat,link,linkat,chmod,fchmod,fchmodat,chown,lchown,fchown,fchownat,utimensat,utimes,truncate,ftruncate,mknod,mknodat"

    static func parse(_ log: String, cwd: String) -> Set<Mutation> {
        var out = Set<Mutation>()
        for raw in log.split(separator: "\n") {
            var line = Substring(raw)
            // "PID syscall(…)": strace pads short pids ("5682  openat"), so skip every space after the pid.
            if let sp = line.firstIndex(of: " "), line[..<sp].allSatisfy(\.isNumber) { line = line[sp...].drop { $0 == " " } }
            guard let paren = line.firstIndex(of: "(") else { continue }
            let name = String(line[..<paren])
            let args = splitArgs(line[line.index(after: paren)...])
            let ret = line.range(of: ") = ").map { String(line[$0.upperBound...]) } ?? ""
            func arg(_ i: Int) -> String { i < args.count ? args[i] : "" }
            func at(_ dirArg: String?, _ pathArg: String) -> String? {
                guard let p = unquote(pathArg) else { return nil }
                if p.hasPrefix("/") { return p }
                let base = dirArg.flatMap(decoration) ?? cwd
                return p.isEmpty ? base : base + "/" + p
            }
            func add(_ family: String, _ path: String?) { if let path { out.insert(Mutation(family: family, path: tidy(path))) } }
            switch name {
            case "open", "openat", "creat", "openat2":
                let flags = name == "creat" ? "O_CREAT|O_WRONLY" : (name == "open" ? arg(1) : arg(2))
                guard ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_TMPFILE"].contains(where: flags.contains) else { continue }
                if let resolved = decoration(ret), !flags.contains("O_TMPFILE") { add("open-write", resolved) }
                else { add("open-write", name == "openat" || name == "openat2" ? at(arg(0), arg(1)) : at(nil, arg(0))) }
            case "mkdir": add("mkdir", at(nil, arg(0)))
            case "mkdirat": add("mkdir", at(arg(0), arg(1)))
            case "mknod": add("mknod", at(nil, arg(0)))
            case "mknodat": add("mknod", at(arg(0), arg(1)))
            case "rename": add("rename-from", at(nil, arg(0))); add("rename-to", at(nil, arg(1)))
            case "renameat", "renameat2": add("rename-from", at(arg(0), arg(1))); add("rename-to", at(arg(2), arg(3)))
            case "unlink": add("unlink", at(nil, arg(0)))
            case "rmdir": add("rmdir", at(nil, arg(0)))
            case "unlinkat": add(arg(2).contains("AT_REMOVEDIR") ? "rmdir" : "unlink", at(arg(0), arg(1)))
            case "symlink": add("symlink", at(nil, arg(1)))
            case "symlinkat": add("symlink", at(arg(1), arg(2)))
            case "link": add("link", at(nil, arg(1)))
            case "linkat": add("link", at(arg(2), arg(3)))
            case "chmod": add("chmod", at(nil, arg(0)))
            case "fchmodat": add("chmod", at(arg(0), arg(1)))
            case "fchmod": add("chmod", decoration(arg(0)))
            case "chown", "lchown": add("chown", at(nil, arg(0)))
            case "fchownat": add("chown", at(arg(0), arg(1)))
            case "fchown": add("chown", decoration(arg(0)))
            case "utimensat": add("utimes", arg(1) == "NULL" ? decoration(arg(0)) : at(arg(0), arg(1)))
            case "utimes": add("utimes", at(nil, arg(0)))
            case "truncate": add("truncate", at(nil, arg(0)))
            case "ftruncate": add("truncate", decoration(arg(0)))
            default: continue
            }
        }
        // Writes to devices and pseudo-files are not filesystem state.
        return out.filter { !$0.path.hasPrefix("/dev/") && !$0.path.hasPrefix("/proc/") && !$0.path.contains(" (deleted)") }
    }

    /// `3</some/path>` or `AT_FDCWD</cwd>` → the path inside the angle brackets.
    static func decoration(_ s: String) -> String? {
        guard let lt = s.firstIndex(of: "<"), let gt = s.lastIndex(of: ">"), lt < gt else { return nil }
        return String(s[s.index(after: lt)..<gt])
    }

    static func unquote(_ s: String) -> String? {
        guard s.hasPrefix("\""), let end = s.dropFirst().firstIndex(of: "\"") else { return nil }
        return String(s[s.index(after: s.startIndex)..<end])
    }

    static func tidy(_ p: String) -> String {
        let parts = p.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// Splits the top-level, comma-separated arguments of an strace line.
    static func splitArgs(_ s: Substring) -> [String] {
        var args: [String] = [], cur = "", depth = 0, inQuote = false, escape = false
        for c in s {
            if inQuote {
                cur.append(c)
                if escape { escape = false } else if c == "\\" { escape = true } else if c == "\"" { inQuote = false }
                continue
            }
            switch c {
            case "\"": inQuote = true; cur.append(c)
            case "(", "[", "{", "<": depth += 1; cur.append(c)
            case "]", "}", ">": depth -= 1; cur.append(c)
            case ")":
                if depth == 0 { args.append(cur.trimmingCharacters(in: .whitespaces)); return args }
                depth -= 1; cur.append(c)
            case "," where depth == 0: args.append(cur.trimmingCharacters(in: .whitespaces)); cur = ""
            default: cur.append(c)
            }
        }
        args.append(cur.trimmingCharacters(in: .whitespaces))
        return args
    }

    /// Syscall names from an `strace -f -c` summary table.
    static func summaryNames(_ text: String) -> Set<String> {
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let last = cols.last, last != "total", cols.count >= 5, let first = cols.first, Double(first) != nil else { continue }
            names.insert(String(last))
        }
        return names
    }
}
