import ProbeCore
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A finished run and what the post-mortem collectors found: everything a verdict is made of.
///
/// The run's own fields read through (`facts.cause`, `facts.tracing`, …).
@dynamicMemberLookup
package struct RunFacts: Sendable {
    /// What the supervisor recorded.
    package var run: RunReport
    /// The runtime error the program reported on stderr (or stdout) before exiting, if any.
    package var programError: ProgramError?
    /// The port it could not bind because another process holds it, and who holds it (with when
    /// that process started, CLOCK_REALTIME nanoseconds, when known).
    package var portInUse: (port: Int, source: String, holders: [PortHolder])?
    /// Shared libraries the dynamic loader could not find, when it failed to start the program.
    package var missingLibraries: [SharedLibraries.Missing] = []
    /// When the StartupProbe library in the program reported main() reached (its `main_reached`
    /// event in the same trace), in milliseconds since start.
    package var libraryMainReachedMilliseconds: Double?
    /// The crash the StartupProbe library in the program reported (its `crash` event, named from
    /// its `modules` event), when no tracer took a backtrace.
    package var libraryCrash: LibraryCrash?
    /// A Python program killed by a signal while its stdout was a pipe and unbuffered output was not
    /// asked for (`PYTHONUNBUFFERED`, `-u`, `--unbuffered`): what it printed may have died in
    /// Python's own buffer, which probe-exec does not read.
    package var pythonBufferedOutput = false
    /// Whether the run's trace file holds what the verdict points to (false: no trace was kept, so
    /// nothing is "in the trace").
    package var traceKept = true

    /// Facts of `run` with nothing found after it.
    package init(_ run: RunReport) {
        self.run = run
    }

    /// A field of the run.
    package subscript<Value>(dynamicMember keyPath: KeyPath<RunReport, Value>) -> Value {
        run[keyPath: keyPath]
    }
}

/// The collectors that run once, after the program has gone: its reported error, a port someone
/// else holds, missing shared libraries. Each finding is recorded in the trace, then the verdict.
package enum PostMortem {
    /// Runs the collectors over `report`, records their findings and the verdict in `recorder`,
    /// and returns the facts and the verdict.
    package static func complete(_ report: RunReport, recorder: TraceRecorder) -> (RunFacts, Verdict) {
        // Read back only when the program's library wrote there too (nothing else to find in it).
        var facts = collect(report, tracePath: recorder.writer.othersWrote ? recorder.writer.path : nil)
        facts.traceKept = recorder.writer.isRecording
        record(facts, into: recorder)
        let verdict = Diagnose.verdict(for: facts)
        var event = TraceEvent.Verdict()
        event.category = verdict.category.rawValue
        event.status = report.cause.shellStatus
        event.summary = verdict.summary
        recorder.append(.verdict(event))
        return (facts, verdict)
    }

    /// What the collectors find after `report`'s run (nothing for a program that never started);
    /// `tracePath` is read for what the program's StartupProbe library wrote there.
    package static func collect(_ report: RunReport, tracePath: String? = nil) -> RunFacts {
        var facts = RunFacts(report)
        switch report.cause {
        case .execFailed, .spawnFailed: return facts
        case .exited, .killed: break
        }
        // What the library wrote in the trace, read once and only when needed: when no tracer
        // proved main() or took the crash's backtrace.
        var document: TraceDocument?? = nil
        func libraryEvents() -> TraceDocument? {
            if document == nil { document = .some(tracePath.flatMap { try? TraceReader.read(path: $0) }) }
            return document ?? nil
        }
        if !report.tracing.provesMilestones, let events = libraryEvents() {
            facts.libraryMainReachedMilliseconds = libraryMainReached(in: events, pid: report.childPID)
        }
        if report.tracing.crashSummary == nil, case .killed(let signal, _) = report.cause, let events = libraryEvents()
        {
            facts.libraryCrash = LibraryCrash.read(from: events, pid: report.childPID, signal: signal)
        }
        facts.pythonBufferedOutput = pythonMayHaveBufferedOutput(report)
        let stderrText = String(decoding: report.stderrTail, as: UTF8.self)
        facts.programError =
            ProgramErrorParser.find(in: stderrText)
            ?? ProgramErrorParser.find(in: String(decoding: report.stdoutTail, as: UTF8.self))
        if report.cause != .exited(code: 0),
            let (port, source) = Sockets.portInUse(
                outputs: [stderrText, String(decoding: report.stdoutTail, as: UTF8.self)],
                command: report.command,
                environment: ProcessEnvironment.names.filter { $0.uppercased().contains("PORT") }.compactMap { name in
                    ProcessEnvironment.value(of: name).map { (name, $0) }
                }
            )
        {
            facts.portInUse = (
                port,
                source,
                Sockets.holders(ofPort: port, namespaceOf: getpid()).map {
                    PortHolder(pid: $0.pid, command: $0.command, startedNanoseconds: ProcessFacts.startTime(of: $0.pid))
                }
            )
        }
        if case .exited(127) = report.cause, let program = report.programPath,
            stderrText.contains("error while loading shared libraries")
                || (report.tracing.state == "on" && report.tracing.entryReachedMilliseconds == nil)
        {
            facts.missingLibraries = SharedLibraries.missing(
                program: program,
                libraryPath: ProcessEnvironment.value(of: "LD_LIBRARY_PATH")
            )
        }
        return facts
    }

    /// When the program's StartupProbe library reported main() reached, from its `main_reached`
    /// event in the trace (the first one, of `pid` when known).
    private static func libraryMainReached(in document: TraceDocument, pid: Int32?) -> Double? {
        for record in document.events {
            guard case .mainReached(let event) = record.event, pid == nil || event.pid == pid else { continue }
            return record.offsetMilliseconds
        }
        return nil
    }

    private static func record(_ facts: RunFacts, into recorder: TraceRecorder) {
        if let error = facts.programError {
            recorder.append(.programError(error.traceEvent))
        }
        if let inUse = facts.portInUse {
            var event = TraceEvent.PortInUse()
            event.port = inUse.port
            event.source = inUse.source
            event.holders = inUse.holders.map {
                var holder = TraceEvent.Process(pid: $0.pid, command: $0.command)
                holder.started = $0.startedNanoseconds.map { Timestamp.iso8601(realtimeNanoseconds: $0) }
                return holder
            }
            recorder.append(.portInUse(event))
        }
        if !facts.missingLibraries.isEmpty {
            var event = TraceEvent.MissingLibraries()
            event.program = facts.programPath
            event.libraries = facts.missingLibraries.map {
                var library = TraceEvent.Library()
                library.name = $0.name
                library.neededBy = $0.neededBy
                return library
            }
            recorder.append(.missingLibraries(event))
        }
    }

    /// Whether `report` is a Python program killed by a signal (or ended by `os._exit()`) with its
    /// stdout on a pipe and without unbuffered output asked for: Python flushes its buffer when it
    /// exits, not when a signal kills it or `_exit` ends it.
    static func pythonMayHaveBufferedOutput(_ report: RunReport) -> Bool {
        // Killed by a signal, or ended through `_exit` (`os._exit()`): Python's exit flush did not run.
        let flushSkipped: Bool
        switch report.cause {
        case .killed: flushSkipped = true
        case .exited: flushSkipped = report.tracing.exitFunction == "_exit"
        default: flushSkipped = false
        }
        guard flushSkipped, report.stdoutBytes != nil, !report.unbuffered else { return false }
        let image = (report.programPath ?? report.command.first ?? "").lastPathComponent
        guard image.hasPrefix("python") else { return false }
        if let value = ProcessEnvironment.value(of: "PYTHONUNBUFFERED"), !value.isEmpty { return false }
        // `python3 -u app.py`, `python -Xdev -uB …`: a short option cluster with `u` before the script.
        let options = report.command.dropFirst().prefix { $0.hasPrefix("-") && $0 != "-" && $0 != "--" }
        return !options.contains { !$0.hasPrefix("--") && $0.dropFirst().contains("u") && !$0.hasPrefix("-X") }
    }
}

/// A process that holds a port the program could not bind.
package struct PortHolder: Sendable, Equatable {
    /// Its pid, in probe-exec's PID namespace.
    package var pid: Int32
    /// Its command name.
    package var command: String?
    /// When it started (CLOCK_REALTIME nanoseconds), when known.
    package var startedNanoseconds: Int64?

    /// Process `pid`, running `command`, started at `startedNanoseconds`.
    package init(pid: Int32, command: String?, startedNanoseconds: Int64? = nil) {
        self.pid = pid
        self.command = command
        self.startedNanoseconds = startedNanoseconds
    }

}

/// A crash the StartupProbe library reported from inside the program (its signal handler wrote
/// raw addresses and, at start, the module map): the site of a crash no tracer saw (--no-ptrace,
/// ptrace unavailable).
package struct LibraryCrash: Sendable {
    /// The program's own frames, as the verdict names them ("crash3 ← main").
    package var summary: String
    /// file:line of the innermost of them with line information.
    package var location: String?
    /// The faulting address, for a fault.
    package var faultAddress: UInt64?
    /// What the compiler's trap at the fault stands for, from the debug information.
    package var trap: String?

    /// The crash by `signal` that the library reported for `pid` in `document`, or nil.
    static func read(from document: TraceDocument, pid: Int32?, signal: Int32) -> LibraryCrash? {
        var modules: [TraceEvent.Module] = []
        var found: TraceEvent.Crash?
        for record in document.events {
            switch record.event {
            case .modules(let m) where pid == nil || m.pid == pid: modules = m.modules
            case .crash(let c) where (pid == nil || c.pid == pid) && c.signal == signal: found = c
            default: break
            }
        }
        guard let crash = found, !modules.isEmpty else { return nil }
        let frames = CrashSymbolizer(modules: modules).backtraceFrames(crash.frames)
        let summary = RemoteBacktrace.summary(frames)
        guard !summary.isEmpty else { return nil }
        return LibraryCrash(
            summary: summary,
            location: RemoteBacktrace.sourceLocation(frames),
            faultAddress: crash.faultAddress,
            trap: RemoteBacktrace.trapReason(frames)
        )
    }
}
