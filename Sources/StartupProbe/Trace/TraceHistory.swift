#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The traces of one program in a trace directory: pruned to the newest N, and summarised for
/// a crash loop ("7 starts in 3 min; all exited 1 after ~0.4 s with …").
public enum TraceHistory {
    /// How many traces of one program are kept by default.
    public static let defaultKeep = 20

    /// The trace files of `program` (its file-name prefix) in `directory`, oldest first.
    public static func files(directory: String, program: String) -> [String] {
        let prefix = TraceLocation.safeName(program) + "-"
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix), name.hasSuffix(".ndjson") else { continue }
            // <program>-<pid>-<time>.ndjson: the rest after the prefix is "<pid>-<time>.ndjson".
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), rest[..<dash].allSatisfy(\.isNumber) else { continue }
            // Regular files only, without a stat per entry (this runs before every start).
            guard entry.pointee.d_type == UInt8(DT_REG) || entry.pointee.d_type == UInt8(DT_UNKNOWN) else { continue }
            names.append(name)
        }
        // The UTC time stamp (after the last "-") sorts chronologically; the pid does not.
        let keyed = names.map { name -> (key: Substring, name: String) in
            let dash = name.lastIndex(of: "-").map { name.index(after: $0) } ?? name.startIndex
            return (name[dash...], name)
        }
        return keyed.sorted { $0.key < $1.key }.map { directory + "/" + $0.name }
    }

    /// Deletes all but the newest `keep` traces of `program` (regular files only, never followed).
    public static func prune(directory: String, program: String, keep: Int) {
        let all = files(directory: directory, program: program)
        guard all.count > keep else { return }
        for path in all.prefix(all.count - keep) { unlink(path) }
    }

    /// One line per run and a summary of the pattern, for `show --history`.
    public static func summary(of paths: [String]) -> String {
        struct Run {
            var time: String
            var realtime: Double?
            var category: String
            var status: Int?
            var durationMilliseconds: Double?
            var cause: String
        }
        var runs: [Run] = []
        for path in paths {
            guard let document = try? TraceReader.read(path: path) else { continue }
            let start = document.first("start")
            let verdict = document.last("verdict")
            let exit = document.last("exit")
            let error = document.last("program_error")
            var cause = error.map { "\($0["kind"]?.stringValue ?? "?"): \($0["message"]?.stringValue ?? "")" } ?? ""
            if cause.isEmpty, let signal = exit?["signal_name"]?.stringValue { cause = "killed by \(signal)" }
            if cause.isEmpty, verdict?["category"]?.stringValue == "exec_failed" {
                cause =
                    document.first("exec")?["explanation"]?.stringValue ?? document.first("exec")?["error"]?.stringValue
                    ?? "exec failed"
            }
            runs.append(
                Run(
                    time: start?["time"]?.stringValue ?? "?",
                    realtime: start?["clock"]?["realtime_s"]?.doubleValue,
                    category: verdict?["category"]?.stringValue ?? "unfinished",
                    status: verdict?["status"]?.intValue,
                    durationMilliseconds: exit?["duration_ms"]?.doubleValue,
                    cause: cause
                )
            )
        }
        guard let first = runs.first, let last = runs.last else { return "no traces found\n" }
        var out = ""
        let span = (last.realtime ?? 0) - (first.realtime ?? 0)
        var headline = "\(runs.count) start\(runs.count == 1 ? "" : "s")"
        if runs.count > 1, span > 0 { headline += " in " + Diagnose.duration(span * 1000) }
        let statuses = Set(runs.map { $0.status ?? -1 })
        let causes = Set(runs.map(\.cause))
        if runs.count > 1, statuses.count == 1, let status = first.status {
            let durations = runs.compactMap(\.durationMilliseconds)
            let typical =
                durations.isEmpty
                ? "" : " after ~" + Diagnose.duration(durations.reduce(0, +) / Double(durations.count))
            headline +=
                "; all "
                + (first.category == "exec_failed"
                    ? "failed to start (status \(status))" : "exited \(status)\(typical)")
            if causes.count == 1, !first.cause.isEmpty { headline += " with " + first.cause }
        }
        out += Escaping.visible(headline) + "\n\n"
        for run in runs {
            let duration = run.durationMilliseconds.map { Diagnose.duration($0) } ?? "-"
            let status = run.status.map(String.init) ?? "?"
            out +=
                Escaping.visible("  \(run.time)  status \(status)  \(duration)  \(run.category)  \(run.cause)") + "\n"
        }
        return out
    }
}
