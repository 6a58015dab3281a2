import FoundationEssentials
import Glibc
import TraceModel

/// Captures, where the app ran and when its run ends, what analysis needs to know about the
/// filesystem around the written paths: each directory on them (owner, mode, entries, whether it
/// holds code) and the symlinked directories among them. Analysis then never reads the disk.
enum FilesystemSurvey {
    /// Kernel filesystems: nothing there is image content.
    static let skipped = ["/proc", "/sys", "/dev"]
    /// Directories whose content is the system's, never scanned for code (a mount never covers them anyway).
    static let systemDirs: Set<String> = ["/", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var",
        "/opt", "/home", "/root", "/srv", "/boot", "/usr/local", "/usr/lib", "/usr/bin", "/usr/share", "/var/lib", "/var/cache",
        "/var/log", "/usr/local/lib", "/usr/local/bin", "/mnt", "/media", "/tmp", "/var/tmp", "/run", "/var/run"]
    static let codeExtensions: Set<String> = ["py", "pyc", "js", "mjs", "cjs", "ts", "rb", "php", "pl", "pm", "sh", "bash", "jar",
        "war", "class", "so", "go", "java", "lua", "ex", "exs", "beam", "rs", "c", "h", "cc", "cpp", "wasm", "node", "html", "css"]
    static let maxScan = 2000
    static let unlisted: Set<String> = ["/", "/tmp", "/var/tmp", "/dev/shm"]

    static func take(_ files: [FileMutation], viewRoot: String? = nil) -> FilesystemFacts {
        var facts = FilesystemFacts()
        var written = Set<String>()
        var queue: [(root: String, path: String)] = []
        var seen = Set<String>()
        // Only a directory that can become a mount point is scanned for code: the parent of a written
        // path and that parent's parent (mounts are narrowed to those; siblings merge into the latter).
        var codeCandidates = Set<String>()
        func enqueue(_ root: String, _ path: String) {
            let key = root + "\u{0}" + path
            if seen.insert(key).inserted { queue.append((root, path)) }
        }
        for f in files where f.operation != .mount && f.operation != .chroot {
            let root = (viewRoot ?? "") + (f.root ?? "")
            written.insert(root + f.path)
            let parent = Paths.parent(f.path)
            codeCandidates.insert(root + parent)
            codeCandidates.insert(root + Paths.parent(parent))
            guard f.path.hasPrefix("/"), !skipped.contains(where: { f.path == $0 || f.path.hasPrefix($0 + "/") }) else { continue }
            var cur = ""
            enqueue(root, "/")
            for comp in f.path.split(separator: "/") {
                cur += "/" + comp
                enqueue(root, cur)  // the path itself too: it may be a directory (mkdir, O_TMPFILE)
            }
        }
        var i = 0
        while i < queue.count {
            let (root, path) = queue[i]; i += 1
            let host = root + path
            var st = stat()
            guard lstat(host, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                guard let real = realpath(host, nil) else { continue }
                var target = String(cString: real)
                free(real)
                if !root.isEmpty { guard target.hasPrefix(root) else { continue }; target = String(target.dropFirst(root.count)) }
                if target.isEmpty { target = "/" }
                facts.symlinks[path] = target
                // The real directory is what a mount names: survey it too.
                var cur = ""
                for comp in target.split(separator: "/") { cur += "/" + comp; enqueue(root, cur) }
            case S_IFDIR:
                guard facts.directories[path] == nil else { continue }
                let names = entries(host)
                // The root and the shared temp directories are never mounted over as a whole, and their
                // names are other people's (other users' temp files): counted, never listed — a recording
                // is meant to be committed.
                let listed = Self.unlisted.contains(path) ? [] : Array(names.sorted().prefix(DirectoryFacts.maxEntries))
                var d = DirectoryFacts(uid: Int(st.st_uid), gid: Int(st.st_gid), mode: Int(st.st_mode & 0o7777),
                                       entries: listed, entryCount: names.count)
                if codeCandidates.contains(host) && !systemDirs.contains(path) && !skipped.contains(where: { path.hasPrefix($0 + "/") }) {
                    let code = codeSamples(host, written: written)
                    d.code = code.isEmpty ? nil : code
                }
                facts.directories[path] = d
            default:
                continue
            }
        }
        facts.users = loginUsers(root: viewRoot ?? "")
        return facts
    }

    /// The login users (uid 1000–59999) of the passwd file under `root`, at most 1000.
    static func loginUsers(root: String) -> [String]? {
        guard let text = try? String(contentsOfFile: root + "/etc/passwd", encoding: .utf8) else { return nil }
        var out: [String] = []
        for line in text.split(separator: "\n").prefix(100_000) {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 3, let uid = Int(f[2]), (1000..<60000).contains(uid), !f[0].isEmpty, !f[0].contains("/") else { continue }
            out.append(String(f[0]))
            if out.count >= 1000 { break }
        }
        return out.sorted()
    }

    static func entries(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = direntName(e)
            if name == "." || name == ".." { continue }
            out.append(name)
            if out.count >= 100_000 { break }
        }
        return out
    }

    /// Files below `dir` (bounded walk, depth 3) that are code: source files, libraries, executables.
    static func codeSamples(_ dir: String, written: Set<String>) -> [String] {
        var found: [String] = []
        var visited = 0
        var level: [(String, String)] = [(dir, "")]
        for _ in 0..<3 {
            var next: [(String, String)] = []
            for (abs, rel) in level {
                for name in entries(abs).sorted() {
                    visited += 1
                    if visited > maxScan || found.count >= DirectoryFacts.maxCodeSamples { return found }
                    let full = abs + "/" + name, relName = rel.isEmpty ? name : rel + "/" + name
                    if written.contains(full) { continue }
                    var st = stat()
                    guard lstat(full, &st) == 0 else { continue }
                    switch st.st_mode & S_IFMT {
                    case S_IFDIR: next.append((full, relName))
                    case S_IFREG:
                        let ext = name.split(separator: ".").count > 1 ? String(name.split(separator: ".").last!).lowercased() : ""
                        if codeExtensions.contains(ext) || st.st_mode & 0o111 != 0 { found.append(relName) }
                    default: break
                    }
                }
            }
            level = next
        }
        return found
    }
}
