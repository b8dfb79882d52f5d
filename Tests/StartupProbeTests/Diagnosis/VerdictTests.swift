import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The verdict states what was observed, on real programs: a stop that was asked for, a SIGKILL's
/// sender as far as it is known, a shell's 128+N, the main() fact, `exit` against `_exit`.
@Suite(.serialized) struct VerdictTests {
    /// Starts `program` under probe-exec with `options`, waits for its first line, sends probe-exec
    /// `signal`, and returns the status, stderr, the trace and whether the termination log was written.
    func stop(
        _ program: [String],
        options: [String] = [],
        with signal: Int32 = SIGTERM
    ) throws -> (status: Int32, stderr: String, events: [TraceRecord], terminationLog: String?) {
        let dir = Binaries.freshDirectory("stop")
        let child = try ChildProcess(
            [Binaries.probeExec, "-o", dir + "/t.ndjson", "--termination-log", dir + "/log"] + options + ["--"]
                + program
        )
        #expect(child.readLine() != nil, "the program started")
        child.signal(signal)
        let result = try child.finish(timeout: 20)
        return (
            result.status, String(decoding: result.stderr, as: UTF8.self),
            try TraceReader.read(path: dir + "/t.ndjson").events, readFile(dir + "/log")
        )
    }

    /// The verdict's category.
    func category(_ events: [TraceRecord]) -> String? {
        events.last { $0.kind == "verdict" }?["category"]?.stringValue
    }

    @Test func deathByTheForwardedSIGTERMIsAStopOnRequest() throws {
        let r = try stop([Binaries.tracee(), "wait"])
        #expect(r.status == 128 + SIGTERM, "the status is unchanged")
        #expect(category(r.events) == "stopped_on_request")
        #expect(!r.stderr.contains("probe-exec:"), "no paragraph: \(r.stderr)")
        #expect(r.terminationLog == nil, "no termination log")
        #expect(verdict(r.events).contains("stopped on request: probe-exec forwarded SIGTERM from pid \(getpid())"))
        #expect(verdict(r.events).contains("and SIGTERM ended it after"))
    }

    @Test func cleanExitAfterSIGINTUnderServiceIsAStopOnRequest() throws {
        let r = try stop([Binaries.fixture, "cleanstop"], options: ["--service"], with: SIGINT)
        #expect(r.status == 0)
        #expect(category(r.events) == "stopped_on_request", "not service_exited: it was asked to stop")
        #expect(verdict(r.events).contains("exited normally with code 0 after"))
        #expect(verdict(r.events).contains("stopped on request: probe-exec forwarded SIGINT from pid"))
        #expect(r.terminationLog == nil)
    }

    @Test func graceExpiryIsNotACleanStop() throws {
        let r = try stop(
            ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
            options: ["--grace-period", "1"]
        )
        #expect(r.status == 128 + SIGKILL)
        #expect(category(r.events) == "signal")
        let expected = "did not stop within 1 s of SIGTERM; probe-exec sent SIGKILL to its process group at +"
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(r.stderr.contains("The stop had been asked for: probe-exec forwarded SIGTERM from pid \(getpid())"))
        #expect(r.terminationLog?.contains(expected) == true)
        #expect(r.events.first { $0.kind == "grace_expired" }?["grace_s"]?.doubleValue == 1)
    }

    @Test func sigkillNobodyIsKnownToHaveSentSaysSo() throws {
        let trace = Binaries.freshDirectory("sigkill") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace, "--", Binaries.fixture, "lastwords"])
        #expect(r.status == 128 + SIGKILL)
        let text = verdict(try TraceReader.read(path: trace).events)
        #expect(text.contains("SIGKILL did not come through probe-exec"), "\(text)")
        #expect(text.contains("who sent it is not known") || text.contains("could not be read"), "\(text)")
        #expect(!text.contains("usual"))
    }

    @Test func signalTheProgramSentItselfIsNamed() throws {
        let trace = Binaries.freshDirectory("selfsignal") + "/t.ndjson"
        let killed = try run([Binaries.probeExec, "-o", trace, "--", Binaries.fixture, "killself", String(SIGTERM)])
        #expect(killed.status == 128 + SIGTERM)
        let text = verdict(try TraceReader.read(path: trace).events)
        #expect(text.contains("It sent SIGTERM to itself."), "\(text)")
        #expect(category(try TraceReader.read(path: trace).events) == "signal", "not a stop that was asked for")
    }

    @Test func signalSentStraightToTheProgramNamesItsSender() throws {
        let dir = Binaries.freshDirectory("direct")
        let child = try ChildProcess([Binaries.probeExec, "-o", dir + "/t.ndjson", "--", Binaries.tracee(), "wait"])
        let line = try #require(child.readLine())
        let pid = try #require(Int32(line.split(separator: " ").last ?? ""))
        kill(pid, SIGUSR1)
        #expect(try child.wait() == 128 + SIGUSR1)
        let text = verdict(try TraceReader.read(path: dir + "/t.ndjson").events)
        #expect(text.contains("SIGUSR1 was sent to it directly by pid \(getpid())"), "\(text)")
        #expect(text.contains("not through probe-exec"))
    }

    @Test func shellStatusOf128PlusNNamesTheSignalAndSuggestsExec() throws {
        let trace = Binaries.freshDirectory("shell") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace, "--", "/bin/sh", "-c", "\(Binaries.fixture) segv; exit $?"])
        #expect(r.status == 139)
        let text = verdict(try TraceReader.read(path: trace).events)
        #expect(text.contains("It is a shell (`"), "\(text)")
        #expect(text.contains("a program it ran was killed by SIGSEGV"))
        #expect(text.contains("inferred from the status"))
        #expect(text.contains("`exec"))
        #expect(!text.contains("was called from"), "the shell's own exit path is not the story: \(text)")
    }

    @Test(arguments: [
        (["no-such-program-xyz"], Int32(127)), (["/nonexistent/dir/prog"], Int32(127)), (["/tmp"], Int32(126)),
    ])
    func execFailuresSayMainWasNotReached(command: [String], status: Int32) throws {
        let r = try run([Binaries.probeExec, "--"] + command)
        #expect(r.status == status)
        #expect(r.stderr.contains("main() was not reached: the program never ran."), "\(r.stderr)")
    }

    @Test func crlfShebangSaysMainWasNotReached() throws {
        let dir = Binaries.freshDirectory("crlf-main")
        try writeFile(dir + "/script", "#!/bin/sh\r\necho hi\r\n", mode: 0o755)
        let r = try run([Binaries.probeExec, "--", dir + "/script"])
        #expect(r.status == 127)
        #expect(r.stderr.contains("carriage return") && r.stderr.contains("main() was not reached"), "\(r.stderr)")
    }

    @Test func untracedMainIsNotKnownUnlessTheLibrarySaysSo() throws {
        let r = try run([Binaries.probeExec, "--no-ptrace", "--", Binaries.fixture, "exit", "3"])
        #expect(r.status == 3)
        #expect(r.stderr.contains("Whether main() was reached is not known: the program was not traced (--no-ptrace)."))
        let library = try run([
            Binaries.probeExec, "--no-ptrace", "--", Binaries.buildDirectory + "/example-server", "exit", "3",
        ])
        #expect(library.status == 3)
        #expect(library.stderr.contains("main() was reached at +"), "\(library.stderr)")
        #expect(library.stderr.contains("(reported by the StartupProbe library in the program)"))
    }

    @Test func underscoreExitIsReportedAsUnderscoreExit() throws {
        let direct = try traced(["buffered", "_exit"])
        #expect(
            verdict(direct.events).contains("_exit(0) was called from `main` (tracee.c:"),
            "\(verdict(direct.events))"
        )
        let library = try traced(["exit4", "3"])
        #expect(verdict(library.events).contains(" exit(3) was called from `exit_d`"), "\(verdict(library.events))")
    }

    @Test func exitFunctionComesFromTheFrames() {
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        func frame(_ symbol: String?, _ module: String) -> BacktraceFrame {
            BacktraceFrame(ip: 0, module: module, symbol: symbol)
        }
        #expect(Tracer.exitFunction([frame("_Exit", libc), frame("main", "/app")]) == "_exit")
        #expect(
            Tracer.exitFunction([frame("_Exit", libc), frame(nil, libc), frame("exit", libc), frame("f", "/app")])
                == "exit"
        )
        // Statically linked: the C library's functions are in the program's own file.
        #expect(
            Tracer.exitFunction([
                frame("_exit", "/app"), frame("__run_exit_handlers", "/app"), frame("exit", "/app"),
                frame("main", "/app"),
            ]) == "exit"
        )
        #expect(Tracer.exitFunction([frame("runtime.exit", "/app"), frame("main.main", "/app")]) == nil)
    }
}
