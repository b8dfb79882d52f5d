#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns a command name into the paths `execve` should try, as a shell does, but without
/// `execvp`'s silent retry through `/bin/sh` when a file is not a valid executable.
package enum CommandResolver {
    /// The search path glibc uses when `PATH` is unset.
    package static let defaultSearchPath = "/bin:/usr/bin"

    /// The candidate paths for `command`: the name itself when it contains a slash, else each
    /// directory of `searchPath` joined with it (an empty entry means the current directory).
    package static func candidates(for command: String, searchPath: String?) -> [String] {
        if command.contains("/") || command.isEmpty { return [command] }
        let path = searchPath ?? defaultSearchPath
        return path.split(separator: ":", omittingEmptySubsequences: false).map { dir in
            dir.isEmpty ? command : (dir.hasSuffix("/") ? "\(dir)\(command)" : "\(dir)/\(command)")
        }
    }

    /// The candidate paths for `command` as bytes (a program's name need not be UTF-8): the same
    /// rule as ``candidates(for:searchPath:)``.
    package static func candidates(for command: [UInt8], searchPath: [UInt8]?) -> [[UInt8]] {
        let slash = UInt8(ascii: "/")
        if command.contains(slash) || command.isEmpty { return [command] }
        let path = searchPath ?? Array(defaultSearchPath.utf8)
        return path.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map { dir in
            if dir.isEmpty { return command }
            return Array(dir) + (dir.last == slash ? [] : [slash]) + command
        }
    }

    /// The exit status a shell gives for an exec failure: 127 when the program was not found,
    /// 126 when it was found but cannot be run.
    package static func exitStatus(forExecError error: Int32) -> Int32 {
        (error == ENOENT || error == ENOTDIR) ? 127 : 126
    }
}
