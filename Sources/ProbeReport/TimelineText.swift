import ProbeCore
import ProbeDiagnosis
import ProbeTrace
import ProbeTracing

/// The timeline line of each kind of event: one exhaustive `switch`, so a new event does not
/// build until it says how it reads.
package enum TimelineText {
    /// Whether `event` gets a timeline line (tails and the verdict have their own sections; the
    /// module map only serves symbolisation).
    package static func isOnTimeline(_ event: TraceEvent) -> Bool {
        switch event {
        case .tail, .verdict, .modules: return false
        default: return true
        }
    }

    /// The line (or lines: backtraces) for `event`; `document` names in-process crash frames.
    package static func describe(_ event: TraceEvent, in document: TraceDocument?) -> String {
        switch event {
        case .start(let e):
            return e.source == "in_process" ? "the program started (pid \(e.pid))" : "probe-exec started (pid \(e.pid))"
        case .exec(let e): return exec(e)
        case .tracing(let e):
            return "ptrace tracing \(e.state)" + (e.reason.map { " (\($0))" } ?? "")
        case .signal(let e): return signal(e)
        case .output(let e): return "first byte on \(e.stream)"
        case .outputError(let e): return "\(e.stream) output stopped: \(e.errnoName): \(e.explanation)"
        case .exit(let e): return exit(e)
        case .tail(let e): return "last \(e.tailBytes) of \(e.bytesTotal) bytes on \(e.stream)"
        case .verdict(let e): return "verdict (\(e.category)): \(e.summary)"
        case .warning(let e): return "warning: \(e.message)"
        case .targetExec(let e):
            if e.child == true { return "a followed child (pid \(e.pid)) ran \(e.path ?? "?")" }
            return "program image #\(e.count.map(String.init) ?? "?"): \(e.path ?? "?")"
        case .targetSignal(let e): return targetSignal(e)
        case .backtrace(let e): return backtrace(e)
        case .milestone(let e):
            let what = e.name == "main" ? "main() reached" : "entry point reached (the dynamic loader is done)"
            return "\(what) at 0x\(String(e.address, radix: 16)), found by \(e.how)"
        case .programError(let e):
            var text = "the program reported \(e.language) \(e.kind): \(e.message)"
            if let location = e.location { text += " at \(location)" }
            return text
        case .missingLibraries(let e):
            return "the dynamic loader cannot find: " + e.libraries.map(\.name).joined(separator: ", ")
        case .lostOutput(let e):
            return "\(e.bytes) bytes never written to \(e.stream) (still in the program's stdio buffer): \(e.text)"
        case .listen(let e): return "listening on \(e.address):\(e.port)"
        case .portInUse(let e):
            let holders = e.holders.map {
                "pid \($0.pid) (\($0.command ?? "?"))" + ($0.started.map { ", running since \($0)" } ?? "")
            }.joined(separator: ", ")
            return "port \(e.port)" + (e.source.map { " (named by \($0))" } ?? "") + " is in use"
                + (holders.isEmpty ? "" : " by " + holders)
        case .ready(let e):
            if let port = e.port { return "ready: listening on port \(port)" }
            return "ready: \(e.stream ?? "output") printed \"\(e.line ?? "")\""
        case .notReady(let e):
            return "not ready within \(e.timeoutSeconds) s; probe-exec asked the program to stop"
        case .graceExpired(let e):
            let grace = e.graceSeconds.map { " (\(Diagnose.seconds($0)))" } ?? ""
            return "the grace period\(grace) ran out: probe-exec sent \(e.sent) to \(e.to)"
        case .memoryCgroup(let e): return memoryCgroup(e)
        case .leftovers(let e):
            return
                "left running at exit: stopped \(e.terminated.map(String.init).joined(separator: ", ")); killed \(e.killed.map(String.init).joined(separator: ", "))"
        case .mainReached(let e): return "main() reached (reported by the program itself, pid \(e.pid))"
        case .modules(let e): return "\(e.modules.count) executable mappings of pid \(e.pid)"
        case .crash(let e): return crash(e, document)
        case .programSignal(let e): return programSignal(e)
        case .otlpExport(let e): return otlpExport(e)
        case .unknown(let kind, let fields):
            return "\(kind) " + fields.map { "\($0.0)=\($0.1.serialized)" }.joined(separator: " ")
        }
    }

    /// "memory cgroup v1 /x: limit 64 MiB, peak 64 MiB, OOM kills 0 → 1".
    static func memoryCgroup(_ e: TraceEvent.MemoryCgroup) -> String {
        var text = "memory cgroup v\(e.version) \(e.path): limit " + (e.limitBytes.map { Diagnose.bytes($0) } ?? "none")
        if let peak = e.peakBytes { text += ", peak \(Diagnose.bytes(peak))" }
        let before = e.oomKillBefore.map(String.init) ?? "?"
        let after = e.oomKillAfter.map(String.init) ?? "?"
        text += ", OOM kills \(before) → \(after)"
        if let groupBefore = e.oomGroupKillBefore, let groupAfter = e.oomGroupKillAfter, groupAfter > groupBefore {
            text += " (whole-group kills \(groupBefore) → \(groupAfter))"
        }
        return text
    }

    static func exec(_ e: TraceEvent.Exec) -> String {
        if e.ok {
            return "exec ok: \(e.path ?? "program") is running as pid \(e.pid.map(String.init) ?? "?")"
        }
        let status = e.exitStatus.map(String.init) ?? "?"
        guard let errnoName = e.errnoName else {
            return "exec did not happen: \(e.error ?? "?"), exit status \(status)"  // killed before its execve
        }
        return "exec FAILED: \(e.path ?? "?"): \(e.error ?? "?") (\(errnoName)), exit status \(status)"
    }

    /// `pid 4242 (kill) uid 0`.
    static func sender(pid: Int32?, uid: UInt32?, command: String?) -> String {
        let comm = command.map { " (\($0))" } ?? ""
        return "pid \(pid.map(String.init) ?? "?")\(comm) uid \(uid.map(String.init) ?? "?")"
    }

    static func signal(_ e: TraceEvent.Signal) -> String {
        let from =
            e.senderPID == 0
            ? "outside this PID namespace" : sender(pid: e.senderPID, uid: e.senderUID, command: e.senderCommand)
        let action = e.forwardError.map { "forwarding failed: \($0)" } ?? "forwarded to \(e.forwardedTo)"
        return "received \(e.name) from \(from); \(action)"
    }

    static func exit(_ e: TraceEvent.Exit) -> String {
        let orphans = e.orphansReaped > 0 ? ", reaped \(e.orphansReaped) orphans" : ""
        if let name = e.signalName {
            let core = e.coreDumped == true ? ", core dumped" : ""
            return "exit: killed by \(name)\(core) (status \(e.status))\(orphans)"
        }
        return "exit: code \(e.code.map(String.init) ?? "?")\(orphans)"
    }

    static func targetSignal(_ e: TraceEvent.TargetSignal) -> String {
        var text = "\(e.name) delivered to thread \(e.tid)"
        switch e.senderKind {
        case "kernel":
            text += " by the kernel (\(e.codeName ?? "?"))"
            if let address = e.faultAddress { text += ", fault address 0x" + String(address, radix: 16) }
        case "self": text += " by the program itself (\(e.codeName ?? "?"))"
        case "probe-exec": text += ", forwarded by probe-exec"
        case "process": text += " from " + sender(pid: e.senderPID, uid: e.senderUID, command: e.senderCommand)
        default: break
        }
        return text
    }

    static func backtrace(_ e: TraceEvent.Backtrace) -> String {
        var text = "backtrace of thread \(e.tid)"
        switch e.reason {
        case "crash": text += e.crashed == true ? " (the crashing thread):" : " (another thread):"
        case "exit":
            text += e.mainReturned == true ? " at exit (main() returned):" : " at exit (the thread that called exit):"
        default: text += ":"
        }
        for (n, frame) in e.frames.enumerated() {
            text += "\n  #\(n) " + describeFrame(frame).replacingNewlines()
        }
        return text
    }

    /// An in-process crash report, its raw addresses named now from the recorded modules.
    static func crash(_ e: TraceEvent.Crash, _ document: TraceDocument?) -> String {
        let address = e.faultAddress.map { "0x" + String($0, radix: 16) } ?? "?"
        var text = "crash in process \(e.pid) (its own handler): \(e.signalName) at \(address)"
        let modules = document?.last { event -> [TraceEvent.Module]? in
            guard case .modules(let m) = event, m.pid == e.pid else { return nil }
            return m.modules
        }
        let frames: [TraceEvent.Frame] =
            document == nil
            ? e.frames.map { ip in
                var frame = TraceEvent.Frame()
                frame.ip = ip
                return frame
            } : CrashSymbolizer(modules: modules ?? []).frames(e.frames)
        for (n, frame) in frames.enumerated() {
            text += "\n  #\(n) " + describeFrame(frame).replacingNewlines()
        }
        return text
    }

    /// "level3+0x9 at f.c:3 (crash3+0x1159)".
    static func describeFrame(_ frame: TraceEvent.Frame) -> String {
        var text = frame.function ?? ("0x" + String(frame.ip, radix: 16))
        if let offset = frame.functionOffset, offset > 0 { text += "+0x" + String(offset, radix: 16) }
        if let file = frame.file, let line = frame.line { text += " at \(file):\(line)" }
        for call in frame.inlined {
            text += " [inlined: \(call.function ?? "?") from \(call.file):\(call.line)]"
        }
        if let module = frame.module {
            let base = module.lastPathComponent
            let offset = frame.moduleOffset.map { "0x" + String($0, radix: 16) } ?? "?"
            text += " (\(base)+\(offset))"
        }
        return text
    }

    static func programSignal(_ e: TraceEvent.ProgramSignal) -> String {
        let thread = e.tid == 0 ? "read ahead of its DispatchSource" : "thread \(e.tid)"
        var text = "the program received \(e.name) (\(thread))"
        switch e.senderKind {
        case "kernel": text += " from the kernel (\(e.codeName))"
        case "self": text += " from itself"
        case "outside": text += " from outside its PID namespace"
        default: text += " from " + sender(pid: e.senderPID, uid: e.senderUID, command: e.senderCommand)
        }
        switch e.disposition {
        case "handler": text += "; its handler ran"
        case "default_ends": text += "; no handler: it ends the program"
        case "default_stops": text += "; no handler: it stops the program"
        default: text += "; ignored"
        }
        return text
    }

    static func otlpExport(_ e: TraceEvent.OTLPExport) -> String {
        var parts: [String] = []
        if let file = e.file {
            parts.append(e.fileError.map { "not written to \(file): \($0)" } ?? "appended to \(file)")
        }
        if let endpoint = e.endpoint {
            let attempts = e.attempts.map(String.init) ?? "?"
            parts.append(
                e.delivered == true
                    ? "delivered to \(endpoint) (attempt \(attempts))"
                    : "NOT delivered to \(endpoint): \(e.endpointError ?? "?") (\(attempts) attempts)"
            )
        }
        return "OTLP export of \(e.records) records: " + parts.joined(separator: "; ")
    }
}

extension String {
    /// Frame text comes from the program's symbols: keep it on one line.
    fileprivate func replacingNewlines() -> String {
        String(self.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
