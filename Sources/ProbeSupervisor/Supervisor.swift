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
        becomeParentOfTheTree()
        let untracedReason = options.ptrace ? reasonNotToTrace() : nil
        let traceThisRun = options.ptrace && untracedReason == nil
        defer { BreakpointGuardian.finish() }  // whatever the ending (released and reaped once)
        let streams = StandardStreams.prepare(pipeTerminals: options.pipeTerminals)
        if !streams.unpiped.isEmpty {
            warn(
                "cannot make a pipe for \(streams.unpiped.joined(separator: ", ")): the program writes there directly, as without probe-exec; that output is not recorded"
            )
        }
        let outcome: SpawnOutcome
        do {
            outcome = try spawn(streams: streams, traced: traceThisRun)
        } catch {
            afterSpawnNow()
            streams.closeAll()
            return forkFailed(error)
        }
        // The exec stop is timed from here: probe-exec has just seen the exec succeed (late, on
        // a loaded machine: what it held the program before that is not counted).
        let execConfirmed = spr_monotonic_ns()
        streams.closeWriteEnds()
        var tracing = TracingFindings()
        if !options.ptrace {
            tracing.state = "off"
        } else if let untracedReason {
            tracing.state = "off"
            tracing.reason = untracedReason
        } else if let error = outcome.traceError {
            tracing.state = "unavailable"
            tracing.reason = Supervisor.ptraceDenied(error, child: outcome.pid)
        }
        if let failure = outcome.execFailure {
            afterSpawnNow()
            streams.closeReadEnds()
            return execFailed(failure, outcome: outcome, tracing: tracing)
        }
        // Traced, a child dead under its pre-exec name with no exec stop never exec'd (spr_spawn).
        let killedBeforeExec = outcome.signalBeforeExec.flatMap { $0.died ? $0.signal : nil }
        var exec = TraceEvent.Exec()
        exec.ok = killedBeforeExec == nil
        exec.pid = outcome.pid
        exec.path = killedBeforeExec == nil ? outcome.path : nil  // a killed PATH search's place is not known
        if let signal = killedBeforeExec {
            exec.error = "\(SignalName.name(signal)) ended probe-exec's child before its execve: the program never ran"
            exec.exitStatus = 128 + signal
        }
        recorder.append(.exec(exec))
        let memory = MemoryCgroupWatch(pid: outcome.pid)
        let traced = traceThisRun && outcome.traceError == nil
        let breakpoints = traced ? chooseBreakpoints() : (hardware: false, guardian: nil)
        let tracer =
            traced
            ? Tracer(
                recorder: recorder,
                redact: redactRegex,
                leader: outcome.pid,
                guardian: breakpoints.guardian ?? BreakpointGuardian()
            ) : nil
        if let tracer {
            tracer.hardwareBreakpoints = breakpoints.hardware
            tracer.execConfirmedNanoseconds = execConfirmed
            tracer.followsForks = options.followForks
            tracing = tracer.findings
            tracer.onProgramExec = { memory.programExecuted(pid: $0) }
        }
        recordTracing(tracing, signalBeforeExec: outcome.signalBeforeExec)
        var loop = SupervisorLoop(
            supervisor: self,
            childPID: outcome.pid,
            streams: streams,
            tracer: tracer,
            pendingStatus: outcome.pendingStatus
        )
        loop.afterSpawn = options.afterSpawn
        loop.housekeeping = options.housekeeping
        loop.afterFirstStop = {
            spr_hwbp_probe_release()  // the milestones' own breakpoints are open (or int3 is used)
            memory.start()
        }
        var report = loop.run()
        report.killedBeforeExec = killedBeforeExec
        report.memoryCgroup = memory.finish(recorder: recorder)
        redactTails(&report)
        report.service = options.service
        report.watchedDescendants = watchesDescendants
        report.unbuffered = options.unbuffered
        report.mergedOutput = streams.merged
        if tracer == nil { report.tracing = tracing }
        report.programPath = report.tracing.lastImage ?? outcome.path
        writeTails(report)
        return report
    }

    /// The program never ran (no fork, or no exec): the trace directory's links and pruning at once,
    /// on this thread, as the loop would have done them beside its start.
    private func afterSpawnNow() {
        options.afterSpawn?()
        options.housekeeping?()
    }

    /// How the traced program's milestones are watched: with the CPU's breakpoints where the kernel
    /// allows them in time (nothing in the program to guard), else `int3` with its guardian,
    /// started before the exec stop is handled so that it is there when the first breakpoint is
    /// planted (and after the program, so that the program is probe-exec's first child).
    private func chooseBreakpoints() -> (hardware: Bool, guardian: BreakpointGuardian?) {
        guard Supervisor.hardwareBreakpointsWanted else { return (false, BreakpointGuardian.started()) }
        let limit = Supervisor.breakpointsWanted == "hardware" ? Int64.max : Supervisor.hardwareProbeLimitNanoseconds
        let probe = spr_hwbp_probe_wait(limit)
        if probe == -1 {
            recorder.warning(
                "the kernel had not answered probe-exec's request for a hardware breakpoint within \(limit / 1_000_000) ms: rather than hold the program longer, this run's start-up milestones are int3 breakpoints in its code, which its guardian takes out if probe-exec dies"
            )
            return (false, BreakpointGuardian.started())
        }
        // Refused (probe != 0): the tracer finds it so at the exec stop, says why, and plants int3.
        return (true, probe == 0 ? BreakpointGuardian() : BreakpointGuardian.started())
    }

    /// PROBE_EXEC_BREAKPOINTS (troubleshooting, and the tests of each path): `int3` plants them
    /// always; `hardware` waits for the kernel's answer on hardware breakpoints however long it
    /// takes; unset, the wait is bounded (``hardwareProbeLimitNanoseconds``).
    static var breakpointsWanted: String? {
        getenv("PROBE_EXEC_BREAKPOINTS").map { String(cString: $0) }
    }

    /// Whether milestones are to be watched with the CPU's breakpoints (unless
    /// PROBE_EXEC_BREAKPOINTS=int3).
    package static var hardwareBreakpointsWanted: Bool { breakpointsWanted != "int3" }

    /// How long the program may wait at its exec stop for the early probe of hardware breakpoints
    /// (``warmUpHardwareBreakpoints()``); after that it gets int3 breakpoints this run. An answer
    /// takes microseconds, except the machine's first perf event since a second without any,
    /// which waits for an RCU grace period (6-22 ms measured on an idle 2-core VM). That once per
    /// start is waited for (the trace's longest stop shows it): with `int3` instead, a SIGKILL of
    /// probe-exec in the program's first milliseconds could kill the program (issue 13), and
    /// under load a 2 ms bound gave `int3` to most runs. Only a pathological wait is cut short.
    package static let hardwareProbeLimitNanoseconds: Int64 = 50_000_000

    /// Asks the kernel for a hardware breakpoint on a thread of its own, at once, so that the
    /// grace period the machine's first perf event waits for overlaps probe-exec's own start-up
    /// and the fork (call it as early as possible in a traced run; the answer is waited for at
    /// the exec stop, with a bound).
    package static func warmUpHardwareBreakpoints() {
        if hardwareBreakpointsWanted { spr_hwbp_probe_start() }
    }

    /// Forks and execs the program. Under a pids limit the early hardware-breakpoint probe's
    /// thread may hold the task the fork needs (EAGAIN): then its answer is waited for (the thread
    /// ends with it) and the fork tried again, so that the probe never keeps the program from
    /// running.
    private func spawn(streams: StandardStreams, traced: Bool) throws(SystemError) -> SpawnOutcome {
        let environment = childEnvironment()
        var retries = 2
        while true {
            do {
                return try Spawn.run(
                    command: options.commandBytes,
                    stdoutFD: streams.stdout?.write ?? -1,
                    stderrFD: streams.stderrWriteEnd,
                    traceOptions: traced ? spr_ptrace_options(options.followForks ? 1 : 0) : 0,
                    environment: environment,
                    pidVariable: handsOver ? HandOver.pidVariable : nil,
                    parentDeathSignal: options.parentDeathSignal ?? 0
                )
            } catch {
                guard error.code == EAGAIN, retries > 0, options.ptrace else { throw error }
                retries -= 1
                if Supervisor.hardwareBreakpointsWanted {
                    _ = spr_hwbp_probe_wait(Supervisor.hardwareProbeLimitNanoseconds)
                }
                usleep(2_000)  // the probe's thread, done, is gone from the pids count
            }
        }
    }

    /// -p and -s: the parent-death signal and the child-subreaper role, before the fork.
    private func becomeParentOfTheTree() {
        if let signal = options.parentDeathSignal {
            let error = spr_set_parent_death_signal(signal)
            if error != 0 { warning("cannot set the parent-death signal: \(SystemError(error))") }
        }
        if options.subreaper {
            let error = spr_set_child_subreaper()
            if error != 0 { warning("cannot become a child subreaper: \(SystemError(error))") }
        }
    }

    /// Whether the program's orphans come to probe-exec (it is PID 1, or became a child subreaper)
    /// and are reaped by it: then the processes it left running are known.
    private var watchesDescendants: Bool {
        options.reapAnyChild && (getpid() == 1 || spr_is_child_subreaper() == 1)
    }

    /// Why tracing would change the program (a setuid program's privilege, a sanitizer's
    /// runtime), or nil: then it runs as without probe-exec, and the trace says why.
    private func reasonNotToTrace() -> String? {
        guard let executable = Spawn.executablePath(for: options.commandBytes[0]) else { return nil }
        return TracingPolicy.reasonNotToTrace(executable: executable)
    }

    /// probe-exec could not even fork (or make the status pipe): the report says so.
    private func forkFailed(_ error: SystemError) -> RunReport {
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

    /// execve failed: the child is reaped, the failure explained once (while the PATH and files
    /// are as execve saw them; the verdict reads this recorded explanation) and recorded.
    private func execFailed(
        _ failure: (error: SystemError, path: String),
        outcome: SpawnOutcome,
        tracing: TracingFindings
    ) -> RunReport {
        _ = reapUntil(child: outcome.pid, pending: outcome.pendingStatus)
        var report = RunReport(
            command: options.command,
            cause: .execFailed(error: failure.error, path: failure.path),
            durationMilliseconds: offset()
        )
        report.childPID = outcome.pid
        report.tracing = tracing
        report.execExplanation = options.explainExecFailure?(failure.path, options.command[0], failure.error.code)
        recorder.append(execFailedEvent(failure.error, path: failure.path, explanation: report.execExplanation))
        writeTails(report)
        return report
    }

    /// The `tracing` event (said once on stderr when unavailable), and a signal that reached the
    /// child before it was the program.
    private func recordTracing(_ tracing: TracingFindings, signalBeforeExec early: (signal: Int32, died: Bool)?) {
        var event = TraceEvent.Tracing()
        event.state = tracing.state
        event.reason = tracing.reason
        recorder.append(.tracing(event))
        if tracing.state == "unavailable", let reason = tracing.reason { warn("tracing is unavailable: \(reason)") }
        if let early {
            let name = SignalName.name(early.signal)
            warning(
                early.died
                    ? "\(name) reached the program between fork and execve and ended it before it ran (as it would have ended it at its start without probe-exec)"
                    : "\(name) reached the program between fork and execve; it was delivered, and the program went on to start"
            )
        }
    }

    /// --redact: everything derived from output (tails, verdict, program error) sees only this.
    private func redactTails(_ report: inout RunReport) {
        guard let regex = redactRegex else { return }
        report.stdoutTail = Array(
            Redaction.output(String(decoding: report.stdoutTail, as: UTF8.self), pattern: regex).utf8
        )
        report.stderrTail = Array(
            Redaction.output(String(decoding: report.stderrTail, as: UTF8.self), pattern: regex).utf8
        )
    }

    /// Reaps until `child` has exited (used when exec failed, before any loop exists); a traced
    /// child stops once more on its way out, and is let go.
    private func reapUntil(child: Int32, pending: Int32?) -> Int32 {
        if let pending, WaitStatus(pending).isTermination { return pending }
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

    /// The environment the child starts with: ours, byte for byte, plus the hand-over to the
    /// library and the buffering requests of --unbuffered.
    package func childEnvironment() -> [[UInt8]] {
        var entries = ProcessEnvironment.entryBytes
        func unset(_ name: String) {
            let prefix = Array((name + "=").utf8)
            entries.removeAll { $0.starts(with: prefix) }
        }
        func set(_ name: String, _ value: [UInt8]) {
            unset(name)
            entries.append(Array((name + "=").utf8) + value)
        }
        ProbeExecProcess.addedVariables.forEach(unset)  // probe-exec's own, not inherited
        // The channel for the StartupProbe library in the program: our trace and our start time.
        if let path = trace.path, trace.isRecording {
            let absolute = path.hasPrefix("/") ? path : (ProcessFacts.workingDirectory ?? ".") + "/" + path
            set(HandOver.traceVariable, Array(absolute.utf8))
            set(HandOver.startVariable, Array(String(startNanoseconds).utf8))
        }
        guard options.unbuffered else { return entries }
        set("PYTHONUNBUFFERED", Array("1".utf8))
        if let stdbuf = Supervisor.stdbufLibrary {
            let inherited = ProcessEnvironment.valueBytes(of: "LD_PRELOAD") ?? []
            set("LD_PRELOAD", inherited.isEmpty ? Array(stdbuf.utf8) : inherited + Array((":" + stdbuf).utf8))
            set("_STDBUF_O", Array("L".utf8))
            set("_STDBUF_E", Array("0".utf8))
        }
        return entries
    }

    /// Whether the hand-over variables go to the program (its trace is recorded).
    private var handsOver: Bool { trace.path != nil && trace.isRecording }

    /// coreutils' stdbuf preload library, where installed.
    package static var stdbufLibrary: String? {
        ["/usr/libexec/coreutils/libstdbuf.so", "/usr/lib/coreutils/libstdbuf.so"].first { access($0, R_OK) == 0 }
    }

    /// --redact.
    package var redactRegex: TextPattern? { options.redactPattern.flatMap(TextPattern.init) }

    /// Why PTRACE_SEIZE failed, for a person.
    package static func ptraceDenied(_ error: SystemError, child: Int32? = nil) -> String {
        // Already traced: the child by whoever traces probe-exec itself (strace -f attaches it
        // at the fork), as /proc says of either.
        if error.code == EPERM, let child,
            let tracer = ProcessFacts.tracer(of: child) ?? ProcessFacts.tracer(of: getpid())
        {
            let name = ProcessFacts.command(of: tracer).map { " (`\($0)`)" } ?? ""
            return
                "the program is already traced by pid \(tracer)\(name) (ptrace allows one tracer); it runs under that one, untraced by probe-exec"
        }
        switch error.code {
        case EMFILE, ENFILE:
            return "too few file descriptors left to trace it (\(error.name)); the program runs untraced"
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
            event.stream = report.mergedOutput ? "merged" : stream
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
        let pattern = redactRegex  // compiled once, not per argument
        start.argv = Redaction.arguments(options.command).map { Redaction.output($0, pattern: pattern) }
        // Arguments that are not UTF-8 are kept reversibly (unless redaction masked them).
        for (index, bytes) in options.commandBytes.enumerated()
        where String(validating: bytes, as: UTF8.self) == nil && start.argv[index] == options.command[index] {
            var kept = TraceEvent.ArgumentBytes()
            kept.index = index
            kept.base64 = Base64.encode(bytes)
            start.argvBase64.append(kept)
        }
        start.cwd = ProcessFacts.workingDirectory
        start.pid = getpid()
        start.ppid = getppid()
        start.uid = getuid()
        start.gid = getgid()
        let added = ProbeExecProcess.addedVariables
        start.envNames = ProcessEnvironment.names.filter { !added.contains($0) }
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
