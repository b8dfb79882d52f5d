import ArgumentParser
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

/// `probe-exec [options] -- PROGRAM [ARGS…]`: supervise a program and record its startup trace.
struct RunCommand: ParsableCommand {
    /// `run`, the default subcommand, and its help.
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run PROGRAM as a supervised child (the default: `probe-exec -- PROGRAM`).",
        discussion: """
            Traces go to --trace FILE, else to $PROBE_EXEC_TRACE_DIR, else to \
            ${TMPDIR:-/tmp}/probe-exec-<uid>/, named <program>-<pid>-<UTC time>.ndjson, with a `latest` link.
            When stdout or stderr is a terminal it is passed to the program unchanged (colours, line \
            buffering, Ctrl-C and Ctrl-Z behave as without probe-exec) and its output is not captured; \
            --pipe-tty captures it through a pipe instead.

            EXAMPLES:
              probe-exec -- ./server --port 2000
              probe-exec -o /var/log/probe/run.ndjson --keep-traces 50 -- ./server
              # SIGTERM to the whole group, SIGKILL after 10 s, then clean up leftovers
              probe-exec -g --grace-period 10 --kill-leftovers -- ./app
              # hold SIGTERM 5 s so the load balancer drains first
              probe-exec --signal-delay 5000 -- ./api
              # nginx stops gracefully on SIGQUIT
              probe-exec --map-signal TERM:QUIT -- nginx -g 'daemon off;'
              # a worker that must keep running: an exit on its own is an error
              probe-exec --service -- ./worker
              # the run as OpenTelemetry logs, to a file or a Collector
              probe-exec --otlp-file /var/log/probe/runs.jsonl -- ./app
              probe-exec --otlp-endpoint http://otel-collector:4318 -- ./api
            """
    )

    /// `-o`, `--trace`.
    @Option(name: RunOptions.trace.name, help: RunOptions.trace.argumentHelp)
    var trace: String?

    /// `-g`.
    @Flag(name: RunOptions.processGroup.name, help: RunOptions.processGroup.argumentHelp)
    var processGroup = false

    /// `-s`.
    @Flag(name: RunOptions.subreaper.name, help: RunOptions.subreaper.argumentHelp)
    var subreaper = false

    /// `-e`.
    @Option(name: RunOptions.remapExitCode.name, help: RunOptions.remapExitCode.argumentHelp)
    var remapExitCodes: [Int32] = []

    /// `-q`.
    @Flag(name: RunOptions.quiet.name, help: RunOptions.quiet.argumentHelp)
    var quiet = false

    /// `--pipe-tty`.
    @Flag(name: RunOptions.pipeTerminals.name, help: RunOptions.pipeTerminals.argumentHelp)
    var pipeTerminals = false

    /// `--no-ptrace`.
    @Flag(name: RunOptions.noPtrace.name, help: RunOptions.noPtrace.argumentHelp)
    var noPtrace = false

    /// `--follow-forks`.
    @Flag(name: RunOptions.followForks.name, help: RunOptions.followForks.argumentHelp)
    var followForks = false

    /// `--unbuffered`.
    @Flag(name: RunOptions.unbuffered.name, help: RunOptions.unbuffered.argumentHelp)
    var unbuffered = false

    /// `--service`.
    @Flag(name: RunOptions.service.name, help: RunOptions.service.argumentHelp)
    var service = false

    /// `--keep-traces`.
    @Option(name: RunOptions.keepTraces.name, help: RunOptions.keepTraces.argumentHelp)
    var keepTraces = EntrypointArguments().keepTraces

    /// `--termination-log`.
    @Option(name: RunOptions.terminationLog.name, help: RunOptions.terminationLog.argumentHelp)
    var terminationLog: String?

    /// `--grace-period`.
    @Option(name: RunOptions.gracePeriod.name, help: RunOptions.gracePeriod.argumentHelp)
    var gracePeriod: Double?

    /// `--kill-leftovers`.
    @Flag(name: RunOptions.killLeftovers.name, help: RunOptions.killLeftovers.argumentHelp)
    var killLeftovers = false

    /// `--signal-delay`.
    @Option(name: RunOptions.signalDelay.name, help: RunOptions.signalDelay.argumentHelp)
    var signalDelay: Int?

    /// `-p`.
    @Option(name: RunOptions.parentDeathSignal.name, help: RunOptions.parentDeathSignal.argumentHelp)
    var parentDeathSignal: String?

    /// `--map-signal`.
    @Option(name: RunOptions.mapSignal.name, help: RunOptions.mapSignal.argumentHelp)
    var mapSignal: [String] = []

    /// `--redact`.
    @Option(name: RunOptions.redact.name, help: RunOptions.redact.argumentHelp)
    var redact: String?

    /// `--otlp-file`, `--otlp-endpoint`, `--otlp-timeout`, `--service-name`.
    @OptionGroup(title: "OpenTelemetry export") var otlp: OTLPOptions

    /// The program and its arguments.
    @Argument(parsing: .postTerminator, help: "The program and its arguments, after `--`.")
    var command: [String] = []

    /// Checks the values with the rules the fast path applies (``OptionRules``).
    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError("name the program to run after `--`, e.g. `probe-exec -- ./server --port 2000`")
        }
        try Validation.check(OptionRules.keepTraces(keepTraces))
        try Validation.check(parentDeathSignal.flatMap(OptionRules.parentDeathSignal))
        for mapping in mapSignal { try Validation.check(OptionRules.signalMapping(mapping)) }
        try Validation.check(redact.flatMap { OptionRules.regularExpression($0, option: "--redact") })
        try Validation.check(gracePeriod.flatMap(OptionRules.gracePeriod))
        try Validation.check(signalDelay.flatMap(OptionRules.signalDelay))
        for code in remapExitCodes { try Validation.check(OptionRules.exitCode(code)) }
    }

    /// The run's arguments, as the fast path would have read the same options.
    var entrypointArguments: EntrypointArguments {
        var arguments = EntrypointArguments()
        arguments.trace = trace
        arguments.processGroup = processGroup
        arguments.subreaper = subreaper
        arguments.quiet = quiet
        arguments.pipeTerminals = pipeTerminals
        arguments.remapExitCodes = remapExitCodes
        arguments.noPtrace = noPtrace
        arguments.followForks = followForks
        arguments.unbuffered = unbuffered
        arguments.keepTraces = keepTraces
        arguments.gracePeriodSeconds = gracePeriod
        arguments.killLeftovers = killLeftovers
        arguments.redact = redact
        arguments.signalDelayMilliseconds = signalDelay
        arguments.parentDeathSignal = parentDeathSignal.flatMap(SignalName.number)
        for mapping in mapSignal {
            if let (from, to) = EntrypointArguments.signalMapping(mapping) { arguments.signalMap.map(from, to: to) }
        }
        arguments.terminationLog = terminationLog
        arguments.service = service
        otlp.apply(to: &arguments)
        arguments.command = command
        return arguments
    }

    /// Runs the program.
    func run() throws {
        throw ExitCode(Runner.run(entrypointArguments))
    }
}
