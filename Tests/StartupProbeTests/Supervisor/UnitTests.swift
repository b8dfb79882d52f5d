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
    @Test func sigtermFromASenderExplainsAnExitZero() {
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
        #expect(verdict.category == .cleanExit)
        #expect(verdict.summary.contains("exited normally with code 0 after 1.2 s"))
        #expect(verdict.summary.contains("SIGTERM from pid 4242 (`kubelet`, uid 0) at +1.1 s"))
        #expect(verdict.summary.contains("It wrote nothing on stdout or stderr."))
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

    @Test func sigkillWithoutSenderPointsAtTheOOMKiller() {
        let report = RunReport(command: ["app"], cause: .killed(signal: 9, coreDumped: false), durationMilliseconds: 5)
        #expect(Diagnose.verdict(for: report).summary.contains("out-of-memory killer"))
    }
}
