import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// The arguments of probe-exec's run form, `probe-exec [OPTIONS] [--] PROGRAM [ARGS…]`, with the options of
/// ``RunOptions``. The initial value of each field is the option's default.
///
/// probe-exec runs before every start of a service, so the exact entrypoint form is parsed here
/// without ArgumentParser (which costs about a millisecond per start in a static build,
/// measured by `scripts/bench.sh`). ``parse(_:environment:)`` accepts only that form and returns nil for
/// anything else — help, `show`, unknown or combined flags, errors — which the executable then
/// hands to ArgumentParser, so users see one grammar and one set of messages.
struct EntrypointArguments: Sendable, Equatable {
    /// `-o` / `--trace`.
    var trace: String?
    /// `-g`.
    var processGroup = false
    /// `-s` (the default), `--no-subreaper`.
    var subreaper = true
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
    /// The program and its arguments (everything from the program on, or after `--`).
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

    /// Parses the arguments after the executable's name; nil unless they are exactly the run form: options
    /// of ``RunOptions``, each spelt out on its own with its value as the next argument, then the program
    /// (after `--`, or as the first argument that is not an option and not a subcommand name) and its
    /// arguments, options included. A value never begins with `-` here (ArgumentParser would read it as an
    /// option), and a value an option's rule rejects makes the whole line ArgumentParser's, which explains
    /// the problem. Then each option the line did not give is read from `environment` (the process's
    /// when nil; ``EnvironmentOptions``); a variable whose value is not accepted also leaves the line to
    /// ArgumentParser.
    static func parse(
        _ arguments: [String],
        environment: ((String) -> String?)? = nil
    ) -> EntrypointArguments? {
        var result = EntrypointArguments()
        var given: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                result.command = Array(arguments[(index + 1)...])
                break
            }
            if !argument.hasPrefix("-") {
                // The program, unless it names a subcommand (or is empty: ArgumentParser says so).
                guard !argument.isEmpty, !RunOptions.subcommandNames.contains(argument) else { return nil }
                result.command = Array(arguments[index...])
                break
            }
            index += 1
            guard let option = RunOptions.named(argument) else { return nil }
            var value = ""
            if option.takesValue {
                guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
                value = arguments[index]
                index += 1
            }
            guard option.apply(&result, value) else { return nil }
            given.append(option.names[0])
        }
        guard !result.command.isEmpty else { return nil }
        // The process's environment (nil) is read only when it names an option's variable at all.
        if environment != nil || EnvironmentOptions.processMaySetOptions {
            let read = environment ?? EnvironmentOptions.process
            guard EnvironmentOptions.apply(to: &result, except: given, environment: read) == nil else { return nil }
        }
        return result
    }

    /// The first argument when it is a cluster of short options (`-qs`) holding a letter that no
    /// short option has (`-dash`), or nil. Looked at only when the fast path declined.
    static func unknownShortCluster(_ arguments: [String]) -> String? {
        guard let first = arguments.first, first.hasPrefix("-"), !first.hasPrefix("--"), first.count > 2 else {
            return nil
        }
        let letters = RunOptions.all.flatMap(\.names).filter { $0.count == 2 && $0 != "--" }.compactMap(\.last) + ["h"]
        return first.dropFirst().allSatisfy(letters.contains) ? nil : first
    }
}
