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

/// Every catchable signal sent to probe-exec reaches the child, even in the first moments.
@Suite(.serialized) struct SignalForwardingTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-signals"]

    /// The signals tini forwards: all catchable ones except SIGCHLD (handled), the synchronous
    /// fault signals and SIGTTIN/SIGTTOU (ignored by the supervisor, as tini does).
    static let forwardable: [Int32] = {
        var list: [Int32] = [
            SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCONT,
            SIGTSTP, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR,
        ]
        list += [34, 40, 64]  // real-time signals (SIGRTMIN is 34 under glibc)
        return list
    }()

    @Test func everyForwardableSignalReachesTheChild() throws {
        let child = try ChildProcess([Binaries.probeExec, "-q", "--", Binaries.fixture, "signals"], environment: env)
        #expect(child.readLine() == "ready")
        for signal in Self.forwardable {
            child.signal(signal)
            let line = child.readLine(timeout: 5)
            #expect(line == "got \(signal)", "signal \(signal) was not forwarded (read \(line ?? "nothing"))")
        }
        // The fixture handles everything catchable: end it with SIGKILL, which cannot be forwarded.
        for pid in childrenOf(child.pid) { kill(pid, SIGKILL) }
        #expect(try child.wait() == 128 + SIGKILL)
    }

    /// Sent as soon as probe-exec has blocked signals, long before the child exists: it must be
    /// queued and forwarded, never dropped (the race `tini -g` loses).
    @Test func sigtermRightAfterStartIsNotLost() throws {
        let dir = Binaries.freshDirectory("early-term")
        for attempt in 0..<50 {
            let trace = "\(dir)/\(attempt).ndjson"
            let child = try ChildProcess(
                [Binaries.probeExec, "-q", "-o", trace, "--", Binaries.fixture, "sleep", "30"],
                environment: env
            )
            let deadline = now() + 5
            while now() < deadline {
                if let status = readFileText("/proc/\(child.pid)/status"),
                    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
                    !line.hasSuffix("0000000000000000")
                {
                    break
                }
            }
            child.signal(SIGTERM)
            let status = try child.wait(timeout: 10)
            #expect(status == 128 + SIGTERM, "attempt \(attempt): status \(status)")
            // 143 alone could mean probe-exec itself died of it; the trace proves the child did.
            let events = try TraceReader.read(path: trace).events
            let exit = try #require(
                events.first { $0.kind == "exit" },
                "attempt \(attempt): probe-exec did not survive"
            )
            #expect(exit["signal"]?.intValue == Int(SIGTERM))
            #expect(events.contains { $0.kind == "signal" && $0["name"]?.stringValue == "SIGTERM" })
        }
    }

    @Test func childHandlesForwardedTerm() throws {
        let child = try ChildProcess([Binaries.probeExec, "--", Binaries.fixture, "trapterm"], environment: env)
        #expect(child.readLine() == "ready")
        child.signal(SIGTERM)
        #expect(child.readLine() == "term")
        #expect(try child.wait() == 42)
    }

    @Test func processGroupForwardingReachesGrandchildren() throws {
        // With -g, SIGTERM goes to the whole group: sh (which traps it and exits 5) and the
        // grandchild (which writes "term" to a file and exits). The grandchild writes to a file
        // because probe-exec stops reading its pipes as soon as sh, its child, has exited.
        let dir = Binaries.freshDirectory("group")
        let script = "trap 'exit 5' TERM; \(Binaries.fixture) trapterm > \(dir)/gc.out & sleep 0.3; echo ready; wait"
        let child = try ChildProcess([Binaries.probeExec, "-g", "-q", "--", "/bin/sh", "-c", script], environment: env)
        #expect(child.readLine() == "ready")
        child.signal(SIGTERM)
        #expect(try child.wait(timeout: 10) == 5)
        let deadline = now() + 5
        while now() < deadline && readFile(dir + "/gc.out") != "ready\nterm\n" { usleep(10_000) }
        #expect(readFile(dir + "/gc.out") == "ready\nterm\n")
    }
}

func readFileText(_ path: String) -> String? { readFile(path) }

/// The direct children of `pid`.
func childrenOf(_ pid: pid_t) -> [pid_t] {
    (readFile("/proc/\(pid)/task/\(pid)/children") ?? "").split(separator: " ").compactMap { pid_t($0) }
}
