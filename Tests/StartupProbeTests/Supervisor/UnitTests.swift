import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

@testable import probe_exec

@Suite struct CommandResolverTests {
    @Test func slashMeansNoSearch() {
        #expect(CommandResolver.candidates(for: "./server", searchPath: "/usr/bin") == ["./server"])
    }

    @Test func searchesEachDirectoryAndEmptyMeansCurrent() {
        #expect(
            CommandResolver.candidates(for: "app", searchPath: "/a:/b/::/c") == ["/a/app", "/b/app", "app", "/c/app"]
        )
        #expect(CommandResolver.candidates(for: "app", searchPath: nil) == ["/bin/app", "/usr/bin/app"])
    }

    @Test func shellExitStatuses() {
        #expect(CommandResolver.exitStatus(forExecError: 2) == 127)  // ENOENT
        #expect(CommandResolver.exitStatus(forExecError: 13) == 126)  // EACCES
        #expect(CommandResolver.exitStatus(forExecError: 8) == 126)  // ENOEXEC
    }
}

@Suite struct EntrypointArgumentsTests {
    @Test func parsesTheEntrypointForm() throws {
        let parsed = try #require(
            EntrypointArguments.parse(["-g", "-s", "-e", "143", "-o", "/t", "--", "./server", "-g", "--"])
        )
        #expect(parsed.processGroup && parsed.subreaper)
        #expect(parsed.remapExitCodes == [143])
        #expect(parsed.trace == "/t")
        #expect(parsed.command == ["./server", "-g", "--"])
        #expect(EntrypointArguments.parse(["-g", "./server", "-g"])?.command == ["./server", "-g"])
    }

    @Test func leavesEverythingElseToArgumentParser() {
        for argv in [
            [], ["--"], ["show"], ["--help"], ["-gs", "--", "x"], ["--trace=/t", "--", "x"], ["-e", "300", "--", "x"],
            ["-o", "--", "x"], ["-g", "show"], [""], ["-x", "--", "y"],
        ] {
            #expect(EntrypointArguments.parse(argv) == nil, "\(argv)")
        }
    }
}

@Suite struct DiagnoseTests {
    @Test func sigtermFromASenderMakesAnExitZeroAStopOnRequest() {
        var report = RunReport(command: ["./server"], cause: .exited(code: 0), durationMilliseconds: 1200)
        report.signals = [
            ReceivedSignal(
                signal: 15,
                senderPID: 4242,
                senderUID: 0,
                senderCommand: "kubelet",
                offsetMilliseconds: 1100,
                forwarded: true
            )
        ]
        report.stdoutBytes = 0
        report.stderrBytes = 0
        let verdict = Diagnose.verdict(for: report)
        #expect(verdict.category == .stoppedOnRequest)
        #expect(!verdict.isReported)
        #expect(verdict.summary.contains("exited normally with code 0 after 1.2 s, stopped on request"))
        #expect(verdict.summary.contains("SIGTERM from pid 4242 (`kubelet`, uid 0) at +1.1 s"))
        // Its stdio buffers were not read (no tracing findings): nothing more is claimed.
        #expect(verdict.summary.contains("Nothing reached stdout or stderr."))
        #expect(!verdict.summary.contains("wrote nothing"))
    }

    @Test func crashNamesTheSignalAndTheLastLine() {
        var report = RunReport(command: ["app"], cause: .killed(signal: 11, coreDumped: true), durationMilliseconds: 5)
        report.stderrBytes = 20
        report.stderrTail = Array("loading\nboom \u{1b}[31m\n\n".utf8)
        let verdict = Diagnose.verdict(for: report)
        #expect(verdict.category == .crash)
        #expect(verdict.summary.contains("SIGSEGV (segmentation fault"))
        #expect(verdict.summary.contains("core dump was written"))
        #expect(verdict.summary.contains(#"Last line on stderr: "boom \x1b[31m""#))
    }

    @Test func sigkillWithoutSenderOrCgroupSaysWhatIsNotKnown() {
        let report = RunReport(command: ["app"], cause: .killed(signal: 9, coreDumped: false), durationMilliseconds: 5)
        let summary = Diagnose.verdict(for: report).summary
        #expect(
            summary.contains(
                "SIGKILL did not come through probe-exec; its memory cgroup's OOM-kill count could not be read, so whether the kernel's OOM killer sent it is not known."
            ),
            "\(summary)"
        )
        #expect(!summary.contains("usual"))
    }

    @Test func sigkillAfterTheGracePeriodSaysProbeExecSentIt() {
        var report = RunReport(
            command: ["app"],
            cause: .killed(signal: 9, coreDumped: false),
            durationMilliseconds: 3100
        )
        report.signals = [
            ReceivedSignal(
                signal: 15,
                senderPID: 1,
                senderUID: 0,
                senderCommand: "containerd-shim",
                offsetMilliseconds: 1000,
                forwarded: true
            )
        ]
        report.graceExpired = (3000, 2)
        let verdict = Diagnose.verdict(for: report)
        #expect(verdict.category == .signal && verdict.isReported)
        #expect(verdict.summary.contains("did not stop within 2 s of SIGTERM; probe-exec sent SIGKILL"))
    }

    @Test func portHolderIsNamedNeutrally() {
        var facts = RunFacts(RunReport(command: ["srv"], cause: .exited(code: 1), durationMilliseconds: 5))
        facts.portInUse = (
            8080, "its error line",
            [PortHolder(pid: 123, command: "nginx", startedNanoseconds: 1_796_620_812_340_000_000)]
        )
        let summary = Diagnose.verdict(for: facts).summary
        #expect(
            summary.contains("Port 8080 was already in use: held by pid 123 (`nginx`), running since 2026-12-07T"),
            "\(summary)"
        )
        #expect(!summary.contains("stale"))
    }
}
