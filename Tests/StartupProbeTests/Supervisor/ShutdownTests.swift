import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

@testable import probe_exec

#if canImport(Glibc)
import Glibc
#endif

/// Shutdown control: grace period, leftovers, signal delay, signal mapping, parent-death signal.
@Suite(.serialized) struct ShutdownTests {
    @Test func gracePeriodKillsAChildThatIgnoresSIGTERM() throws {
        let trace = Binaries.freshDirectory("grace") + "/t.ndjson"
        let child = try ChildProcess([
            Binaries.probeExec, "-q", "--grace-period", "1", "-o", trace, "--", "/bin/sh", "-c",
            "trap '' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        #expect(child.readLine() == "ready")
        let sent = now()
        child.signal(SIGTERM)
        #expect(try child.wait(timeout: 10) == 128 + SIGKILL)
        let elapsed = now() - sent
        #expect(elapsed > 0.75 && elapsed < 2.5, "killed after \(elapsed) s, expected 1 s ± 0.25 s plus scheduling")
        #expect(try TraceReader.read(path: trace).events.contains { $0.kind == "grace_expired" })
    }

    @Test func leftoversAreKilled() throws {
        let trace = Binaries.freshDirectory("leftovers") + "/t.ndjson"
        let r = try run([
            Binaries.probeExec, "-s", "--kill-leftovers", "--grace-period", "1", "-o", trace, "--", "/bin/sh", "-c",
            "(trap '' TERM; exec sleep 30) & (exec sleep 30) & exit 0",
        ])
        #expect(r.status == 0)
        let event = try #require(try TraceReader.read(path: trace).events.first { $0.kind == "leftovers" })
        let terminated = event["terminated"]?.arrayValue?.compactMap(\.intValue) ?? []
        let killed = event["killed"]?.arrayValue?.compactMap(\.intValue) ?? []
        #expect(terminated.count == 1 && killed.count == 1, "\(event.fields)")
        for pid in terminated + killed { #expect(kill(Int32(pid), 0) != 0, "pid \(pid) is gone") }
    }

    @Test func signalDelayHoldsSIGTERM() throws {
        let child = try ChildProcess([
            Binaries.probeExec, "-q", "--signal-delay", "500", "--", Binaries.fixture, "trapterm",
        ])
        #expect(child.readLine() == "ready")
        let sent = now()
        child.signal(SIGTERM)
        #expect(child.readLine() == "term")
        let elapsed = now() - sent
        #expect(elapsed >= 0.45, "forwarded after \(elapsed) s")
        #expect(try child.wait() == 42)
    }

    @Test func signalMapping() throws {
        let child = try ChildProcess([
            Binaries.probeExec, "-q", "--map-signal", "TERM:USR1", "--", Binaries.fixture, "signals",
        ])
        #expect(child.readLine() == "ready")
        child.signal(SIGTERM)
        #expect(child.readLine() == "got \(SIGUSR1)")
        for pid in childrenOf(child.pid) { kill(pid, SIGKILL) }
        _ = try child.wait()
    }

    @Test func parentDeathSignalStopsTheProgram() throws {
        let trace = Binaries.freshDirectory("pdeath") + "/t.ndjson"
        // sh is probe-exec's parent; when sh is killed, probe-exec gets SIGTERM and forwards it.
        let shell = try ChildProcess([
            "/bin/sh", "-c", "\(Binaries.probeExec) -q -p TERM -o \(trace) -- sleep 30 & echo started; wait",
        ])
        #expect(shell.readLine() == "started")
        usleep(300_000)
        shell.signal(SIGKILL)
        _ = try shell.wait()
        let deadline = now() + 5
        var exit: TraceRecord? = nil
        while now() < deadline && exit == nil {
            exit = try? TraceReader.read(path: trace).events.first { $0.kind == "exit" }
            usleep(20_000)
        }
        #expect(exit?["signal"]?.intValue == Int(SIGTERM))
    }

    @Test func flagsParseOnTheFastPath() throws {
        let parsed = try #require(
            EntrypointArguments.parse([
                "--grace-period", "2.5", "--kill-leftovers", "--signal-delay", "100", "-p", "KILL", "--map-signal",
                "TERM:QUIT", "--", "x",
            ])
        )
        #expect(parsed.gracePeriodSeconds == 2.5)
        #expect(parsed.killLeftovers)
        #expect(parsed.signalDelayMilliseconds == 100)
        #expect(parsed.parentDeathSignal == SIGKILL)
        #expect(parsed.signalMap.target(of: SIGTERM) == SIGQUIT)
        #expect(parsed.signalMap.target(of: SIGINT) == SIGINT)
        #expect(EntrypointArguments.parse(["--map-signal", "TERM", "--", "x"]) == nil)
    }
}
