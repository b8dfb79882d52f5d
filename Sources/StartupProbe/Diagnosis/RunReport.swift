/// How the child ended.
public enum ExitCause: Sendable, Equatable {
    /// It exited with this code.
    case exited(code: Int32)
    /// It was killed by this signal.
    case killed(signal: Int32, coreDumped: Bool)
    /// It could not be started: `execve` failed with this error for this path.
    case execFailed(error: SystemError, path: String)
    /// probe-exec could not even fork (or make its pipes).
    case spawnFailed(error: SystemError)

    /// The status a shell would report: the code, 128+N for a signal, 126/127 for exec failures.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .killed(let signal, _): return 128 + signal
        case .execFailed(let error, _): return CommandResolver.exitStatus(forExecError: error.code)
        case .spawnFailed: return 126
        }
    }
}

/// A signal that reached probe-exec, with its sender, and what was done with it.
public struct ReceivedSignal: Sendable, Equatable {
    /// The signal number.
    public var signal: Int32
    /// The sender's pid (0 when it is outside our PID namespace or the kernel).
    public var senderPID: Int32
    /// The sender's uid.
    public var senderUID: UInt32
    /// The sender's command name when it could still be read.
    public var senderCommand: String?
    /// Milliseconds since start when probe-exec read it.
    public var offsetMilliseconds: Double
    /// Whether it was forwarded to the child.
    public var forwarded: Bool

    /// Records a received signal.
    public init(
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
public struct RunReport: Sendable {
    /// The command as given.
    public var command: [String]
    /// The child's pid, when it was forked.
    public var childPID: Int32?
    /// How the child ended.
    public var cause: ExitCause
    /// Milliseconds from start to the child's exit.
    public var durationMilliseconds: Double
    /// Signals probe-exec received, in order.
    public var signals: [ReceivedSignal] = []
    /// Bytes the child wrote on each piped stream (nil when the stream was not piped).
    public var stdoutBytes: UInt64?
    public var stderrBytes: UInt64?
    /// The last bytes of each piped stream.
    public var stdoutTail: [UInt8] = []
    public var stderrTail: [UInt8] = []
    /// How each piped stream was carried: `splice`, or `copy` (read/write, e.g. to a terminal).
    public var stdoutTransport: String?
    public var stderrTransport: String?
    /// Orphaned descendants reaped while the child ran.
    public var orphansReaped = 0
    /// The runtime error the program reported on stderr (or stdout) before exiting, if any.
    public var programError: ProgramError?
    /// The program file that was exec'd (the last image, when a script exec'd a binary).
    public var programPath: String?
    /// Shared libraries the dynamic loader could not find, when it failed to start the program.
    public var missingLibraries: [SharedLibraries.Missing] = []
    /// Whether it was run as a service (--service): it should only stop when told to.
    public var service = false
    /// Processes still running, children of probe-exec, when the program exited (what a
    /// daemonizing program leaves behind when probe-exec is PID 1 or a subreaper).
    public var leftRunning: [(pid: Int32, command: String?)] = []
    /// TCP sockets the program (or its descendants) listened on, with when they were first seen.
    public var listening: [(listener: Sockets.Listener, offsetMilliseconds: Double)] = []
    /// The port it could not bind because another process holds it, and who holds it.
    public var portInUse: (port: Int, holders: [(pid: Int32, command: String?)])?
    /// With a readiness check: when the program became ready, or nil if it never did.
    public var readyMilliseconds: Double?
    /// What ptrace tracing found (state `off` when not traced).
    public var tracing = TracingFindings()

    /// Makes a report.
    public init(command: [String], cause: ExitCause, durationMilliseconds: Double) {
        self.command = command
        self.cause = cause
        self.durationMilliseconds = durationMilliseconds
    }
}
