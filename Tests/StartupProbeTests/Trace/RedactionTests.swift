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

/// Secrets stay out of traces: secret-looking arguments masked by default, output by --redact.
@Suite struct RedactionTests {
    @Test func secretArgumentsAreMasked() {
        let argv = [
            "./server", "--password=hunter2", "--api-key", "AKIA123", "--port", "8000",
            "DB_TOKEN=abc", "postgres://app:s3cret@db:5432/app", "--verbose",
        ]
        #expect(
            Redaction.arguments(argv) == [
                "./server", "--password=***", "--api-key", "***", "--port", "8000",
                "DB_TOKEN=***", "postgres://app:***@db:5432/app", "--verbose",
            ]
        )
    }

    @Test func traceHoldsNoSecretFromArgumentsOrRedactedOutput() throws {
        let dir = Binaries.freshDirectory("redact")
        let trace = dir + "/t.ndjson"
        let r = try run([
            Binaries.probeExec, "-q", "--redact", "sk-[a-z0-9]+", "-o", trace, "--", "/bin/sh", "-c",
            "echo using key sk-abc123; exit 3", "sh", "--password=hunter2-xyz",
        ])
        #expect(r.status == 3)
        #expect(r.stdout == "using key sk-abc123\n", "the output itself is untouched")
        let text = try #require(readFile(trace))
        #expect(!text.contains("hunter2-xyz"))
        #expect(!text.contains("sk-abc123"))
        #expect(text.contains("using key ***"))
    }
}
