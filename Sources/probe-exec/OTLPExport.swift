import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `--otlp-file` and `--otlp-endpoint`: the finished run as OpenTelemetry logs. Fails open: what
/// cannot be exported is said once on stderr and noted in the trace; the exit status never changes.
enum OTLPExport {
    static func wanted(_ arguments: EntrypointArguments) -> Bool {
        arguments.otlpFile != nil || arguments.otlpEndpoint != nil
    }

    /// Exports `writer`'s events as `arguments` ask, then notes the outcome in the trace.
    static func run(_ writer: TraceWriter, arguments: EntrypointArguments) {
        guard wanted(arguments) else { return }
        let request = OTLPLogs.request(
            events: writer.keptEvents,
            serviceName: arguments.serviceName ?? ProcessEnvironment.value(of: "OTEL_SERVICE_NAME"),
            extraResource: OTLPLogs.resourceAttributes(
                fromEnvironment: ProcessEnvironment.value(of: "OTEL_RESOURCE_ATTRIBUTES")
            ),
            version: ProbeExec.version
        )
        let text = request.serialized
        let started = TraceClock.nowNanoseconds
        var event = TraceEvent.OTLPExport()
        event.records = writer.keptEvents.count
        if let path = arguments.otlpFile {
            let error = appendLine(text, to: path)
            event.file = path
            if error != 0 {
                let problem = SystemError(error).description
                event.fileError = problem
                StandardError.say("cannot write the OTLP file \(path): \(problem); the run is not exported there")
            }
        }
        if let url = arguments.otlpEndpoint, let endpoint = OTLPHTTPExporter.Endpoint(url: url) {
            let exporter = OTLPHTTPExporter(
                endpoint: endpoint,
                timeoutSeconds: arguments.otlpTimeoutSeconds,
                headers: OTLPHTTPExporter.headers(
                    fromEnvironment: ProcessEnvironment.value(of: "OTEL_EXPORTER_OTLP_HEADERS")
                ),
                userAgent: "probe-exec/\(ProbeExec.version)"
            )
            event.endpoint = url
            switch exporter.export(text) {
            case .delivered(let attempts):
                event.delivered = true
                event.attempts = attempts
            case .failed(let problem, let attempts):
                event.delivered = false
                event.attempts = attempts
                event.endpointError = problem
                StandardError.say(
                    "could not export the run to \(url): \(problem) (\(attempts) attempt\(attempts == 1 ? "" : "s")); the exit status is unchanged"
                )
            }
        }
        let milliseconds = Double(TraceClock.nowNanoseconds - started) / 1e6
        event.durationMilliseconds = (milliseconds * 1000).rounded() / 1000
        writer.append(TraceRecord(.otlpExport(event), at: TraceClock.processStart.milliseconds()))
    }

    /// Appends one line (0600, never through a symbolic link). Returns 0 or an errno value.
    private static func appendLine(_ text: String, to path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let line = text + "\n"
        return SystemIO.writeAll(fd, line)
    }
}
