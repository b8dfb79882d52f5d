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

/// The library logs received signals with their sender (pid, uid, command) while the program's
/// own handlers, DispatchSource signal sources and a ServiceGroup's graceful shutdown keep working.
@Suite(.serialized) struct SignalLoggingTests {
    static var server: String { Binaries.buildDirectory + "/example-server" }

    /// Sends `signal` to `pid` from a shell that stays alive a moment (so its command can be read),
    /// and returns the shell's pid: the sender the program must name.
    static func send(_ signal: String, to pid: pid_t) throws -> (sender: Int32, shell: ChildProcess) {
        let shell = try ChildProcess(["/bin/sh", "-c", "echo $$; kill -s \(signal) \(pid); sleep 2"])
        let sender = try #require(shell.readLine().flatMap { Int32($0) })
        return (sender, shell)
    }

    /// example-server with a DispatchSource for SIGUSR2 (exiting after `count`), once StartupProbe
    /// reads SIGUSR2 ahead of libdispatch.
    static func dispatchServer(exitingAfter count: Int) throws -> ChildProcess {
        let server = try ChildProcess(
            [Self.server, "dispatch", String(count)],
            environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("siglog-dispatch"), "LOG_LEVEL": "debug"]
        )
        #expect(server.readLine() == "ready")
        #expect(server.waitForError(containing: "SIGUSR2 is read by a DispatchSource"))
        return server
    }

    @Test func ownHandlerStillRunsAndTheDefaultActionStillEndsTheProgram() throws {
        let dir = Binaries.freshDirectory("siglog-own")
        let server = try ChildProcess(
            [Self.server, "signals"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir, "LOG_LEVEL": "debug"]
        )
        #expect(server.readLine() == "ready")
        // The program installed its SIGUSR1 handler after start(): the observer goes back in front.
        #expect(server.waitForError(containing: "the handler of SIGUSR1 was replaced"))
        let usr1 = try Self.send("USR1", to: server.pid)
        #expect(server.readLine() == "own SIGUSR1 handler ran")
        #expect(server.waitForError(containing: "received SIGUSR1 from pid \(usr1.sender) (sh) uid 0"))
        let term = try Self.send("TERM", to: server.pid)
        let result = try server.finish()
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 128 + SIGTERM, "the default action still ends it, with the same signal")
        #expect(stderr.contains("received SIGTERM from pid \(term.sender) (sh) uid 0"), "\(stderr)")
        #expect(stderr.contains("the default action ends the process"))
        let events = try TraceReader.read(path: dir + "/latest").events.filter { $0.kind == "program_signal" }
        #expect(events.map { $0["name"]?.stringValue } == ["SIGUSR1", "SIGTERM"])
        #expect(events.map { $0["sender_pid"]?.intValue } == [Int(usr1.sender), Int(term.sender)])
        #expect(events.map { $0["disposition"]?.stringValue } == ["handler", "default_ends"])
        let shown = try run([Binaries.probeExec, "show", dir]).stdout
        #expect(
            shown.contains("the program received SIGTERM (thread \(server.pid)) from pid \(term.sender) (sh) uid 0")
        )
    }

    /// libdispatch reads a DispatchSource's signal from a signalfd of its own; every one of 20
    /// signals must reach the source once and be logged once.
    @Test func dispatchSourceGetsEverySignalAndEachIsLogged() throws {
        let server = try Self.dispatchServer(exitingAfter: 20)
        var senders: [Int32] = []
        for n in 1...20 {
            let sent = try Self.send("USR2", to: server.pid)
            senders.append(sent.sender)
            #expect(server.readLine() == "dispatch source: \(n) so far")
        }
        let result = try server.finish()
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 0)
        for sender in senders {
            #expect(stderr.contains("received SIGUSR2 from pid \(sender) (sh) uid 0"), "sender \(sender)")
        }
        #expect(stderr.components(separatedBy: "received SIGUSR2").count - 1 == 20, "each logged once")
    }

    /// 2,000 SIGUSR2 as fast as a shell can send them, at a DispatchSource. Pending signals merge
    /// in the kernel and libdispatch merges events (as without StartupProbe), so counts are not
    /// exact; what must hold: nothing invented (the source never gets more than were logged), the
    /// program goes on (one more signal afterwards reaches the source), and the default action of
    /// SIGTERM still ends it.
    @Test func floodOfSignalsAtADispatchSource() throws {
        let server = try Self.dispatchServer(exitingAfter: 1_000_000)
        let flood = try run([
            "/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do kill -USR2 \(server.pid) || exit 1; i=$((i+1)); done",
        ])
        #expect(flood.status == 0)
        func count(_ line: String?) -> Int? {
            line.flatMap { $0.split(separator: " ").dropFirst(2).first }.flatMap { Int($0) }
        }
        var delivered = 0
        while let line = server.readLine(timeout: 0.5), let n = count(line) { delivered = n }
        #expect(delivered > 0)
        // The program goes on: a signal afterwards still reaches the source. Up to three tries, 2 s
        // each: while a full CI run loaded the machine, a single one was seen not to reach the
        // source within 5 s, three times; the cause is not found yet (not reproduced since).
        var after = 0
        var extras: [Int32] = []
        for _ in 0..<3 where after <= delivered {
            let extra = try Self.send("USR2", to: server.pid)
            extras.append(extra.sender)
            after = count(server.readLine(timeout: 2)) ?? 0
        }
        #expect(after > delivered, "one more signal after the flood still reaches the source")
        server.signal(SIGTERM)
        let result = try server.finish()
        #expect(result.status == 128 + SIGTERM)
        let logged =
            String(decoding: result.stderr, as: UTF8.self).components(separatedBy: "received SIGUSR2").count - 1
        #expect(after <= logged && logged <= 2000 + extras.count, "the source got \(after), \(logged) were logged")
        #expect(
            extras.contains {
                logged > 0 && String(decoding: result.stderr, as: UTF8.self).contains("from pid \($0) (sh)")
            }
        )
    }

    /// swift-service-lifecycle: SIGTERM triggers the graceful shutdown (the service's shutdown
    /// hook runs, the group ends, exit 0) and the sender is logged.
    @Test(arguments: [false, true]) func serviceGroupShutsDownGracefullyAndTheSenderIsLogged(startLate: Bool) throws {
        let dir = Binaries.freshDirectory("siglog-group")
        var environment = ["PROBE_EXEC_TRACE_DIR": dir]
        if startLate { environment["START_PROBE_LATE"] = "1" }  // start() after the group's DispatchSource
        let server = try ChildProcess([Binaries.serviceGroupServer], environment: environment)
        #expect(server.readLine() == "worker: running")
        #expect(server.waitForError(containing: "SIGTERM is read by a DispatchSource"))
        let term = try Self.send("TERM", to: server.pid)
        #expect(server.readLine() == "worker: shutdown hook ran")
        #expect(server.readLine() == "servicegroup-server: group finished")
        let result = try server.finish()
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 0)
        #expect(stderr.contains("received SIGTERM from pid \(term.sender) (sh) uid 0"), "\(stderr)")
        #expect(stderr.contains("Signal caught. Shutting down the group."), "ServiceLifecycle saw it too")
        let event = try #require(
            try TraceReader.read(path: dir + "/latest").events.first { $0.kind == "program_signal" }
        )
        #expect(event["sender_pid"]?.intValue == Int(term.sender))
        #expect(event["sender_comm"]?.stringValue == "sh")
    }

    /// Under probe-exec the sender the program sees is probe-exec (it forwards), and both sides land
    /// in the same trace: probe-exec's `signal` names the original sender.
    @Test func underProbeExecBothSidesAreInOneTrace() throws {
        let trace = Binaries.freshDirectory("siglog-under") + "/t.ndjson"
        let wrapper = try ChildProcess(
            [Binaries.probeExec, "-q", "-o", trace, "--", Self.server, "signals"],
            environment: ["LOG_LEVEL": "debug"]
        )
        #expect(wrapper.readLine() == "ready")
        #expect(wrapper.waitForError(containing: "the handler of SIGUSR1 was replaced"))
        let usr1 = try Self.send("USR1", to: wrapper.pid)
        #expect(wrapper.readLine() == "own SIGUSR1 handler ran")
        #expect(wrapper.waitForError(containing: "received SIGUSR1"), "logged (and so in the trace) before we stop")
        wrapper.signal(SIGKILL)
        _ = try wrapper.finish()
        let events = try TraceReader.read(path: trace).events
        let forwarded = try #require(events.first { $0.kind == "signal" && $0["name"]?.stringValue == "SIGUSR1" })
        #expect(forwarded["sender_pid"]?.intValue == Int(usr1.sender))
        let seen = try #require(events.first { $0.kind == "program_signal" })
        #expect(seen["sender_pid"]?.intValue == Int(wrapper.pid))
        #expect(seen["sender_comm"]?.stringValue == "probe-exec")
    }

    /// An ignored signal (SIG_IGN inherited, as under nohup) is left alone: wrapping it would give
    /// the program's exec'd children SIG_DFL instead of SIG_IGN.
    @Test func ignoredSignalsAreLeftAlone() throws {
        let r = try run(["/bin/sh", "-c", "trap '' HUP; exec \"$0\" info", Self.server])
        #expect(r.status == 0)
        #expect(r.stdout.contains("logged=SIGTERM,SIGINT,SIGQUIT,SIGUSR1,SIGUSR2"), "\(r.stdout)")
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
