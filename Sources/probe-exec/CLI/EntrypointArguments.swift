import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// The arguments of probe-exec's run form, `probe-exec [-g] [-s] [-q] [--pipe-tty] [--no-ptrace]
/// [--follow-forks] [--unbuffered] [--service] [-e CODE]… [-o FILE | --trace FILE] [--otlp-…] -- PROGRAM [ARGS…]`.
///
/// probe-exec runs before every start of a service, so the exact entrypoint form is parsed here
/// without ArgumentParser (which costs about a millisecond per start in a static build,
/// measured by `scripts/bench.sh`). ``parse(_:)`` accepts only that form and returns nil for
/// anything else — help, `show`, unknown or combined flags, errors — which the executable then
/// hands to ArgumentParser, so users see one grammar and one set of messages.
struct EntrypointArguments: Sendable, Equatable {
    /// `-o` / `--trace`.
    var trace: String?
    /// `-g`.
    var processGroup = false
    /// `-s`.
    var subreaper = false
    /// `-q`.
    var quiet = false
    /// `--pipe-tty`.
    var pipeTerminals = false
    /// `--no-ptrace`.
    var noPtrace = false
    /// `--follow-forks`.
    var followForks = false
    /// `--unbuffered`.
    var unbuffered = false
    /// `--service`.
    var service = false
    /// `--keep-traces N`: traces of this program kept in the trace directory.
    var keepTraces = TraceHistory.defaultKeep
    /// `--termination-log PATH` (Kubernetes); nil: /dev/termination-log when it is writable.
    var terminationLog: String?
    /// `--grace-period SECONDS`.
    var gracePeriodSeconds: Double?
    /// `--kill-leftovers`.
    var killLeftovers = false
    /// `--signal-delay MS`.
    var signalDelayMilliseconds: Int?
    /// `-p SIGNAL`.
    var parentDeathSignal: Int32?
    /// `--map-signal FROM:TO`, repeatable.
    var signalMap = SignalMap()
    /// `--redact REGEX`.
    var redact: String?
    /// `--otlp-file PATH`: append the run as one OTLP/JSON logs request (a line) to this file.
    var otlpFile: String?
    /// `--otlp-endpoint URL`: POST the run as OTLP/HTTP JSON to this Collector (`http://` only).
    var otlpEndpoint: String?
    /// `--otlp-timeout SECONDS`: the export to the endpoint ends within this (default 2).
    var otlpTimeoutSeconds = 2.0
    /// `--service-name NAME`: OpenTelemetry `service.name` (default `$OTEL_SERVICE_NAME`, else the program's name).
    var serviceName: String?
    /// `-e CODE`, in order.
    var remapExitCodes: [Int32] = []
    /// The program and its arguments (everything after `--`).
    var command: [String] = []

    /// Makes an empty set of arguments.
    init() {}

    /// `TERM:INT` (names or numbers) as a pair of signal numbers.
    static func signalMapping(_ text: String) -> (Int32, Int32)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let from = SignalName.number(String(parts[0])),
            let to = SignalName.number(String(parts[1]))
        else { return nil }
        return (from, to)
    }

    /// Parses the arguments after the executable's name; nil unless they are exactly the run form.
    static func parse(_ arguments: [String]) -> EntrypointArguments? {
        var result = EntrypointArguments()
        var index = 0
        /// The option's value: the next argument, consumed; nil when there is none.
        func value() -> String? {
            guard index < arguments.count else { return nil }
            index += 1
            return arguments[index - 1]
        }
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--":
                result.command = Array(arguments[index...])
                return result.command.isEmpty ? nil : result
            case "-g": result.processGroup = true
            case "-s": result.subreaper = true
            case "-q": result.quiet = true
            case "--pipe-tty": result.pipeTerminals = true
            case "--no-ptrace": result.noPtrace = true
            case "--follow-forks": result.followForks = true
            case "--unbuffered": result.unbuffered = true
            case "--service": result.service = true
            case "--kill-leftovers": result.killLeftovers = true
            case "-e":
                guard let code = value().flatMap({ Int32($0) }), OptionRules.exitCode(code) == nil else { return nil }
                result.remapExitCodes.append(code)
            case "--redact":
                guard let pattern = value(), OptionRules.regularExpression(pattern, option: argument) == nil else {
                    return nil
                }
                result.redact = pattern
            case "--grace-period":
                guard let seconds = value().flatMap({ Double($0) }), OptionRules.gracePeriod(seconds) == nil else {
                    return nil
                }
                result.gracePeriodSeconds = seconds
            case "--signal-delay":
                guard let milliseconds = value().flatMap({ Int($0) }), OptionRules.signalDelay(milliseconds) == nil
                else {
                    return nil
                }
                result.signalDelayMilliseconds = milliseconds
            case "-p":
                guard let signal = value().flatMap(SignalName.number) else { return nil }
                result.parentDeathSignal = signal
            case "--map-signal":
                guard let (from, to) = value().flatMap(Self.signalMapping) else { return nil }
                result.signalMap.map(from, to: to)
            case "--keep-traces":
                guard let count = value().flatMap({ Int($0) }), OptionRules.keepTraces(count) == nil else { return nil }
                result.keepTraces = count
            case "--termination-log":
                guard let path = value(), !path.hasPrefix("-") else { return nil }
                result.terminationLog = path
            case "--otlp-file":
                guard let path = value(), !path.hasPrefix("-") else { return nil }
                result.otlpFile = path
            case "--otlp-endpoint":
                guard let url = value(), OptionRules.otlpEndpoint(url) == nil else { return nil }
                result.otlpEndpoint = url
            case "--otlp-timeout":
                guard let seconds = value().flatMap({ Double($0) }), OptionRules.otlpTimeout(seconds) == nil else {
                    return nil
                }
                result.otlpTimeoutSeconds = seconds
            case "--service-name":
                guard let name = value(), !name.isEmpty else { return nil }
                result.serviceName = name
            case "-o", "--trace":
                guard result.trace == nil, let path = value(), !path.hasPrefix("-") else { return nil }
                result.trace = path
            default:
                return nil
            }
        }
        return nil
    }
}
