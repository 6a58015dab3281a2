/// ANSI styling, applied only when writing to a terminal.
public struct TextStyle: Sendable {
    public var color: Bool
    public init(color: Bool) { self.color = color }
    func wrap(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    public func bold(_ s: String) -> String { wrap(s, "1") }
    public func red(_ s: String) -> String { wrap(s, "31") }
    public func green(_ s: String) -> String { wrap(s, "32") }
    public func yellow(_ s: String) -> String { wrap(s, "33") }
    public func dim(_ s: String) -> String { wrap(s, "2") }
}

import FoundationEssentials
import Glibc
