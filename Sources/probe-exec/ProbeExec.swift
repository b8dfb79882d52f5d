import ArgumentParser
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// The `probe-exec` command: runs a program (the default subcommand) or shows a trace.
struct ProbeExec: ParsableCommand {
    /// The version written into traces and printed by `--version`.
    static let version = "0.1.0"

    /// The top-level help: what probe-exec does, the rule for the program, examples, every run option.
    static let configuration = CommandConfiguration(
        commandName: "probe-exec",
        abstract: "Run a program under the startup probe and explain how it exited.",
        discussion: """
            Use it in place of `exec` in an entrypoint: `probe-exec ./server --port 2000`. \
            It runs the program as its child, forwards every signal, reaps zombies (also as PID 1), \
            streams stdout/stderr unchanged, exits with the program's status (128+N for signal N), \
            and writes a startup trace. After a failure, `probe-exec show` explains it.

            THE PROGRAM:
              probe-exec [OPTIONS] PROGRAM [ARGS...]
              probe-exec [OPTIONS] -- PROGRAM [ARGS...]
            The first argument that is not an option is the program: everything after it
            is the program's, options included (`probe-exec ls -l` runs `ls -l`). `run`,
            `show`, `check`, `detach` and `help` are subcommands, not programs; a program of such a
            name, or whose name begins with `-`, goes after `--`.

            EXAMPLES:
              # in place of `exec ./server --port 2000`; in a Dockerfile:
              #   ENTRYPOINT ["probe-exec", "--"]
              probe-exec ./server --port 2000
              probe-exec -- ./server --port 2000
              # what happened to the latest run; to the latest run of `server`
              probe-exec show
              probe-exec show server
              # every kept run (a crash loop at a glance)
              probe-exec show --history
              # stop in bounded time: SIGTERM to the group, SIGKILL after 10 s
              probe-exec -g --grace-period 10 --kill-leftovers ./app
              # send each run to an OpenTelemetry Collector as logs
              probe-exec --otlp-endpoint http://localhost:4318 ./app
              # options from the environment, e.g. set at deploy time
              PROBE_EXEC_NO_PTRACE=1 PROBE_EXEC_GRACE_PERIOD=10 probe-exec ./app
              # a start-up test for CI: ready once it listens on port 8000
              probe-exec check --ready-port 8000 --timeout 30 -- ./server

            \(RunOptionsHelp.section)

            ENVIRONMENT:
              PROBE_EXEC_TRACE_DIR  where traces go (${TMPDIR:-/tmp}/probe-exec-UID)
              PROBE_EXEC_<OPTION>   the run options above: a flag's variable takes 1 or 0
                                    (true/false, yes/no, on/off), a repeatable option's
                                    a comma-separated list; empty counts as unset
              OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS
                                    used by --otlp-file and --otlp-endpoint

            EXIT STATUS:
              the program's; 128+N when signal N killed it; 127 when it was not found;
              126 when it could not be executed.

            The trace format (NDJSON, format version 2) is described by
            docs/trace.schema.json, `show --json` by docs/show.schema.json.
            """,
        version: ProbeExec.version,
        subcommands: [RunCommand.self, ShowCommand.self, CheckCommand.self, DetachCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
