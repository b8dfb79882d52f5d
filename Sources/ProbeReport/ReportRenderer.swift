import ProbeCore
import ProbeTrace

/// Renders a trace for a person: the verdict first, then the facts of the start, a timeline with
/// +ms offsets, the output tails and any damage found in the file.
///
/// Everything that came from the child (arguments, output, command names) is passed through
/// ``Escaping/visible(_:keepNewlines:)`` so a hostile program cannot forge report lines or drive
/// the terminal.
package enum ReportRenderer {
    /// How many lines of each output tail are shown.
    package static let tailLines = 20

    /// The report as text, ending with a newline.
    package static func render(_ document: TraceDocument) -> String {
        var out: [String] = []
        let v = Escaping.visible
        out.append("probe-exec trace \(v(document.path, false))")
        out.append("")
        out.append(verdictLine(document))
        if let start = document.first({ if case .start(let s) = $0 { s } else { nil } }) {
            out.append("")
            out += startLines(start, writtenInProcess: document.writtenInProcess)
        }
        out.append("")
        out.append("timeline:")
        // Milestones are written when the loop learns of them, which can be slightly after they
        // happened: order by time (stable, so equal times keep file order).
        let timeline = document.events.enumerated()
            .filter { TimelineText.isOnTimeline($0.element.event) }
            .sorted { ($0.element.offsetMilliseconds, $0.offset) < ($1.element.offsetMilliseconds, $1.offset) }
            .map(\.element)
        // The program's first fault (a SIGSEGV, SIGBUS… raised by the kernel), when it later died of
        // a fault: faults after it happened while it was handling that one (a crash reporter reading
        // memory, as the Swift runtime's backtracer does), not in its normal work.
        let diedOfFault =
            document.last { if case .exit(let e) = $0 { e.signal } else { nil } }.map(SignalName.isFault) ?? false
        var firstFault: (name: String, offset: String)?
        var index = 0
        while index < timeline.count {
            let record = timeline[index]
            index += 1
            let offset = formatOffset(record.offsetMilliseconds)
            var text = TimelineText.describe(record.event, in: document)
            // A run of the same signal delivered the same way reads as one line with a count
            // ("SIGSEGV × 500, …"): a JVM's null checks, Go's preemption, a shell's SIGCHLDs.
            if case .targetSignal(let first) = record.event {
                var repeats = 1
                while index < timeline.count, case .targetSignal(let next) = timeline[index].event,
                    next.signal == first.signal && next.senderKind == first.senderKind && next.code == first.code
                {
                    repeats += 1
                    index += 1
                }
                if repeats > 1 {
                    let from: String
                    switch first.senderKind {
                    case "kernel": from = "raised by the kernel"
                    case "self": from = "sent by the program itself"
                    case "probe-exec": from = "forwarded by probe-exec"
                    default: from = "sent by other processes"
                    }
                    let last = formatOffset(timeline[index - 1].offsetMilliseconds).trimmingPrefix(while: { $0 == " " })
                    text =
                        "\(first.name) × \(repeats) delivered to the program (\(from)); it went on after each, the last at \(last)"
                    if let fault = firstFault, diedOfFault, first.senderKind == "kernel",
                        SignalName.isFault(first.signal)
                    {
                        text += ", while it was handling its \(fault.name) of \(fault.offset)"
                    }
                }
                if firstFault == nil, first.senderKind == "kernel", SignalName.isFault(first.signal) {
                    firstFault = (first.name, String(offset.trimmingPrefix(while: { $0 == " " })))
                }
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            out.append("  \(offset)  \(v(String(lines[0]), false))")
            for line in lines.dropFirst() {
                out.append(String(repeating: " ", count: 20) + v(String(line), false))
            }
        }
        for record in document.events {
            guard case .tail(let tail) = record.event else { continue }
            out += tailLines(tail)
        }
        if !document.problems.isEmpty {
            out.append("")
            out.append("notes on this trace file:")
            for problem in document.problems { out.append("  - " + v(problem, false)) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// "VERDICT (category): summary", or why there is none.
    static func verdictLine(_ document: TraceDocument) -> String {
        let v = Escaping.visible
        if let verdict = document.last({ if case .verdict(let e) = $0 { e } else { nil } }) {
            return "VERDICT (\(v(verdict.category, false))): \(v(verdict.summary, false))"
        }
        guard document.writtenInProcess else {
            return "VERDICT: none recorded — the run did not finish under probe-exec (see notes below)."
        }
        if let crash = document.last({ if case .crash(let e) = $0 { e } else { nil } }) {
            let name = crash.signalName.isEmpty ? "signal \(crash.signal)" : crash.signalName
            return
                "VERDICT (crash): the program crashed with \(v(name, false)) after main() was reached (its own report below)."
        }
        return
            "VERDICT: none — this trace was written by the program itself; run it under probe-exec to record how it exits."
    }

    /// The command, the run, the process and the recorder.
    static func startLines(_ start: TraceEvent.Start, writtenInProcess: Bool) -> [String] {
        let v = Escaping.visible
        var out = ["command:  \(v(start.argv.map(quoteIfNeeded).joined(separator: " "), false))"]
        var facts: [String] = []
        if !start.time.isEmpty { facts.append("started \(v(start.time, false))") }
        if !start.host.isEmpty { facts.append("on \(v(start.host, false))") }
        if !start.kernel.isEmpty { facts.append("(\(v(start.kernel, false)))") }
        out.append("run:      " + facts.joined(separator: " "))
        var ids = [writtenInProcess ? "pid \(start.pid)" : "probe-exec pid \(start.pid)"]
        ids.append("uid \(start.uid)")
        ids.append("gid \(start.gid)")
        if let cwd = start.cwd { ids.append("cwd \(v(cwd, false))") }
        out.append("process:  " + ids.joined(separator: ", "))
        if let version = start.probeExecVersion {
            out.append("recorder: probe-exec \(v(version, false))")
        }
        return out
    }

    /// A stream's tail: its last lines.
    static func tailLines(_ tail: TraceEvent.Tail) -> [String] {
        var lines = tail.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
        let shown = lines.suffix(tailLines)
        let note = lines.count > shown.count || tail.truncated ? ", last \(shown.count) lines" : ""
        return ["", "\(tail.stream) (\(tail.bytesTotal) bytes\(note)):"]
            + shown.map { "  | " + Escaping.visible($0, keepNewlines: false) }
    }

    /// "  +12.3 ms", right-aligned in 14 columns.
    package static func formatOffset(_ ms: Double) -> String {
        let text = "+" + String(format3(ms)) + " ms"
        return text.count >= 14 ? text : String(repeating: " ", count: 14 - text.count) + text
    }

    /// Milliseconds with one decimal.
    package static func format3(_ ms: Double) -> String {
        guard ms.isFinite else { return "?" }
        let scaled = Int64((ms * 10).rounded())
        let sign = scaled < 0 ? "-" : ""
        return "\(sign)\(abs(scaled) / 10).\(abs(scaled) % 10)"
    }

    /// An argument as a shell would need it quoted.
    package static func quoteIfNeeded(_ arg: String) -> String {
        let plain =
            !arg.isEmpty
            && arg.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                    || "-_./=:,@+%".unicodeScalars.contains($0)
            }
        return plain ? arg : "'" + arg.replacingOccurrencesOfQuote() + "'"
    }

    /// One timeline line for an event (without the document: in-process crash frames stay raw).
    package static func describe(_ record: TraceRecord) -> String {
        TimelineText.describe(record.event, in: nil)
    }
}

extension String {
    fileprivate func replacingOccurrencesOfQuote() -> String {
        var out = ""
        for c in self { out += c == "'" ? "'\\''" : String(c) }
        return out
    }
}
