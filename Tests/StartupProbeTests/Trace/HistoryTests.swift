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

    /// A crash loop as a kubelet makes one: the same program started three times with the same trace
    /// directory; the second start fails differently (a corrupt configuration, a crash after 0.6 s). `show
    /// --history` says field by field what changed and what did not.
    @Test func crashLoopHistorySaysWhatChangedFieldByField() throws {
        let dir = Binaries.freshDirectory("crashloop")
        let app = try Self.crashLoopProgram(in: dir)
        for expected: Int32 in [3, 139, 3] {
            let r = try run([Binaries.probeExec, "-q", "/bin/sh", app], environment: ["PROBE_EXEC_TRACE_DIR": dir])
            #expect(r.status == expected, "\(r.stderr)")
        }
        let shown = try run([Binaries.probeExec, "show", "--history", dir])
        #expect(shown.status == 0, "\(shown.stderr)")
        Self.expectCrashLoopHistory(shown.stdout)
    }

    /// A new build rolled out between two restarts (the file replaced, as a deploy does): everything but
    /// the build-id stays the same, and the build-id is what the history says changed.
    @Test func newBuildBetweenRestartsIsTheChange() throws {
        let dir = Binaries.freshDirectory("rollout")
        let source = dir + "/server.c"
        try writeFile(
            source,
            "#include <stdio.h>\nint main(void) { fputs(\"server: DATABASE_URL is not set\\n\", stderr); return 1; }\n",
            mode: 0o644
        )
        let server = dir + "/server"
        let builds = [String(repeating: "11", count: 20), String(repeating: "22", count: 20)]
        for (index, build) in [builds[0], builds[1], builds[1]].enumerated() {
            if index < 2 {
                // Built beside it, then renamed over it: the running file is never rewritten.
                let compiled = try run([
                    "/usr/bin/env", "cc", "-o", server + ".new", source, "-Wl,--build-id=0x" + build,
                ])
                #expect(compiled.status == 0, "\(compiled.stderr)")
                #expect(rename(server + ".new", server) == 0)
            }
            let r = try run([Binaries.probeExec, "-q", server], environment: ["PROBE_EXEC_TRACE_DIR": dir])
            #expect(r.status == 1, "\(r.stderr)")
        }
        let shown = try run([Binaries.probeExec, "show", "--history", dir])
        let lines = shown.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.count > 8, "\(shown.stdout)")
        #expect(lines[0].hasPrefix("3 starts in ") && lines[0].contains("; all exited 1 after ~"), "\(lines[0])")
        #expect(lines[5].hasPrefix("  duration:        "), "\(shown.stdout)")
        #expect(
            lines[1...8].filter { !$0.hasPrefix("  duration:") } == [
                "",
                "  exit:            same in all 3 runs: exited 1",
                "  verdict:         same in all 3 runs: exit_code",
                "  main() reached:  same in all 3 runs: yes",
                "  last error line: same in all 3 runs: \"server: DATABASE_URL is not set\"",
                "  build-id:        changed: \(builds[0]) → \(builds[1]) → \(builds[1])",
                "",
            ],
            "\(shown.stdout)"
        )
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

extension HistoryTests {
    /// A start-up script for a crash loop, written into `directory`: each start says "cannot connect to
    /// db:5432" on stderr and exits 3, except the second, which says its configuration is corrupt and kills
    /// itself with SIGSEGV (no core file) after 0.6 s.
    /// - Parameters:
    ///   - directory: where the script goes.
    ///   - state: a writable directory for its start counter (by default `directory`).
    /// - Returns: the script's path, to run with `/bin/sh`.
    static func crashLoopProgram(in directory: String, state: String? = nil) throws -> String {
        let script = directory + "/app.sh"
        let counter = (state ?? directory) + "/starts"
        try writeFile(
            script,
            """
            n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\(counter)
            echo "app: starting (start $n)"
            if [ $n -eq 2 ]; then
                echo "app: config /etc/app.yaml is corrupt" >&2
                ulimit -c 0; sleep 0.6; kill -SEGV $$
            fi
            echo "app: cannot connect to db:5432" >&2
            exit 3

            """,
            mode: 0o644
        )
        return script
    }

    /// Checks `show --history` of three starts of ``crashLoopProgram(in:)``, line by line: the headline, every
    /// field that changed and every field that did not (the build-id is /bin/sh's, read from the file), the
    /// durations (the second start's 0.6 s apart).
    static func expectCrashLoopHistory(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let shell = realpath("/bin/sh", nil).map { path in
            defer { free(path) }
            return String(cString: path)
        }
        let buildID = shell.flatMap { ELFFile(path: $0)?.buildID } ?? "?"
        #expect(lines.count > 9, "\(text)", sourceLocation: sourceLocation)
        guard lines.count > 9 else { return }
        #expect(lines[0].hasPrefix("3 starts in "), "\(text)", sourceLocation: sourceLocation)
        #expect(lines[0].hasSuffix("; 2 exited 3, 1 killed by SIGSEGV"), "\(text)", sourceLocation: sourceLocation)
        #expect(
            Array(lines[1...8]) == [
                "",
                "  exit:            changed: exited 3 → killed by SIGSEGV → exited 3",
                "  verdict:         changed: exit_code → signal → exit_code",
                "  main() reached:  same in all 3 runs: yes",
                lines[5],
                "  last error line: changed: \"app: cannot connect to db:5432\" → \"app: config /etc/app.yaml is corrupt\" → \"app: cannot connect to db:5432\"",
                "  build-id:        same in all 3 runs: \(buildID)",
                "",
            ],
            "\(text)",
            sourceLocation: sourceLocation
        )
        // "  duration:        changed: 14 ms → 616 ms → 12 ms"
        let durations = lines[5].split(separator: "changed: ").last?.split(separator: " → ") ?? []
        let milliseconds = durations.compactMap { text -> Double? in
            if text.hasSuffix(" ms") { return Double(text.dropLast(3)) }
            return text.hasSuffix(" s") ? Double(text.dropLast(2)).map { $0 * 1000 } : nil
        }
        #expect(lines[5].hasPrefix("  duration:        changed: "), "\(text)", sourceLocation: sourceLocation)
        #expect(milliseconds.count == 3, "\(lines[5])", sourceLocation: sourceLocation)
        if milliseconds.count == 3 {
            #expect(
                milliseconds[1] >= 600 && milliseconds[0] < 600 && milliseconds[2] < 600,
                sourceLocation: sourceLocation
            )
        }
    }
}
