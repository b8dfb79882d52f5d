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

/// probe-exec under load: a signal storm, ten thousand orphans, a thousand runs in a row.
@Suite(.serialized) struct StressTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-stress"]

    /// 10,000 signals, USR1/USR2/TERM in turn, sent as fast as `kill` returns. Standard signals
    /// coalesce while pending, so the child may count fewer; but every kind arrives, nothing
    /// arrives that was not sent, and the path still forwards one signal at a time afterwards.
    @Test func tenThousandMixedSignalsLoseNoKind() throws {
        let kinds = [SIGUSR1, SIGUSR2, SIGTERM]
        let child = try ChildProcess([Binaries.probeExec, "--", Binaries.fixture, "signals"], environment: env)
        #expect(child.readLine() == "ready")
        var sent: [Int32: Int] = [:]
        for i in 0..<10_000 {
            let signal = kinds[i % kinds.count]
            child.signal(signal)
            sent[signal, default: 0] += 1
        }
        var received: [Int32: Int] = [:]
        var strays: [String] = []
        // Read until the output has been quiet for a second: the storm is over.
        while let line = child.readLine(timeout: 1) {
            if line.hasPrefix("got "), let signal = Int32(line.dropFirst(4)), kinds.contains(signal) {
                received[signal, default: 0] += 1
            } else {
                strays.append(line)
            }
        }
        #expect(strays.isEmpty, "lines that are not a sent signal: \(strays.prefix(5))")
        for signal in kinds {
            let count = received[signal, default: 0]
            #expect(count >= 1 && count <= sent[signal]!, "signal \(signal): \(count) of \(sent[signal]!) arrived")
        }
        // After the storm each signal is still forwarded, one for one.
        for signal in kinds {
            child.signal(signal)
            #expect(child.readLine(timeout: 5) == "got \(signal)")
        }
        for pid in childrenOf(child.pid) { kill(pid, SIGKILL) }
        #expect(try child.wait() == 128 + SIGKILL)
    }

    /// As PID 1 of a new PID namespace, probe-exec reaps 10,000 orphaned grandchildren: the trace
    /// counts every one and none is left a zombie.
    @Test(.enabled(if: ReapingTests.canUnsharePID, "needs unshare -fp (root)"))
    func tenThousandOrphansAreReapedAsPID1() throws {
        let dir = Binaries.freshDirectory("orphans")
        let script = """
            i=0; while [ $i -lt 10000 ]; do (: &); i=$((i+1)); done
            sleep 0.5
            n=0
            for s in /proc/[0-9]*/status; do
              if grep -q '^State:.*Z' "$s" 2>/dev/null; then n=$((n+1)); fi
            done
            echo "zombies=$n"
            """
        let result = try run(
            ["/usr/bin/unshare", "-fp", "--mount-proc", Binaries.probeExec, "--", "/bin/sh", "-c", script],
            environment: ["PROBE_EXEC_TRACE_DIR": dir],
            timeout: 120
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "zombies=0\n")
        let exit = try #require(try TraceReader.read(path: dir + "/latest").events.first { $0.kind == "exit" })
        #expect(exit["orphans_reaped"]?.intValue == 10_000)
    }

    /// A thousand runs into one trace directory: it holds the history bound and nothing more.
    @Test func thousandShortRunsKeepTheTraceDirectoryBounded() throws {
        let dir = Binaries.freshDirectory("thousand")
        let keep = 20
        for i in 0..<1000 {
            let result = try run(
                [Binaries.probeExec, "-q", "--keep-traces", "\(keep)", "--", Binaries.fixture, "exit", "\(i % 7)"],
                environment: ["PROBE_EXEC_TRACE_DIR": dir]
            )
            if result.status != Int32(i % 7) {
                Issue.record("run \(i): status \(result.status), \(result.stderr)")
                break
            }
        }
        let entries = try listDirectory(dir)
        let traces = entries.filter { $0.hasSuffix(".ndjson") }
        #expect(traces.count == keep, "\(traces.count) traces kept")
        #expect(entries.count <= keep + 2, "nothing else accumulates: \(entries.filter { !$0.hasSuffix(".ndjson") })")
    }
}
