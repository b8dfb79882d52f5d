import ProbeCore

/// One line of a startup trace: an event and when it happened.
///
/// Every line carries `"v"` (the format version), `"event"` (the kind) and `"t_ms"` (milliseconds
/// since probe-exec started, from the monotonic clock), then the event's own fields.
/// `docs/trace.schema.json` describes each kind.
package struct TraceRecord: Sendable {
    /// The format version written in every line. 1: written by probe-exec 0.1 (some absent
    /// values written as `null`); 2: the typed model (absent values left out, except the fields
    /// the schema marks nullable). Both read alike.
    package static let schemaVersion = 2
    /// The keys every line carries before the event's own fields.
    package static let envelopeKeys: Set<String> = ["v", "event", "t_ms"]

    /// Milliseconds since the recorder's start, to the microsecond.
    package var offsetMilliseconds: Double
    /// What happened.
    package var event: TraceEvent
    /// The version of the line it was read from (``schemaVersion`` for new records).
    package var version: Int

    /// A record of `event` at `offsetMilliseconds`.
    package init(_ event: TraceEvent, at offsetMilliseconds: Double) {
        self.event = event
        self.offsetMilliseconds = (offsetMilliseconds * 1000).rounded() / 1000  // microseconds
        self.version = TraceRecord.schemaVersion
    }

    /// Reads a record back from a parsed trace line; nil when it lacks `event`.
    package init?(_ value: JSONValue) {
        guard case .object = value, let kind = value["event"]?.stringValue else { return nil }
        self.event = TraceEvent(kind: kind, json: value)
        self.offsetMilliseconds = value["t_ms"]?.doubleValue ?? 0
        self.version = value["v"]?.intValue ?? 1
    }

    /// The event's kind, as written in `event`.
    package var kind: String { event.kind }

    /// The event's own fields, as written.
    package var fields: [(String, JSONValue)] { event.fields }

    /// The field named `key`, as written (for tools and tests; code reads the typed payload).
    package subscript(key: String) -> JSONValue? {
        fields.first(where: { $0.0 == key })?.1
    }

    /// The whole line as one JSON object.
    package var json: JSONValue {
        .object(
            [("v", .int(version)), ("event", .string(kind)), ("t_ms", .number(offsetMilliseconds))]
                + fields
        )
    }

    /// The line written to the trace: compact JSON and a newline.
    package var line: String {
        String(decoding: lineBytes, as: UTF8.self)
    }

    /// ``line`` as UTF-8 bytes, built without an intermediate String.
    package var lineBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        json.write(to: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Appends ``line`` to `fd` (a trace opened with O_APPEND) in one write(2), unless the kernel
    /// takes less. Returns 0 or an errno value.
    @discardableResult
    package func write(to fd: Int32) -> Int32 {
        let line = lineBytes
        return SystemIO.writeAll(fd, line)
    }
}
