import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The traces of one program in a trace directory: pruned to the newest N, and summarised for
/// a crash loop ("7 starts in 3 min; all exited 1 after ~0.4 s with …").
package enum TraceHistory {
    /// How many traces of one program are kept by default.
    package static let defaultKeep = 20

    /// The trace files of `program` (its file-name prefix) in `directory`, oldest first.
    package static func files(directory: String, program: String) -> [String] {
        let prefix = Array((TraceLocation.safeName(program) + "-").utf8)
        let suffix = Array(".ndjson".utf8)
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        // Byte-wise (this runs before every start, over every file in the directory).
        var keyed: [(key: String, name: String)] = []
        while let entry = readdir(dir) {
            // Regular files only, without a stat per entry.
            guard entry.pointee.d_type == UInt8(DT_REG) || entry.pointee.d_type == UInt8(DT_UNKNOWN) else { continue }
            let found: (String, String)? = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let name = raw.prefix { $0 != 0 }
                guard name.count > prefix.count + suffix.count, name.starts(with: prefix),
                    name.suffix(suffix.count).elementsEqual(suffix)
                else { return nil }
                // <program>-<pid>-<time>.ndjson: after the prefix, digits then "-".
                let rest = name.dropFirst(prefix.count)
                guard let dash = rest.firstIndex(of: UInt8(ascii: "-")), dash > rest.startIndex,
                    rest[..<dash].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
                else { return nil }
                // The UTC time stamp (after the last "-") sorts chronologically; the pid does not.
                let stamp = name[(name.lastIndex(of: UInt8(ascii: "-"))! + 1)...]
                return (String(decoding: stamp, as: UTF8.self), String(decoding: name, as: UTF8.self))
            }
            if let found { keyed.append(found) }
        }
        return keyed.sorted { $0.key < $1.key }.map { directory + "/" + $0.name }
    }

    /// Deletes all but the newest `keep` traces of `program` (regular files only, never followed).
    package static func prune(directory: String, program: String, keep: Int) {
        let all = files(directory: directory, program: program)
        guard all.count > keep else { return }
        for path in all.prefix(all.count - keep) { unlink(path) }
    }

    /// One line per run and a summary of the pattern, for `show --history`.
    package static func summary(of paths: [String]) -> String {
        struct Run {
            package var time: String
            package var realtime: Double?
            package var category: String
            package var status: Int?
            package var durationMilliseconds: Double?
            package var cause: String
        }
        var runs: [Run] = []
        for path in paths {
            guard let document = try? TraceReader.read(path: path) else { continue }
            let start = document.first { if case .start(let e) = $0 { e } else { nil } }
            let verdict = document.last { if case .verdict(let e) = $0 { e } else { nil } }
            let exit = document.last { if case .exit(let e) = $0 { e } else { nil } }
            let error = document.last { if case .programError(let e) = $0 { e } else { nil } }
            let exec = document.first { if case .exec(let e) = $0 { e } else { nil } }
            var cause = error.map { "\($0.kind): \($0.message)" } ?? ""
            if cause.isEmpty, let signal = exit?.signalName { cause = "killed by \(signal)" }
            if cause.isEmpty, verdict?.category == "exec_failed" {
                cause = exec?.explanation ?? exec?.error ?? "exec failed"
            }
            runs.append(
                Run(
                    time: start?.time ?? "?",
                    realtime: start?.clock?.realtimeSeconds,
                    category: verdict?.category ?? "unfinished",
                    status: verdict.map { Int($0.status) },
                    durationMilliseconds: exit?.durationMilliseconds,
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
