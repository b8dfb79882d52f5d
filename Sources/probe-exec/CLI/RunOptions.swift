import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// Every option of the run form, once: the one table both parsers read.
///
/// The entrypoint fast path (``EntrypointArguments/parse(_:)``) accepts exactly these, in their plain
/// spellings, and sets ``EntrypointArguments`` with their ``RunOption/apply`` rules. ``RunCommand`` and
/// ``OTLPOptions`` declare the same options to ArgumentParser with the names and help read from here;
/// an option's default is the initial value of its ``EntrypointArguments`` field, which both start from.
/// `RunOptionsTests` fails when the two parsers accept different options or read a value differently.
enum RunOptions {
    /// `-o FILE`, `--trace FILE`.
    static let trace = RunOption("-o", "--trace", value: "file", help: "Write the trace to this file.") {
        $0.trace = $1
        return true
    }

    /// `-g`.
    static let processGroup = RunOption(
        "-g",
        help: "Forward signals to the child's whole process group.",
        sets: \.processGroup
    )

    /// `-s`.
    static let subreaper = RunOption(
        "-s",
        help: "Register as a child subreaper (when not running as PID 1).",
        sets: \.subreaper
    )

    /// `-e CODE`, repeatable: each code is remapped to 0.
    static let remapExitCode = RunOption(
        "-e",
        value: "code",
        help: "Remap this exit code to 0 (repeatable, as tini's -e)."
    ) {
        guard let code = Int32($1), OptionRules.exitCode(code) == nil else { return false }
        $0.remapExitCodes.append(code)
        return true
    }

    /// `-q`.
    static let quiet = RunOption(
        "-q",
        help: "Do not print the diagnosis paragraph on abnormal exit.",
        sets: \.quiet
    )

    /// `--pipe-tty`.
    static let pipeTerminals = RunOption(
        "--pipe-tty",
        help: "Capture stdout/stderr through pipes even when they are terminals.",
        sets: \.pipeTerminals
    )

    /// `--no-ptrace`.
    static let noPtrace = RunOption(
        "--no-ptrace",
        help: "Do not trace the program with ptrace (no backtraces, no per-signal delivery record).",
        sets: \.noPtrace
    )

    /// `--follow-forks`.
    static let followForks = RunOption(
        "--follow-forks",
        help: "Also trace the program's forked child processes.",
        sets: \.followForks
    )

    /// `--unbuffered`.
    static let unbuffered = RunOption(
        "--unbuffered",
        help: """
            Ask the program to write output as it goes (PYTHONUNBUFFERED=1; coreutils' stdbuf preload for C \
            programs). Changes its buffering: opt-in.
            """,
        sets: \.unbuffered
    )

    /// `--service`.
    static let service = RunOption(
        "--service",
        help: """
            The program should run until told to stop: flag an exit on its own (placeholder commands, \
            daemonizing). Implies -s.
            """,
        sets: \.service
    )

    /// `--keep-traces N`.
    static let keepTraces = RunOption(
        "--keep-traces",
        value: "n",
        help: "How many traces of this program to keep in the trace directory."
    ) {
        guard let count = Int($1), OptionRules.keepTraces(count) == nil else { return false }
        $0.keepTraces = count
        return true
    }

    /// `--termination-log PATH`.
    static let terminationLog = RunOption(
        "--termination-log",
        value: "path",
        help: """
            Write the diagnosis here on abnormal exit (default: /dev/termination-log when it exists and is \
            writable, as Kubernetes provides).
            """
    ) {
        $0.terminationLog = $1
        return true
    }

    /// `--grace-period SECONDS`.
    static let gracePeriod = RunOption(
        "--grace-period",
        value: "seconds",
        help: "After forwarding SIGTERM, SIGKILL the program's process group if it has not exited within SECONDS."
    ) {
        guard let seconds = Double($1), OptionRules.gracePeriod(seconds) == nil else { return false }
        $0.gracePeriodSeconds = seconds
        return true
    }

    /// `--kill-leftovers`.
    static let killLeftovers = RunOption(
        "--kill-leftovers",
        help: "After the program exits, SIGTERM then SIGKILL the processes it left running (as PID 1 or with -s).",
        sets: \.killLeftovers
    )

    /// `--signal-delay MS`.
    static let signalDelay = RunOption(
        "--signal-delay",
        value: "ms",
        help: "Hold SIGTERM this many milliseconds before forwarding it (lets load balancers drain)."
    ) {
        guard let milliseconds = Int($1), OptionRules.signalDelay(milliseconds) == nil else { return false }
        $0.signalDelayMilliseconds = milliseconds
        return true
    }

    /// `-p SIGNAL`.
    static let parentDeathSignal = RunOption(
        "-p",
        value: "signal",
        help: """
            Signal probe-exec receives (and forwards) when its parent dies, as tini's -p; the program gets it if \
            probe-exec itself dies.
            """
    ) {
        guard let signal = SignalName.number($1) else { return false }
        $0.parentDeathSignal = signal
        return true
    }

    /// `--map-signal FROM:TO`, repeatable.
    static let mapSignal = RunOption(
        "--map-signal",
        value: "from:to",
        help: "Rewrite a signal before forwarding it, FROM:TO (e.g. TERM:QUIT); repeatable."
    ) {
        guard let (from, to) = EntrypointArguments.signalMapping($1) else { return false }
        $0.signalMap.map(from, to: to)
        return true
    }

    /// `--redact REGEX`.
    static let redact = RunOption(
        "--redact",
        value: "regex",
        help: """
            Mask matches of this regular expression in the output tails kept in the trace (the output itself is \
            unchanged).
            """
    ) {
        guard OptionRules.regularExpression($1, option: "--redact") == nil else { return false }
        $0.redact = $1
        return true
    }

    /// `--otlp-file PATH`.
    static let otlpFile = RunOption(
        "--otlp-file",
        value: "path",
        help: """
            Append the run to this file as OpenTelemetry logs: one OTLP/JSON ExportLogsServiceRequest per line \
            (what a Collector's otlpjsonfile receiver reads).
            """
    ) {
        $0.otlpFile = $1
        return true
    }

    /// `--otlp-endpoint URL`.
    static let otlpEndpoint = RunOption(
        "--otlp-endpoint",
        value: "url",
        help: """
            Send the run as OTLP/HTTP JSON to this Collector when the program has exited, e.g. \
            http://localhost:4318 (path /v1/logs unless given; headers from $OTEL_EXPORTER_OTLP_HEADERS). Never \
            changes the exit status.
            """
    ) {
        guard OptionRules.otlpEndpoint($1) == nil else { return false }
        $0.otlpEndpoint = $1
        return true
    }

    /// `--otlp-timeout SECONDS`.
    static let otlpTimeout = RunOption(
        "--otlp-timeout",
        value: "seconds",
        help: "The export to --otlp-endpoint, retries included, ends within SECONDS."
    ) {
        guard let seconds = Double($1), OptionRules.otlpTimeout(seconds) == nil else { return false }
        $0.otlpTimeoutSeconds = seconds
        return true
    }

    /// `--service-name NAME`.
    static let serviceName = RunOption(
        "--service-name",
        value: "name",
        help: "OpenTelemetry service.name for --otlp-* (default $OTEL_SERVICE_NAME, else the program's file name)."
    ) {
        $0.serviceName = $1
        return true
    }

    /// Every option, in the order `--help` lists them.
    static let all = [
        trace, processGroup, subreaper, remapExitCode, quiet, pipeTerminals, noPtrace, followForks, unbuffered,
        service, keepTraces, terminationLog, gracePeriod, killLeftovers, signalDelay, parentDeathSignal, mapSignal,
        redact, otlpFile, otlpEndpoint, otlpTimeout, serviceName,
    ]

    /// The option spelt `name` (`-o`, `--trace`), if there is one.
    static func named(_ name: String) -> RunOption? {
        for option in all where option.names.contains(name) { return option }
        return nil
    }
}
