import FoundationEssentials
import Glibc
import TraceModel

/// Polls an HTTP URL or a TCP host:port on its own thread until it answers. Never touches ptrace.
public final class ReadinessProbe: @unchecked Sendable {
    public struct Target: Sendable, Equatable {
        public var host: String
        public var port: UInt16
        /// nil: a TCP connect is enough; otherwise an HTTP GET of this path must get a status line.
        public var httpPath: String?

        /// Parses `http://host:port/path`, or `host:port` / `tcp://host:port` (a TCP connect); a reason when it is neither.
        public static func parse(_ s: String) -> Result<Target, TraceError> {
            var rest = s, http = false
            if rest.hasPrefix("http://") { rest = String(rest.dropFirst(7)); http = true }
            else if rest.hasPrefix("tcp://") { rest = String(rest.dropFirst(6)) }  // a TCP connect, written as a URL
            else if rest.hasPrefix("https://") { return .failure(.sandboxSetup("--ready-url \(s): https is not supported; use http:// or a TCP host:port")) }
            else if let r = rest.firstRange(of: "://") {
                return .failure(.sandboxSetup("--ready-url \(s): '\(rest[..<r.lowerBound])://' is not supported; give http://HOST:PORT/PATH, or HOST:PORT (or tcp://HOST:PORT) for a TCP connect"))
            }
            let hostPort = String(rest.prefix { $0 != "/" })
            let path = http ? String(rest.dropFirst(hostPort.count)) : nil
            guard let colon = hostPort.lastIndex(of: ":") else {
                if http { return .success(Target(host: hostPort, port: 80, httpPath: path!.isEmpty ? "/" : path)) }
                return .failure(.sandboxSetup("--ready-url \(s): give http://HOST:PORT/PATH or HOST:PORT"))
            }
            let host = String(hostPort[..<colon]).trimmingCharacters(in: "[]")
            guard let port = UInt16(hostPort[hostPort.index(after: colon)...]), port > 0, !host.isEmpty else {
                return .failure(.sandboxSetup("--ready-url \(s): the port must be a number from 1 to 65535"))
            }
            return .success(Target(host: host, port: port, httpPath: http ? (path!.isEmpty ? "/" : path) : nil))
        }
    }

    let target: Target
    private let lock = Lock()
    private var _ready = false
    private var _stop = false
    public var isReady: Bool { lock.lock(); defer { lock.unlock() }; return _ready }

    public init(target: Target) { self.target = target }

    public func start() {
        BackgroundThread.start { [self] in
            while true {
                lock.lock(); let stop = _stop; lock.unlock()
                if stop { return }
                if Self.answers(target) { lock.lock(); _ready = true; lock.unlock(); return }
                usleep(100_000)
            }
        }
    }

    public func stop() { lock.lock(); _stop = true; lock.unlock() }

    /// One attempt: connect (and for HTTP, read a status line), with a short timeout.
    public static func answers(_ t: Target) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(t.host, String(t.port), &hints, &res) == 0, let first = res else { return false }
        defer { freeaddrinfo(res) }
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                defer { close(fd) }
                var tv = timeval(tv_sec: 1, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                    guard let path = t.httpPath else { return true }
                    let req = "GET \(path) HTTP/1.0\r\nHost: \(t.host)\r\nUser-Agent: roprof\r\n\r\n"
                    _ = req.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                    // Read the whole response (closing early makes servers log a reset connection).
                    var head: [UInt8] = [], buf = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let n = recv(fd, &buf, buf.count, 0)
                        if n <= 0 { break }
                        if head.count < 12 { head += buf[0..<n] }
                    }
                    if head.count >= 12 && String(decoding: head[0..<5], as: UTF8.self) == "HTTP/" {
                        let code = Int(String(decoding: head[9..<12], as: UTF8.self)) ?? 0
                        return code >= 200 && code < 500
                    }
                }
            }
            ai = a.pointee.ai_next
        }
        return false
    }
}
