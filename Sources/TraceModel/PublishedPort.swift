/// A port published from a container: `[IP:]HOST:CONTAINER` as docker and podman write it (a lone
/// `PORT` is `PORT:PORT`). Kept as the user wrote it, so that loopback stays loopback in every
/// printed setting.
public struct PublishedPort: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var hostIP: String?
    public var host: Int
    public var container: Int

    public init(hostIP: String? = nil, host: Int, container: Int) { self.hostIP = hostIP; self.host = host; self.container = container }

    /// `8080`, `8080:80`, `127.0.0.1:8080:80`, `[::1]:8080:80`.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        var ip: String? = nil
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            ip = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ModelError("--publish '\(text)': give [IP:]HOST:CONTAINER, e.g. 127.0.0.1:8080:80") }
            rest = rest.dropFirst()
        }
        var parts = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if ip == nil && parts.count == 3 { ip = parts.removeFirst() }
        func port(_ s: String) throws -> Int {
            guard let n = Int(s), (1...65535).contains(n) else {
                throw ModelError("--publish '\(text)': '\(s)' is not a port (1-65535); give [IP:]HOST:CONTAINER, e.g. 127.0.0.1:8080:80")
            }
            return n
        }
        switch parts.count {
        case 1: host = try port(parts[0]); container = host
        case 2: host = try port(parts[0]); container = try port(parts[1])
        default: throw ModelError("--publish '\(text)': give [IP:]HOST:CONTAINER, e.g. 127.0.0.1:8080:80")
        }
        if let i = ip, i.isEmpty || i.contains(where: { $0.isWhitespace }) { throw ModelError("--publish '\(text)': '\(i)' is not an address") }
        hostIP = ip
    }

    /// As docker and podman take it (`--publish=` / compose `ports:`).
    public var description: String {
        guard let ip = hostIP else { return "\(host):\(container)" }
        return (ip.contains(":") ? "[\(ip)]" : ip) + ":\(host):\(container)"
    }
}
