import ArgumentParser
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// `--otlp-file`, `--otlp-endpoint`, `--otlp-timeout`, `--service-name`: the run as OpenTelemetry logs.
struct OTLPOptions: ParsableArguments {
    @Option(
        name: .customLong("otlp-file"),
        help:
            "Append the run to this file as OpenTelemetry logs: one OTLP/JSON ExportLogsServiceRequest per line (what a Collector's otlpjsonfile receiver reads)."
    )
    var otlpFile: String?

    @Option(
        name: .customLong("otlp-endpoint"),
        help:
            "Send the run as OTLP/HTTP JSON to this Collector when the program has exited, e.g. http://localhost:4318 (path /v1/logs unless given; headers from $OTEL_EXPORTER_OTLP_HEADERS). Never changes the exit status."
    )
    var otlpEndpoint: String?

    @Option(
        name: .customLong("otlp-timeout"),
        help: "The export to --otlp-endpoint, retries included, ends within SECONDS (default 2)."
    )
    var otlpTimeout: Double = 2

    @Option(
        name: .customLong("service-name"),
        help: "OpenTelemetry service.name for --otlp-* (default $OTEL_SERVICE_NAME, else the program's file name)."
    )
    var serviceName: String?

    func validate() throws {
        try Validation.check(otlpEndpoint.flatMap(OptionRules.otlpEndpoint))
        try Validation.check(OptionRules.otlpTimeout(otlpTimeout))
    }

    /// Copies the options into the run's arguments.
    func apply(to arguments: inout EntrypointArguments) {
        arguments.otlpFile = otlpFile
        arguments.otlpEndpoint = otlpEndpoint
        arguments.otlpTimeoutSeconds = otlpTimeout
        arguments.serviceName = serviceName
    }
}
