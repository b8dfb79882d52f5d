import CStartupProbe
import StartupProbe

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs the supervisor for parsed run arguments and returns probe-exec's exit status.
enum Runner {
    static func run(_ arguments: EntrypointArguments) -> Int32 {
        var options = SupervisorOptions(command: arguments.command)
        options.forwardToProcessGroup = arguments.processGroup
        options.subreaper = arguments.subreaper
        options.reapAnyChild = true  // this process owns all its children
        options.pipeTerminals = arguments.pipeTerminals
        options.ptrace = !arguments.noPtrace
        options.followForks = arguments.followForks
        options.unbuffered = arguments.unbuffered
        options.service = arguments.service
        if arguments.service { options.subreaper = true }  // so what it leaves behind is ours to see
        options.version = ProbeExec.version

        let writer = TraceWriter(path: tracePath(arguments), warn: StandardError.say)
        let supervisor = Supervisor(options: options, trace: writer, startNanoseconds: spr_process_start_ns())
        let report = supervisor.run()

        var status = report.cause.shellStatus
        if case .exited = report.cause, arguments.remapExitCodes.contains(status) { status = 0 }
        let failedToStart: Bool
        switch report.cause {
        case .execFailed, .spawnFailed: failedToStart = true
        default: failedToStart = false
        }
        if failedToStart || (status != 0 && !arguments.quiet) {
            var paragraph = Diagnose.verdict(for: report).summary
            if let path = writer.path {
                paragraph += " Trace: \(path) (probe-exec show \(path))."
            }
            StandardError.say(paragraph)
        }
        return status
    }

    /// The trace file for this run, creating the trace directory when needed; nil (after one
    /// warning) when it cannot be made: the program still runs.
    private static func tracePath(_ arguments: EntrypointArguments) -> String? {
        if let trace = arguments.trace { return trace }
        let directory = TraceLocation.directory
        do {
            try TraceLocation.makeDirectory(directory)
            if TraceLocation.configuredDirectory == nil {
                try TraceLocation.checkPrivate(directory)
            }
        } catch {
            StandardError.say("cannot use the trace directory \(directory): \(error); the program runs, but nothing is recorded")
            return nil
        }
        let name = TraceLocation.fileName(program: arguments.command[0], pid: getpid(), realtimeNanoseconds: spr_realtime_ns())
        TraceLocation.updateLatest(directory: directory, fileName: name)
        return "\(directory)/\(name)"
    }
}
