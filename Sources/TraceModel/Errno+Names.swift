/// Linux errno numbers ⇄ names (the generic table, shared by x86 and arm families).
public enum ErrnoName {
    static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
        9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
        17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE",
        24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE", 30: "EROFS",
        31: "EMLINK", 32: "EPIPE", 36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP",
        61: "ENODATA", 75: "EOVERFLOW", 88: "ENOTSOCK", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
        98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 111: "ECONNREFUSED", 122: "EDQUOT",
    ]
    public static func name(_ e: Int32) -> String { names[e] ?? "E\(e)" }
    public static func number(_ name: String) -> Int32? { names.first { $0.value == name }?.key }
}
