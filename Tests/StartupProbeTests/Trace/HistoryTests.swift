import Foundation
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

/// Crash-loop history: bounded per program, summarised by `show --history`; the Kubernetes
/// termination log gets the diagnosis.
@Suite(.serialized) struct HistoryTests {
    @Test func historyIsBoundedAndSummarised() throws {
        let dir = Binaries.freshDirectory("history")
        try writeFile(dir + "/unrelated.ndjson", "keep me\n", mode: 0o644)
        symlink("/etc/hostname", dir + "/crashy-1-x.ndjson")
        for _ in 0..<5 {
            _ = try run(
                [Binaries.probeExec, "-q", "--keep-traces", "3", "--", Binaries.fixture, "exit", "3"],
                environment: ["PROBE_EXEC_TRACE_DIR": dir]
            )
        }
        let traces = TraceHistory.files(directory: dir, program: Binaries.fixture)
        #expect(traces.count == 3)
        #expect(access(dir + "/unrelated.ndjson", F_OK) == 0, "other files are never pruned")
        let shown = try run([Binaries.probeExec, "show", "--history", dir])
        #expect(shown.status == 0)
        #expect(shown.stdout.hasPrefix("3 starts in "), "\(shown.stdout)")
        #expect(shown.stdout.contains("; all exited 3 after ~"))
    }

    @Test func terminationLogGetsTheDiagnosisOnlyOnFailure() throws {
        let dir = Binaries.freshDirectory("termlog")
        let log = dir + "/termination-log"
        _ = try run([Binaries.probeExec, "-q", "--termination-log", log, "--", Binaries.fixture, "exit", "0"])
        #expect(access(log, F_OK) != 0)
        _ = try run([Binaries.probeExec, "-q", "--termination-log", log, "--", Binaries.fixture, "segv"])
        let text = try #require(readFile(log))
        #expect(text.hasPrefix("probe-exec: "))
        #expect(text.contains("was killed by SIGSEGV"))
        #expect(text.utf8.count <= 4096)
    }
}
