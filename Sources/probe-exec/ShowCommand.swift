import ArgumentParser
import CProbeExec
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

/// `probe-exec show [TRACE] [--json]`: render a trace for a person or as one JSON document.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a startup trace: the verdict first, then a timeline (or --json for tools).",
        discussion: """
            TRACE is a trace file or a trace directory (its `latest` trace is shown). Without TRACE, \
            the latest trace in $PROBE_EXEC_TRACE_DIR or ${TMPDIR:-/tmp}/probe-exec-<uid>/ is shown. \
            A damaged trace (cut short, garbage lines) is shown as far as it goes, with notes.

            EXAMPLES:
              probe-exec show
              probe-exec show /var/log/probe              (the latest trace in that directory)
              probe-exec show /var/log/probe/latest --json | jq .verdict
              probe-exec show --history
            """
    )

    @Argument(help: "A trace file or directory (default: the latest trace).")
    var trace: String?

    @Flag(help: "Print the whole trace as one JSON document.")
    var json = false

    @Flag(help: "Summarise every kept trace of the same program (a crash loop at a glance).")
    var history = false

    func run() throws {
        _ = spr_unblock_supervised_signals()  // an ordinary tool again: Ctrl-C and SIGPIPE end it
        var path = trace ?? TraceLocation.directory
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            path += "/" + TraceLocation.latestName
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
            print(document.json.serialized)
        } else {
            print(ReportRenderer.render(document), terminator: "")
        }
    }
}
