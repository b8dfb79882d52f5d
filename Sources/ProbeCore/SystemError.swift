#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An errno value with its symbolic name and the C library's description.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The raw errno value.
    package var code: Int32

    /// Wraps an errno value.
    package init(_ code: Int32) { self.code = code }

    /// The errno currently set by the last failing call.
    package static var current: SystemError { SystemError(errno) }

    /// The symbolic name, such as `ENOENT`, or `errno N` when unknown.
    package var name: String { SystemError.names[code] ?? "errno \(code)" }

    /// The C library's text, such as "No such file or directory".
    package var message: String { String(cString: strerror(code)) }

    package var description: String { "\(message) (\(name))" }

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
