import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The library never intercepts a signal: the program's own handlers, DispatchSource signal
/// sources and a ServiceGroup's graceful shutdown see exactly what they see without it. Under
/// probe-exec, which receives every signal first, the sender is logged through the program's
/// Logger from probe-exec's trace.
@Suite(.serialized) struct SignalLoggingTests {
    static var server: String { Binaries.buildDirectory + "/example-server" }

    /// Sends `signal` to `pid` from a shell that stays alive a moment (so its command can be read),
    /// and returns the shell's pid: the sender the program must name.
    static func send(_ signal: String, to pid: pid_t) throws -> (sender: Int32, shell: ChildProcess) {
        let shell = try ChildProcess(["/bin/sh", "-c", "echo $$; kill -s \(signal) \(pid); sleep 2"])
        let sender = try #require(shell.readLine().flatMap { Int32($0) })
        return (sender, shell)
    }

    @Test func withoutProbeExecNothingIsInterceptedOrLogged() throws {
        let dir = Binaries.freshDirectory("siglog-own")
        let server = try ChildProcess(
            [Self.server, "signals"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir, "LOG_LEVEL": "debug"]
        )
        #expect(server.readLine() == "ready")
        #expect(server.waitForError(containing: "signal senders are logged only under probe-exec"))
        let usr1 = try Self.send("USR1", to: server.pid)  // kept: the sender lives until it has sent
        #expect(server.readLine() == "own SIGUSR1 handler ran")
        let term = try Self.send("TERM", to: server.pid)
        let result = try server.finish()
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 128 + SIGTERM, "the default action ends it, with the same signal")
        #expect(!stderr.contains("received SIG"), "\(stderr)")
        #expect(try TraceReader.read(path: dir + "/latest").events.allSatisfy { $0.kind != "program_signal" })
        _ = (usr1, term)
    }

    @Test func dispatchSourceGetsEverySignal() throws {
        let server = try ChildProcess(
            [Self.server, "dispatch", "3"],
            environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("siglog-dispatch")]
        )
        #expect(server.readLine() == "ready")
        usleep(300_000)  // libdispatch registers the source on its own thread
        for _ in 0..<3 {
            kill(server.pid, SIGUSR2)
            usleep(100_000)
        }
        let result = try server.finish()
        #expect(result.status == 0, "the source saw all three: \(String(decoding: result.stdout, as: UTF8.self))")
    }

    /// swift-service-lifecycle under probe-exec: SIGTERM triggers the graceful shutdown (the
    /// service's shutdown hook runs, the group ends, exit 0) and the sender is logged, from
    /// probe-exec's trace, whether `start` came before or after the group's DispatchSource.
    @Test(arguments: [false, true]) func serviceGroupShutsDownGracefullyAndTheSenderIsLogged(startLate: Bool) throws {
        let trace = Binaries.freshDirectory("siglog-group") + "/t.ndjson"
        var environment: [String: String] = [:]
        if startLate { environment["START_PROBE_LATE"] = "1" }  // start() after the group's DispatchSource
        let wrapper = try ChildProcess(
            [Binaries.probeExec, "-o", trace, "--", Binaries.serviceGroupServer],
            environment: environment
        )
        #expect(wrapper.readLine() == "worker: running")
        let term = try Self.send("TERM", to: wrapper.pid)
        #expect(wrapper.readLine() == "worker: shutdown hook ran")
        #expect(wrapper.readLine() == "servicegroup-server: group finished")
        let result = try wrapper.finish()
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 0)
        #expect(stderr.contains("received SIGTERM from pid \(term.sender) (sh) uid 0"), "\(stderr)")
        #expect(stderr.contains("forwarded by probe-exec (trace \(trace), event signal)"), "\(stderr)")
        #expect(stderr.contains("Signal caught. Shutting down the group."), "ServiceLifecycle saw it too")
    }

    /// Under probe-exec: the program's own handler runs, and the log names the original sender.
    @Test func underProbeExecTheOriginalSenderIsLogged() throws {
        let trace = Binaries.freshDirectory("siglog-under") + "/t.ndjson"
        let wrapper = try ChildProcess([Binaries.probeExec, "-q", "-o", trace, "--", Self.server, "signals"])
        #expect(wrapper.readLine() == "ready")
        let usr1 = try Self.send("USR1", to: wrapper.pid)
        #expect(wrapper.readLine() == "own SIGUSR1 handler ran")
        #expect(wrapper.waitForError(containing: "received SIGUSR1 from pid \(usr1.sender) (sh) uid 0"))
        wrapper.signal(SIGTERM)
        let result = try wrapper.finish()
        #expect(result.status == 128 + SIGTERM)
    }

    /// An ignored signal (SIG_IGN inherited, as under nohup) stays ignored in the program's children.
    @Test func ignoredSignalsAreLeftAlone() throws {
        let child = try run(["/bin/sh", "-c", "trap '' HUP; exec \"$0\" sigign", Self.server])
        let mask = child.stdout.split(separator: " ").last.flatMap {
            UInt64(String($0.filter(\.isHexDigit)), radix: 16)
        }
        #expect(mask.map { $0 & 1 == 1 } == true, "SIGHUP still ignored in the program's child: \(child.stdout)")
    }

    /// Stack overflow on a second thread: reported when the thread asked for an alternate stack
    /// (installAlternateSignalStack), and without one the status is still the true 139.
    @Test(arguments: [true, false]) func stackOverflowOnAThread(withAlternateStack: Bool) throws {
        let dir = Binaries.freshDirectory("siglog-overflow")
        let r = try run(
            [Self.server, "overflow-thread"] + (withAlternateStack ? [] : ["bare"]),
            environment: ["PROBE_EXEC_TRACE_DIR": dir, "SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(r.status == 128 + SIGSEGV)
        let crash = try TraceReader.read(path: dir + "/latest").events.first { $0.kind == "crash" }
        if withAlternateStack {
            #expect(r.stderr.contains("StartupProbe: fatal signal 11"))
            #expect((crash?["frames"]?.arrayValue?.count ?? 0) >= 50)
        } else {
            #expect(crash == nil, "no alternate stack: the handler cannot run (documented)")
        }
    }
}
