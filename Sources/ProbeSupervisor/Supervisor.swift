import CProbeExec
import CStartupProbe
import ProbeCore
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a program as a child, forwards signals to it, reaps, streams its output, and records
/// what happened in a trace.
///
/// The calling thread must have blocked the supervised signals with
/// `spr_block_supervised_signals()` before any other thread existed (the `probe-exec`
/// executable does so first thing in `main`), so that no signal is lost or delivered elsewhere.
package final class Supervisor {
    package let options: SupervisorOptions
    package let trace: TraceWriter
    package let startNanoseconds: Int64
    /// The trace and the clock, for the tracer.
    package let recorder: TraceRecorder

    /// Prepares a run.
    /// - Parameters:
    ///   - options: what to run and how.
    ///   - trace: where events go (fails open).
    ///   - startNanoseconds: CLOCK_MONOTONIC at process start; offsets are measured from it.
    package init(options: SupervisorOptions, trace: TraceWriter, startNanoseconds: Int64) {
        precondition(!options.command.isEmpty, "SupervisorOptions.command must name a program")
        self.options = options
        self.trace = trace
        self.startNanoseconds = startNanoseconds
        self.recorder = TraceRecorder(writer: trace, clock: TraceClock(startNanoseconds: startNanoseconds))
    }

    /// Milliseconds since start, now or at `ns`.
    package func offset(_ ns: Int64 = TraceClock.nowNanoseconds) -> Double {
        recorder.offset(ns)
    }

    /// Runs the child to its end and returns what happened; the trace gets every event as it
    /// happens, then the exit and the output tails. What it means is decided elsewhere
    /// (ProbeDiagnosis), from these facts.
    package func run() -> RunReport {
        recorder.append(startEvent())
        if let signal = options.parentDeathSignal {
            let error = spr_set_parent_death_signal(signal)
            if error != 0 { warning("cannot set the parent-death signal: \(SystemError(error))") }
        }
        if options.subreaper {
            let error = spr_set_child_subreaper()
            if error != 0 { warning("cannot become a child subreaper: \(SystemError(error))") }
        }
        let streams = StandardStreams.prepare(pipeTerminals: options.pipeTerminals)
        let outcome: SpawnOutcome
        do {
            outcome = try Spawn.run(
                command: options.command,
                stdoutFD: streams.stdout?.write ?? -1,
                stderrFD: streams.stderr?.write ?? -1,
                traceOptions: options.ptrace ? spr_ptrace_options(options.followForks ? 1 : 0) : 0,
                environment: childEnvironment(),
                parentDeathSignal: options.parentDeathSignal ?? 0
            )
        } catch {
            options.afterSpawn?()
            streams.closeAll()
            let report = RunReport(
                command: options.command,
                cause: .spawnFailed(error: error),
                durationMilliseconds: offset()
            )
            var exec = TraceEvent.Exec()
            exec.errno = error.code
            exec.errnoName = error.name
            exec.error = "cannot fork: \(error.message)"
            recorder.append(.exec(exec))
            writeTails(report)
            return report
        }
        streams.closeWriteEnds()
        options.afterSpawn?()
        var tracing = TracingFindings()
        if !options.ptrace {
            tracing.state = "off"
        } else if let error = outcome.traceError {
            tracing.state = "unavailable"
            tracing.reason = Supervisor.ptraceDenied(error)
        }
        if let failure = outcome.execFailure {
            streams.closeReadEnds()
            _ = reapUntil(child: outcome.pid)
            var report = RunReport(
                command: options.command,
                cause: .execFailed(error: failure.error, path: failure.path),
                durationMilliseconds: offset()
            )
            report.childPID = outcome.pid
            report.tracing = tracing
            // Explained once, here, while the PATH and files are as execve saw them; the verdict
            // reads this recorded explanation.
            report.execExplanation = options.explainExecFailure?(failure.path, options.command[0], failure.error.code)
            recorder.append(execFailedEvent(failure.error, path: failure.path, explanation: report.execExplanation))
            writeTails(report)
            return report
        }
        var exec = TraceEvent.Exec()
        exec.ok = true
        exec.pid = outcome.pid
        exec.path = outcome.path
        recorder.append(.exec(exec))
        let tracer =
            options.ptrace && outcome.traceError == nil
            ? Tracer(recorder: recorder, redact: redactRegex, leader: outcome.pid) : nil
        if let tracer { tracing = tracer.findings }
        var tracingEvent = TraceEvent.Tracing()
        tracingEvent.state = tracing.state
        tracingEvent.reason = tracing.reason
        recorder.append(.tracing(tracingEvent))
        if tracing.state == "unavailable", let reason = tracing.reason { warn("tracing is unavailable: \(reason)") }
        var loop = SupervisorLoop(supervisor: self, childPID: outcome.pid, streams: streams, tracer: tracer)
        var report = loop.run()
        if let regex = redactRegex {
            // Everything derived from output (tails, verdict, program error) sees only this.
            report.stdoutTail = Array(
                Redaction.output(String(decoding: report.stdoutTail, as: UTF8.self), pattern: regex).utf8
            )
            report.stderrTail = Array(
                Redaction.output(String(decoding: report.stderrTail, as: UTF8.self), pattern: regex).utf8
            )
        }
        report.service = options.service
        if tracer == nil { report.tracing = tracing }
        report.programPath = report.tracing.lastImage ?? outcome.path
        writeTails(report)
        return report
    }

    /// Reaps until `child` has exited (used when exec failed, before any loop exists); a traced
    /// child stops once more on its way out, and is let go.
    private func reapUntil(child: Int32) -> Int32 {
        var status: Int32 = 0
        while spr_waitpid(child, &status, 0) > 0 {
            switch WaitStatus(status) {
            case .exited, .killed: return status
            case .stopped: _ = spr_ptrace_cont(child, 0)
            case .continued: break
            }
        }
        return status
    }

    /// The environment the child starts with: ours, plus the buffering requests of --unbuffered.
    package func childEnvironment() -> [String] {
        var entries = ProcessEnvironment.entries
        func set(_ name: String, _ value: String) {
            entries.removeAll { $0.hasPrefix(name + "=") }
            entries.append(name + "=" + value)
        }
        // The channel for the StartupProbe library in the program: our trace and our start time.
        if let path = trace.path, trace.isRecording {
            let absolute = path.hasPrefix("/") ? path : (ProcessFacts.workingDirectory ?? ".") + "/" + path
            set(HandOver.traceVariable, absolute)
            set(HandOver.startVariable, String(startNanoseconds))
        }
        guard options.unbuffered else { return entries }
        set("PYTHONUNBUFFERED", "1")
        if let stdbuf = Supervisor.stdbufLibrary {
            let preload = ProcessEnvironment.value(of: "LD_PRELOAD").map { $0 + ":" + stdbuf } ?? stdbuf
            set("LD_PRELOAD", preload)
            set("_STDBUF_O", "L")
            set("_STDBUF_E", "0")
        }
        return entries
    }

    /// coreutils' stdbuf preload library, where installed.
    package static var stdbufLibrary: String? {
        ["/usr/libexec/coreutils/libstdbuf.so", "/usr/lib/coreutils/libstdbuf.so"].first { access($0, R_OK) == 0 }
    }

    /// --redact.
    package var redactRegex: Regex<AnyRegexOutput>? { options.redactPattern.flatMap { try? Regex($0) } }

    /// Why PTRACE_SEIZE failed, for a person.
    package static func ptraceDenied(_ error: SystemError) -> String {
        switch error.code {
        case EPERM:
            return
                "ptrace was refused (EPERM): no CAP_SYS_PTRACE, a seccomp profile, or Yama ptrace_scope; the program runs untraced (use --no-ptrace to silence this)"
        case ENOSYS: return "ptrace is not available in this kernel or sandbox (ENOSYS); the program runs untraced"
        default: return "ptrace failed: \(error); the program runs untraced"
        }
    }

    /// Says `message` once on the caller's warning channel (the trace writer's).
    package func warn(_ message: String) {
        trace.fail(message)
    }

    /// Writes the output tails.
    private func writeTails(_ report: RunReport) {
        for (stream, tail, total, transport) in [
            ("stdout", report.stdoutTail, report.stdoutBytes, report.stdoutTransport),
            ("stderr", report.stderrTail, report.stderrBytes, report.stderrTransport),
        ] {
            guard let total, total > 0 else { continue }
            let text = String(decoding: tail, as: UTF8.self)
            var event = TraceEvent.Tail()
            event.stream = stream
            event.bytesTotal = total
            event.tailBytes = tail.count
            event.transport = transport
            event.truncated = UInt64(tail.count) < total
            event.text = text
            recorder.append(.tail(event))
        }
    }

    package func warning(_ message: String) {
        recorder.warning(message)
    }

    private func execFailedEvent(_ error: SystemError, path: String, explanation: String?) -> TraceEvent {
        var exec = TraceEvent.Exec()
        exec.path = path
        exec.errno = error.code
        exec.errnoName = error.name
        exec.error = error.message
        exec.exitStatus = CommandResolver.exitStatus(forExecError: error.code)
        exec.explanation = explanation
        return .exec(exec)
    }

    /// Seconds with microsecond resolution (exact in a Double for any realistic clock value).
    private func seconds(_ ns: Int64) -> Double { Double(ns / 1000) / 1_000_000 }

    private func startEvent() -> TraceEvent {
        let host = ProcessFacts.host
        var start = TraceEvent.Start()
        start.probeExecVersion = options.version
        start.time = Timestamp.iso8601(realtimeNanoseconds: spr_realtime_ns())
        start.argv = Redaction.arguments(options.command).map { Redaction.output($0, pattern: redactRegex) }
        start.cwd = ProcessFacts.workingDirectory
        start.pid = getpid()
        start.ppid = getppid()
        start.uid = getuid()
        start.gid = getgid()
        start.envNames = ProcessEnvironment.names
        start.host = host.name
        start.kernel = host.kernel
        var clock = TraceEvent.Clock()
        clock.realtimeSeconds = seconds(spr_realtime_ns())
        clock.monotonicSeconds = seconds(spr_monotonic_ns())
        start.clock = clock
        var flags = TraceEvent.Options()
        flags.forwardToGroup = options.forwardToProcessGroup
        flags.subreaper = options.subreaper
        flags.pid1 = getpid() == 1
        flags.pipeTerminals = options.pipeTerminals
        flags.unbuffered = options.unbuffered
        flags.service = options.service
        start.options = flags
        var streams = TraceEvent.Streams()
        streams.stdin = StandardStreams.describe(STDIN_FILENO)
        streams.stdout = StandardStreams.describe(STDOUT_FILENO)
        streams.stderr = StandardStreams.describe(STDERR_FILENO)
        start.streams = streams
        return .start(start)
    }
}
