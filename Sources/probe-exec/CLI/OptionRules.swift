import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// The rules for the values of probe-exec's options, in one place: the entrypoint fast path
/// (``EntrypointArguments/parse(_:environment:)``) rejects a value that breaks one (and ArgumentParser then takes
/// over), and the ArgumentParser commands show the sentence. Each rule returns nil when the value is
/// acceptable, else what is wrong, naming the option.
enum OptionRules {
    /// `-e CODE`: an exit code, 0…255.
    static func exitCode(_ code: Int32) -> String? {
        (0...255).contains(code) ? nil : "-e takes an exit code from 0 to 255, not \(code)"
    }

    /// `--grace-period SECONDS`: 0 or more.
    static func gracePeriod(_ seconds: Double) -> String? {
        seconds >= 0 ? nil : "--grace-period takes 0 or more seconds"
    }

    /// `--signal-delay MS`: 0 or more.
    static func signalDelay(_ milliseconds: Int) -> String? {
        milliseconds >= 0 ? nil : "--signal-delay takes 0 or more milliseconds"
    }

    /// `--keep-traces N`: 1 or more.
    static func keepTraces(_ count: Int) -> String? {
        count >= 1 ? nil : "--keep-traces takes 1 or more"
    }

    /// `--redact`, `--ready-line`: a regular expression.
    static func regularExpression(_ pattern: String, option: String) -> String? {
        do {
            _ = try Regex(pattern)
            return nil
        } catch {
            return "\(option) is not a valid regular expression: \(error)"
        }
    }

    /// `-p SIGNAL`: a signal name or number.
    static func parentDeathSignal(_ text: String) -> String? {
        SignalName.number(text) != nil ? nil : "-p takes a signal name or number, not \(text)"
    }

    /// `--map-signal FROM:TO`.
    static func signalMapping(_ text: String) -> String? {
        EntrypointArguments.signalMapping(text) != nil
            ? nil : "--map-signal takes FROM:TO signal names or numbers, such as TERM:QUIT, not \(text)"
    }

    /// `--otlp-endpoint URL`: plain HTTP.
    static func otlpEndpoint(_ url: String) -> String? {
        OTLPHTTPExporter.Endpoint(url: url) != nil
            ? nil
            : "--otlp-endpoint takes http://HOST[:PORT][/PATH], not \(url) (https is not supported: send to a Collector or agent beside the service)"
    }

    /// `--otlp-timeout SECONDS`: more than 0.
    static func otlpTimeout(_ seconds: Double) -> String? {
        seconds > 0 ? nil : "--otlp-timeout takes more than 0 seconds"
    }
}
