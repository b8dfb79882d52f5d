import ProbeCore
import ProbeDiagnosis
import ProbeTrace

extension TraceHistory {
    /// One run of a crash loop as `show --history` compares it, read from its trace: how it ended, its
    /// verdict, whether main() was reached, how long it ran, its last line on stderr, the build that ran.
    struct Run {
        /// When it started (ISO 8601 UTC), `?` when the trace has no start.
        var time: String
        /// When it started, CLOCK_REALTIME seconds.
        var realtime: Double?
        /// The verdict's category, `unfinished` without one.
        var category: String
        /// The status probe-exec exited with, from the verdict.
        var status: Int?
        /// How long the program ran.
        var durationMilliseconds: Double?
        /// The error it reported, the signal that killed it, or why it could not start; empty when none.
        var cause: String
        /// How it ended: `exited 3`, `killed by SIGSEGV`, `killed by SIGABRT (core dumped)`,
        /// `could not start (status 127)`, or `not recorded` (the trace ends before the exit).
        var exit: String
        /// `yes`, `no` or `not known` (``ShowSummary/Verdict/mainReached``).
        var mainReached: String
        /// The last line it wrote on stderr, quoted; `nothing on stderr`, or `not recorded` when its stderr
        /// was not piped through probe-exec (a terminal) or the trace ends before the tails.
        var lastErrorLine: String
        /// The GNU build-id of its final image (`target_exec`), or `not recorded` (untraced, no build-id, or a
        /// trace written before probe-exec recorded it).
        var buildID: String

        /// The run `document` records.
        init(_ document: TraceDocument) {
            let summary = ShowSummary(document)
            let start = document.first { if case .start(let e) = $0 { e } else { nil } }
            let exec = document.first { if case .exec(let e) = $0 { e } else { nil } }
            let error = document.last { if case .programError(let e) = $0 { e } else { nil } }
            time = start?.time ?? "?"
            realtime = start?.clock?.realtimeSeconds
            category = summary.verdict.category ?? "unfinished"
            status = summary.verdict.status.map { Int($0) }
            durationMilliseconds = summary.exit?.durationMilliseconds
            cause = error.map { "\($0.kind): \($0.message)" } ?? ""
            if cause.isEmpty, let signal = summary.exit?.signalName { cause = "killed by \(signal)" }
            if cause.isEmpty, category == "exec_failed" { cause = exec?.explanation ?? exec?.error ?? "exec failed" }
            if let ended = summary.exit {
                if let code = ended.code {
                    exit = "exited \(code)"
                } else {
                    exit = "killed by " + (ended.signalName ?? "signal \(ended.signal ?? 0)")
                    if ended.coreDumped { exit += " (core dumped)" }
                }
            } else if exec?.ok == false {
                exit = "could not start (status \(exec?.exitStatus ?? summary.verdict.status ?? 0))"
            } else if let crash = document.last({ if case .crash(let e) = $0 { e } else { nil } }) {
                // Written by the program's StartupProbe library alone (or no tracer saw the end): its
                // crash handler's report is how it ended.
                exit = "crashed with \(crash.signalName) (reported by the program)"
                if category == "unfinished" { category = "crash" }
                if cause.isEmpty { cause = "killed by \(crash.signalName)" }
            } else {
                exit = "not recorded"
            }
            switch summary.verdict.mainReached {
            case true?: mainReached = "yes"
            case false?: mainReached = "no"
            case nil: mainReached = "not known"
            }
            let tail = document.last {
                if case .tail(let e) = $0, e.stream == "stderr" || e.stream == "merged" { e } else { nil }
            }
            // No tail: nothing came on a piped stderr, or it went straight to a terminal (not recorded).
            let piped = start?.streams.map { $0.stderr != "terminal" || start?.options?.pipeTerminals == true }
            if let tail {
                lastErrorLine = Diagnose.lastLine(Array(tail.text.utf8)).map { "\"\($0)\"" } ?? "nothing on stderr"
            } else {
                lastErrorLine = summary.exit != nil && piped == true ? "nothing on stderr" : "not recorded"
            }
            buildID = ShowSummary.programImages(document).last?.event.buildID ?? "not recorded"
        }

        /// The fields compared across `runs` (oldest first), each with ``compare(_:)``'s text.
        static func fields(of runs: [Run]) -> [(name: String, comparison: String)] {
            [
                ("exit", compare(runs.map(\.exit))),
                ("verdict", compare(runs.map(\.category))),
                ("main() reached", compare(runs.map(\.mainReached))),
                ("duration", compareDurations(runs.map(\.durationMilliseconds))),
                ("last error line", compare(runs.map(\.lastErrorLine))),
                ("build-id", compare(runs.map(\.buildID))),
            ]
        }

        /// `same in all N runs: VALUE` when every run has the same value, else `changed: A → B → C`, one
        /// value per run in order; one run's value alone.
        static func compare(_ values: [String]) -> String {
            guard values.count > 1 else { return values.first ?? "" }
            if values.allSatisfy({ $0 == values[0] }) { return "same in all \(values.count) runs: \(values[0])" }
            return "changed: " + values.joined(separator: " → ")
        }

        /// Durations never repeat to the millisecond: they count as the same when the longest is at most 1.5
        /// times the shortest, or within 20 ms of it (`about the same in all 3 runs: ~12 ms (10 ms to 14 ms)`);
        /// else, or when a run has none (`unknown`), ``compare(_:)`` of their texts.
        static func compareDurations(_ values: [Double?]) -> String {
            let known = values.compactMap { $0 }
            guard values.count > 1, known.count == values.count, let low = known.min(), let high = known.max(),
                high <= low * 1.5 || high - low <= 20
            else {
                return compare(values.map { $0.map { Diagnose.duration($0) } ?? "unknown" })
            }
            let typical = Diagnose.duration(known.reduce(0, +) / Double(known.count))
            let texts = (Diagnose.duration(low), Diagnose.duration(high))
            let range = texts.0 == texts.1 ? "" : " (\(texts.0) to \(texts.1))"
            return "about the same in all \(values.count) runs: ~\(typical)\(range)"
        }
    }
}
