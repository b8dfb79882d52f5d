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

/// Runs the supervisor for parsed run arguments and returns probe-exec's exit status.
enum Runner {
    static func run(_ arguments: EntrypointArguments) -> Int32 {
        let (report, recorder) = supervise(arguments, configure: { _ in })
        let (_, verdict) = PostMortem.complete(report, recorder: recorder)
        let writer = recorder.writer
        let status = finish(report, verdict: verdict, writer: writer, arguments: arguments)
        OTLPExport.run(writer, arguments: arguments)  // after the diagnosis is out: the slow part last
        return status
    }

    /// `probe-exec check`: ready (listening on the port) within the timeout, then stopped.
    static func check(
        _ arguments: EntrypointArguments,
        port: Int?,
        line: String?,
        timeout: Double,
        grace: Double
    ) -> Int32 {
        let (report, recorder) = supervise(arguments) { options in
            options.readyPort = port
            options.readyLine = line
            options.readyTimeoutSeconds = timeout
            options.stopGraceSeconds = grace
        }
        let (_, verdict) = PostMortem.complete(report, recorder: recorder)
        let trace = traceSentence(recorder.writer)
        if let ready = report.readyMilliseconds {
            if !arguments.quiet {
                let how =
                    report.listening.contains { $0.listener.port == port } && port != nil
                    ? "listened on port \(port!)" : "printed a line matching \(line ?? "")"
                StandardError.say(
                    "ready: `\(arguments.command[0])` \(how) after \(Diagnose.duration(ready)); stopped it (status \(report.cause.shellStatus)).\(trace)"
                )
            }
            return 0
        }
        var paragraph = "NOT ready: "
        if case .killed(let signal, _) = report.cause, signal == SIGTERM || signal == SIGKILL,
            report.durationMilliseconds >= timeout * 1000
        {
            let wanted = [port.map { "listen on port \($0)" }, line.map { "print a line matching \($0)" }].compactMap {
                $0
            }
            paragraph +=
                "`\(arguments.command[0])` did not \(wanted.joined(separator: " or ")) within \(Diagnose.duration(timeout * 1000)). "
        }
        paragraph += verdict.summary + trace
        StandardError.say(paragraph)
        return 1
    }

    private static func supervise(
        _ arguments: EntrypointArguments,
        configure: (inout SupervisorOptions) -> Void
    )
        -> (RunReport, TraceRecorder)
    {
        // First: the kernel's answer on hardware breakpoints may take a grace period to come.
        if !arguments.noPtrace { Supervisor.warmUpHardwareBreakpoints() }
        var options = SupervisorOptions(commandBytes: rawCommand(arguments.command))
        options.forwardToProcessGroup = arguments.processGroup
        options.subreaper = arguments.subreaper
        options.reapAnyChild = true  // this process owns all its children
        options.pipeTerminals = arguments.pipeTerminals
        options.ptrace = !arguments.noPtrace
        options.followForks = arguments.followForks
        options.unbuffered = arguments.unbuffered
        options.gracePeriodSeconds = arguments.gracePeriodSeconds
        options.killLeftovers = arguments.killLeftovers
        options.signalDelayMilliseconds = arguments.signalDelayMilliseconds
        options.parentDeathSignal = arguments.parentDeathSignal
        options.signalMap = arguments.signalMap
        options.redactPattern = arguments.redact
        options.service = arguments.service
        if arguments.service { options.subreaper = true }  // so what it leaves behind is ours to see
        options.version = ProbeExec.version
        options.explainExecFailure = { path, command, error in
            ExecPreflight.explain(
                path: path,
                command: command,
                error: error,
                searchPath: ProcessEnvironment.value(of: "PATH")
            )
        }
        let (trace, unavailable) = traceFile(arguments)
        let writer = TraceWriter(
            path: trace?.path,
            unavailable: unavailable,
            keepEvents: OTLPExport.wanted(arguments),
            warn: StandardError.say
        )
        var links: LatestLinks?
        if let trace, let directory = trace.directory {
            // Pruning old traces and pointing the `latest` links at this one wait until the program runs.
            let program = arguments.command[0]
            let keep = arguments.keepTraces
            let latest = LatestLinks(directory: directory, fileName: trace.name, command: program)
            latest.writer = writer
            links = latest
            options.afterSpawn = { latest.pointAtThisRun() }
            // This run's trace included in what is kept.
            options.housekeeping = { TraceHistory.prune(directory: directory, program: program, keep: keep) }
        }
        configure(&options)

        let supervisor = Supervisor(
            options: options,
            trace: writer,
            startNanoseconds: TraceClock.processStart.startNanoseconds
        )
        let report = supervisor.run()
        links?.settle(finalImage: report.tracing.execCount >= 2 ? report.tracing.lastImage : nil)
        return (report, supervisor.recorder)
    }

    private static func finish(
        _ report: RunReport,
        verdict: Verdict,
        writer: TraceWriter,
        arguments: EntrypointArguments
    ) -> Int32 {
        var status = report.cause.shellStatus
        if case .exited = report.cause, arguments.remapExitCodes.contains(status) { status = 0 }
        let failedToStart: Bool
        switch report.cause {
        case .execFailed, .spawnFailed: failedToStart = true
        default: failedToStart = false
        }
        // A stop that was asked for (and obeyed) is not an abnormal exit, whatever its status; a
        // service that stopped on its own is one, whatever its status (nginx daemonizing exits 0).
        if failedToStart || (verdict.isReported && (status != 0 || verdict.category == .serviceExited)) {
            let paragraph = verdict.summary + traceSentence(writer)
            // The program's stderr went through us: when it did not end its last line, end it.
            let unfinishedLine = (report.stderrBytes ?? 0) > 0 && report.stderrTail.last != UInt8(ascii: "\n")
            if failedToStart || !arguments.quiet { StandardError.say(paragraph, onNewLine: unfinishedLine) }
            writeTerminationLog(paragraph, to: arguments.terminationLog)
        }
        return status
    }

    /// The command as the kernel passed it (bytes: an argument need not be UTF-8): the last
    /// `command.count` entries of argv, where the command always is.
    static func rawCommand(_ command: [String]) -> [[UInt8]] {
        let all = ProbeExecProcess.arguments
        guard all.count >= command.count else { return command.map { Array($0.utf8) } }
        let raw = Array(all.suffix(command.count))
        // The same arguments, as their display strings show: else (a test calling in) the strings.
        let matches =
            raw.count == command.count
            && zip(raw, command).allSatisfy { String(decoding: $0.0, as: UTF8.self) == $0.1 }
        return matches ? raw : command.map { Array($0.utf8) }
    }

    /// Kubernetes shows /dev/termination-log in `kubectl describe pod`: the diagnosis goes there
    /// (at most 4 KiB, its limit), replacing what was there. Failures are ignored: it is a copy.
    private static func writeTerminationLog(_ paragraph: String, to path: String?) {
        let target = path ?? "/dev/termination-log"
        guard path != nil || access(target, W_OK) == 0 else { return }
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var bytes = Array(("probe-exec: " + paragraph + "\n").utf8)
        if bytes.count > 4096 { bytes = Array(bytes.prefix(4096)) }
        SystemIO.writeAll(fd, bytes)
    }

    /// Where the paragraph and the termination message point: ` Trace: PATH (probe-exec show PATH).`, marked
    /// incomplete when writing stopped part-way, or ` No trace was kept: WHY.` when nothing reached a file (a
    /// path that does not exist, or holds nothing, is never printed).
    /// - Parameter writer: the run's trace writer, after the verdict was appended.
    /// - Returns: the sentence, with a leading space; empty when no trace was asked for.
    static func traceSentence(_ writer: TraceWriter) -> String {
        if let path = writer.path {
            let incomplete = writer.incompleteReason.map { " (incomplete: \($0))" } ?? ""
            return " Trace\(incomplete): \(path) (probe-exec show \(path))."
        }
        return writer.notKeptReason.map { " No trace was kept: \($0)." } ?? ""
    }

    /// The trace file for this run: `--trace`, or a new file in the trace directory (then with that
    /// directory and the file's name, for the housekeeping after the spawn), creating the directory
    /// when needed; nil (after one warning) when it cannot be made, with why in a few words: the
    /// program still runs.
    private static func traceFile(
        _ arguments: EntrypointArguments
    ) -> (file: (path: String, directory: String?, name: String)?, unavailable: String?) {
        if let trace = arguments.trace { return ((trace, nil, trace), nil) }
        let directory = TraceLocation.directory
        do {
            try TraceLocation.prepare(directory)
        } catch {
            StandardError.say(
                "cannot use the trace directory \(directory): \(error); the program runs, but nothing is recorded"
            )
            return (nil, "cannot use the trace directory \(directory) (\(TraceWriter.briefly(error)))")
        }
        // Bounded history (this run's trace plus the newest keepTraces-1 before it) and the
        // `latest` link are kept up after the spawn (SupervisorOptions.housekeeping, .afterSpawn).
        let name = TraceLocation.fileName(
            program: arguments.command[0],
            pid: getpid(),
            realtimeNanoseconds: SystemIO.realtimeNanoseconds
        )
        return (("\(directory)/\(name)", directory, name), nil)
    }
}
