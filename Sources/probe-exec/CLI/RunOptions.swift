import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// Every option of the run form, once: the one table both parsers read.
///
/// The entrypoint fast path (``EntrypointArguments/parse(_:environment:)``) accepts exactly these, in
/// their plain spellings, and sets ``EntrypointArguments`` with their ``RunOption/apply`` rules.
/// ``RunCommand`` and ``OTLPOptions`` declare the same options to ArgumentParser with the names and help
/// read from here; an option's default is the initial value of its ``EntrypointArguments`` field, which
/// both start from (and which `--help` shows). Both then read ``RunOption/environmentVariable`` for each
/// option the command line did not give (``EnvironmentOptions``). `RunOptionsTests` fails when the two
/// parsers accept different options or read a value differently.
enum RunOptions {
    /// `-o FILE`, `--trace FILE`. Its variable is not `PROBE_EXEC_TRACE`: probe-exec hands that one to the
    /// program (``HandOver/traceVariable``), and a probe-exec the program runs would write into this trace.
    static let trace = RunOption(
        "-o",
        "--trace",
        value: "FILE",
        environment: "PROBE_EXEC_TRACE_FILE",
        help: "Write the trace to FILE instead of a new file in the trace directory."
    ) {
        $0.trace = $1
        return true
    }

    /// `-g`, `--process-group`.
    static let processGroup = RunOption(
        "-g",
        "--process-group",
        help: "Forward signals to the program's whole process group, not to the program alone.",
        sets: { $0.processGroup = true }
    )

    /// `-s`, `--subreaper`.
    static let subreaper = RunOption(
        "-s",
        "--subreaper",
        help:
            "Be a child subreaper when not PID 1, the default: orphans are re-parented to probe-exec, reaped and named in the verdict.",
        sets: { $0.subreaper = true },
        unsets: { $0.subreaper = false }
    )

    /// `--no-subreaper`.
    static let noSubreaper = RunOption(
        "--no-subreaper",
        help: "Do not be a child subreaper: orphans of the program go to init, unseen by probe-exec.",
        sets: { $0.subreaper = false }
    )

    /// `-e CODE`, `--remap-exit CODE`, repeatable: each code is remapped to 0.
    static let remapExitCode = RunOption(
        "-e",
        "--remap-exit",
        value: "CODE",
        repeatable: true,
        help: "Exit 0 when the program exits with CODE, 0 to 255 (repeatable, as tini's -e)."
    ) {
        guard let code = Int32($1), OptionRules.exitCode(code) == nil else { return false }
        $0.remapExitCodes.append(code)
        return true
    }

    /// `-q`, `--quiet`.
    static let quiet = RunOption(
        "-q",
        "--quiet",
        help: "Do not print the diagnosis paragraph on abnormal exit (a program that cannot start is still reported).",
        sets: { $0.quiet = true }
    )

    /// `--pipe-tty`.
    static let pipeTerminals = RunOption(
        "--pipe-tty",
        help: "Capture stdout/stderr through pipes even when they are terminals.",
        sets: { $0.pipeTerminals = true }
    )

    /// `--no-ptrace`.
    static let noPtrace = RunOption(
        "--no-ptrace",
        help: "Do not trace the program with ptrace (no milestones, backtraces or per-signal delivery record).",
        sets: { $0.noPtrace = true }
    )

    /// `--follow-forks`.
    static let followForks = RunOption(
        "--follow-forks",
        help: "Also trace the program's forked child processes.",
        sets: { $0.followForks = true }
    )

    /// `--unbuffered`.
    static let unbuffered = RunOption(
        "--unbuffered",
        help: """
            Ask the program to write output as it goes (PYTHONUNBUFFERED=1; coreutils' stdbuf preload for C \
            programs). Changes its buffering: opt-in.
            """,
        sets: { $0.unbuffered = true }
    )

    /// `--service`.
    static let service = RunOption(
        "--service",
        help: """
            The program should run until told to stop: flag an exit on its own (placeholder commands, \
            daemonizing). Implies -s (the default anyway), also over --no-subreaper.
            """,
        sets: { $0.service = true }
    )

    /// `--keep-traces COUNT`.
    static let keepTraces = RunOption(
        "--keep-traces",
        value: "COUNT",
        default: String(EntrypointArguments().keepTraces),
        help: "Keep the newest COUNT traces of this program in the trace directory."
    ) {
        guard let count = Int($1), OptionRules.keepTraces(count) == nil else { return false }
        $0.keepTraces = count
        return true
    }

    /// `--termination-log PATH`.
    static let terminationLog = RunOption(
        "--termination-log",
        value: "PATH",
        help: """
            Write the diagnosis to PATH on abnormal exit (without it: /dev/termination-log when it exists and \
            is writable, as Kubernetes provides).
            """
    ) {
        $0.terminationLog = $1
        return true
    }

    /// `--grace-period SECONDS`.
    static let gracePeriod = RunOption(
        "--grace-period",
        value: "SECONDS",
        help: """
            After forwarding SIGTERM, SIGKILL the program's process group if it has not exited within SECONDS \
            (without it: no SIGKILL).
            """
    ) {
        guard let seconds = Double($1), OptionRules.gracePeriod(seconds) == nil else { return false }
        $0.gracePeriodSeconds = seconds
        return true
    }

    /// `--kill-leftovers`.
    static let killLeftovers = RunOption(
        "--kill-leftovers",
        help: """
            After the program exits, SIGTERM the processes it left running (as PID 1 or a subreaper, the default), and SIGKILL \
            them after --grace-period SECONDS, or 5.
            """,
        sets: { $0.killLeftovers = true }
    )

    /// `--signal-delay MS`.
    static let signalDelay = RunOption(
        "--signal-delay",
        value: "MS",
        help: "Hold SIGTERM MS milliseconds before forwarding it (lets load balancers drain)."
    ) {
        guard let milliseconds = Int($1), OptionRules.signalDelay(milliseconds) == nil else { return false }
        $0.signalDelayMilliseconds = milliseconds
        return true
    }

    /// `-p SIGNAL`, `--parent-death-signal SIGNAL`.
    static let parentDeathSignal = RunOption(
        "-p",
        "--parent-death-signal",
        value: "SIGNAL",
        help: """
            When probe-exec's parent dies, probe-exec gets SIGNAL and forwards it, as tini's -p; the program \
            gets SIGNAL if probe-exec itself dies.
            """
    ) {
        guard let signal = SignalName.number($1) else { return false }
        $0.parentDeathSignal = signal
        return true
    }

    /// `--map-signal FROM:TO`, repeatable.
    static let mapSignal = RunOption(
        "--map-signal",
        value: "FROM:TO",
        repeatable: true,
        help: "Rewrite signal FROM to TO before forwarding it (names or numbers, e.g. TERM:QUIT); repeatable."
    ) {
        guard let (from, to) = EntrypointArguments.signalMapping($1) else { return false }
        $0.signalMap.map(from, to: to)
        return true
    }

    /// `--redact REGEX`.
    static let redact = RunOption(
        "--redact",
        value: "REGEX",
        help: """
            Mask matches of REGEX in what the trace keeps from the program (arguments, output tails); its real \
            output is unchanged.
            """
    ) {
        guard OptionRules.regularExpression($1, option: "--redact") == nil else { return false }
        $0.redact = $1
        return true
    }

    /// `--otlp-file PATH`.
    static let otlpFile = RunOption(
        "--otlp-file",
        value: "PATH",
        help: """
            Append the run to PATH as OpenTelemetry logs: one OTLP/JSON ExportLogsServiceRequest per line \
            (what a Collector's otlpjsonfile receiver reads).
            """
    ) {
        $0.otlpFile = $1
        return true
    }

    /// `--otlp-endpoint URL`.
    static let otlpEndpoint = RunOption(
        "--otlp-endpoint",
        value: "URL",
        help: """
            Send the run as OTLP/HTTP JSON to the Collector at URL when the program has exited, e.g. \
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
        value: "SECONDS",
        default: RunOption.text(EntrypointArguments().otlpTimeoutSeconds),
        help: "The export to --otlp-endpoint, retries included, ends within SECONDS."
    ) {
        guard let seconds = Double($1), OptionRules.otlpTimeout(seconds) == nil else { return false }
        $0.otlpTimeoutSeconds = seconds
        return true
    }

    /// `--service-name NAME`.
    static let serviceName = RunOption(
        "--service-name",
        value: "NAME",
        help: "OpenTelemetry service.name for --otlp-* (without it: $OTEL_SERVICE_NAME, else the program's file name)."
    ) {
        $0.serviceName = $1
        return true
    }

    /// Every option, in the order `--help` lists them.
    static let all = [
        trace, processGroup, subreaper, noSubreaper, remapExitCode, quiet, pipeTerminals, noPtrace, followForks,
        unbuffered,
        service, keepTraces, terminationLog, gracePeriod, killLeftovers, signalDelay, parentDeathSignal, mapSignal,
        redact, otlpFile, otlpEndpoint, otlpTimeout, serviceName,
    ]

    /// The names of probe-exec's subcommands (and ArgumentParser's `help`): a first argument that is one
    /// of them is not a program (`probe-exec show`), so such a program needs `--` (`probe-exec -- show`).
    static let subcommandNames = ["run", "show", "check", "detach", "help"]

    /// The option spelt `name` (`-o`, `--trace`), if there is one.
    static func named(_ name: String) -> RunOption? {
        for option in all where option.names.contains(name) { return option }
        return nil
    }
}
