import ProbeCore
import ProbeTrace

/// `show --json`: a trace as one document a tool reads without walking the events — the verdict (with
/// whether main() was reached and the cause in one line), the program, its timings, the signals, the
/// backtraces and the exit — then every event. `docs/show.schema.json` describes it, and tests check
/// real output against it.
///
/// Built from the typed events of a ``TraceDocument``; everything in it is also in the events.
package struct ShowSummary {
    /// Where the trace was read from.
    package var path: String
    /// Whether the run was recorded to its end (a verdict exists).
    package var complete: Bool
    /// Damage found in the file.
    package var problems: [String]
    /// The verdict, whether main() was reached, the cause.
    package var verdict = Verdict()
    /// What ran.
    package var program = Program()
    /// When each step happened.
    package var timings = Timings()
    /// Every signal recorded, in time order.
    package var signals: [Signal] = []
    /// The backtraces, in file order.
    package var backtraces: [Backtrace] = []
    /// How the program ended; nil when the program never ran or the trace ends before its exit.
    package var exit: Exit?
    /// The events, as read.
    package var events: [TraceRecord]

    /// The summary of `document`.
    package init(_ document: TraceDocument) {
        path = document.path
        complete = document.isComplete
        problems = document.problems
        events = document.events
        program = Self.program(document)
        timings = Self.timings(document)
        signals = Self.signals(document)
        backtraces = Self.backtraces(document)
        exit = document.last { if case .exit(let e) = $0 { e } else { nil } }.map(Self.exit)
        verdict = Self.verdict(document, mainMilliseconds: timings.mainMilliseconds)
    }

    /// The document, keys in the order of `docs/show.schema.json`.
    package var json: JSONValue {
        .object([
            ("path", .string(path)), ("complete", .bool(complete)), ("problems", .strings(problems)),
            ("verdict", verdict.json), ("program", program.json), ("timings", timings.json),
            ("signals", .array(signals.map(\.json))), ("backtraces", .array(backtraces.map(\.json))),
            ("exit", exit?.json ?? .null), ("events", .array(events.map(\.json))),
        ])
    }

    /// The sentence of a verdict that says tracing proved main() was not reached (`Diagnose.startupStory`).
    package static let mainNotReached = "main() was NOT reached"

    /// The verdict's fields, whether main() was reached (`mainMilliseconds`: when it was, if proven) and
    /// the cause.
    package static func verdict(_ document: TraceDocument, mainMilliseconds: Double?) -> Verdict {
        var result = Verdict()
        let recorded = document.last { if case .verdict(let e) = $0 { e } else { nil } }
        result.category = recorded?.category
        result.status = recorded?.status
        result.summary = recorded?.summary
        let exec = document.first { if case .exec(let e) = $0 { e } else { nil } }
        if mainMilliseconds != nil {
            result.mainReached = true
        } else if exec?.ok == false || recorded?.summary.contains(mainNotReached) == true {
            result.mainReached = false
        }
        if let error = document.last({ if case .programError(let e) = $0 { e } else { nil } }) {
            result.cause = error.kind.isEmpty ? error.message : "\(error.kind): \(error.message)"
        } else if let summary = recorded?.summary {
            result.cause = firstSentence(summary)
        } else if let crash = document.last({ if case .crash(let e) = $0 { e } else { nil } }) {
            result.cause = "crashed with \(crash.signalName.isEmpty ? "signal \(crash.signal)" : crash.signalName)"
        }
        return result
    }

    /// The first sentence of a verdict: up to the first `.` followed by a space (or the end) outside
    /// quotes, backticks and parentheses (a file name, `0.4 s` and `(e.g. …)` do not end it).
    package static func firstSentence(_ text: String) -> String {
        var inBackticks = false
        var inQuotes = false
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            switch character {
            case "`": inBackticks.toggle()
            case "\"" where !inBackticks: inQuotes.toggle()
            case "(" where !inBackticks && !inQuotes: depth += 1
            case ")" where !inBackticks && !inQuotes: depth = max(0, depth - 1)
            case "." where !inBackticks && !inQuotes && depth == 0:
                if next == text.endIndex || text[next] == " " { return String(text[..<next]) }
            default: break
            }
            index = next
        }
        return text
    }

    /// What ran: the command, the final image, its name and pid.
    package static func program(_ document: TraceDocument) -> Program {
        var result = Program()
        let start = document.first { if case .start(let e) = $0 { e } else { nil } }
        let exec = document.first { if case .exec(let e) = $0 { e } else { nil } }
        result.argv = start?.argv ?? []
        result.images = programImages(document).compactMap(\.event.path)
        result.path = result.images.last ?? exec?.path ?? (start?.source == "in_process" ? start?.argv.first : nil)
        if let command = start?.argv.first {
            let finalImage = result.images.count >= 2 ? result.images.last : nil
            result.name = TraceLocation.programName(command: command, finalImage: finalImage)
        }
        let exit = document.last { if case .exit(let e) = $0 { e } else { nil } }
        result.pid = exec?.pid ?? exit?.pid ?? (start?.source == "in_process" ? start?.pid : nil)
        return result
    }

    /// The `target_exec` events of the program itself (not of children followed with --follow-forks),
    /// with their position among the events.
    package static func programImages(_ document: TraceDocument) -> [(index: Int, event: TraceEvent.TargetExec)] {
        document.events.enumerated().compactMap { index, record in
            guard case .targetExec(let e) = record.event, e.child != true else { return nil }
            return (index, e)
        }
    }

    /// How the program ended.
    package static func exit(_ event: TraceEvent.Exit) -> Exit {
        var result = Exit()
        result.pid = event.pid
        result.code = event.code
        result.signal = event.signal
        result.signalName = event.signalName
        result.status = event.status
        result.coreDumped = event.coreDumped ?? false
        result.durationMilliseconds = event.durationMilliseconds
        result.orphansReaped = event.orphansReaped
        return result
    }
}
