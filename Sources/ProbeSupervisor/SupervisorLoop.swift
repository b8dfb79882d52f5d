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

/// The supervisor's event loop, shaped like tini's: signals are read from a signalfd; SIGCHLD
/// reaps, every other signal is forwarded; the output pumps wake the loop through an eventfd to
/// have their milestones recorded as they happen.
package struct SupervisorLoop {
    package let supervisor: Supervisor
    package let childPID: Int32
    /// The output pumps, started once the exec stop is handled (``startPumps()``).
    package private(set) var pumps: [OutputPump] = []
    /// The program's output pipes, for the pumps.
    private let streams: StandardStreams
    package let stopFD: Int32
    package let notifyFD: Int32
    package var recordedFirstByte: Set<String> = []
    package var recordedOutputError: Set<String> = []
    package var report: RunReport
    package let tracer: Tracer?
    /// Listening sockets already recorded.
    package var seenListeners: Set<Sockets.Listener> = []
    /// Where listening sockets are looked for.
    package let listenerWatch = ListenerWatch()
    /// CLOCK_MONOTONIC of the next /proc scan for listening sockets; nil once watching ended.
    package var nextSocketScan: Int64?
    /// The SIGKILL deadline for the child's process group: after a readiness check's stop
    /// request, or after a forwarded SIGTERM with --grace-period.
    package var killDeadline: Int64?
    /// The grace period that set ``killDeadline``, in seconds.
    package var killGraceSeconds = 0.0
    /// Signals held back by --signal-delay: when to forward them.
    package var delayedSignals: [(due: Int64, signal: Int32)] = []
    /// Readiness check: --ready-line, compiled once.
    package let readyRegex: TextPattern?

    /// A wait status of the child taken before the loop (while waiting for its exec).
    package var pendingStatus: Int32?
    /// Work that the program must not wait for: run once it is let go from its exec stop (at
    /// once when it is not traced), or after its end if it never stopped.
    var afterFirstStop: (() -> Void)?
    /// ``SupervisorOptions/afterSpawn``: once the exec stop is handled, before the pumps start.
    var afterSpawn: (@Sendable () -> Void)?
    /// ``SupervisorOptions/housekeeping``: on a thread of its own started after the output pumps
    /// (where a pids limit leaves room for one more thread only, the pumps get it: without them
    /// the program's output would be lost), and waited for before ``run()`` returns.
    var housekeeping: (@Sendable () -> Void)?

    package init(
        supervisor: Supervisor,
        childPID: Int32,
        streams: StandardStreams,
        tracer: Tracer?,
        pendingStatus: Int32? = nil
    ) {
        self.pendingStatus = pendingStatus
        self.supervisor = supervisor
        self.childPID = childPID
        self.tracer = tracer
        self.readyRegex = supervisor.options.readyLine.flatMap(TextPattern.init)
        self.stopFD = spr_eventfd_open()
        self.notifyFD = spr_eventfd_open()
        self.streams = streams
        self.report = RunReport(command: supervisor.options.command, cause: .exited(code: 0), durationMilliseconds: 0)
        self.report.childPID = childPID
    }

    /// The pumps no thread runs (none could be started) that still have output to forward: the
    /// loop forwards it.
    private var inlinePumps: [OutputPump] { pumps.filter { $0.inline != nil && $0.inputDescriptor >= 0 } }

    /// Starts forwarding the program's output, and listens for `probe-exec detach` when tracing:
    /// after its exec stop is handled, so that the program does not wait for this set-up (its
    /// first bytes wait in the pipe meanwhile, in order).
    private mutating func startPumps() {
        if tracer != nil { controlFD = spr_control_listen(getpid()) }
        var pumps: [OutputPump] = []
        // Merged: one pipe, forwarded to fd 1 (the same open file as fd 2); its bytes count as stderr.
        for (name, pipe, output) in [
            (streams.merged ? "merged" : "stdout", streams.stdout, STDOUT_FILENO),
            ("stderr", streams.stderr, STDERR_FILENO),
        ] {
            guard let pipe else { continue }
            let pump = OutputPump(stream: name)
            do {
                try pump.start(input: pipe.read, output: output, stop: stopFD, notify: notifyFD)
                pumps.append(pump)
                if let error = pump.inline {
                    // Closing the pipe instead would end the program by SIGPIPE at its first write.
                    supervisor.warning(
                        "no thread could be started to forward \(name) (\(error)); probe-exec forwards it between its other work"
                    )
                }
            } catch {
                // Without a pump the child would block on a full pipe: give it our descriptor's
                // behaviour instead by closing the pipe (it sees EPIPE), and say so.
                close(pipe.read)
                supervisor.warning("cannot forward \(name): \(error); the program's \(name) is lost")
            }
        }
        self.pumps = pumps
    }

    /// Loops until the child has been reaped, then stops the pumps and returns the report.
    package mutating func run() -> RunReport {
        // The exec stop (usually taken while waiting for the exec) first: the program goes on
        // while the rest is set up.
        var status: Int32? = nil
        if let pending = pendingStatus {
            pendingStatus = nil
            status = handleWaitResult(pid: childPID, raw: pending)
        }
        afterSpawn?()
        startPumps()
        let housekeepingWork = housekeeping.map { BackgroundWork($0) }
        defer { housekeepingWork?.wait() }  // done before the run's report is made
        let signalFD = spr_signalfd_open()
        if signalFD < 0 {
            // Degraded (the descriptor limit, say): signals are taken with sigtimedwait instead,
            // which needs no descriptor; forwarding, reaping and tracing stay the same.
            supervisor.warning(
                "cannot open a signalfd (\(SystemError.current)); signals are read with sigtimedwait instead"
            )
        }
        runAfterFirstStop()
        nextSocketScan = supervisor.startNanoseconds + 10_000_000
        while status == nil {
            defer {
                runAfterFirstStop()
                timedWork()
            }
            if signalFD < 0 {
                var info = spr_signal_info_t()
                let inline = inlinePumps
                let got = spr_sigtimedwait_supervised(&info, min(pollTimeoutMilliseconds(), inline.isEmpty ? 50 : 2))
                for pump in inline { pump.service() }
                recordPumpMilestones()
                if got == 1 { status = handle(info) ?? status }
                if status == nil, let s = reap() { status = s }  // a SIGCHLD may have merged away
                continue
            }
            var fds = [
                pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: notifyFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: controlFD, events: Int16(POLLIN), revents: 0),
            ]
            // A hardware breakpoint's hit (main() reached) is recorded as it comes.
            let milestoneFDs = tracer?.milestoneDescriptors ?? []
            for fd in milestoneFDs {
                fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
            // Output no pump thread forwards (none could be started): forwarded here as it comes.
            let inline = inlinePumps
            for pump in inline { fds.append(pump.inlinePoll) }
            if poll(&fds, nfds_t(fds.count), pollTimeoutMilliseconds()) < 0 { continue }
            for (i, pump) in inline.enumerated() where fds[3 + milestoneFDs.count + i].revents != 0 { pump.service() }
            if fds[1].revents != 0 || !inline.isEmpty { recordPumpMilestones() }
            if fds[2].revents != 0 { answerControlRequest() }
            let milestoneReady = fds[3..<(3 + milestoneFDs.count)].filter { $0.revents != 0 }
            if !milestoneReady.isEmpty {
                let hangUp = Int16(POLLHUP | POLLERR | POLLNVAL)
                tracer?.milestoneDescriptorsReady(milestoneReady.map { ($0.fd, $0.revents & hangUp != 0) })
            }
            guard fds[0].revents != 0 else { continue }
            var info = spr_signal_info_t()
            while spr_signalfd_read(signalFD, &info) == 1 {
                if let s = handle(info) { status = s }
            }
        }
        afterFirstStop?()  // the program ended before any stop: it is still owed
        afterFirstStop = nil
        scanSockets()  // one last look: a listener seen only now still counts
        tracer?.collectMilestones()  // a hit not polled yet (the program ended at once)
        let endNanoseconds = spr_monotonic_ns()
        // Its frames are named now: the program's end is timed without that work.
        tracer?.finishExitWork()
        BreakpointGuardian.finish()  // the program is gone: nothing left to guard
        // Orphans re-parented to us (PID 1 or subreaper) are children of the main thread.
        let me = getpid()
        let left = (ProcessFacts.readSmallFile("/proc/\(me)/task/\(me)/children", limit: 1 << 16) ?? "")
            .split(separator: " ").compactMap { Int32($0.filter(\.isNumber)) }
            .filter { spr_guardian_owns($0, 0) == 0 }
        report.leftRunning = left.map { ($0, ProcessFacts.command(of: $0)) }
        if supervisor.options.killLeftovers && !left.isEmpty { killLeftovers(left) }
        if let status { report.cause = Self.cause(status) }
        if let tracer { report.tracing = tracer.findings }
        report.durationMilliseconds = supervisor.offset(endNanoseconds)
        var exit = TraceEvent.Exit()
        exit.pid = childPID
        switch report.cause {
        case .exited(let code): exit.code = code
        case .killed(let signal, let core):
            exit.signal = signal
            exit.signalName = SignalName.name(signal)
            exit.coreDumped = core
        default: break
        }
        exit.status = report.cause.shellStatus
        exit.durationMilliseconds = report.durationMilliseconds
        exit.orphansReaped = report.orphansReaped
        exit.leftRunning = report.leftRunning.prefix(20).map { TraceEvent.Process(pid: $0.pid, command: $0.command) }
        if let tracer, tracer.findings.stopCount > 0 {
            exit.stops = tracer.findings.stopCount
            exit.longestStopMilliseconds = Double(tracer.findings.longestStopNanoseconds / 1000) / 1000
        }
        if let tracer, tracer.findings.watchedProcessStarts { exit.processesStarted = tracer.findings.processesStarted }
        supervisor.recorder.append(.exit(exit), at: report.durationMilliseconds)
        stopPumps(signalFD: signalFD)
        if signalFD >= 0 { close(signalFD) }
        if controlFD >= 0 { close(controlFD) }
        return report
    }

    /// --kill-leftovers: SIGTERM the processes still running as our children, wait up to the
    /// grace period (5 s by default) reaping them, then SIGKILL what remains — so a container
    /// stops in bounded time.
    private mutating func killLeftovers(_ pids: [Int32]) {
        for pid in pids { kill(pid, SIGTERM) }
        let grace = supervisor.options.gracePeriodSeconds ?? 5
        let deadline = spr_monotonic_ns() + Int64(grace * 1e9)
        var remaining = Set(pids)
        while !remaining.isEmpty && spr_monotonic_ns() < deadline {
            var status: Int32 = 0
            let pid = spr_waitpid(-1, &status, spr_wnohang())
            if pid > 0 {
                remaining.remove(pid)
                report.orphansReaped += 1
            } else if pid < 0 {
                break
            } else {
                usleep(5_000)
            }
        }
        for pid in remaining { kill(pid, SIGKILL) }
        for _ in remaining {
            var status: Int32 = 0
            if spr_waitpid(-1, &status, 0) > 0 { report.orphansReaped += 1 }
        }
        var leftovers = TraceEvent.Leftovers()
        leftovers.terminated = pids.filter { !remaining.contains($0) }
        leftovers.killed = Array(remaining)
        supervisor.recorder.append(.leftovers(leftovers))
    }

    /// Listening is looked for often while the program is busy, and less as it goes quiet: every
    /// 40 ms for 2 s after its last sign of life (start, output, main() reached), every 100 ms until
    /// 10 s after it, then every 250 ms; for the first 60 s only (a readiness check: every 20 ms
    /// until its timeout). Each look is one sock_diag request per address family
    /// (``ListenerWatch``): a server that prints as it starts listening is seen within 40 ms, and
    /// probe-exec next to an idle server stays far below 0.1 CPU-s a minute.
    private mutating func socketScanInterval(now: Int64, elapsed: Int64) -> Int64? {
        if supervisor.options.isReadinessCheck {
            return elapsed > Int64(supervisor.options.readyTimeoutSeconds * 1e9) ? nil : 20_000_000
        }
        if elapsed > 60_000_000_000 { return nil }
        let output = pumps.reduce(UInt64(0)) { $0 &+ $1.bytes }
        let main = tracer?.findings.mainReachedMilliseconds
        if output != lastOutputBytes || main != lastMainReached {
            lastOutputBytes = output
            lastMainReached = main
            lastActivity = now
        }
        let quiet = now - max(lastActivity, supervisor.startNanoseconds)
        if quiet < 2_000_000_000 { return 40_000_000 }
        if quiet < 10_000_000_000 { return 100_000_000 }
        return 250_000_000
    }

    /// The last sign of life the listen scans keep pace with.
    package var lastActivity: Int64 = 0
    package var lastOutputBytes: UInt64 = 0
    package var lastMainReached: Double?

    private func pollTimeoutMilliseconds() -> Int32 {
        let deadlines = [nextSocketScan, killDeadline].compactMap { $0 } + delayedSignals.map(\.due)
        guard let next = deadlines.min() else { return -1 }
        return Int32(clamping: max(0, (next - spr_monotonic_ns()) / 1_000_000 + 1))
    }

    /// Runs ``afterFirstStop`` once the program is no longer held at its exec stop: at once when
    /// it is not traced, after the tracer has handled its first stop otherwise.
    private mutating func runAfterFirstStop() {
        guard let work = afterFirstStop, (tracer?.findings.stopCount ?? 1) > 0 else { return }
        afterFirstStop = nil
        work()
    }

    /// The periodic work between events: socket scans, readiness, the stop deadline.
    private mutating func timedWork() {
        let now = spr_monotonic_ns()
        if let deadline = killDeadline, now >= deadline {
            kill(-childPID, SIGKILL)
            killDeadline = nil
            var expired = TraceEvent.GraceExpired()
            expired.sent = "SIGKILL"
            expired.to = -childPID
            expired.graceSeconds = killGraceSeconds
            let at = supervisor.offset()
            report.graceExpired = (at, killGraceSeconds)
            supervisor.recorder.append(.graceExpired(expired), at: at)
        }
        while let first = delayedSignals.first, now >= first.due {
            delayedSignals.removeFirst()
            deliver(first.signal)
        }
        guard let next = nextSocketScan, now >= next else { return }
        scanSockets()
        scanOutputForReadyLine()
        let elapsed = now - supervisor.startNanoseconds
        if let interval = socketScanInterval(now: now, elapsed: elapsed) {
            nextSocketScan = now + interval
        } else {
            nextSocketScan = nil
            if supervisor.options.isReadinessCheck && report.readyMilliseconds == nil {
                var notReady = TraceEvent.NotReady()
                notReady.port = supervisor.options.readyPort
                notReady.line = supervisor.options.readyLine
                notReady.timeoutSeconds = supervisor.options.readyTimeoutSeconds
                supervisor.recorder.append(.notReady(notReady))
                requestStop()
            }
        }
    }

    /// Records sockets the program's process tree listens on that were not seen before.
    private mutating func scanSockets() {
        for listener in listenerWatch.newListeners(root: childPID) where !seenListeners.contains(listener) {
            seenListeners.insert(listener)
            let at = supervisor.offset()
            report.listening.append((listener, at))
            var listen = TraceEvent.Listen()
            listen.address = listener.address
            listen.port = listener.port
            supervisor.recorder.append(.listen(listen), at: at)
            if listener.port == supervisor.options.readyPort, report.readyMilliseconds == nil {
                report.readyMilliseconds = at
                var ready = TraceEvent.Ready()
                ready.port = listener.port
                supervisor.recorder.append(.ready(ready), at: at)
                requestStop()
            }
        }
    }

    /// Readiness by output: the first line of recent output that matches --ready-line.
    private mutating func scanOutputForReadyLine() {
        guard report.readyMilliseconds == nil, let regex = readyRegex else { return }
        for pump in pumps {
            let text = String(decoding: pump.peekTail(capacity: 256 * 1024), as: UTF8.self)
            for line in text.split(separator: "\n") where regex.matches(String(line)) {
                let at = supervisor.offset()
                report.readyMilliseconds = at
                var ready = TraceEvent.Ready()
                ready.line = String(line.prefix(500))
                ready.stream = pump.stream
                supervisor.recorder.append(.ready(ready), at: at)
                requestStop()
                return
            }
        }
    }

    /// A readiness check is done: ask the program's process group to stop, SIGKILL after the grace period.
    private mutating func requestStop() {
        kill(-childPID, SIGTERM)
        killDeadline = spr_monotonic_ns() + Int64(supervisor.options.stopGraceSeconds * 1e9)
        killGraceSeconds = supervisor.options.stopGraceSeconds
    }

    /// How long the pumps may go on after the child has exited: what a descendant still writes
    /// into the pipes is forwarded for at most this long (then it gets EPIPE), so probe-exec
    /// exits within about a second of the program, with its status.
    static let drainSeconds = 0.5

    /// Lets the pumps take what is readable, then waits for them, at most ``drainSeconds``: a
    /// grandchild that still holds a pipe open, even one that writes without end into a slow
    /// reader, does not keep us alive. Signals are still taken meanwhile: a SIGTERM cuts the wait
    /// short (and goes to the process group with -g).
    private mutating func stopPumps(signalFD: Int32) {
        var one: UInt64 = 1
        _ = write(stopFD, &one, 8)
        let deadline = spr_monotonic_ns() + Int64(Self.drainSeconds * 1e9)
        var abandoned = false
        for pump in pumps {
            while !pump.join(until: min(deadline, spr_monotonic_ns() + 20_000_000)) {
                if spr_monotonic_ns() >= deadline || takeStopRequest(signalFD: signalFD) {
                    abandoned = true
                    break
                }
            }
            if abandoned { break }
        }
        if abandoned {
            supervisor.warning(
                "output was still arriving \(Self.drainSeconds) s after the program exited (a process it started holds its stdout or stderr); probe-exec stopped forwarding it and exits with the program's status"
            )
        }
        recordPumpMilestones()
        for pump in pumps {
            let tail = pump.takeTail(capacity: supervisor.options.tailCapacity)
            let transport = pump.usedSplice ? "splice" : "copy"
            if pump.stream == "stdout" {
                report.stdoutBytes = pump.bytes
                report.stdoutTail = tail
                report.stdoutTransport = transport
            } else {
                report.stderrBytes = pump.bytes
                report.stderrTail = tail
                report.stderrTransport = transport
            }
        }
        if !abandoned {
            close(stopFD)
            close(notifyFD)
        }
    }

    /// While draining: reads pending signals; forwards them (the program's descendants may still
    /// run) and returns true when one asks probe-exec to stop (TERM, INT, QUIT, HUP).
    private mutating func takeStopRequest(signalFD: Int32) -> Bool {
        guard signalFD >= 0 else { return false }
        var info = spr_signal_info_t()
        var stop = false
        while spr_signalfd_read(signalFD, &info) == 1 {
            if info.signo == SIGCHLD {
                _ = reap()
                continue
            }
            forward(info)
            if [SIGTERM, SIGINT, SIGQUIT, SIGHUP].contains(info.signo) { stop = true }
        }
        return stop
    }

    private mutating func recordPumpMilestones() {
        var counter: UInt64 = 0
        _ = read(notifyFD, &counter, 8)  // resets the eventfd; milestones are read from the pumps
        for pump in pumps {
            if !recordedFirstByte.contains(pump.stream), let ns = pump.firstByteNanoseconds {
                recordedFirstByte.insert(pump.stream)
                var output = TraceEvent.Output()
                output.stream = pump.stream
                output.milestone = "first_byte"
                supervisor.recorder.append(.output(output), at: supervisor.offset(ns))
            }
            if !recordedOutputError.contains(pump.stream), let error = pump.outputError {
                recordedOutputError.insert(pump.stream)
                let why =
                    error.code == EPIPE
                    ? "the reader of probe-exec's \(pump.stream) went away; the program gets EPIPE/SIGPIPE on its next write, as it would without probe-exec"
                    : "writing probe-exec's \(pump.stream) failed; the program's further \(pump.stream) is refused"
                var outputError = TraceEvent.OutputError()
                outputError.stream = pump.stream
                outputError.errno = error.code
                outputError.errnoName = error.name
                outputError.explanation = why
                supervisor.recorder.append(.outputError(outputError))
            }
        }
    }

    /// Reaps every child that has changed state and handles every ptrace stop; returns the
    /// child's wait status once it exits.
    private mutating func reap() -> Int32? {
        var childStatus: Int32? = nil
        // PID 1 or subreaper: any child. A library caller: only what is ours (the child and,
        // when traced, its threads), so that other children of the process are never stolen.
        let targets: [Int32] =
            [childPID] + (supervisor.options.reapAnyChild ? [-1] : (tracer?.tids.subtracting([childPID]) ?? []))
        for target in targets {
            while true {
                var raw: Int32 = 0
                // Stops and continues too: the program's job control is mirrored (see mirrorStop).
                // Continues of the program only: a waitpid(WCONTINUED) by its tracer would take a
                // followed child's "continued" from the parent that waits for it (it is reported
                // once, to the first who asks).
                let continues = target == childPID ? WCONTINUED : 0
                let pid = spr_waitpid(target, &raw, spr_wnohang() | WUNTRACED | continues)
                if pid <= 0 { break }
                let ended = WaitStatus(raw).isTermination
                if let status = handleWaitResult(pid: pid, raw: raw) { childStatus = status }
                if target != -1 && ended { break }
            }
        }
        return childStatus
    }

    /// Handles one `waitpid` result: a tracee's stop, a thread's end, the child's end (its status
    /// is returned) or an orphan's.
    private mutating func handleWaitResult(pid: Int32, raw: Int32) -> Int32? {
        let event = WaitEvent(tid: pid, status: raw)
        let ended = WaitStatus(raw).isTermination
        // probe-exec's own breakpoint guardian: neither the program's nor an orphan.
        if spr_guardian_owns(pid, ended ? 1 : 0) != 0 { return nil }
        if let tracer, event.isPtraceStop, !tracer.owns(pid) {
            // A new thread's (or followed child's) first stop can be reported before its
            // creator's PTRACE_EVENT_CLONE: it is ours already, and must be resumed.
            tracer.adopt(pid)
        }
        if let tracer, tracer.owns(pid) {
            if !ended {
                tracer.handle(event)
                if pid == childPID, case .groupStop(_, let signal) = event {
                    if lastContinueAt > tracer.lastStopSignalAt {
                        // A SIGCONT forwarded after the stop signal was let through (a ptrace
                        // delivery stop reorders them): bare, the program would run now.
                        kill(childPID, SIGCONT)
                    } else {
                        mirrorStop(signal)
                    }
                }
                return nil
            }
            tracer.forget(pid)
        }
        if pid == childPID {
            if case .stopped(let signal, 0) = WaitStatus(raw) { mirrorStop(signal) }
            return ended ? raw : nil
        }
        if ended && !(tracer?.wasTraced(pid) ?? false) {
            report.orphansReaped += 1
        }
        return nil
    }

    /// Sends `signal` to the child (or its group), and starts the grace period after a SIGTERM.
    /// Returns the target and the error, if any.
    @discardableResult
    private mutating func deliver(_ signal: Int32) -> (target: Int32, error: SystemError?) {
        let target = supervisor.options.forwardToProcessGroup ? -childPID : childPID
        let error = kill(target, signal) == 0 ? nil : SystemError.current
        if signal == SIGTERM, let grace = supervisor.options.gracePeriodSeconds, killDeadline == nil {
            killDeadline = spr_monotonic_ns() + Int64(grace * 1e9)
            killGraceSeconds = grace
        }
        return (target, error)
    }

    /// The program stopped (Ctrl-Z, SIGTSTP, SIGSTOP): probe-exec stops itself with the same
    /// signal, so the shell that started it sees the job stop as it would bare; when the shell
    /// continues probe-exec (SIGCONT), the SIGCONT is forwarded and the program goes on. Not as
    /// PID 1, which has no job control above it.
    private mutating func mirrorStop(_ signal: Int32) {
        guard getpid() != 1, [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(signal) else { return }
        // A SIGCONT already waiting for us answers this stop: forwarding it continues the program.
        guard spr_continue_is_pending() == 0 else { return }
        var watcher: pid_t = 0
        let error = spr_stop_with_program(signal, childPID, &watcher)
        stopWatcher = watcher
        if error != 0 {
            supervisor.warning(
                "the program stopped (\(SignalName.name(signal))) but probe-exec could not stop with it: \(SystemError(error))"
            )
        }
    }

    /// When a SIGCONT was last forwarded to the program.
    package var lastContinueAt: Int64 = 0

    /// The last stop's watcher process (its SIGCONT to probe-exec is not forwarded).
    package var stopWatcher: pid_t = 0

    /// The control socket (`probe-exec detach`), or -1: only while the program is traced.
    package var controlFD: Int32 = -1

    /// One request on the control socket: `detach` ends tracing so gdb, py-spy or a crash
    /// reporter can attach, without a restart; the run goes on and ends with the program's status.
    /// Only probe-exec's own uid or root may ask (SO_PEERCRED).
    private mutating func answerControlRequest() {
        var uid: uid_t = 0
        var pid: pid_t = 0
        let connection = spr_control_accept(controlFD, &uid, &pid)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var buffer = [UInt8](repeating: 0, count: 64)
        var pollOne = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
        guard poll(&pollOne, 1, 1000) == 1 else { return }
        let n = read(connection, &buffer, buffer.count)
        let request = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        var reply: String
        if uid != getuid() && uid != 0 {
            reply = "refused: only uid \(getuid()) or root may detach this probe-exec"
        } else if !request.hasPrefix("detach") {
            reply = "refused: unknown request"
        } else if let tracer, tracer.findings.detachedReason == nil {
            let who = ProcessFacts.command(of: pid).map { " (\($0))" } ?? ""
            tracer.detach(
                reason:
                    "asked by pid \(pid)\(who) uid \(uid) with `probe-exec detach`; the program runs on untraced, its exit status is still recorded"
            )
            reply = "ok: tracing of pid \(childPID) ends now; a debugger can attach to it"
        } else {
            reply = "ok: pid \(childPID) is not traced (already detached, or run with --no-ptrace)"
        }
        _ = reply.withCString { write(connection, $0, strlen($0)) }
    }

    /// A signal probe-exec was started with ignored: recorded with its sender, not forwarded.
    private mutating func recordIgnored(_ info: spr_signal_info_t) {
        let at = supervisor.offset()
        let command = ProcessFacts.command(of: info.sender_pid)
        report.signals.append(
            ReceivedSignal(
                signal: info.signo,
                senderPID: info.sender_pid,
                senderUID: info.sender_uid,
                senderCommand: command,
                offsetMilliseconds: at,
                forwarded: false
            )
        )
        var event = TraceEvent.Signal()
        event.signal = info.signo
        event.name = SignalName.name(info.signo)
        event.code = info.code
        event.codeName = SignalName.codeName(info.code)
        event.senderPID = info.sender_pid
        event.senderUID = info.sender_uid
        event.senderCommand = command
        event.forwardedTo = 0
        event.forwardError =
            "not forwarded: probe-exec was started with \(event.name) ignored, and so was the program (as without probe-exec)"
        supervisor.recorder.append(.signal(event), at: at)
    }

    /// One signal taken from the signalfd (or sigtimedwait): SIGCHLD reaps (returning the
    /// child's status once it ended), every other signal is forwarded.
    private mutating func handle(_ info: spr_signal_info_t) -> Int32? {
        if info.signo == SIGCHLD { return reap() }
        forward(info)
        return nil
    }

    private mutating func forward(_ info: spr_signal_info_t) {
        let me = getpid()
        if info.signo == SIGCONT && stopWatcher != 0 && info.sender_pid == stopWatcher { return }
        if info.signo == SIGCONT {
            lastContinueAt = TraceClock.nowNanoseconds
            // Continued in the foreground (`fg`): the terminal goes back to the program's group.
            if isatty(STDIN_FILENO) == 1 && tcgetpgrp(STDIN_FILENO) == getpgrp() {
                _ = tcsetpgrp(STDIN_FILENO, childPID)
            }
        }
        // Our own pump or our own diagnostics hitting a closed pipe: not for the child.
        if info.signo == SIGPIPE && info.sender_pid == me { return }
        if spr_signal_inherited_ignored(info.signo) != 0 && spr_program_catches(childPID, info.signo) == 0 {
            // probe-exec was started with it ignored, and so was the program, which has not
            // installed a handler for it since: bare, it would have been ignored. Recorded, not
            // forwarded. (A program that catches it now gets it, as it would bare.)
            recordIgnored(info)
            return
        }
        let signal = supervisor.options.signalMap.target(of: info.signo)
        var delayed: Int? = nil
        var target = supervisor.options.forwardToProcessGroup ? -childPID : childPID
        var error: SystemError? = nil
        if signal == SIGTERM, let delay = supervisor.options.signalDelayMilliseconds, delay > 0 {
            delayed = delay
            delayedSignals.append((spr_monotonic_ns() + Int64(delay) * 1_000_000, signal))
        } else {
            (target, error) = deliver(signal)
        }
        let command: String? = info.sender_pid == me ? "probe-exec" : ProcessFacts.command(of: info.sender_pid)
        let received = ReceivedSignal(
            signal: info.signo,
            senderPID: info.sender_pid,
            senderUID: info.sender_uid,
            senderCommand: command,
            offsetMilliseconds: supervisor.offset(),
            forwarded: error == nil
        )
        report.signals.append(received)
        var event = TraceEvent.Signal()
        event.signal = info.signo
        event.name = SignalName.name(info.signo)
        event.code = info.code
        event.codeName = SignalName.codeName(info.code)
        event.senderPID = info.sender_pid
        event.senderUID = info.sender_uid
        event.senderCommand = command
        event.forwardedTo = target
        if signal != info.signo { event.forwardedAs = SignalName.name(signal) }
        event.delayedMilliseconds = delayed
        if info.sender_pid == 0 && info.code <= 0 {
            event.senderNote = "sent from outside this PID namespace (e.g. the container runtime)"
        }
        event.forwardError = error?.description
        supervisor.recorder.append(.signal(event), at: received.offsetMilliseconds)
    }

    package static func cause(_ status: Int32) -> ExitCause {
        switch WaitStatus(status) {
        case .killed(let signal, let core): return .killed(signal: signal, coreDumped: core)
        case .exited(let code): return .exited(code: code)
        case .stopped, .continued: return .exited(code: 0)  // not a termination: never passed here
        }
    }
}
