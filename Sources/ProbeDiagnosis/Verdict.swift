/// The plain-language cause of an exit, for the trace's `verdict` event and probe-exec's stderr.
package struct Verdict: Sendable, Equatable {
    /// A coarse class of outcome that tools can switch on.
    package enum Category: String, Sendable {
        /// Exit code 0.
        case cleanExit = "clean_exit"
        /// A non-zero exit code.
        case exitCode = "exit_code"
        /// Killed by a fault signal (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS).
        case crash
        /// Killed by another signal (TERM, KILL, INT…).
        case signal
        /// The program could not be started.
        case execFailed = "exec_failed"
        /// A service (--service) exited on its own, without being asked to stop.
        case serviceExited = "service_exited"
        /// A SIGTERM, SIGINT or SIGQUIT forwarded from outside stopped it: it died of that signal
        /// or exited 0. Not an abnormal exit: no paragraph, no termination log.
        case stoppedOnRequest = "stopped_on_request"
    }

    /// The class of outcome.
    package var category: Category
    /// One paragraph an on-call engineer can act on.
    package var summary: String

    /// Whether the exit is one to report (the paragraph on stderr, the termination log) when
    /// its status is not 0: every one but a stop that was asked for.
    package var isReported: Bool { category != .stoppedOnRequest }
}
