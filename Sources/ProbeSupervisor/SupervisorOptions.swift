import ProbeCore
import ProbeTrace
import ProbeTracing

/// What to run and how to supervise it.
package struct SupervisorOptions: Sendable {
    /// The program and its arguments, for display and diagnosis (not UTF-8: with U+FFFD).
    package var command: [String]
    /// The program and its arguments exactly as given (bytes): what the program gets.
    package var commandBytes: [[UInt8]]
    /// Forward signals to the child's whole process group instead of the child alone (`-g`).
    package var forwardToProcessGroup = false
    /// Become a child subreaper so orphaned descendants are re-parented to us and reaped (`-s`).
    package var subreaper = false
    /// Reap every child of this process (what PID 1 and a subreaper must do). Only for a process
    /// that owns all its children, such as the `probe-exec` executable; a library caller inside a
    /// larger program (a test runner) must leave it off so it never steals other children.
    package var reapAnyChild = false
    /// Give the child a pipe even when our stdout/stderr is a terminal (the default passes the
    /// terminal through so colours, line buffering and job control behave as without us).
    package var pipeTerminals = false
    /// Trace the program with ptrace: signals with their senders, threads, execs, and libunwind
    /// backtraces of a crash and of the thread that called exit. If ptrace is denied, the
    /// program runs untraced and the trace says why.
    package var ptrace = false
    /// Also trace the program's forked children (`--follow-forks`).
    package var followForks = false
    /// Ask common runtimes to write output as they go (`--unbuffered`): PYTHONUNBUFFERED=1, and
    /// coreutils' stdbuf preload (line-buffered stdout, unbuffered stderr) for dynamically
    /// linked C programs when libstdbuf.so is installed. Opt-in: it changes the program's buffering.
    package var unbuffered = false
    /// The program is a service that should run until told to stop (`--service`): an exit
    /// without a stop signal is flagged, and processes it leaves behind (daemonizing) are named.
    package var service = false
    /// Readiness check (`probe-exec check`): once the program listens on this TCP port, it is
    /// ready; it is then asked to stop (SIGTERM to its process group).
    package var readyPort: Int?
    /// Readiness check: a regular expression; once a line of output matches, it is ready.
    package var readyLine: String?
    /// Whether this run is a readiness check.
    package var isReadinessCheck: Bool { readyPort != nil || readyLine != nil }
    /// How long a readiness check waits before declaring the program not ready.
    package var readyTimeoutSeconds: Double = 30
    /// How long the program may take to stop after SIGTERM before SIGKILL (readiness checks).
    package var stopGraceSeconds: Double = 10
    /// After forwarding SIGTERM, SIGKILL the child's process group if it has not exited within
    /// this many seconds (`--grace-period`).
    package var gracePeriodSeconds: Double?
    /// After the child exits, SIGTERM then (after the grace period, 5 s by default) SIGKILL the
    /// processes still running as our children (PID 1 or subreaper) (`--kill-leftovers`).
    package var killLeftovers = false
    /// Hold SIGTERM this many milliseconds before forwarding it (`--signal-delay`): load
    /// balancers can drain first.
    package var signalDelayMilliseconds: Int?
    /// probe-exec gets this signal (and so forwards it) when its parent dies (`-p`, as tini); the
    /// program gets it too when probe-exec itself dies, even by SIGKILL.
    package var parentDeathSignal: Int32?
    /// Signals rewritten before forwarding (`--map-signal FROM:TO`).
    package var signalMap = SignalMap()
    /// A regular expression whose matches are masked in the output tails written to the trace
    /// (`--redact`); the program's real output is never changed.
    package var redactPattern: String?
    /// How many of the last bytes of each stream the trace keeps.
    package var tailCapacity = 64 * 1024
    /// The version written into the start event.
    package var version = "unknown"
    /// Quick work once the program runs (pointing the trace directory's `latest` links at this
    /// run): after its exec stop is handled and before any of its output is forwarded, so that
    /// whoever sees its output finds its trace there (at once when it failed to exec).
    package var afterSpawn: (@Sendable () -> Void)?
    /// Slow work that can wait (pruning the trace directory): on a thread of its own beside the
    /// program's start, after the output pumps (at once when the program failed to exec), and
    /// waited for before ``Supervisor/run()`` returns. It must touch nothing the supervisor uses
    /// meanwhile.
    package var housekeeping: (@Sendable () -> Void)?
    /// Explains an execve failure (path, command as given, errno) once, when it happens; the
    /// explanation is recorded in the `exec` event and is what the verdict says.
    package var explainExecFailure: (@Sendable (String, String, Int32) -> String?)?

    /// Options for running `command`.
    package init(command: [String]) {
        self.command = command
        self.commandBytes = command.map { Array($0.utf8) }
    }

    /// Options for running `commandBytes` (argv as the kernel passed it).
    package init(commandBytes: [[UInt8]]) {
        self.command = commandBytes.map { String(decoding: $0, as: UTF8.self) }
        self.commandBytes = commandBytes
    }
}

/// Signals rewritten before forwarding (`--map-signal FROM:TO`).
///
/// A list, not a `Dictionary`: in the static binary a Dictionary's first use makes the Swift
/// runtime look its key's Hashable conformance up by scanning every conformance record, about
/// 70 µs of every start (measured with perf), for a table that is almost always empty.
package struct SignalMap: Sendable, Equatable {
    private var pairs: [Int64] = []  // from << 32 | to

    /// An empty map.
    package init() {}

    /// Sends `to` instead of `from`.
    package mutating func map(_ from: Int32, to: Int32) {
        pairs.removeAll { Int32(truncatingIfNeeded: $0 >> 32) == from }
        pairs.append(Int64(from) << 32 | Int64(UInt32(bitPattern: to)))
    }

    /// The signal to send for `signal`.
    package func target(of signal: Int32) -> Int32 {
        for pair in pairs where Int32(truncatingIfNeeded: pair >> 32) == signal {
            return Int32(truncatingIfNeeded: pair)
        }
        return signal
    }

    /// Whether nothing is mapped.
    package var isEmpty: Bool { pairs.isEmpty }
}
