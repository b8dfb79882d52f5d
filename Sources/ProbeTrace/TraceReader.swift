import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A trace read back from disk: the events that parsed, and notes on what did not.
package struct TraceDocument: Sendable {
    /// Where it was read from.
    package var path: String
    /// The events, in file order.
    package var events: [TraceRecord]
    /// Sentences about damage: garbage lines, a cut-off last line, a missing exit or verdict.
    package var problems: [String]

    /// The first event of `kind`.
    package func first(_ kind: String) -> TraceRecord? { events.first { $0.kind == kind } }
    /// The last event of `kind`.
    package func last(_ kind: String) -> TraceRecord? { events.last { $0.kind == kind } }

    /// The payload of the first event `pick` accepts (`{ if case .exit(let e) = $0 { e } else { nil } }`).
    package func first<Payload>(_ pick: (TraceEvent) -> Payload?) -> Payload? {
        for record in events { if let payload = pick(record.event) { return payload } }
        return nil
    }

    /// The payload of the last event `pick` accepts.
    package func last<Payload>(_ pick: (TraceEvent) -> Payload?) -> Payload? {
        for record in events.reversed() { if let payload = pick(record.event) { return payload } }
        return nil
    }

    /// Whether the run was recorded to its end (a verdict exists).
    package var isComplete: Bool { first("verdict") != nil }
    /// Whether the StartupProbe library wrote this trace inside the program (not under probe-exec).
    package var writtenInProcess: Bool { TraceDocument.writtenInProcess(events) }

    /// Whether a trace whose events are `events` was written by the StartupProbe library.
    package static func writtenInProcess(_ events: [TraceRecord]) -> Bool {
        guard case .start(let start) = events.first?.event else { return false }
        return start.source == "in_process"
    }

    /// The whole document as one JSON value, for `show --json`.
    package var json: JSONValue {
        .object([
            ("path", .string(path)), ("complete", .bool(isComplete)),
            ("problems", .strings(problems)), ("events", .array(events.map(\.json))),
        ])
    }
}

/// Reads NDJSON traces tolerantly: a damaged trace is read as far as it goes, never trapped on.
package enum TraceReader {
    /// The most bytes read from one trace; the rest is reported as a problem.
    package static let maximumBytes = 64 << 20
    /// Longest line parsed; longer lines are reported and skipped.
    package static let maximumLineBytes = 4 << 20

    /// Reads the trace at `path`.
    /// - Throws: ``SystemError`` when the file cannot be opened or read.
    package static func read(path: String) throws(SystemError) -> TraceDocument {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.current }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var truncatedRead = false
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.current
            }
            if n == 0 { break }
            if bytes.count + n > maximumBytes {
                bytes += chunk[0..<(maximumBytes - bytes.count)]
                truncatedRead = true
                break
            }
            bytes += chunk[0..<n]
        }
        var document = parse(bytes, path: path)
        if truncatedRead {
            document.problems.append("only the first \(maximumBytes >> 20) MiB were read; the rest is not shown")
        }
        return document
    }

    /// Parses trace bytes.
    package static func parse(_ bytes: [UInt8], path: String) -> TraceDocument {
        var events: [TraceRecord] = []
        var problems: [String] = []
        var lineNumber = 0
        var start = 0
        let endsWithNewline = bytes.last == 0x0A
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            lineNumber += 1
            let line = bytes[start..<end]
            let isLast = end >= bytes.count - 1
            start = end + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            if line.count > maximumLineBytes {
                problems.append("line \(lineNumber) is longer than \(maximumLineBytes >> 20) MiB and was skipped")
                continue
            }
            do {
                let value = try JSONParser.parse(line)
                if let event = TraceRecord(value) {
                    if value["v"]?.intValue.map({ $0 > TraceRecord.schemaVersion }) == true {
                        problems.append(
                            "line \(lineNumber) uses a newer schema (v\(value["v"]!.intValue!)); fields may be missed"
                        )
                    }
                    events.append(event)
                } else {
                    problems.append("line \(lineNumber) is JSON but not a trace event (no \"event\" field); skipped")
                }
            } catch {
                if isLast && !endsWithNewline {
                    problems.append("the last line (\(lineNumber)) is cut short: the writer was interrupted mid-event")
                } else {
                    problems.append(
                        "line \(lineNumber) is not valid JSON (\(error.reason) at byte \(error.offset)); skipped"
                    )
                }
            }
        }
        if events.isEmpty {
            problems.append("no events could be read: this is not a probe-exec trace, or it is empty")
        } else if TraceDocument.writtenInProcess(events) {
            // Written by the StartupProbe library inside the program: nobody outside saw it exit.
            if !events.contains(where: { $0.kind == "crash" }) {
                problems.append(
                    "written by the program itself (StartupProbe library, not under probe-exec): it records main() reached, signals and crashes, not the exit"
                )
            }
        } else if !events.contains(where: { $0.kind == "exit" }) && !events.contains(where: { $0.kind == "verdict" }) {
            problems.append(
                "the trace has no exit event: probe-exec was killed (for example with SIGKILL), its disk filled up, or it is still running"
            )
        }
        return TraceDocument(path: path, events: events, problems: problems)
    }
}
