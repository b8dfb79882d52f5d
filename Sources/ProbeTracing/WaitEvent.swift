import CProbeExec
import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `waitpid` result, decoded: what happened to which process or thread.
package enum WaitEvent: Equatable {
    /// It exited with a code.
    case exited(tid: Int32, code: Int32)
    /// It was killed by a signal.
    case killed(tid: Int32, signal: Int32, coreDumped: Bool)
    /// Signal-delivery-stop: a signal is about to be delivered to a tracee.
    case signalStop(tid: Int32, signal: Int32)
    /// Group-stop of a seized tracee (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU took effect).
    case groupStop(tid: Int32, signal: Int32)
    /// A PTRACE_EVENT_STOP that is not a group-stop (a new thread's first stop).
    case eventStop(tid: Int32)
    /// A ptrace event: exec, exit, clone, fork, vfork.
    case ptraceEvent(tid: Int32, event: Int32)
    /// Stopped or continued without ptrace (job control of an untraced child).
    case other(tid: Int32)

    /// Whether this is a stop only a tracee reports (it must be resumed by the tracer).
    package var isPtraceStop: Bool {
        switch self {
        case .signalStop, .groupStop, .eventStop, .ptraceEvent: return true
        case .exited, .killed, .other: return false
        }
    }

    /// The thread of a ptrace stop (nil for anything else).
    package var stoppedTID: Int32? {
        switch self {
        case .signalStop(let tid, _), .groupStop(let tid, _), .eventStop(let tid), .ptraceEvent(let tid, _): return tid
        case .exited, .killed, .other: return nil
        }
    }

    /// Decodes a wait status (through ``WaitStatus``, the one decoder).
    package init(tid: Int32, status: Int32) {
        switch WaitStatus(status) {
        case .exited(let code):
            self = .exited(tid: tid, code: code)
        case .killed(let signal, let core):
            self = .killed(tid: tid, signal: signal, coreDumped: core)
        case .stopped(let signal, let event) where event == spr_event_stop():
            self =
                [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(signal)
                ? .groupStop(tid: tid, signal: signal) : .eventStop(tid: tid)
        case .stopped(_, let event) where event != 0:
            self = .ptraceEvent(tid: tid, event: event)
        case .stopped(let signal, _):
            self = .signalStop(tid: tid, signal: signal)
        case .continued:
            self = .other(tid: tid)
        }
    }
}
