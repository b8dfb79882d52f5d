import Logging
import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The in-process side of StartupProbe, for Swift servers: one call at the top of `main`.
///
/// ```swift
/// let probe = StartupProbe.start(logger: logger)
/// ```
///
/// It records "main() reached" (into probe-exec's trace when run under probe-exec, else into a
/// trace file of its own in the same format, so `probe-exec show` reads both), logs the signals
/// the program receives with their sender, and installs an async-signal-safe crash handler that
/// writes a backtrace before the process dies of the same signal. It never bootstraps the logging
/// system.
public enum StartupProbe {
    /// The environment variable through which probe-exec names its trace to the program.
    public static let traceVariable = HandOver.traceVariable
    /// The environment variable with probe-exec's start time (CLOCK_MONOTONIC nanoseconds).
    public static let startVariable = HandOver.startVariable

    /// What `start` installs.
    public struct Options: Sendable {
        /// Install the fatal-signal handler (SEGV, BUS, ILL, FPE, ABRT, TRAP). Default true.
        public var crashHandler = true
        /// Write our own trace when not run under probe-exec. Default true.
        public var ownTrace = true
        /// The signals logged with their sender when probe-exec forwards them (empty: none).
        /// Default SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2. The library never intercepts
        /// a signal: the program's handlers, DispatchSource signal sources and
        /// swift-service-lifecycle's graceful shutdown see exactly what they see without it. The
        /// sender comes from probe-exec's trace; without probe-exec nothing is logged: see
        /// <doc:StartupProbe#Signal-logging>.
        public var loggedSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

        /// The defaults.
        public init() {}
    }

    /// What `start` set up.
    public struct Handle: Sendable {
        /// The trace events go to (probe-exec's, or our own), if any.
        public let tracePath: String?
        /// Whether the program runs under probe-exec.
        public let underProbeExec: Bool
        /// Milliseconds from the start (probe-exec's, or this process's) to the `start` call.
        public let mainReachedMilliseconds: Double
        /// Whether the crash handler was installed (for the fatal signals the program does not ignore).
        public let crashHandlerInstalled: Bool
        /// Whether crash reports carry libunwind backtraces (libunwind could be loaded). Reading it
        /// waits for the library, which `start` loads on a thread of its own.
        public var backtracesAvailable: Bool { crashHandlerRequested && InProcessCrashHandler.backtracesAvailable }
        let crashHandlerRequested: Bool
        /// The signals whose arrival is logged with the sender (under probe-exec: those asked for;
        /// without it: none).
        public let loggedSignals: [Int32]
        /// The names of ``loggedSignals``, such as `SIGTERM`.
        public var loggedSignalNames: [String] { loggedSignals.map(SignalName.name) }
    }

    /// Gives the calling thread an alternate signal stack, so that a stack overflow on it is
    /// reported by the crash handler.
    ///
    /// `start` does this for the thread that calls it. A thread's alternate stack can only be set
    /// by the thread itself and is not inherited by new threads, so call this first thing in
    /// threads you create (not needed for Swift concurrency or Dispatch threads, which run small
    /// frames). Without it, a stack overflow on such a thread still ends the process with
    /// SIGSEGV (exit status 139), but without the in-process report; under probe-exec, its
    /// tracer reports the crash and backtrace anyway.
    /// - Returns: false when the stack could not be set up (out of memory).
    @discardableResult
    public static func installAlternateSignalStack() -> Bool {
        InProcessCrashHandler.installAlternateStack() == 0
    }

    /// Records that main() was reached, starts logging signals and installs the crash handler.
    /// - Parameters:
    ///   - logger: where "main() reached" and problems are logged (never bootstrapped here).
    ///   - options: what to install.
    /// - Returns: what was set up. Never throws: a probe must not stop the program (fail open).
    @discardableResult
    public static func start(logger: Logger, options: Options = Options()) -> Handle {
        let now = TraceClock.nowNanoseconds
        var start = TraceClock.processStart.startNanoseconds
        var path: String? = nil
        var fd: Int32 = -1
        var underProbeExec = false
        // The hand-over from probe-exec is for the process whose pid it names (systemd's
        // LISTEN_PID rule): a process the program started inherits the variables and ignores them.
        // Read, then removed either way, so that the program's own children never see them.
        let inherited = ProcessEnvironment.value(of: traceVariable)
        let inheritedStart = ProcessEnvironment.value(of: startVariable)
        let intendedPID = ProcessEnvironment.value(of: HandOver.pidVariable).flatMap { Int32($0) }
        unsetenv(traceVariable)
        unsetenv(startVariable)
        unsetenv(HandOver.pidVariable)
        if let inherited, intendedPID == getpid() {
            underProbeExec = true
            if let given = inheritedStart.flatMap(Int64.init) { start = given }
            fd = open(inherited, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                path = inherited
            } else {
                logger.warning("StartupProbe cannot open probe-exec's trace \(inherited): \(SystemError.current)")
            }
        } else if options.ownTrace {
            (path, fd) = ownTrace(start: start, logger: logger)
        }
        let offset = Double(now - start) / 1_000_000
        var reached = TraceEvent.MainReached()
        reached.pid = getpid()
        append(fd, TraceRecord(.mainReached(reached), at: offset))
        logger.info("main() reached", metadata: ["startup_ms": "\(offset)", "trace": "\(path ?? "none")"])

        var installed = false
        if options.crashHandler {
            // libunwind is loaded on a thread of its own: start does not wait for dlopen.
            InProcessCrashHandler.loadUnwinderInBackground()
            let error = InProcessCrashHandler.install(traceFD: fd, reportFD: STDERR_FILENO, startNanoseconds: start)
            installed = error == 0
            if !installed { logger.warning("StartupProbe cannot install its crash handler: \(SystemError(error))") }
        }
        var logged: [Int32] = []
        if !options.loggedSignals.isEmpty {
            if underProbeExec, let path {
                if let error = SignalRelay.start(logger: logger, tracePath: path, signals: options.loggedSignals) {
                    logger.warning("StartupProbe cannot follow probe-exec's trace for signals: \(error)")
                } else {
                    logged = options.loggedSignals
                }
            } else {
                logger.debug(
                    "StartupProbe: signal senders are logged only under probe-exec (which receives them first); the library itself never intercepts a signal"
                )
            }
        }
        return Handle(
            tracePath: path,
            underProbeExec: underProbeExec,
            mainReachedMilliseconds: offset,
            crashHandlerInstalled: installed,
            crashHandlerRequested: options.crashHandler,
            loggedSignals: logged
        )
    }

    private static func ownTrace(start: Int64, logger: Logger) -> (String?, Int32) {
        let directory = TraceLocation.directory
        do {
            try TraceLocation.prepare(directory)
        } catch {
            logger.warning("StartupProbe cannot use the trace directory \(directory): \(error)")
            return (nil, -1)
        }
        let program = CommandLine.arguments.first ?? "program"
        let name = TraceLocation.fileName(
            program: program,
            pid: getpid(),
            realtimeNanoseconds: SystemIO.realtimeNanoseconds
        )
        let path = directory + "/" + name
        let fd = SystemIO.openTrace(path)
        guard fd >= 0 else {
            logger.warning("StartupProbe cannot create its trace \(path): \(SystemError.current)")
            return (nil, -1)
        }
        TraceLocation.updateLatest(directory: directory, fileName: name, program: program)
        var event = TraceEvent.Start()
        event.source = "in_process"
        event.time = Timestamp.iso8601(realtimeNanoseconds: SystemIO.realtimeNanoseconds)
        event.argv = Redaction.arguments(CommandLine.arguments)
        event.pid = getpid()
        event.uid = getuid()
        event.gid = getgid()
        event.envNames = ProcessEnvironment.names
        event.host = ProcessFacts.host.name
        event.kernel = ProcessFacts.host.kernel
        append(fd, TraceRecord(.start(event), at: 0))
        return (path, fd)
    }

    private static func append(_ fd: Int32, _ event: TraceRecord) {
        if fd >= 0 { event.write(to: fd) }
    }
}
