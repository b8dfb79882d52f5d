import ArgumentParser

/// The `probe-exec` command: runs a program (the default subcommand) or shows a trace.
struct ProbeExec: ParsableCommand {
    /// The version written into traces and printed by `--version`.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "probe-exec",
        abstract: "Run a program under the startup probe and explain how it exited.",
        discussion: """
            Use it in place of `exec` in an entrypoint: `probe-exec -- ./server --port 2000`. \
            It runs the program as its child, forwards every signal, reaps zombies (also as PID 1), \
            streams stdout/stderr unchanged, exits with the program's status (128+N for signal N), \
            and writes a startup trace. After a failure, `probe-exec show` explains it.
            """,
        version: ProbeExec.version,
        subcommands: [RunCommand.self, ShowCommand.self, CheckCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
