import ProbeCore
import ProbeTrace
import ProbeTracing

/// How the child ended.
package enum ExitCause: Sendable, Equatable {
    /// It exited with this code.
    case exited(code: Int32)
    /// It was killed by this signal.
    case killed(signal: Int32, coreDumped: Bool)
    /// It could not be started: `execve` failed with this error for this path.
    case execFailed(error: SystemError, path: String)
    /// probe-exec could not even fork (or make its pipes).
    case spawnFailed(error: SystemError)

    /// The status a shell would report: the code, 128+N for a signal, 126/127 for exec failures.
    package var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .killed(let signal, _): return 128 + signal
        case .execFailed(let error, _): return CommandResolver.exitStatus(forExecError: error.code)
        case .spawnFailed: return 126
        }
    }
}

/// A signal that reached probe-exec, with its sender, and what was done with it.
package struct ReceivedSignal: Sendable, Equatable {
    /// The signal number.
    package var signal: Int32
    /// The sender's pid (0 when it is outside our PID namespace or the kernel).
    package var senderPID: Int32
    /// The sender's uid.
    package var senderUID: UInt32
    /// The sender's command name when it could still be read.
    package var senderCommand: String?
    /// Milliseconds since start when probe-exec read it.
    package var offsetMilliseconds: Double
    /// Whether it was forwarded to the child.
    package var forwarded: Bool

    /// Records a received signal.
    package init(
        signal: Int32,
        senderPID: Int32,
        senderUID: UInt32,
        senderCommand: String?,
        offsetMilliseconds: Double,
        forwarded: Bool
    ) {
        self.signal = signal
        self.senderPID = senderPID
        self.senderUID = senderUID
        self.senderCommand = senderCommand
        self.offsetMilliseconds = offsetMilliseconds
        self.forwarded = forwarded
    }
}

/// Everything the supervisor learned about one run: the input of the diagnosis.
package struct RunReport: Sendable {
    /// The command as given.
    package var command: [String]
    /// The child's pid, when it was forked.
    package var childPID: Int32?
    /// How the child ended.
    package var cause: ExitCause
    /// Milliseconds from start to the child's exit.
    package var durationMilliseconds: Double
    /// Signals probe-exec received, in order.
    package var signals: [ReceivedSignal] = []
    /// Bytes the child wrote on each piped stream (nil when the stream was not piped).
    package var stdoutBytes: UInt64?
    package var stderrBytes: UInt64?
    /// The last bytes of each piped stream.
    package var stdoutTail: [UInt8] = []
    package var stderrTail: [UInt8] = []
    /// How each piped stream was carried: `splice`, or `copy` (read/write, e.g. to a terminal).
    package var stdoutTransport: String?
    package var stderrTransport: String?
    /// stdout and stderr were one open file, carried by one pipe: its bytes and tail are in the
    /// stderr fields.
    package var mergedOutput = false
    /// Orphaned descendants reaped while the child ran.
    package var orphansReaped = 0
    /// The program file that was exec'd (the last image, when a script exec'd a binary).
    package var programPath: String?
    /// Why execve failed, explained once when it failed (nil when not explained).
    package var execExplanation: String?
    /// The signal that killed probe-exec's (traced) child before its execve: no program ran. nil
    /// when the program ran, or when that is not known (untraced; or a name the program shares).
    package var killedBeforeExec: Int32?
    /// Whether it was run as a service (--service): it should only stop when told to.
    package var service = false
    /// Whether unbuffered output was asked of the program's runtimes (--unbuffered).
    package var unbuffered = false
    /// Whether the program's orphans came to probe-exec (PID 1, or a child subreaper), so that
    /// ``leftRunning`` and ``orphansReaped`` are the whole story, not a part of it.
    package var watchedDescendants = false
    /// Processes still running, children of probe-exec, when the program exited (what a
    /// daemonizing program leaves behind when probe-exec is PID 1 or a subreaper).
    package var leftRunning: [(pid: Int32, command: String?)] = []
    /// TCP sockets the program (or its descendants) listened on, with when they were first seen.
    package var listening: [(listener: Sockets.Listener, offsetMilliseconds: Double)] = []
    /// With a readiness check: when the program became ready, or nil if it never did.
    package var readyMilliseconds: Double?
    /// What ptrace tracing found (state `off` when not traced).
    package var tracing = TracingFindings()
    /// The program's memory cgroup, read at spawn and after the exit (nil when none was found).
    package var memoryCgroup: MemoryCgroupUse?
    /// When the grace period after a SIGTERM ran out and probe-exec sent SIGKILL to the program's
    /// process group, and how long that period was.
    package var graceExpired: (offsetMilliseconds: Double, graceSeconds: Double)?

    /// Makes a report.
    package init(command: [String], cause: ExitCause, durationMilliseconds: Double) {
        self.command = command
        self.cause = cause
        self.durationMilliseconds = durationMilliseconds
    }
}

/// The program's memory cgroup, read when it was spawned and after it exited.
package struct MemoryCgroupUse: Sendable {
    /// Which cgroup.
    package var cgroup: MemoryCgroup
    /// Its OOM-kill counts at spawn (``MemoryCgroup/readOOMCounters()``: no limit or peak).
    package var before: MemoryCgroupReading
    /// Its files after the exit.
    package var after: MemoryCgroupReading

    /// `cgroup`, read `before` and `after`.
    package init(cgroup: MemoryCgroup, before: MemoryCgroupReading, after: MemoryCgroupReading) {
        self.cgroup = cgroup
        self.before = before
        self.after = after
    }

    /// Processes the cgroup's OOM killer killed during the run (each process of a whole-group
    /// kill counts too); nil when the counter could not be read.
    package var oomKillsDuringRun: UInt64? {
        guard let start = before.oomKills, let end = after.oomKills else { return nil }
        return end >= start ? end - start : 0
    }
}
