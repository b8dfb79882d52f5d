import ArgumentParser
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// `--otlp-file`, `--otlp-endpoint`, `--otlp-timeout`, `--service-name`: the run as OpenTelemetry logs.
struct OTLPOptions: ParsableArguments {
    /// `--otlp-file`.
    @Option(name: RunOptions.otlpFile.name, help: RunOptions.otlpFile.argumentHelp)
    var otlpFile: String?

    /// `--otlp-endpoint`.
    @Option(name: RunOptions.otlpEndpoint.name, help: RunOptions.otlpEndpoint.argumentHelp)
    var otlpEndpoint: String?

    /// `--otlp-timeout` (nil: not given; the default is ``EntrypointArguments``'s).
    @Option(name: RunOptions.otlpTimeout.name, help: RunOptions.otlpTimeout.argumentHelp)
    var otlpTimeout: Double?

    /// `--service-name`.
    @Option(name: RunOptions.serviceName.name, help: RunOptions.serviceName.argumentHelp)
    var serviceName: String?

    /// Checks the values with the rules the fast path applies (``OptionRules``).
    func validate() throws {
        try Validation.check(otlpEndpoint.flatMap(OptionRules.otlpEndpoint))
        try Validation.check(otlpTimeout.flatMap(OptionRules.otlpTimeout))
    }

    /// Each option, and whether the command line gave it.
    var given: [(RunOption, Bool)] {
        [
            (RunOptions.otlpFile, otlpFile != nil), (RunOptions.otlpEndpoint, otlpEndpoint != nil),
            (RunOptions.otlpTimeout, otlpTimeout != nil), (RunOptions.serviceName, serviceName != nil),
        ]
    }

    /// Copies the options into the run's arguments.
    func apply(to arguments: inout EntrypointArguments) {
        arguments.otlpFile = otlpFile
        arguments.otlpEndpoint = otlpEndpoint
        if let otlpTimeout { arguments.otlpTimeoutSeconds = otlpTimeout }
        arguments.serviceName = serviceName
    }
}
