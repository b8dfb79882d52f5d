import CStartupProbe
import ProbeCore

/// One line of a startup trace: an event kind, its time offset and its fields.
///
/// Every line carries `"v"` (the schema version), `"event"` and `"t_ms"` (milliseconds since
/// probe-exec started, from the monotonic clock). `docs/trace.schema.json` describes the fields
/// of each kind.
package struct TraceEvent: Sendable {
    /// The schema version written in every line.
    package static let schemaVersion = 1

    /// The kind of event: `start`, `exec`, `signal`, `output`, `exit`, `tail`, `verdict`, `warning`, …
    package var kind: String
    /// Milliseconds since the supervisor started.
    package var offsetMilliseconds: Double
    /// The event's own fields, in the order they are written.
    package var fields: [(String, JSONValue)]

    /// Makes an event.
    /// - Parameters:
    ///   - kind: the event kind.
    ///   - offsetMilliseconds: milliseconds since start.
    ///   - fields: the event's own fields.
    package init(_ kind: String, at offsetMilliseconds: Double, _ fields: [(String, JSONValue)] = []) {
        self.kind = kind
        self.offsetMilliseconds = (offsetMilliseconds * 1000).rounded() / 1000  // microseconds
        self.fields = fields
    }

    /// Reads an event back from a parsed trace line; nil when it lacks `event` or `t_ms`.
    package init?(_ value: JSONValue) {
        guard case .object(let pairs) = value, let kind = value["event"]?.stringValue else { return nil }
        self.kind = kind
        self.offsetMilliseconds = value["t_ms"]?.doubleValue ?? 0
        self.fields = pairs.filter { !["v", "event", "t_ms"].contains($0.0) }
    }

    /// The field named `key`.
    package subscript(key: String) -> JSONValue? {
        fields.first(where: { $0.0 == key })?.1
    }

    /// The whole event as one JSON object.
    package var json: JSONValue {
        .object(
            [("v", .int(TraceEvent.schemaVersion)), ("event", .string(kind)), ("t_ms", .number(offsetMilliseconds))]
                + fields
        )
    }

    /// The line written to the trace: compact JSON and a newline.
    package var line: String {
        String(decoding: lineBytes, as: UTF8.self)
    }

    /// Appends ``line`` to `fd` (a trace opened with O_APPEND) in one write(2), unless the kernel
    /// takes less. Returns 0 or an errno value.
    @discardableResult
    package func write(to fd: Int32) -> Int32 {
        let line = lineBytes
        return line.withUnsafeBufferPointer { spr_write_all(fd, $0.baseAddress!, $0.count) }
    }

    /// ``line`` as UTF-8 bytes, built without an intermediate String.
    package var lineBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        json.write(to: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }
}
