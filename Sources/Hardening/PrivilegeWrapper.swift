/// Programs that only drop privileges before running the real command (setpriv, gosu, su-exec,
/// runuser, s6-setuidgid, chpst -u). In a container the runtime's user setting does that job, and the
/// wrapper itself fails there (setpriv's setgroups needs a capability a hardened container lacks), so
/// the emitted command is the one they run.
public enum PrivilegeWrapper {
    /// setpriv options that take a value as the next argument when not written as --opt=value.
    static let setprivValued: Set<String> = ["--reuid", "--regid", "--ruid", "--rgid", "--euid", "--egid", "--groups", "--inh-caps",
                                             "--ambient-caps", "--bounding-set", "--securebits", "--pdeathsig", "--selinux-label",
                                             "--apparmor-profile", "--landlock-access", "--landlock-rule", "--seccomp-filter"]

    /// The command without privilege-dropping wrappers in front of it, and the wrappers removed.
    public static func strip(_ argv: [String]) -> (command: [String], removed: [String]) {
        var cmd = argv
        var removed: [String] = []
        while let first = cmd.first {
            let name = first.split(separator: "/").last.map(String.init) ?? first
            var rest = Array(cmd.dropFirst())
            switch name {
            case "setpriv":
                while let a = rest.first, a.hasPrefix("-") {
                    rest.removeFirst()
                    if a == "--" { break }
                    if setprivValued.contains(a), !rest.isEmpty { rest.removeFirst() }
                }
            case "gosu", "su-exec", "s6-setuidgid":
                guard rest.count >= 2 else { return (cmd, removed) }
                rest.removeFirst()
            case "runuser":
                // runuser -u USER [--] CMD… (the `runuser USER -c` form runs a shell: left as it is)
                guard rest.first == "-u" || rest.first?.hasPrefix("--user=") == true else { return (cmd, removed) }
                if rest.first == "-u" { rest.removeFirst(min(2, rest.count)) } else { rest.removeFirst() }
                if rest.first == "--" { rest.removeFirst() }
            case "chpst":
                guard rest.first == "-u", rest.count >= 3 else { return (cmd, removed) }
                rest.removeFirst(2)
            default:
                return (cmd, removed)
            }
            guard !rest.isEmpty else { return (cmd, removed) }
            removed.append(name)
            cmd = rest
        }
        return (cmd, removed)
    }
}
