import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where traces live: the directory, the file name of one run, and the `latest` links: `latest` to the
/// newest trace of all, `latest-<program>` to the newest of each program.
///
/// The directory is `$PROBE_EXEC_TRACE_DIR` when set, else `${TMPDIR:-/tmp}/probe-exec-<uid>`.
/// Directories are created with mode 0700; the default one must be a real directory owned by
/// the current user (not a link someone else planted in a shared /tmp).
package enum TraceLocation {
    /// The environment variable that names the trace directory.
    package static let directoryVariable = "PROBE_EXEC_TRACE_DIR"
    /// The name of the link to the newest trace in a trace directory.
    package static let latestName = "latest"

    /// The trace directory for this process's environment and user.
    package static var directory: String {
        if let dir = configuredDirectory { return dir }
        let tmp = ProcessEnvironment.value(of: "TMPDIR") ?? "/tmp"
        return "\(tmp)/probe-exec-\(getuid())"
    }

    /// `$PROBE_EXEC_TRACE_DIR`, when set and not empty.
    package static var configuredDirectory: String? {
        ProcessEnvironment.value(of: directoryVariable)
    }

    /// A file name for a run: `<program>-<pid>-<UTC time>.ndjson`, with the program's base name
    /// reduced to characters that are safe in a file name.
    package static func fileName(program: String, pid: Int32, realtimeNanoseconds: Int64) -> String {
        let stamp = Timestamp.compactUTC(realtimeNanoseconds: realtimeNanoseconds)
        return "\(safeName(program))-\(pid)-\(stamp).ndjson"
    }

    /// The program's base name reduced to characters safe in a file name (at most 64).
    package static func safeName(_ program: String) -> String {
        let base = program.utf8.contains { $0 != UInt8(ascii: "/") } ? program.lastPathComponent : "program"
        var safe = String(
            base.unicodeScalars.map { c -> Character in
                let ok =
                    (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_"
                return ok ? Character(c) : "_"
            }
        )
        if safe.isEmpty || safe.hasPrefix(".") { safe = "_" + safe }
        return safe.count > 64 ? String(safe.prefix(64)) : safe
    }

    /// Makes the trace directory `directory` (usually ``directory``) ready: created when missing and,
    /// when it is the shared default under the temporary directory, checked to be ours alone.
    /// What probe-exec and the library both do before creating a trace there.
    /// - Throws: what mkdir or lstat found; `EPERM` or `ENOTDIR` as ``checkPrivate(_:)``.
    package static func prepare(_ directory: String) throws(SystemError) {
        try makeDirectory(directory)
        if configuredDirectory == nil {
            try checkPrivate(directory)
        }
    }

    /// Creates `path` and its missing parents with mode 0700.
    /// - Throws: ``SystemError`` with mkdir's own errno when a directory cannot be created (`EROFS`,
    ///   `EACCES`, `ENOSPC`…, never the `ENOENT` of a later look), or `ENOTDIR` when the path exists
    ///   and is not a directory; a symbolic link to a directory is one (the shared default is refused
    ///   as a link by ``checkPrivate(_:)``), a dangling one is `ENOENT`.
    package static func makeDirectory(_ path: String) throws(SystemError) {
        // Usually it exists, or only its last component is missing: one mkdir. Else each
        // component in turn. The kernel says EEXIST before EROFS or EACCES for a name that exists.
        if mkdir(path, 0o700) != 0 {
            let error = errno
            if error == ENOENT {
                try makeEachComponent(path)
            } else if error != EEXIST {
                throw SystemError(error)
            }
        }
        // Followed: a configured directory may be a symbolic link to one (`/var/log/probe` → a volume);
        // a dangling one is ENOENT. The shared default is checked without following (checkPrivate).
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError.current }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw SystemError(ENOTDIR) }
    }

    private static func makeEachComponent(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw SystemError.current
            }
        }
    }

    /// Checks that a shared-directory path is ours alone: a directory (not a link), owned by us.
    /// - Throws: `EPERM` when it is owned by someone else, `ENOTDIR` when not a directory.
    package static func checkPrivate(_ path: String) throws(SystemError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SystemError.current }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw SystemError(ENOTDIR) }
        guard info.st_uid == getuid() else { throw SystemError(EPERM) }
    }

    /// `latest-<program>`: the link to the newest trace of the program named `program` (a name or a path:
    /// its base name, made safe as in file names).
    package static func latestName(program: String) -> String {
        "\(latestName)-\(safeName(program))"
    }

    /// The name a run is filed under (`latest-<name>`, `show PROGRAM-NAME`): the base name of the
    /// executable that ran. That is the command's, unless the program exec'd another image (a shell's
    /// `exec`): then the final image's, `finalImage`, as the kernel names it (symbolic links resolved).
    package static func programName(command: String, finalImage: String?) -> String {
        (finalImage ?? command).lastPathComponent
    }

    /// Points `<directory>/latest` and `<directory>/latest-<program>` at `fileName`, each replaced
    /// atomically. Errors are ignored: the links are a convenience.
    package static func updateLatest(directory: String, fileName: String, program: String) {
        pointLink(latestName, in: directory, at: fileName)
        pointLink(latestName(program: program), in: directory, at: fileName)
    }

    /// Points the link `<directory>/<name>` at `target`, replacing any previous one atomically (a new link
    /// renamed over it). Errors are ignored.
    package static func pointLink(_ name: String, in directory: String, at target: String) {
        let link = "\(directory)/\(name)"
        let temporary = "\(directory)/.\(name).\(getpid())"
        if symlink(target, temporary) != 0 {  // a stale one from a dead process with our pid
            guard errno == EEXIST, unlink(temporary) == 0, symlink(target, temporary) == 0 else { return }
        }
        if rename(temporary, link) != 0 { unlink(temporary) }
    }

    /// What the link `<directory>/<name>` holds; nil when it is not a symbolic link.
    package static func linkTarget(_ name: String, in directory: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("\(directory)/\(name)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The program names that have a `latest-<program>` link in `directory`, sorted.
    package static func programsWithLatest(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        let prefix = latestName + "-"
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefix) && name.count > prefix.count {
                names.append(String(name.dropFirst(prefix.count)))
            }
        }
        return names.sorted()
    }
}
