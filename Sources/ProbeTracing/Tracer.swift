import CProbeExec
import CStartupProbe
import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What tracing learned about how the program ended, for the verdict.
package struct TracingFindings: Sendable {
    /// `on`, `off` (--no-ptrace) or `unavailable`.
    package var state = "off"
    /// The stops probe-exec handled, and the longest time it held the program at one (from
    /// the wait that reported the stop, or for the exec stop from the exec's confirmation, to
    /// the program's release; naming frames and other work done after the release not included).
    package var stopCount = 0
    package var longestStopNanoseconds: Int64 = 0
    /// Why tracing or backtraces are unavailable.
    package var reason: String?
    /// The crashing thread, its fault address and its frames summarised ("f ← g ← main").
    package var crashThread: Int32?
    package var faultAddress: UInt64?
    package var crashSummary: String?
    /// "file.c:12" of the innermost frame of the program's own code, when debug info has it.
    package var crashLocation: String?
    /// What the compiler's trap at the fault stands for (``RemoteBacktrace/trapReason(_:)``).
    package var crashTrap: String?
    /// The crash is a stack overflow: which guard the fault hit, and the stack pointer.
    package var stackOverflow: StackOverflow?
    /// In a stack overflow, the function that recurs most in the crashing thread's frames, how
    /// often, and how many frames were unwound.
    package var recursingFunction: String?
    package var recursionCount = 0
    package var framesUnwound = 0
    package var exitLocation: String?
    /// Who called exit, summarised, and whether main() had returned normally.
    package var exitSummary: String?
    package var mainReturned: Bool?
    /// The C-library function the exiting thread called: `exit`, `_exit` (`_Exit` too) or
    /// `quick_exit`; nil when no such frame was found (a runtime that makes the system call itself).
    package var exitFunction: String?
    /// The sender of the last delivery of each signal to the program's own threads.
    package var signalSenders: [Int32: SignalSender] = [:]
    /// How many programs the target exec'd (a script that execs a binary counts 2).
    package var execCount = 0
    /// The file of the last program image.
    package var lastImage: String?
    /// Bytes the program had written to its stdio buffers but that never reached the output.
    package var lostOutput: [String: [UInt8]] = [:]
    /// Whether the C library's stdout and stderr buffers were read as the process ended (so an
    /// empty ``lostOutput`` means they held nothing).
    package var stdioBuffersRead = false
    /// Milliseconds since start when the last program image reached its entry point and main().
    package var entryReachedMilliseconds: Double?
    package var mainReachedMilliseconds: Double?
    /// Whether main() of the last image could be located (symbol, or the C library's start-up).
    package var mainLocated = false
    /// Whether the start-up breakpoints of the last image were planted (not without /proc).
    package var milestonesArmed = false

    /// Whether the start-up milestones of the program's last image are proven by breakpoints:
    /// traced, an image exec'd, its breakpoints planted.
    package var provesMilestones: Bool {
        // Detached before main() was reached, the breakpoints prove nothing about it.
        (state == "on" || (state == "detached" && mainReachedMilliseconds != nil)) && execCount > 0
            && milestonesArmed
    }
    /// Why tracing ended before the program did (state `detached`).
    package var detachedReason: String?
    /// Processes the program (and its followed children) started, as far as fork events show:
    /// each thread reports forks and vforks until its first one after main(), so 0 is a fact
    /// (it started none) and more is a lower bound. Meaningful while tracing stayed on
    /// (``watchedProcessStarts``).
    package var processesStarted = 0
    /// Whether every process start of the run was reported (traced to its end, never detached).
    package var watchedProcessStarts: Bool { state == "on" && execCount > 0 }

    /// Nothing found yet (state `off`).
    package init() {}
}

/// Who sent a signal delivered to the traced program, as its siginfo says.
package struct SignalSender: Sendable, Equatable {
    /// `kernel`, `self`, `probe-exec` or `process`.
    package var kind: String
    /// The sending process (not for the kernel).
    package var pid: Int32?
    /// The sender's real uid.
    package var uid: UInt32?
    /// The sender's command name, when it could still be read.
    package var command: String?
    /// The `si_code` name (`SI_USER`, `SI_TKILL`, `SI_KERNEL`, …).
    package var codeName: String?

    /// A sender of `kind`.
    package init(kind: String, pid: Int32? = nil, uid: UInt32? = nil, command: String? = nil, codeName: String? = nil) {
        self.kind = kind
        self.pid = pid
        self.uid = uid
        self.command = command
        self.codeName = codeName
    }
}

/// Handles the ptrace stops of the traced program: records each signal delivered to it (with
/// its sender), follows threads and execs, and takes libunwind backtraces at exit.
///
/// Every call comes from the supervisor loop's thread, the one that seized the program: the
/// kernel accepts ptrace requests only from the tracing thread.
package final class Tracer {
    /// Where events go.
    package let recorder: TraceRecorder
    /// --redact, applied to recovered output.
    package let redact: TextPattern?
    package let leader: Int32
    package private(set) var tids: Set<Int32>
    /// The threads of the program itself (not of children followed with --follow-forks): only
    /// these decide the milestones and the verdict.
    private var programThreads: Set<Int32>
    package private(set) var findings = TracingFindings()
    /// The thread each signal was last delivered to: the crashing thread of a fatal signal.
    private var lastDelivered: [Int32: DeliveredSignal] = [:]
    /// Memory maps by process (thread group), read once per process at its first backtrace.
    private var images: [Int32: ProcessImage] = [:]
    private var unwindUnavailable: String?
    private var milestones = Milestones()
    /// Puts the planted breakpoints back if probe-exec dies while they are in the program.
    private var guardian: BreakpointGuardian
    private let symbols = SymbolResolver()
    private var recordedSignals = 0
    /// Work left from a stop that needs nothing of the stopped program (naming captured frames,
    /// reading line tables): run once the program is released, so it does not wait for it.
    private var afterRelease: [() -> Void] = []
    /// Called with the program's pid each time it execs an image (not a followed child's exec).
    package var onProgramExec: ((Int32) -> Void)?
    /// Signals recorded one by one; after that they are only counted (a shell gets one
    /// SIGCHLD per command it runs).
    package static let signalRecordLimit = 500

    /// Traces the program whose first thread is `leader`, recording into `recorder`.
    /// `guardian` keeps planted breakpoints from outliving probe-exec (``BreakpointGuardian``).
    package init(recorder: TraceRecorder, redact: TextPattern?, leader: Int32, guardian: BreakpointGuardian) {
        self.guardian = guardian
        self.recorder = recorder
        self.redact = redact
        self.leader = leader
        // Not `[leader]`: Set's array-literal initializer is not specialized here and looks up
        // Int32's conformances at run time (0.15 ms at every traced start).
        var tids = Set<Int32>(minimumCapacity: 8)
        tids.insert(leader)
        self.tids = tids
        self.programThreads = tids
        findings.state = "on"
    }

    /// Loads libunwind on first use (a program that never exits through a backtrace point never
    /// pays for it); nil when backtraces are available, else why not (reported once).
    private func unwinderUnavailable() -> String? {
        if !unwinderChecked {
            unwinderChecked = true
            var why = [CChar](repeating: 0, count: 256)
            if spr_unwind_load(&why, why.count) == 0 {
                unwindUnavailable = String(
                    decoding: why.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                    as: UTF8.self
                )
                findings.reason = "backtraces unavailable: \(unwindUnavailable!)"
                recorder.warning(findings.reason!)
            }
        }
        return unwindUnavailable
    }
    private var unwinderChecked = false

    /// Whether `tid` is one of the traced threads or processes.
    package func owns(_ tid: Int32) -> Bool { tids.contains(tid) }

    /// A tracee reported a stop before the event announcing it was handled: take it in.
    package func adopt(_ tid: Int32) {
        tids.insert(tid)
        // Same process as the program? Then its thread.
        let group = ProcessFacts.threadGroup(of: tid)
        if let group, programThreads.contains(group) { programThreads.insert(tid) }
        // A process of its own: a child whose parent's event is still to come, started at this
        // first stop all the same (its parent's event may never come: the parent detached, ended).
        if group == tid { childrenAwaitingFirstStop.insert(tid) }
    }

    /// --follow-forks: forked children stay traced (else they are let go at their first stop).
    package var followsForks = false

    /// Child processes announced (by their parent's event, or by adoption) until their first stop.
    private var childrenAwaitingFirstStop: Set<Int32> = []
    /// Children started at a first stop that came before their parent's event.
    private var startedBeforeTheirEvent: Set<Int32> = []
    /// Children let go whose detach found them running (a SIGKILL woke them): let go at their next stop.
    private var lettingGo: Set<Int32> = []
    /// Parents held at their fork event until the child is let go (see the fork event), by child.
    private var heldParents: [Int32: Int32] = [:]

    /// A child process's first stop (before it ran anything). A fork of the program made before
    /// main() holds a copy of its memory with the start-up breakpoints in it: each word of this
    /// image's breakpoints that the child still holds as planted is put back (bare, it would not
    /// die of SIGTRAP at main) — unless the child shares the program's memory (vfork, CLONE_VM),
    /// where that would take them out of the program itself. Then it is let go (traced with
    /// --follow-forks), and a parent held for it goes on.
    private func startChild(_ child: Int32, _ event: WaitEvent) {
        scrubCopiedBreakpoints(child)
        if followsForks {
            releaseParent(of: child)
            handleStop(event)
            return
        }
        var signal: Int32 = 0
        if case .signalStop(_, let pending) = event { signal = pending }
        if spr_ptrace_detach(child, signal) == 0 {
            tids.remove(child)
        } else {
            lettingGo.insert(child)  // not stopped any more (killed): let go at its next stop
        }
        releaseParent(of: child)
    }

    /// Puts back, in `process` (a child with its own copy of the program's memory), each word of
    /// this image's breakpoints that it still holds as planted. Nothing when it shares the
    /// program's memory (kcmp KCMP_VM; also when that is not known).
    private func scrubCopiedBreakpoints(_ process: Int32) {
        guard !milestones.planted.isEmpty, spr_shares_memory(process, milestones.process) == 0 else { return }
        for breakpoint in milestones.planted {
            var word: UInt64 = 0
            if spr_ptrace_peek(process, breakpoint.address, &word) == 0, word == breakpoint.planted {
                _ = spr_ptrace_poke(process, breakpoint.address, breakpoint.original)
            }
        }
    }

    /// Turns off fork events for `tid` (stopped) once they are no longer needed — no breakpoint to
    /// take out of a child, and a process started already, so "started no processes" is settled —
    /// unless --follow-forks follows every child.
    private func stopReportingForks(_ tid: Int32) {
        if !followsForks { _ = spr_ptrace_set_options(tid, spr_ptrace_options_after_start(0)) }
    }

    /// Lets the parent held for `child` go on (the child was let go, or is gone).
    private func releaseParent(of child: Int32) {
        if let parent = heldParents.removeValue(forKey: child) { _ = spr_ptrace_cont(parent, 0) }
    }

    /// A fork, vfork or process clone event of `tid` for `child`: counted; the parent is held
    /// until the child is let go, unless that happened already.
    /// Returns whether the parent is held (not to be continued now).
    private func processStarted(by tid: Int32, child: Int32) -> Bool {
        findings.processesStarted += 1
        collectMilestones()
        if !milestones.awaited { stopReportingForks(tid) }  // started one, after main()
        if startedBeforeTheirEvent.remove(child) != nil || !tids.contains(child) && gone.contains(child) {
            return false
        }
        tids.insert(child)
        childrenAwaitingFirstStop.insert(child)
        // After start-up the parent waits here until its child is let go: bare, the child is
        // nobody's tracee, and a parent that traces it itself (strace, a debugger, a sandbox) must
        // find it free (PTRACE_SEIZE/ATTACH fails with EPERM while it is probe-exec's). Before
        // main() (breakpoints planted) the parent goes on at once, as it would bare, while its
        // child waits to be scrubbed: held, a constructor's `fork(); kill(child)` found its child
        // already running in 18 of 20 forks (bare 0).
        guard !followsForks, !milestones.awaited else { return false }
        heldParents[child] = tid
        return true
    }

    /// A traced thread or process is gone for good.
    package func forget(_ tid: Int32) {
        if tids.remove(tid) != nil { gone.insert(tid) }
        // A child that ended before its first stop was handled: its parent goes on.
        childrenAwaitingFirstStop.remove(tid)
        lettingGo.remove(tid)
        releaseParent(of: tid)
    }

    /// Whether `tid` was a traced thread that has ended (not an orphan to count).
    package func wasTraced(_ tid: Int32) -> Bool { gone.contains(tid) }
    private var gone: Set<Int32> = []

    /// When a stop signal was last let through to the program (its delivery stop): a SIGCONT
    /// forwarded after it must not leave the program stopped (see SupervisorLoop.mirrorStop).
    package private(set) var lastStopSignalAt: Int64 = 0

    /// Signals delivered in the current one-second window, and when it began.
    private var windowSignals = 0
    private var windowStart: Int64 = 0
    /// A program that takes this many signals within a second is let go: every signal to a
    /// traced program is a stop (tens of microseconds), which a runtime that signals itself
    /// (Go's preemption, a JVM's implicit null checks) or a signal-driven program would pay for
    /// on every one. 200 a second is 10 ms of stops at most before tracing ends; start-up
    /// programs take a handful (SIGCHLD per command of a shell, a SIGTERM).
    package static let signalRateLimit = 200

    /// Stops tracing (`probe-exec detach`, a signal storm, a runtime known to signal itself):
    /// every traced thread is let go at its next stop (running ones are interrupted), with its
    /// pending signal and with no breakpoint left in the program. The run goes on untraced, and
    /// still ends with the program's true status.
    package func detach(reason: String) {
        guard findings.detachedReason == nil else { return }
        findings.detachedReason = reason
        findings.state = "detached"
        var event = TraceEvent.Tracing()
        event.state = "detached"
        event.reason = reason
        recorder.append(.tracing(event))
        for tid in tids { _ = spr_ptrace_interrupt(tid) }
    }

    /// Whether tracing has ended (every thread let go).
    package var isDetached: Bool { findings.detachedReason != nil && tids.isEmpty }

    /// While detaching: lets `tid` go from the stop `event`, delivering its signal.
    private func release(_ event: WaitEvent) {
        var signal: Int32 = 0
        var tid: Int32 = 0
        switch event {
        case .signalStop(let t, let s):
            tid = t
            signal = s
            if s == SIGTRAP, case .reached = milestones.trap(tid: t) { signal = 0 }  // our breakpoint
        case .groupStop(let t, _), .eventStop(let t), .ptraceEvent(let t, _):
            tid = t
        case .exited, .killed, .other:
            return
        }
        // The program's breakpoints are taken out of the program (whichever of its threads stops
        // first); a followed child's copy of them out of that child — not the other way round.
        if threadGroup(of: tid) == milestones.process {
            milestones.disarm(pid: tid)
        } else {
            scrubCopiedBreakpoints(tid)
        }
        _ = spr_ptrace_detach(tid, signal)
        forget(tid)
    }

    /// Counts a delivered signal; a storm ends tracing.
    private func countSignal() {
        let now = TraceClock.nowNanoseconds
        if now - windowStart > 1_000_000_000 {
            windowStart = now
            windowSignals = 0
        }
        windowSignals += 1
        if windowSignals >= Tracer.signalRateLimit {
            detach(
                reason:
                    "the program took \(windowSignals) signals within a second; each is a stop under ptrace, so probe-exec stopped tracing at +\(Int(recorder.offset())) ms. Still recorded: the exit status, the signals sent to probe-exec and forwarded, the program's own crash output; no longer: its backtraces, later signals delivered to it"
            )
        }
    }

    /// Acts on one stop of a tracee and resumes it; then does what the stop left for after the
    /// release. The time the program was held is measured (``TracingFindings/longestStopNanoseconds``).
    package func handle(_ event: WaitEvent) {
        let started = min(spr_monotonic_ns(), execConfirmedNanoseconds ?? .max)
        execConfirmedNanoseconds = nil
        collectMilestones()  // a hardware breakpoint's hit comes before this stop
        handleStop(event)
        let held = spr_monotonic_ns() - started
        findings.stopCount += 1
        findings.longestStopNanoseconds = max(findings.longestStopNanoseconds, held)
        updateGuardian()  // a breakpoint removed: it may be told so after the release
        runAfterRelease()
    }

    /// When the program's exec was seen to succeed (CLOCK_MONOTONIC): its exec stop, the first
    /// stop handled, is measured from there, so that what probe-exec did before waiting for it
    /// counts as held.
    package var execConfirmedNanoseconds: Int64?

    /// Whether milestones may be watched with the CPU's breakpoints (else `int3` is planted).
    package var hardwareBreakpoints: Bool {
        get { milestones.hardwareAllowed }
        set { milestones.hardwareAllowed = newValue }
    }

    /// The descriptors of the hardware breakpoints watching milestones: the caller polls them and
    /// calls ``collectMilestones()`` when one is readable.
    package var milestoneDescriptors: [Int32] { milestones.watchDescriptors }

    /// Records the milestones the hardware breakpoints saw (at the time each was hit). Cheap
    /// (mapped memory): called at every stop, when a descriptor is readable, and at the end.
    package func collectMilestones() {
        for hit in milestones.collectHits() {
            recordMilestone(name: hit.name, address: hit.address, how: hit.how, at: recorder.offset(hit.nanoseconds))
        }
    }

    /// Descriptors of ``milestoneDescriptors`` that polled ready: their hits are recorded; one
    /// ready with no hit is settled (``Milestones/settle(descriptor:hungUp:)``), so that it does
    /// not poll ready again.
    package func milestoneDescriptorsReady(_ ready: [(fd: Int32, hungUp: Bool)]) {
        collectMilestones()
        let watched = milestones.watchDescriptors
        for descriptor in ready where watched.contains(descriptor.fd) {
            milestones.settle(descriptor: descriptor.fd, hungUp: descriptor.hungUp)
        }
        if findings.entryReachedMilliseconds != nil { prepareExitStop() }  // the program runs meanwhile
    }

    /// Reads, while the program runs past its entry point (its libraries loaded), what its exit
    /// stop needs of its image: the mappings, their unwind tables and build-ids, where its stdio
    /// streams are. The stop then only checks the mappings are still the same (a module loaded
    /// since gets its table there), instead of holding the program while it opens every module.
    private func prepareExitStop() {
        guard !exitStopPrepared else { return }
        exitStopPrepared = true
        guard unwinderUnavailable() == nil else { return }
        let image = ProcessImage(map: MemoryMap(pid: leader))
        guard !image.map.regions.isEmpty else { return }
        image.unwind = RemoteBacktrace.unwindTables(image.map)
        image.streams = LostOutput.locate(map: image.map, executable: findings.lastImage)
        preparedImage = image
    }
    private var exitStopPrepared = false
    private var preparedImage: ProcessImage?

    /// A milestone reached at `offset`: in the findings and the trace.
    private func recordMilestone(name: String, address: UInt64, how: String, at offset: Double) {
        if name == "entry" {
            findings.entryReachedMilliseconds = offset
        } else {
            findings.mainReachedMilliseconds = offset
        }
        findings.mainLocated = milestones.mainLocated || name == "main"
        var milestone = TraceEvent.Milestone()
        milestone.name = name
        milestone.address = address
        milestone.how = how
        recorder.append(.milestone(milestone), at: offset)
    }

    /// Tells the guardian what is planted now (see ``BreakpointGuardian``): called where
    /// breakpoints were planted, before the program is let go, and after each stop; says once in
    /// the trace when it cannot.
    private func updateGuardian() {
        if !guardian.update(milestones), !guardianFailureRecorded, let failure = guardian.failure {
            guardianFailureRecorded = true
            recorder.warning(
                "the breakpoint guardian is unavailable (\(failure)): if probe-exec were killed before the program's main(), its start-up breakpoints would stay in the program"
            )
        }
    }
    private var guardianFailureRecorded = false
    private var hardwareRefusalRecorded = false

    private func handleStop(_ event: WaitEvent) {
        if let tid = event.stoppedTID, childrenAwaitingFirstStop.remove(tid) != nil {
            if heldParents[tid] == nil { startedBeforeTheirEvent.insert(tid) }
            startChild(tid, event)
            return
        }
        if let tid = event.stoppedTID, lettingGo.remove(tid) != nil {
            if spr_ptrace_detach(tid, 0) == 0 { tids.remove(tid) } else { _ = spr_ptrace_cont(tid, 0) }
            return
        }
        if findings.detachedReason != nil {
            release(event)
            return
        }
        switch event {
        case .signalStop(let tid, let signal):
            handleSignal(tid: tid, signal: signal)
        case .groupStop(let tid, _):
            // Job control: stay stopped, but let SIGCONT through (PTRACE_LISTEN).
            _ = spr_ptrace_listen(tid)
        case .eventStop(let tid):
            _ = spr_ptrace_cont(tid, 0)
        case .ptraceEvent(let tid, let event):
            handleEvent(tid: tid, event: event)
        case .exited, .killed, .other:
            break
        }
    }

    /// A runtime that signals itself is let go (stopped `tid` continued, tracing ended) at main(),
    /// or at its entry point when main() cannot be located in its image (a stripped Go binary).
    private func letRuntimeGo(_ tid: Int32, reachedMain: Bool) {
        guard let runtime = milestones.selfSignallingRuntime else { return }
        milestones.stopStepping()
        _ = spr_ptrace_cont(tid, 0)
        let reached =
            reachedMain
            ? "main() was reached" : "its entry point was reached (main() could not be located in this image)"
        detach(
            reason:
                "\(runtime); probe-exec stopped tracing once \(reached). Still recorded: the exit status, the signals sent to probe-exec and forwarded, the runtime's own crash output; no longer: backtraces, signals delivered to the program"
        )
    }

    private func handleSignal(tid: Int32, signal: Int32) {
        if signal == SIGTRAP {
            switch milestones.trap(tid: tid) {
            case .notOurs: break
            case .reached(let name, let address, let how):
                recordMilestone(name: name, address: address, how: how, at: recorder.offset())
                // No breakpoint left to copy into a child, and a process already started.
                if name == "main", findings.processesStarted > 0 { stopReportingForks(tid) }
                // A runtime that signals itself is let go at main(), or at its entry point when
                // main() cannot be located in its image (a stripped Go binary).
                if milestones.selfSignallingRuntime != nil, name == "main" || !milestones.mainLocated {
                    letRuntimeGo(tid, reachedMain: name == "main")
                    return
                }
                resume(tid)
                if threadGroup(of: tid) == leader { prepareExitStop() }  // let go first
                return
            case .step:
                stepThroughStart(tid)
                return
            case .resume:
                findings.mainLocated = milestones.mainLocated
                updateGuardian()  // main may have been planted at the end of `_start`
                _ = spr_ptrace_cont(tid, 0)
                return
            }
        }
        if [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(signal) { lastStopSignalAt = TraceClock.nowNanoseconds }
        countSignal()
        if findings.detachedReason != nil {
            release(.signalStop(tid: tid, signal: signal))
            return
        }
        var info = spr_siginfo_t()
        let haveInfo = spr_ptrace_siginfo(tid, &info) == 0
        if haveInfo { lastDelivered[signal] = DeliveredSignal(tid: tid, info: info) }
        // SIGCHLD (one per command a shell runs) is neither recorded nor kept: it ends nothing.
        if signal != SIGCHLD {
            let event = signalEvent(tid: tid, signal: signal, info: haveInfo ? info : nil)
            if programThreads.contains(tid), let kind = event.senderKind {
                findings.signalSenders[signal] = SignalSender(
                    kind: kind,
                    pid: event.senderPID,
                    uid: event.senderUID,
                    command: event.senderCommand,
                    codeName: event.codeName
                )
            }
            if recordedSignals < Tracer.signalRecordLimit {
                recordedSignals += 1
                recorder.append(.targetSignal(event))
            }
        }
        _ = spr_ptrace_cont(tid, signal)  // delivered unchanged
    }

    private func signalEvent(tid: Int32, signal: Int32, info: spr_siginfo_t?) -> TraceEvent.TargetSignal {
        var event = TraceEvent.TargetSignal()
        event.tid = tid
        event.signal = signal
        event.name = SignalName.name(signal)
        if let info {
            event.code = info.code
            event.codeName = SignalName.codeName(info.code, signal: signal)
            if info.kind == 1 {
                let sender = info.sender_pid
                let kind: String
                if sender == leader || tids.contains(sender) {
                    kind = "self"
                } else if sender == getpid() {
                    kind = "probe-exec"
                } else {
                    kind = "process"
                }
                event.senderKind = kind
                event.senderPID = sender
                event.senderUID = info.sender_uid
                event.senderCommand = kind == "probe-exec" ? "probe-exec" : ProcessFacts.command(of: sender)
            } else {
                event.senderKind = "kernel"
                if info.kind == 2 { event.faultAddress = info.fault_address }
            }
        }
        return event
    }

    private func handleEvent(tid: Int32, event: Int32) {
        var message: UInt = 0
        _ = spr_ptrace_event_message(tid, &message)
        switch event {
        case spr_event_exec():
            let path = ProcessFacts.executable(of: tid)
            images[tid] = nil  // a new image
            if tid == leader {
                preparedImage = nil
                exitStopPrepared = false
            }
            guard programThreads.contains(tid) else {
                // A child followed with --follow-forks ran another program.
                var event = TraceEvent.TargetExec()
                event.pid = tid
                event.path = path
                event.child = true
                recorder.append(.targetExec(event))
                break
            }
            findings.execCount += 1
            findings.lastImage = path
            // New breakpoints: a child forked before the new image's main() must be told from its parent.
            _ = spr_ptrace_set_options(tid, spr_ptrace_options(followsForks ? 1 : 0))
            onProgramExec?(tid)
            findings.entryReachedMilliseconds = nil
            findings.mainReachedMilliseconds = nil
            findings.milestonesArmed = milestones.arm(pid: tid)
            findings.mainLocated = milestones.mainLocated
            if let refusal = milestones.hardwareRefusal, !hardwareRefusalRecorded {
                hardwareRefusalRecorded = true
                recorder.warning(
                    "hardware breakpoints are unavailable (perf_event_open: \(refusal)): start-up milestones are int3 breakpoints in the program's code, which its guardian takes out if probe-exec dies"
                )
            }
            updateGuardian()  // before the program goes on to its first breakpoint
            var event = TraceEvent.TargetExec()
            event.pid = tid
            event.path = path
            event.count = findings.execCount
            event.buildID = milestones.buildID  // read by arm, from the ELF file it opened anyway
            recorder.append(.targetExec(event))
            if milestones.entryAtExec, let entry = milestones.entry {
                recordMilestone(
                    name: "entry",
                    address: entry,
                    how: "AT_ENTRY, at exec (no dynamic loader)",
                    at: recorder.offset()
                )
                if milestones.selfSignallingRuntime != nil, !milestones.mainLocated {
                    letRuntimeGo(tid, reachedMain: false)
                    return
                }
            }
            if milestones.isStepping(tid) {
                stepThroughStart(tid)  // a stripped static binary: main() is found from here
                return
            }
        case spr_event_clone():
            let new = Int32(truncatingIfNeeded: message)
            // A thread; or a process made by clone() without SIGCHLD (a child all the same).
            if startedBeforeTheirEvent.contains(new) || ProcessFacts.threadGroup(of: new) == new {
                if processStarted(by: tid, child: new) { return }
                break
            }
            tids.insert(new)
            if programThreads.contains(tid) { programThreads.insert(new) }
        case spr_event_fork(), spr_event_vfork():
            if processStarted(by: tid, child: Int32(truncatingIfNeeded: message)) { return }
        case spr_event_exit():
            handleExit(tid: tid, status: Int32(truncatingIfNeeded: message))
        default:
            break
        }
        _ = spr_ptrace_cont(tid, 0)
    }

    /// Runs (and clears) the work a stop left for after the program's release.
    private func runAfterRelease() {
        let work = afterRelease
        afterRelease = []
        for item in work { item() }
    }

    /// Work a thread's exit stop leaves (naming its frames, reading debug information): after
    /// the program is reaped when the thread is the program's (it is ending: its end is timed
    /// before this work, which may read megabytes of DWARF), after the release otherwise.
    private func afterExit(of tid: Int32, _ work: @escaping () -> Void) {
        if programThreads.contains(tid) { atEnd.append(work) } else { afterRelease.append(work) }
    }
    private var atEnd: [() -> Void] = []

    /// Does the work the program's exit stops left (``afterExit(of:_:)``): call once the
    /// program's end is known and timed, before its findings are read.
    package func finishExitWork() {
        let work = atEnd
        atEnd = []
        for item in work { item() }
    }

    /// At PTRACE_EVENT_EXIT the thread's registers and memory are still there: take the
    /// backtrace of every thread of a crash, and of the thread that called exit.
    private func handleExit(tid: Int32, status: Int32) {
        if case .killed(SIGKILL, _) = WaitStatus(status) {
            // Killed outright (the OOM killer, `kill -9`, a grace period that ran out): nothing
            // the program could still do changes, and memory may be short. Record nothing more
            // at this stop and let it die at once (lost output, a backtrace: not worth the wait).
            return
        }
        // The process ends here (a fatal signal, or this thread called exit_group): not a thread
        // of it ending alone (the `exit` system call), whose stdio buffers the others still use.
        var regs = spr_regs_t()
        let endsTheProcess: Bool
        switch WaitStatus(status) {
        case .killed: endsTheProcess = true
        case .exited:
            // exit_group; or the `exit` system call of the last thread left (a raw SYS_exit).
            endsTheProcess =
                spr_ptrace_regs(tid, &regs) == 0
                && (Tracer.exitSyscalls.contains(regs.syscall_number)
                    || (programThreads.contains(tid) && !checkedLostOutput && ProcessFacts.isLastThread(tid)))
        case .stopped, .continued: endsTheProcess = false
        }
        if endsTheProcess && programThreads.contains(tid) && !checkedLostOutput {
            checkedLostOutput = true
            recoverLostOutput(tid: tid)
        }
        guard unwinderUnavailable() == nil else { return }
        switch WaitStatus(status) {
        case .killed(let signal, _):
            guard SignalName.isFault(signal) else { return }
            let crashed = lastDelivered[signal]?.tid == tid
            let faultInfo = lastDelivered[signal]?.info
            // A fault next to the stack pointer, in a stack's guard: read now, while the map is there.
            var overflow: StackOverflow? = nil
            if crashed, signal == SIGSEGV || signal == SIGBUS, let info = faultInfo, info.kind == 2 {
                var regs = spr_regs_t()
                if spr_ptrace_regs(tid, &regs) == 0,
                    StackOverflow.isNear(fault: info.fault_address, stackPointer: regs.sp)
                {
                    overflow = StackOverflow.detect(
                        fault: info.fault_address,
                        stackPointer: regs.sp,
                        map: MemoryMap(pid: tid)
                    )
                }
            }
            // Unwound at the stop (registers and memory); named after the release.
            let raw = backtrace(tid: tid)
            let capturedAt = recorder.offset()
            afterExit(of: tid) { [self] in
                var frames = raw
                RemoteBacktrace.name(&frames, symbols: symbols)
                if crashed { RemoteBacktrace.addSourceLines(&frames) }
                var event = TraceEvent.Backtrace()
                event.reason = "crash"
                event.crashed = crashed
                append(tid: tid, event, frames: frames, at: capturedAt)
                guard programThreads.contains(tid) else { return }
                if crashed || (findings.crashSummary == nil && tid == leader) {
                    findings.crashThread = tid
                    findings.crashSummary = RemoteBacktrace.summary(frames)
                    findings.crashLocation = RemoteBacktrace.sourceLocation(frames)
                    if crashed { findings.crashTrap = RemoteBacktrace.trapReason(frames) }
                    if let info = faultInfo, info.kind == 2 { findings.faultAddress = info.fault_address }
                    if crashed, let overflow {
                        findings.stackOverflow = overflow
                        findings.framesUnwound = frames.count
                        if let recursion = StackOverflow.recursingFunction(frames) {
                            findings.recursingFunction = recursion.name
                            findings.recursionCount = recursion.count
                        }
                    }
                }
            }
        case .exited(let code):
            guard endsTheProcess else { return }
            let raw = backtrace(tid: tid)
            let capturedAt = recorder.offset()
            afterExit(of: tid) { [self] in
                var frames = raw
                RemoteBacktrace.name(&frames, symbols: symbols)
                RemoteBacktrace.addSourceLines(&frames)
                let mainReturned = Tracer.mainReturned(frames)
                var event = TraceEvent.Backtrace()
                event.reason = "exit"
                event.code = code
                event.mainReturned = mainReturned
                append(tid: tid, event, frames: frames, at: capturedAt)
                guard programThreads.contains(tid) else { return }
                findings.exitSummary = RemoteBacktrace.summary(frames)
                findings.exitLocation = RemoteBacktrace.sourceLocation(frames)
                findings.mainReturned = mainReturned
                findings.exitFunction = Tracer.exitFunction(frames)
            }
        case .stopped, .continued:
            break
        }
    }

    /// glibc calls `exit(main(argc, argv, envp))` from `__libc_start_call_main` (musl from
    /// `libc_start_main_stage2`): main returned
    /// normally when the frame that called `exit` is that C-library start-up code. Debian's libc
    /// has no .symtab, so that local function is named after its nearest export
    /// (`__libc_init_first`); what identifies it then is that it lies in libc itself, beside `exit`.
    /// nil when no `exit` frame is found (e.g. `_exit` called directly).
    package static func mainReturned(_ frames: [BacktraceFrame]) -> Bool? {
        guard let exitIndex = frames.firstIndex(where: { ["exit", "__GI_exit"].contains($0.symbol ?? "") }),
            exitIndex + 1 < frames.count
        else { return nil }
        // Code of the program's (or a library's: an atexit handler, a sanitizer's leak check)
        // between `exit` and the exit system call chose the status: main's return value is not it.
        // (A static musl program carries the C library in its own module: its functions count by name.)
        if frames[..<exitIndex].contains(where: {
            !RemoteBacktrace.isSystemModule($0.module) && $0.module != nil
                && !RemoteBacktrace.isPlumbing($0.symbol ?? "")
        }) {
            return nil
        }
        let caller = frames[exitIndex + 1]
        let name = caller.symbol ?? ""
        // glibc's `__libc_start_call_main`; musl's `libc_start_main_stage2`.
        if name.hasPrefix("__libc_start") || name == "libc_start_main_stage2" { return true }
        let exitModule = frames[exitIndex].module ?? ""
        return caller.module == exitModule && RemoteBacktrace.isCLibrary(exitModule) && name != "main"
    }

    /// The exit function the program called, from the exit backtrace: the outermost of the
    /// C library's exit functions among the frames above the caller (`exit` ends in `_exit`,
    /// so `_exit` alone means `_exit` was called directly). nil when none is there.
    package static func exitFunction(_ frames: [BacktraceFrame]) -> String? {
        var called: String?
        for frame in frames {
            let name = frame.symbol ?? ""
            switch name {
            case "exit", "__GI_exit": called = "exit"
            case "quick_exit", "__GI_quick_exit": called = "quick_exit"
            case "_exit", "_Exit", "__GI__exit": if called == nil { called = "_exit" }
            default:
                // Unnamed or misnamed C-library frames (its local functions) lie between them.
                guard RemoteBacktrace.isSystemModule(frame.module) || RemoteBacktrace.isPlumbing(name) else {
                    return called
                }
            }
        }
        return called
    }

    private var checkedLostOutput = false

    /// Records what the program's stdio buffers still held when it started to die.
    private func recoverLostOutput(tid: Int32) {
        let redact = redact
        // Read through the stopped thread: a leader that ended first has no memory left to read.
        var read: [String] = []
        let image = image(for: tid)
        let streams = image.streams ?? LostOutput.locate(map: image.map, executable: findings.lastImage)
        image.streams = streams
        let lost = LostOutput.recover(pid: tid, streams: streams, read: &read)
        findings.stdioBuffersRead = read.count == 2
        for (stream, raw) in lost {
            let bytes =
                redact == nil
                ? raw : Array(Redaction.output(String(decoding: raw, as: UTF8.self), pattern: redact).utf8)
            findings.lostOutput[stream] = bytes
            var event = TraceEvent.LostOutput()
            event.stream = stream
            event.bytes = bytes.count
            event.text = String(decoding: bytes, as: UTF8.self)
            event.explanation =
                "written by the program into its C library's \(stream) buffer, never flushed to the \(stream) pipe: lost when it died"
            recorder.append(.lostOutput(event))
        }
    }

    /// Continues `tid`, single-stepping it first when the milestones need to walk `_start`.
    private func resume(_ tid: Int32) {
        if milestones.isStepping(tid) {
            stepThroughStart(tid)
        } else {
            _ = spr_ptrace_cont(tid, 0)
        }
    }

    /// Single-steps `tid` through `_start` right here (a dozen instructions), waiting for each
    /// step directly instead of through the event loop. Any stop that is not a step's SIGTRAP
    /// (a signal arrived) ends the walk and is handled as usual.
    private func stepThroughStart(_ tid: Int32) {
        while milestones.isStepping(tid) {
            guard spr_ptrace_single_step(tid) == 0 else { return }
            var status: Int32 = 0
            guard spr_waitpid(tid, &status, 0) == tid else { return }
            let event = WaitEvent(tid: tid, status: status)
            guard case .signalStop(_, SIGTRAP) = event else {
                milestones.stopStepping()
                handle(event)
                return
            }
            switch milestones.trap(tid: tid) {
            case .step: continue
            case .resume, .notOurs:
                findings.mainLocated = milestones.mainLocated
                updateGuardian()  // main may have been planted at the end of `_start`
                _ = spr_ptrace_cont(tid, 0)
                return
            case .reached:
                _ = spr_ptrace_cont(tid, 0)
                return
            }
        }
    }

    /// exit_group on this architecture: what exit(3) and returning from main end in. The plain
    /// `exit` system call ends one thread (pthread_exit, a runtime's helper thread), not the
    /// process, and is not a reason for a backtrace.
    /// (An array, not a `Set`: no generic metadata built at start.)
    package static let exitSyscalls: [Int64] = [NativeArchitecture.exitGroupSyscall]

    /// The raw backtrace of stopped `tid`: pcs, modules, offsets, build-ids (no names yet).
    private func backtrace(tid: Int32) -> [BacktraceFrame] {
        let image = image(for: tid)
        let unwind = image.unwind ?? RemoteBacktrace.unwindTables(image.map)
        image.unwind = unwind
        return RemoteBacktrace.capture(
            tid: tid,
            map: image.map,
            tables: unwind.tables,
            buildIDs: unwind.buildIDs,
            symbols: nil,  // named after the release
            callers: symbols  // only for code without unwind information
        ).frames
    }

    /// The process of thread `tid` (the leader's own without reading /proc).
    private func threadGroup(of tid: Int32) -> Int32 {
        tid == leader ? leader : ProcessFacts.threadGroup(of: tid) ?? tid
    }

    /// The image of the process of thread `tid` as the stops see it, read on first use after each
    /// exec — through `tid` itself: a leader that already ended has an empty /proc/TGID/maps.
    private func image(for tid: Int32) -> ProcessImage {
        let process = threadGroup(of: tid)
        if let known = images[process], !known.map.regions.isEmpty { return known }
        let image = ProcessImage(map: MemoryMap(pid: tid))
        if process == leader, let prepared = preparedImage {
            preparedImage = nil
            if image.map.sameFiles(as: prepared.map) {
                // Its tables and streams, with today's mappings (a stack or heap grown since).
                image.unwind = prepared.unwind
                image.streams = prepared.streams
                images[process] = image
                return image
            }
            // Mapped since (a library loaded, code generated): the modules still in place keep
            // their tables; what the stdio streams are is looked up again.
            image.unwind = prepared.unwind.map { RemoteBacktrace.unwindTables(image.map, reusing: $0) }
        }
        images[process] = image
        return image
    }

    private func append(tid: Int32, _ event: TraceEvent.Backtrace, frames: [BacktraceFrame], at offset: Double) {
        var event = event
        event.tid = tid
        event.frames = frames.map(\.traceFrame)
        recorder.append(.backtrace(event), at: offset)
    }
}

/// What the stops need of a traced process's image, read once per image (an exec starts a new
/// one): its mappings, and the unwind tables and build-ids of its modules (on its first backtrace).
private final class ProcessImage {
    let map: MemoryMap
    var unwind: UnwindTables?
    /// Where its stdio streams are (``LostOutput/locate(map:executable:)``), once looked up.
    var streams: LostOutput.Streams?

    init(map: MemoryMap) { self.map = map }
}

/// The last delivery of a signal: to which thread, with what siginfo. (A struct, not a tuple: a
/// dictionary of tuples builds tuple metadata at run time, at every start.)
private struct DeliveredSignal {
    var tid: Int32
    var info: spr_siginfo_t
}
