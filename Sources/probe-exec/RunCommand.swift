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

    @Option(name: [.customShort("o"), .customLong("trace")], help: "Write the trace to this file.")
    var trace: String?

    @Flag(name: .customShort("g"), help: "Forward signals to the child's whole process group.")
    var processGroup = false

    @Flag(name: .customShort("s"), help: "Register as a child subreaper (when not running as PID 1).")
    var subreaper = false

    @Option(name: .customShort("e"), help: "Remap this exit code to 0 (repeatable, as tini's -e).")
    var remapExitCodes: [Int32] = []

    @Flag(name: .customShort("q"), help: "Do not print the diagnosis paragraph on abnormal exit.")
    var quiet = false

    @Flag(name: .customLong("pipe-tty"), help: "Capture stdout/stderr through pipes even when they are terminals.")
    var pipeTerminals = false

    @Flag(
        name: .customLong("no-ptrace"),
        help: "Do not trace the program with ptrace (no backtraces, no per-signal delivery record)."
    )
    var noPtrace = false

    @Flag(name: .customLong("follow-forks"), help: "Also trace the program's forked child processes.")
    var followForks = false

    @Flag(
        name: .customLong("unbuffered"),
        help:
            "Ask the program to write output as it goes (PYTHONUNBUFFERED=1; coreutils' stdbuf preload for C programs). Changes its buffering: opt-in."
    )
    var unbuffered = false

    @Flag(
        name: .customLong("service"),
        help:
            "The program should run until told to stop: flag an exit on its own (placeholder commands, daemonizing). Implies -s."
    )
    var service = false

    @Option(
        name: .customLong("keep-traces"),
        help: "How many traces of this program to keep in the trace directory (default 20)."
    )
    var keepTraces: Int = TraceHistory.defaultKeep

    @Option(
        name: .customLong("termination-log"),
        help:
            "Write the diagnosis here on abnormal exit (default: /dev/termination-log when it exists and is writable, as Kubernetes provides)."
    )
    var terminationLog: String?

    @Option(
        name: .customLong("grace-period"),
        help: "After forwarding SIGTERM, SIGKILL the program's process group if it has not exited within SECONDS."
    )
    var gracePeriod: Double?

    @Flag(
        name: .customLong("kill-leftovers"),
        help: "After the program exits, SIGTERM then SIGKILL the processes it left running (as PID 1 or with -s)."
    )
    var killLeftovers = false

    @Option(
        name: .customLong("signal-delay"),
        help: "Hold SIGTERM this many milliseconds before forwarding it (lets load balancers drain)."
    )
    var signalDelay: Int?

    @Option(
        name: .customShort("p"),
        help:
            "Signal probe-exec receives (and forwards) when its parent dies, as tini's -p; the program gets it if probe-exec itself dies."
    )
    var parentDeathSignal: String?

    @Option(
        name: .customLong("map-signal"),
        help: "Rewrite a signal before forwarding it, FROM:TO (e.g. TERM:QUIT); repeatable."
    )
    var mapSignal: [String] = []

    @Option(
        help:
            "Mask matches of this regular expression in the output tails kept in the trace (the output itself is unchanged)."
    )
    var redact: String?

    @OptionGroup(title: "OpenTelemetry export") var otlp: OTLPOptions

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after `--`.")
    var command: [String] = []

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

    func run() throws {
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
        throw ExitCode(Runner.run(arguments))
    }
}
