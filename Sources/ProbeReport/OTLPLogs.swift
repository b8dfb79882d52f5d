import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// A run's trace as OpenTelemetry logs: one `ExportLogsServiceRequest` in the OTLP/JSON encoding
/// (the proto3 JSON mapping: lowerCamelCase names, 64-bit integers as strings, enums as numbers),
/// which a Collector's OTLP/HTTP receiver accepts at `/v1/logs` and its `otlpjsonfile` receiver
/// reads one per line.
///
/// One resource per run, described with OpenTelemetry semantic conventions (`service.name`,
/// `process.*`, `host.name`, `os.*`); one log record per trace event, its body the line `show`
/// prints, its attributes `event.name` = `probe_exec.<kind>` and the event's fields as
/// `probe_exec.<field>`.
package enum OTLPLogs {
    /// The instrumentation scope named in every export.
    package static let scopeName = "probe-exec"

    /// The request for `events` (a run's trace, in order).
    /// - Parameters:
    ///   - events: the run's events; the `start` event gives the wall-clock origin.
    ///   - serviceName: `service.name`; nil: the program's file name.
    ///   - extraResource: more resource attributes (from `OTEL_RESOURCE_ATTRIBUTES`).
    ///   - version: probe-exec's version, for the scope.
    package static func request(
        events: [TraceRecord],
        serviceName: String?,
        extraResource: [(String, String)] = [],
        version: String
    ) -> JSONValue {
        let startRecord = events.first { $0.kind == "start" }
        var start: TraceEvent.Start? = nil
        if case .start(let e) = startRecord?.event { start = e }
        var exec: TraceEvent.Exec? = nil
        if case .exec(let e) = events.first(where: { $0.kind == "exec" })?.event { exec = e }
        let argv = start?.argv ?? []
        let program = exec?.path ?? argv.first ?? "program"
        let name = program.lastPathComponent
        var resource: [(String, JSONValue)] = [("service.name", .string(serviceName ?? name))]
        if let pid = exec?.pid { resource.append(("process.pid", .int(pid))) }
        if let pid = start?.pid { resource.append(("process.parent_pid", .int(pid))) }
        resource.append(("process.executable.name", .string(name)))
        if let path = exec?.path { resource.append(("process.executable.path", .string(path))) }
        if !argv.isEmpty { resource.append(("process.command_args", .strings(argv))) }
        if let host = start?.host { resource.append(("host.name", .string(host))) }
        resource.append(("os.type", "linux"))
        if let kernel = start?.kernel { resource.append(("os.description", .string(kernel))) }
        for (key, value) in extraResource where !resource.contains(where: { $0.0 == key }) {
            resource.append((key, .string(value)))
        }

        let origin = wallClockOrigin(start, at: startRecord?.offsetMilliseconds ?? 0)
        let records = events.filter { $0.kind != "modules" }.map { record(for: $0, origin: origin) }
        return .object([
            (
                "resourceLogs",
                .array([
                    .object([
                        ("resource", .object([("attributes", attributes(resource))])),
                        (
                            "scopeLogs",
                            .array([
                                .object([
                                    ("scope", .object([("name", .string(scopeName)), ("version", .string(version))])),
                                    ("logRecords", .array(records)),
                                ])
                            ])
                        ),
                    ])
                ])
            )
        ])
    }

    /// Nanoseconds since the epoch at t_ms = 0, from the start event's clock reading.
    private static func wallClockOrigin(_ start: TraceEvent.Start?, at offsetMilliseconds: Double) -> Double {
        guard let realtime = start?.clock?.realtimeSeconds else { return 0 }
        return realtime * 1e9 - offsetMilliseconds * 1e6
    }

    private static func record(for event: TraceRecord, origin: Double) -> JSONValue {
        let (number, text) = severity(of: event)
        var fields: [(String, JSONValue)] = [("event.name", .string("probe_exec." + event.kind))]
        fields.append(("probe_exec.t_ms", .number(event.offsetMilliseconds)))
        for (key, value) in event.fields { fields.append(("probe_exec." + key, value)) }
        let time = nanosecondText(origin + event.offsetMilliseconds * 1e6)
        var body = ReportRenderer.describe(event)
        if case .verdict(let verdict) = event.event { body = verdict.summary }
        return .object([
            ("timeUnixNano", .string(time)), ("observedTimeUnixNano", .string(time)),
            ("severityNumber", .int(number)), ("severityText", .string(text)),
            ("body", .object([("stringValue", .string(body))])),
            ("attributes", attributes(fields)),
        ])
    }

    /// OpenTelemetry severity numbers: INFO 9, WARN 13, ERROR 17.
    private static func severity(of record: TraceRecord) -> (Int, String) {
        let info = (9, "INFO")
        let warn = (13, "WARN")
        let error = (17, "ERROR")
        switch record.event {
        case .verdict(let e): return ["clean_exit", "stopped_on_request"].contains(e.category) ? info : error
        case .crash, .backtrace, .programError, .missingLibraries, .portInUse, .notReady: return error
        case .exec(let e): return e.ok ? info : error
        case .exit(let e): return e.signal != nil || (e.code ?? 0) != 0 ? warn : info
        case .signal, .targetSignal, .programSignal, .warning, .lostOutput, .graceExpired, .leftovers, .outputError,
            .memoryCgroup:
            return warn
        case .start, .tracing, .output, .tail, .targetExec, .milestone, .listen, .ready, .mainReached, .modules,
            .otlpExport, .unknown:
            return info
        }
    }

    /// `[{"key": …, "value": AnyValue}]`.
    private static func attributes(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .array(pairs.map { .object([("key", .string($0.0)), ("value", anyValue($0.1))]) })
    }

    /// The OTLP `AnyValue` for a trace value: scalars and arrays as themselves (integers as
    /// strings, as the JSON mapping of int64 wants), objects as key/value lists.
    private static func anyValue(_ value: JSONValue) -> JSONValue {
        switch value {
        case .null: return .object([])  // an AnyValue with no value set: "empty"
        case .bool(let b): return .object([("boolValue", .bool(b))])
        case .number(let d):
            if d.rounded() == d && abs(d) < 9.0e15 { return .object([("intValue", .string(String(Int64(d))))]) }
            return .object([("doubleValue", .number(d))])
        case .string(let s): return .object([("stringValue", .string(s))])
        case .array(let items): return .object([("arrayValue", .object([("values", .array(items.map(anyValue)))]))])
        case .object(let pairs):
            return .object([("kvlistValue", .object([("values", attributes(pairs))]))])
        }
    }

    private static func nanosecondText(_ nanoseconds: Double) -> String {
        nanoseconds > 0 && nanoseconds < 9.2e18 ? String(UInt64(nanoseconds)) : "0"
    }

    /// `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`, values percent-encoded) as pairs; pairs
    /// without `=` are skipped, as the specification says.
    package static func resourceAttributes(fromEnvironment text: String?) -> [(String, String)] {
        guard let text else { return [] }
        return text.split(separator: ",").compactMap { pair in
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            let key = pair[..<equals].trimmingSpaces
            guard !key.isEmpty else { return nil }
            return (key, percentDecoded(pair[pair.index(after: equals)...].trimmingSpaces))
        }
    }

    private static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
