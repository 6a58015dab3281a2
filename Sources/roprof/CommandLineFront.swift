import ArgumentParser
import Emitters
import FoundationEssentials
import Glibc
import TraceModel

/// What happens before ArgumentParser sees the arguments: the global --color choice, "did you mean"
/// for a mistyped command or option, and one-line usage errors.
enum CommandLineFront {
    enum ColorChoice: String { case auto, always, never }
    nonisolated(unsafe) static var color: ColorChoice = .auto

    /// Colour on file descriptor `fd`: --color always/never, else NO_COLOR, else only on a terminal.
    static func style(fd: Int32 = 1) -> TextStyle {
        switch color {
        case .always: return TextStyle(color: true)
        case .never: return TextStyle(color: false)
        case .auto:
            if let n = ProcessInfo.processInfo.environment["NO_COLOR"], !n.isEmpty { return TextStyle(color: false) }
            return TextStyle(color: isatty(fd) != 0)
        }
    }

    /// Takes --color out of the arguments (anywhere before `--`) and checks the command's name.
    static func prepare(_ raw: [String]) -> [String] {
        var args: [String] = []
        var i = 0
        var terminated = false
        while i < raw.count {
            let a = raw[i]
            if terminated || a == "--" { terminated = true; args.append(a); i += 1; continue }
            if a == "--color" || a.hasPrefix("--color=") {
                let value: String
                if a == "--color" {
                    guard i + 1 < raw.count else { fail("--color needs a value: auto, always or never") }
                    value = raw[i + 1]; i += 2
                } else { value = String(a.dropFirst("--color=".count)); i += 1 }
                guard let c = ColorChoice(rawValue: value) else { fail("--color '\(value)' is not one of auto, always, never") }
                color = c
                continue
            }
            // `--for -5`: ArgumentParser would read -5 as an option and say "Missing value".
            if ["--for", "--grace", "--ready-timeout"].contains(a), i + 1 < raw.count, raw[i + 1].hasPrefix("-"), Double(raw[i + 1]) != nil {
                fail("\(a) must be a positive number of seconds, not \(raw[i + 1])")
            }
            args.append(a); i += 1
        }
        guard let first = args.first, !first.hasPrefix("-") else { return args }
        let commands = Roprof.configuration.subcommands.compactMap { $0.configuration.commandName }
        guard Roprof.configuration.subcommands.contains(where: { $0.configuration.commandName == first }) else {
            if first == "help" { return args }
            let guess = closest(first, commands)
            fail("unknown command '\(first)'" + (guess.map { "; did you mean '\($0)'?" } ?? "") + " (see `roprof --help`)")
        }
        return args
    }

    /// After ArgumentParser refused the arguments: an option the command does not know gets our
    /// message, with the nearest known name (read from the command's own help, so custom names such
    /// as --for count). Only on that path: making the help costs milliseconds every run would pay.
    static func explainUnknownOption(_ args: [String]) {
        guard let first = args.first, !first.hasPrefix("-"),
              let sub = Roprof.configuration.subcommands.first(where: { $0.configuration.commandName == first }) else { return }
        let help = sub.helpMessage(columns: 10_000)
        var known: Set<String> = ["--help", "--version", "--signal-is-planned", "--restart-of"]
        var scan = help[...]
        while let r = scan.firstRange(of: "--") {
            let name = scan[r.lowerBound...].prefix { $0 == "-" || $0.isLetter || $0.isNumber }
            if name.count > 2 { known.insert(String(name)) }
            scan = scan[r.upperBound...]
        }
        for a in args.dropFirst() {
            if a == "--" { break }
            guard a.hasPrefix("--") else { continue }
            let name = String(a.split(separator: "=", maxSplits: 1).first ?? "")
            if !known.contains(name) {
                let guess = closest(name, Array(known))
                fail("unknown option '\(name)' for `roprof \(first)`" + (guess.map { "; did you mean '\($0)'?" } ?? "") + " (see `roprof \(first) --help`)")
            }
        }
    }

    /// ArgumentParser's message, as one line naming the command's help.
    static func oneLine(_ message: String, command: String?) -> String {
        var line = message.split(separator: "\n").first.map(String.init) ?? message
        if line.hasPrefix("Error: ") { line.removeFirst("Error: ".count) }
        return line + (command.map { " (see `roprof \($0) --help`)" } ?? " (see `roprof --help`)")
    }

    static func fail(_ message: String) -> Never {
        StdIO.error("roprof: error: \(message)\n")
        Glibc.exit(2)
    }

    /// The candidate nearest to `word`, if any.
    static func closest(_ word: String, _ candidates: [String]) -> String? { DidYouMean.closest(word, candidates) }
}
