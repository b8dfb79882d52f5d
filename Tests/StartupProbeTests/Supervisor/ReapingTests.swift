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

/// probe-exec reaps orphans as PID 1 and as a subreaper, and does not wait for descendants that
/// keep its output pipes open.
@Suite(.serialized) struct ReapingTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-reaping"]

    /// Counts zombies whose parent is `$1` after orphaning 20 short-lived grandchildren.
    static let orphanScript = """
        parent=$1
        i=0; while [ $i -lt 20 ]; do (sleep 0.05 &); i=$((i+1)); done
        sleep 1
        n=0
        for s in /proc/[0-9]*/status; do
          if grep -q '^State:.*Z' "$s" 2>/dev/null && grep -q "^PPid:[[:space:]]*$parent\\$" "$s" 2>/dev/null; then n=$((n+1)); fi
        done
        echo "zombies=$n"
        """

    static var canUnsharePID: Bool {
        (try? run(["/usr/bin/unshare", "-fp", "--mount-proc", "/bin/true"]).status) == 0
    }

    @Test(.enabled(if: canUnsharePID, "needs unshare -fp (root)"))
    func reapsOrphansAsPID1() throws {
        let result = try run(
            [
                "/usr/bin/unshare", "-fp", "--mount-proc", Binaries.probeExec, "--", "/bin/sh", "-c", Self.orphanScript,
                "sh", "1",
            ],
            environment: env
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "zombies=0\n")
    }

    @Test func reapsOrphansAsSubreaper() throws {
        let script = "parent=$PPID\n" + Self.orphanScript.replacingFirstLine()
        let result = try run([Binaries.probeExec, "-s", "--", "/bin/sh", "-c", script], environment: env)
        #expect(result.stdout == "zombies=0\n")
        // The control: without -s the orphans go to init, not to probe-exec, so none are ours.
        let trace = Binaries.scratch + "/subreaper.ndjson"
        _ = try run(
            [Binaries.probeExec, "-s", "-o", trace, "--", "/bin/sh", "-c", "(sleep 0.05 &); sleep 0.5"],
            environment: env
        )
        #expect(readFile(trace)?.contains("\"orphans_reaped\":1") == true)
    }

    @Test func grandchildHoldingStdoutDoesNotDelayExit() throws {
        let dir = Binaries.freshDirectory("grandchild")
        let start = now()
        // The grandchild keeps the stdout pipe for 30 s; probe-exec must exit when sh does.
        let result = try run(
            [
                "/bin/sh", "-c",
                "\(Binaries.probeExec) -q -- /bin/sh -c 'sleep 30 & echo started; exit 3' > \(dir)/out; echo $?",
            ],
            environment: env,
            timeout: 40
        )
        let elapsed = now() - start
        #expect(result.stdout == "3\n")
        #expect(readFile(dir + "/out") == "started\n")
        #expect(elapsed < 5, "took \(elapsed) s")
    }
}

extension String {
    fileprivate func replacingFirstLine() -> String {
        split(separator: "\n", maxSplits: 1).last.map(String.init) ?? self
    }
}
