import CStartupProbe

/// One `waitpid` result, decoded: what happened to which process or thread.
enum WaitEvent: Equatable {
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
    var isPtraceStop: Bool {
        switch self {
        case .signalStop, .groupStop, .eventStop, .ptraceEvent: return true
        case .exited, .killed, .other: return false
        }
    }

    /// Decodes a wait status.
    init(tid: Int32, status: Int32) {
        if spr_wifexited(status) != 0 {
            self = .exited(tid: tid, code: spr_wexitstatus(status))
        } else if spr_wifsignaled(status) != 0 {
            self = .killed(tid: tid, signal: spr_wtermsig(status), coreDumped: spr_wcoredump(status) != 0)
        } else if spr_wifstopped(status) != 0 {
            let signal = spr_wstopsig(status)
            let event = spr_wptrace_event(status)
            if event == spr_event_stop() {
                self =
                    [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(signal)
                    ? .groupStop(tid: tid, signal: signal) : .eventStop(tid: tid)
            } else if event != 0 {
                self = .ptraceEvent(tid: tid, event: event)
            } else {
                self = .signalStop(tid: tid, signal: signal)
            }
        } else {
            self = .other(tid: tid)
        }
    }
}
