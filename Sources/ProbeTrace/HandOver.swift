/// The environment variables through which probe-exec hands its trace to the StartupProbe library
/// in the program it runs.
package enum HandOver {
    /// The trace file the library appends to.
    package static let traceVariable = "PROBE_EXEC_TRACE"
    /// probe-exec's start time (CLOCK_MONOTONIC nanoseconds): the library's offsets use the same origin.
    package static let startVariable = "PROBE_EXEC_START_NS"
    /// The pid of the process the two variables are meant for, set by the child itself before
    /// execve (systemd's `LISTEN_PID` rule): a process whose pid differs (one the program started,
    /// which inherited its environment) ignores them.
    package static let pidVariable = "PROBE_EXEC_PID"
}
