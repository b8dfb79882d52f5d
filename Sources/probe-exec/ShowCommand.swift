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

/// `probe-exec show [TRACE | PROGRAM-NAME] [--json | --history]`: render a trace for a person, or as one
/// JSON document for tools (``ShowSummary``).
struct ShowCommand: ParsableCommand {
    /// `show` and its help.
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a startup trace: the verdict first, then a timeline (or --json for tools).",
        discussion: """
            Which trace: an argument that is an existing file is a trace (a directory: its latest \
            trace), unless it is an executable file: traces never are, so `show server` beside \
            ./server means the program. Any other argument is a program name (unless it has a `/`: \
            a path that names no file is an error): the latest trace of that program in \
            $PROBE_EXEC_TRACE_DIR or ${TMPDIR:-/tmp}/probe-exec-<uid>/ (its latest-<name> link). \
            A program's name is the base name of the executable that ran: after a shell's `exec`, \
            the final image's (as the kernel names it: symbolic links resolved, `python3` may be \
            `python3.11`); with --no-ptrace, or when ptrace is refused, the command's (`sh`). \
            Without an argument: the latest trace of all. A damaged trace (cut short, garbage \
            lines) is shown as far as it goes, with notes.
            --json prints one object (docs/show.schema.json): verdict (category, status, summary, \
            main_reached, cause), program, timings, signals, backtraces, exit, then path, complete, \
            problems and every event.
            --history compares every kept trace of that program, oldest first: what changed from \
            start to start and what did not (exit, verdict, main() reached, duration, last error \
            line, build-id), then one line per start.

            EXAMPLES:
              probe-exec show
              probe-exec show server
              probe-exec show /var/log/probe
              probe-exec show --history
              probe-exec show server --history
              probe-exec show --json | jq .verdict
              probe-exec show server --json | jq -r .verdict.cause
              probe-exec show --json | jq .verdict.main_reached
              probe-exec show /var/log/probe --json | jq .exit.status
              probe-exec show --json | jq .timings
              probe-exec show --json | jq -c '.signals[] | {name, sender_kind, t_ms}'
              probe-exec show --json | jq -r '.backtraces[0].frames[] | .function // .ip'
            """
    )

    /// The trace file, directory or program name.
    @Argument(
        help: ArgumentHelp(
            "A trace file or directory, or a program name (default: the latest trace).",
            valueName: "trace-or-program"
        )
    )
    var trace: String?

    /// `--json`.
    @Flag(help: "Print the trace as one JSON document (docs/show.schema.json).")
    var json = false

    /// `--history`.
    @Flag(help: "Compare every kept trace of the same program: what changed from start to start (a crash loop).")
    var history = false

    /// Reads the trace and prints it.
    func run() throws {
        ProbeExecProcess.unblockSupervisedSignals()  // an ordinary tool again: Ctrl-C and SIGPIPE end it
        var path: String
        switch TraceArgument.path(for: trace, directory: TraceLocation.directory) {
        case .success(let found): path = found
        case .failure(let message):
            StandardError.say(message.text)
            throw ExitCode(2)
        }
        if let real = realpath(path, nil) {
            path = String(cString: real)
            free(real)
        }
        let document: TraceDocument
        do {
            document = try TraceReader.read(path: path)
        } catch {
            StandardError.say("cannot read the trace \(path): \(error)")
            throw ExitCode(2)
        }
        if history {
            let program = document.first("start")?["argv"]?.arrayValue?.first?.stringValue ?? ""
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            print(
                TraceHistory.summary(
                    of: TraceHistory.files(directory: directory.isEmpty ? "." : directory, program: program)
                ),
                terminator: ""
            )
            return
        }
        if json {
            print(ShowSummary(document).json.serialized)
        } else {
            print(ReportRenderer.render(document), terminator: "")
        }
    }
}
