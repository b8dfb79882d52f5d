import CStartupProbe

/// A `waitpid` status, decoded once: the only place the W* macros are read.
package enum WaitStatus: Equatable, Sendable {
    /// It exited with a code.
    case exited(code: Int32)
    /// It was killed by a signal.
    case killed(signal: Int32, coreDumped: Bool)
    /// It is stopped: `signal` is the stop signal, `event` the PTRACE_EVENT_* (0 when none).
    case stopped(signal: Int32, event: Int32)
    /// It was continued (WCONTINUED).
    case continued

    /// Decodes a raw status.
    package init(_ raw: Int32) {
        if spr_wifexited(raw) != 0 {
            self = .exited(code: spr_wexitstatus(raw))
        } else if spr_wifsignaled(raw) != 0 {
            self = .killed(signal: spr_wtermsig(raw), coreDumped: spr_wcoredump(raw) != 0)
        } else if (raw & 0xff) == 0x7f {
            self = .stopped(signal: (raw >> 8) & 0xff, event: (raw >> 16) & 0xff)
        } else {
            self = .continued
        }
    }

    /// Whether the process (or thread) is gone: exited or killed.
    package var isTermination: Bool {
        switch self {
        case .exited, .killed: return true
        case .stopped, .continued: return false
        }
    }
}
