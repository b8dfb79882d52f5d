import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `probe-exec show [TRACE | PROGRAM-NAME]` reads. An argument that is an existing file is a trace
/// (a directory: its `latest` trace, else its newest `*.ndjson`, as `-o` leaves), unless it is an executable file: traces never are (probe-exec
/// creates them 0600), and `show server` beside `./server` means the program. An argument with a `/` that
/// names no file, or one that cannot be looked at, is a path too (reading it says what is wrong). Any
/// other argument is a program name, and the trace is the newest of that program in the trace directory
/// (its `latest-<program>` link). Without an argument, the newest trace of all (`latest`).
enum TraceArgument {
    /// The trace file for `argument`, in the trace directory `directory`; or, when it names a program
    /// without a trace there, what to tell the user.
    static func path(for argument: String?, directory: String) -> Result<String, Message> {
        guard let argument else { return .success(directory + "/" + TraceLocation.latestName) }
        var info = stat()
        if stat(argument, &info) == 0 {
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { return .success(inDirectory(argument)) }
            if type != S_IFREG || access(argument, X_OK) != 0 { return .success(argument) }
        } else if errno != ENOENT || argument.contains("/") {
            return .success(argument)  // a path, and reading it will say what is wrong
        }
        let link = TraceLocation.latestName(program: argument)
        if TraceLocation.linkTarget(link, in: directory) != nil { return .success(directory + "/" + link) }
        let known = TraceLocation.programsWithLatest(in: directory)
        let others = known.isEmpty ? "there are none" : "programs with one: " + known.joined(separator: ", ")
        return .failure(Message(text: "no trace of a program named \(argument) in \(directory) (\(others))"))
    }

    /// The trace a directory stands for: its `latest` link; without one (traces written with `-o`),
    /// its most recently modified `*.ndjson` file; else the `latest` path (reading it says ENOENT).
    static func inDirectory(_ directory: String) -> String {
        let latest = directory + "/" + TraceLocation.latestName
        var info = stat()
        if lstat(latest, &info) == 0 { return latest }
        guard let listing = opendir(directory) else { return latest }
        defer { closedir(listing) }
        var newest: (path: String, seconds: Int, nanoseconds: Int)? = nil
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasSuffix(".ndjson") else { continue }
            let path = directory + "/" + name
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            let time = (path: path, seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
            if let best = newest, (best.seconds, best.nanoseconds) >= (time.seconds, time.nanoseconds) { continue }
            newest = time
        }
        return newest?.path ?? latest
    }

    /// A sentence for the user.
    struct Message: Error {
        /// The sentence.
        let text: String
    }
}
