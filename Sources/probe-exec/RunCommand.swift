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

/// `probe-exec [options] [--] PROGRAM [ARGS…]`: supervise a program and record its startup trace.
struct RunCommand: ParsableCommand {
    /// `run`, the default subcommand, and its help.
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run PROGRAM as a supervised child (the default: `probe-exec PROGRAM`).",
        discussion: """
            The first argument that is not an option is the program: everything after it is the \
            program's, options included. A program named like a subcommand (run, show, check, detach, help) \
            or whose name begins with `-` goes after `--`.
            Every option can also be set by its environment variable (`probe-exec --help` lists \
            them: PROBE_EXEC_NO_PTRACE=1, PROBE_EXEC_SUBREAPER=0, PROBE_EXEC_KEEP_TRACES=50, …); \
            an option on the command line wins.
            Traces go to --trace FILE, else to $PROBE_EXEC_TRACE_DIR, else to \
            ${TMPDIR:-/tmp}/probe-exec-<uid>/, named <program>-<pid>-<UTC time>.ndjson, with a `latest` \
            link and a `latest-<program>` link per program (see `probe-exec help show`).
            When stdout or stderr is a terminal it is passed to the program unchanged (colours, line \
            buffering, Ctrl-C and Ctrl-Z behave as without probe-exec) and its output is not captured; \
            --pipe-tty captures it through a pipe instead.

            EXAMPLES:
              probe-exec ./server --port 2000
              probe-exec -o /var/log/probe/run.ndjson --keep-traces 50 ./server
              # SIGTERM to the whole group, SIGKILL after 10 s, then clean up leftovers
              probe-exec -g --grace-period 10 --kill-leftovers ./app
              # hold SIGTERM 5 s so the load balancer drains first
              probe-exec --signal-delay 5000 ./api
              # nginx stops gracefully on SIGQUIT
              probe-exec --map-signal TERM:QUIT -- nginx -g 'daemon off;'
              # a worker that must keep running: an exit on its own is an error
              probe-exec --service ./worker
              # the run as OpenTelemetry logs, to a file or a Collector
              probe-exec --otlp-file /var/log/probe/runs.jsonl ./app
              probe-exec --otlp-endpoint http://otel-collector:4318 ./api
              # exit codes 1 and 143 count as success, set in the environment
              PROBE_EXEC_REMAP_EXIT=1,143 probe-exec ./app
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

    /// `--no-subreaper`.
    @Flag(name: RunOptions.noSubreaper.name, help: RunOptions.noSubreaper.argumentHelp)
    var noSubreaper = false

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

    /// `--keep-traces` (nil: not given; the default is ``EntrypointArguments``'s).
    @Option(name: RunOptions.keepTraces.name, help: RunOptions.keepTraces.argumentHelp)
    var keepTraces: Int?

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

    /// The program and its arguments, as ArgumentParser captures them: from the first argument that is not
    /// an option (options after it are the program's), with the `--` that ended the options when there was
    /// one (see ``program``).
    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp(
            "The program and its arguments (after `--` when its name begins with `-` or is a subcommand's).",
            valueName: "program"
        )
    )
    var command: [String] = []

    /// The program and its arguments: ``command`` without the `--` that ended probe-exec's options.
    var program: [String] {
        command.first == "--" ? Array(command.dropFirst()) : command
    }

    /// The first names of the options the command line gave: the environment sets the others.
    var givenOptions: [String] {
        let given: [(RunOption, Bool)] = [
            (RunOptions.trace, trace != nil), (RunOptions.processGroup, processGroup),
            (RunOptions.subreaper, subreaper), (RunOptions.noSubreaper, noSubreaper),
            (RunOptions.remapExitCode, !remapExitCodes.isEmpty),
            (RunOptions.quiet, quiet), (RunOptions.pipeTerminals, pipeTerminals), (RunOptions.noPtrace, noPtrace),
            (RunOptions.followForks, followForks), (RunOptions.unbuffered, unbuffered), (RunOptions.service, service),
            (RunOptions.keepTraces, keepTraces != nil), (RunOptions.terminationLog, terminationLog != nil),
            (RunOptions.gracePeriod, gracePeriod != nil), (RunOptions.killLeftovers, killLeftovers),
            (RunOptions.signalDelay, signalDelay != nil), (RunOptions.parentDeathSignal, parentDeathSignal != nil),
            (RunOptions.mapSignal, !mapSignal.isEmpty), (RunOptions.redact, redact != nil),
        ]
        return (given + otlp.given).filter(\.1).map { $0.0.names[0] }
    }

    /// Checks the values with the rules the fast path applies (``OptionRules``), and the environment's.
    func validate() throws {
        guard let first = program.first else {
            throw ValidationError("name the program to run, e.g. `probe-exec ./server --port 2000`")
        }
        if command.first != "--" {
            // Before the program: ArgumentParser captures what it does not know, its own flags included.
            if ["-h", "--help", "-help"].contains(first) { throw CleanExit.helpRequest(self) }
            if first == "--version" { throw CleanExit.message(ProbeExec.version) }
            if first.hasPrefix("-") {
                throw ValidationError("unknown option \(first) (a program whose name begins with `-` goes after `--`)")
            }
            if RunOptions.subcommandNames.contains(first) {
                throw ValidationError(
                    "`\(first)` is a subcommand, not a program: `probe-exec \(first) …`, or `probe-exec -- \(first)` for a program of that name"
                )
            }
        }
        try Validation.check(keepTraces.flatMap(OptionRules.keepTraces))
        try Validation.check(parentDeathSignal.flatMap(OptionRules.parentDeathSignal))
        for mapping in mapSignal { try Validation.check(OptionRules.signalMapping(mapping)) }
        try Validation.check(redact.flatMap { OptionRules.regularExpression($0, option: "--redact") })
        try Validation.check(gracePeriod.flatMap(OptionRules.gracePeriod))
        try Validation.check(signalDelay.flatMap(OptionRules.signalDelay))
        for code in remapExitCodes { try Validation.check(OptionRules.exitCode(code)) }
        var arguments = EntrypointArguments()
        try Validation.check(
            EnvironmentOptions.apply(to: &arguments, except: givenOptions, environment: EnvironmentOptions.process)
        )
    }

    /// The run's arguments, as the fast path would have read the same options and `environment`; nil
    /// when a variable of an option the command line did not give holds a value it does not accept.
    func entrypointArguments(environment: (String) -> String? = EnvironmentOptions.process) -> EntrypointArguments? {
        var arguments = EntrypointArguments()
        arguments.trace = trace
        arguments.processGroup = processGroup
        if subreaper || noSubreaper { arguments.subreaper = !noSubreaper }  // else the default, or the environment's
        arguments.quiet = quiet
        arguments.pipeTerminals = pipeTerminals
        arguments.remapExitCodes = remapExitCodes
        arguments.noPtrace = noPtrace
        arguments.followForks = followForks
        arguments.unbuffered = unbuffered
        if let keepTraces { arguments.keepTraces = keepTraces }
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
        arguments.command = program
        guard EnvironmentOptions.apply(to: &arguments, except: givenOptions, environment: environment) == nil else {
            return nil
        }
        return arguments
    }

    /// Runs the program.
    func run() throws {
        guard let arguments = entrypointArguments() else { throw ExitCode.validationFailure }  // validate() said why
        throw ExitCode(Runner.run(arguments))
    }
}
