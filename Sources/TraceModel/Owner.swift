/// Owner and permission bits of a directory.
public struct Owner: Codable, Equatable, Sendable {
    public var uid: Int
    public var gid: Int
    public var mode: Int
    public init(uid: Int, gid: Int, mode: Int) { self.uid = uid; self.gid = gid; self.mode = mode }
}

