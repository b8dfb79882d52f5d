#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An errno value with its symbolic name and the C library's description.
public struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The raw errno value.
    public var code: Int32

    /// Wraps an errno value.
    public init(_ code: Int32) { self.code = code }

    /// The errno currently set by the last failing call.
    public static var current: SystemError { SystemError(errno) }

    /// The symbolic name, such as `ENOENT`, or `errno N` when unknown.
    public var name: String { SystemError.names[code] ?? "errno \(code)" }

    /// The C library's text, such as "No such file or directory".
    public var message: String { String(cString: strerror(code)) }

    public var description: String { "\(message) (\(name))" }

    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
        E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
        EXDEV: "EXDEV", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL",
        ENFILE: "ENFILE", EMFILE: "EMFILE", ENOTTY: "ENOTTY", ETXTBSY: "ETXTBSY", EFBIG: "EFBIG",
        ENOSPC: "ENOSPC", ESPIPE: "ESPIPE", EROFS: "EROFS", EMLINK: "EMLINK", EPIPE: "EPIPE",
        ENAMETOOLONG: "ENAMETOOLONG", ELOOP: "ELOOP", ENOSYS: "ENOSYS", EDQUOT: "EDQUOT",
        ELIBBAD: "ELIBBAD", ESTALE: "ESTALE", ETIMEDOUT: "ETIMEDOUT", EADDRINUSE: "EADDRINUSE",
    ]
}

/// Runs a call that returns -1 and sets errno on failure, retrying when it was interrupted.
/// - Returns: the call's result, which is not -1.
/// - Throws: ``SystemError`` for any failure other than `EINTR`.
@discardableResult
func retryingOnEINTR<T: FixedWidthInteger>(_ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = SystemError.current
        if error.code != EINTR { throw error }
    }
}
