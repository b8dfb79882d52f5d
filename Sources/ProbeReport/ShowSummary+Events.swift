import ProbeCore
import ProbeTrace
import ProbeTracing

// The parts of ``ShowSummary`` gathered from many events: timings, signals, backtraces.

extension ShowSummary {
    /// When each step happened. The entry point and main() are the final image's: the milestones after the
    /// program's last `target_exec` (a shell that exec'd a server: the server's).
    package static func timings(_ document: TraceDocument) -> Timings {
        var result = Timings()
        let finalImageStart = programImages(document).last.map { $0.index + 1 } ?? 0
        for (index, record) in document.events.enumerated() {
            let time = record.offsetMilliseconds
            switch record.event {
            case .exec: result.execMilliseconds = result.execMilliseconds ?? time
            case .milestone(let e) where index >= finalImageStart:
                if e.name == "entry" { result.entryMilliseconds = result.entryMilliseconds ?? time }
                if e.name == "main" { result.mainMilliseconds = result.mainMilliseconds ?? time }
            case .mainReached: result.mainMilliseconds = result.mainMilliseconds ?? time
            case .output(let e) where e.milestone == "first_byte":
                switch e.stream {
                case "stdout": result.firstOutput.stdout = result.firstOutput.stdout ?? time
                case "stderr": result.firstOutput.stderr = result.firstOutput.stderr ?? time
                case "merged": result.firstOutput.merged = result.firstOutput.merged ?? time
                default: break
                }
            case .exit(let e):
                result.exitMilliseconds = time
                result.durationMilliseconds = e.durationMilliseconds
            default: break
            }
        }
        return result
    }

    /// Every signal recorded, in time order (events of equal time in file order).
    package static func signals(_ document: TraceDocument) -> [Signal] {
        var result: [Signal] = []
        for record in document.events {
            var signal = Signal()
            signal.offsetMilliseconds = record.offsetMilliseconds
            switch record.event {
            case .signal(let e):
                signal.event = "signal"
                (signal.signal, signal.name, signal.code, signal.codeName) = (e.signal, e.name, e.code, e.codeName)
                (signal.senderPID, signal.senderUID, signal.senderCommand) = (e.senderPID, e.senderUID, e.senderCommand)
                (signal.forwardedTo, signal.forwardedAs, signal.forwardError) = (
                    e.forwardedTo, e.forwardedAs, e.forwardError
                )
            case .targetSignal(let e):
                signal.event = "target_signal"
                (signal.signal, signal.name, signal.code, signal.codeName) = (e.signal, e.name, e.code, e.codeName)
                (signal.senderKind, signal.senderPID, signal.senderUID) = (e.senderKind, e.senderPID, e.senderUID)
                (signal.senderCommand, signal.tid, signal.faultAddress) = (e.senderCommand, e.tid, e.faultAddress)
            case .programSignal(let e):
                signal.event = "program_signal"
                (signal.signal, signal.name, signal.code, signal.codeName) = (e.signal, e.name, e.code, e.codeName)
                (signal.senderKind, signal.senderPID, signal.senderUID) = (e.senderKind, e.senderPID, e.senderUID)
                (signal.senderCommand, signal.tid) = (e.senderCommand, e.tid)
            default: continue
            }
            result.append(signal)
        }
        return result.enumerated()
            .sorted { ($0.element.offsetMilliseconds, $0.offset) < ($1.element.offsetMilliseconds, $1.offset) }
            .map(\.element)
    }

    /// The tracer's backtraces and the library's crash report (its addresses named from the `modules`
    /// event, as `show` names them), in file order.
    package static func backtraces(_ document: TraceDocument) -> [Backtrace] {
        var result: [Backtrace] = []
        for record in document.events {
            var backtrace = Backtrace()
            backtrace.offsetMilliseconds = record.offsetMilliseconds
            switch record.event {
            case .backtrace(let e):
                backtrace.source = "ptrace"
                (backtrace.tid, backtrace.reason, backtrace.crashed) = (e.tid, e.reason, e.crashed)
                (backtrace.code, backtrace.mainReturned, backtrace.frames) = (e.code, e.mainReturned, e.frames)
            case .crash(let e):
                let modules = document.last { event -> [TraceEvent.Module]? in
                    guard case .modules(let m) = event, m.pid == e.pid else { return nil }
                    return m.modules
                }
                backtrace.source = "in_process"
                (backtrace.reason, backtrace.crashed, backtrace.signalName) = ("crash", true, e.signalName)
                backtrace.frames = CrashSymbolizer(modules: modules ?? []).frames(e.frames)
            default: continue
            }
            result.append(backtrace)
        }
        return result
    }
}
