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

    /// `show --history`: a headline ("7 starts in 3 min; all exited 1 after ~0.4 s with …"), then what
    /// changed from run to run and what did not, field by field (``Run/fields``: each either
    /// `same in all N runs: VALUE` or its value in each run, oldest first), then one line per run.
    /// - Parameter paths: the traces of one program, oldest first (``files(directory:program:)``); those
    ///   that cannot be read are left out.
    /// - Returns: the text, ending with a newline.
    package static func summary(of paths: [String]) -> String {
        let runs = paths.compactMap { path in (try? TraceReader.read(path: path)).map(Run.init) }
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
        } else if runs.count > 1 {
            headline += "; " + tally(runs.map(\.exit)).joined(separator: ", ")
        }
        out += Escaping.visible(headline) + "\n\n"
        let fields = Run.fields(of: runs)
        let width = fields.map(\.name.count).max() ?? 0
        for (name, comparison) in fields {
            out += "  \(name):" + String(repeating: " ", count: width - name.count) + " " + comparison + "\n"
        }
        out += "\n"
        for run in runs {
            let duration = run.durationMilliseconds.map { Diagnose.duration($0) } ?? "-"
            let status = run.status.map(String.init) ?? "?"
            out +=
                Escaping.visible("  \(run.time)  status \(status)  \(duration)  \(run.category)  \(run.cause)") + "\n"
        }
        return out
    }

    /// Each distinct value with how many runs had it, in order of first appearance: `2 exited 3`.
    static func tally(_ values: [String]) -> [String] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for value in values {
            if counts[value] == nil { order.append(value) }
            counts[value, default: 0] += 1
        }
        return order.map { "\(counts[$0]!) \($0)" }
    }
}
