import ArgumentParser
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// `probe-exec check --ready-port PORT [--timeout S] -- SERVER…`: the start-up test every CI
/// pipeline lacks. Starts the server, waits until it listens on the port, stops it gracefully
/// and exits 0; or exits 1 with the diagnosis of why it never became ready.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Start a server, wait until it listens on a port, stop it; exit 0 if it became ready.",
        discussion: """
            Readiness is seen in /proc: a listening TCP socket on the port owned by the program or \
            one of its descendants. When ready (or after --timeout), the program's process group gets \
            SIGTERM, and SIGKILL after --grace seconds. Example: \
            probe-exec check --ready-port 8000 --timeout 30 -- python3 -m http.server 8000
            """
    )

    @Option(
        name: .customLong("ready-port"),
        help: ArgumentHelp("The TCP port the server listens on once ready.", valueName: "PORT")
    )
    var readyPort: Int?

    @Option(
        name: .customLong("ready-line"),
        help: ArgumentHelp("A regular expression: ready once a line of output matches it.", valueName: "REGEX")
    )
    var readyLine: String?

    @Option(help: ArgumentHelp("Seconds to wait for readiness (default: 30).", valueName: "SECONDS"))
    var timeout: Double?

    @Option(
        help: ArgumentHelp(
            "Seconds the server may take to stop after SIGTERM before SIGKILL (default: 10).",
            valueName: "SECONDS"
        )
    )
    var grace: Double?

    /// `-o`, `--trace`: as for a run.
    @Option(name: RunOptions.trace.name, help: RunOptions.trace.argumentHelp)
    var trace: String?

    /// `-q`, with check's own meaning.
    @Flag(name: RunOptions.quiet.name, help: "Say nothing when the server became ready.")
    var quiet = false

    /// `--no-ptrace`, as for a run.
    @Flag(name: RunOptions.noPtrace.name, help: "Do not trace the program with ptrace.")
    var noPtrace = false

    @Argument(parsing: .postTerminator, help: "The server and its arguments, after `--`.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("name the server after `--`") }
        guard readyPort != nil || readyLine != nil else {
            throw ValidationError("say when it is ready: --ready-port PORT and/or --ready-line REGEX")
        }
        if let readyPort, !(1...65535).contains(readyPort) { throw ValidationError("--ready-port takes 1 to 65535") }
        try Validation.check(readyLine.flatMap { OptionRules.regularExpression($0, option: "--ready-line") })
        guard (timeout ?? 30) > 0, (grace ?? 10) >= 0 else {
            throw ValidationError("--timeout must be positive and --grace not negative")
        }
        var arguments = EntrypointArguments()
        try Validation.check(
            EnvironmentOptions.apply(to: &arguments, except: givenOptions, environment: EnvironmentOptions.process)
        )
    }

    /// The run options check shares that the command line gave: the environment sets the others
    /// (PROBE_EXEC_NO_PTRACE, PROBE_EXEC_QUIET, PROBE_EXEC_TRACE_FILE, and the rest of the run's).
    var givenOptions: [String] {
        [(RunOptions.trace, trace != nil), (RunOptions.quiet, quiet), (RunOptions.noPtrace, noPtrace)]
            .filter(\.1).map { $0.0.names[0] }
    }

    func run() throws {
        var arguments = EntrypointArguments()
        arguments.trace = trace
        arguments.quiet = quiet
        arguments.noPtrace = noPtrace
        // Validated in validate(): the variables of the options the command line did not give.
        _ = EnvironmentOptions.apply(to: &arguments, except: givenOptions, environment: EnvironmentOptions.process)
        arguments.command = command
        throw ExitCode(
            Runner.check(arguments, port: readyPort, line: readyLine, timeout: timeout ?? 30, grace: grace ?? 10)
        )
    }
}
