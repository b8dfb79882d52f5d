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

/// The StartupProbe library in a Swift server (Sources/example-server): main reached with and
/// without probe-exec, and its crash handler.
@Suite(.serialized) struct LibraryTests {
    static var server: String { Binaries.buildDirectory + "/example-server" }

    @Test func mainReachedWithoutProbeExecGoesToItsOwnTrace() throws {
        let dir = Binaries.freshDirectory("lib-own")
        let r = try run([Self.server, "info"], environment: ["PROBE_EXEC_TRACE_DIR": dir])
        #expect(r.status == 0)
        #expect(r.stdout.contains("under=false handler=true"))
        let events = try TraceReader.read(path: dir + "/latest").events
        #expect(events.first?.kind == "start")
        #expect(events.contains { $0.kind == "main_reached" && $0["source"]?.stringValue == "in_process" })
        #expect(
            try run([Binaries.probeExec, "show", dir]).stdout.contains("main() reached (reported by the program itself")
        )
    }

    @Test func mainReachedUnderProbeExecJoinsItsTraceAndTheChannelIsRemoved() throws {
        let dir = Binaries.freshDirectory("lib-under")
        let trace = dir + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-q", "-o", trace, "--", Self.server, "env"])
        #expect(r.status == 0)
        #expect(r.stdout == "PROBE_EXEC_TRACE=unset\n")
        let events = try TraceReader.read(path: trace).events
        let exec = try #require(events.first { $0.kind == "exec" })
        let reached = try #require(events.first { $0.kind == "main_reached" })
        #expect(reached["pid"]?.intValue == exec["pid"]?.intValue)
        #expect(reached.offsetMilliseconds > exec.offsetMilliseconds, "offsets share probe-exec's clock origin")
    }

    @Test(arguments: [("null", SIGSEGV), ("c-null", SIGSEGV), ("abort", SIGABRT), ("overflow", SIGSEGV)])
    func crashHandlerReportsAndTheStatusStaysTrue(mode: String, signal: Int32) throws {
        let dir = Binaries.freshDirectory("lib-crash")
        let r = try run(
            [Self.server, mode],
            environment: ["PROBE_EXEC_TRACE_DIR": dir, "SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(r.status == 128 + signal)
        #expect(r.stderr.contains("StartupProbe: fatal signal \(signal)"))
        let crash = try #require(try TraceReader.read(path: dir + "/latest").events.first { $0.kind == "crash" })
        #expect(crash["signal"]?.intValue == Int(signal))
        #expect((crash["frames"]?.arrayValue?.count ?? 0) >= (mode == "overflow" ? 50 : 3))
        if mode == "null" {
            let shown = try run([Binaries.probeExec, "show", dir])
            #expect(shown.stdout.contains("static Failures.writeThroughNull()"), "\(shown.stdout)")
        }
        if mode == "c-null" {
            let shown = try run([Binaries.probeExec, "show", dir])
            // Debian's libc.so.6 keeps no names for its internal strlen variants: module + offset.
            #expect(shown.stdout.contains("SIGSEGV at 0x0"), "\(shown.stdout)")
            #expect(shown.stdout.contains("#0 0x") && shown.stdout.contains("(libc.so.6+0x"), "the fault is in C")
            #expect(shown.stdout.contains("#1 main+"), "called from the program's main")
            #expect(shown.stdout.contains("VERDICT (crash): the program crashed with SIGSEGV after main() was reached"))
        }
    }

    @Test func untracedTheVerdictTakesTheCrashSiteFromTheLibrary() throws {
        // --no-ptrace (or ptrace denied): no backtrace of probe-exec's own; the library's crash
        // report names the site (before: "killed by SIGSEGV after 40 ms", and the library's raw
        // `#3 0x…` frame quoted as the last line).
        let dir = Binaries.freshDirectory("lib-untraced")
        let r = try run(
            [Binaries.probeExec, "--no-ptrace", "-o", dir + "/t.ndjson", "--", Self.server, "null"],
            environment: ["SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(r.status == 128 + SIGSEGV)
        let summary = try #require(
            try TraceReader.read(path: dir + "/t.ndjson").events.last { $0.kind == "verdict" }?["summary"]?.stringValue
        )
        #expect(summary.contains("in `static Failures.writeThroughNull()"), "\(summary)")
        #expect(summary.contains("(reported by the StartupProbe library in the program)"), "\(summary)")
        // The last line quoted is the program's own (its log line), not the library's report.
        #expect(summary.contains("Last line on stderr: \"") && !summary.contains("\"#"), "\(summary)")
        #expect(summary.contains("[StartupProbe] main() reached\"."), "\(summary)")
    }

    @Test func historyShowsACrashTheLibraryRecordedAlone() throws {
        // Traces the library wrote without probe-exec have no exit event: their crash is how they ended.
        let dir = Binaries.freshDirectory("lib-history")
        for _ in 0..<2 {
            let r = try run(
                [Self.server, "null"],
                environment: ["PROBE_EXEC_TRACE_DIR": dir, "SWIFT_BACKTRACE": "enable=no"]
            )
            #expect(r.status == 128 + SIGSEGV)
        }
        let shown = try run([Binaries.probeExec, "show", "--history", dir])
        #expect(shown.stdout.contains("crashed with SIGSEGV (reported by the program)"), "\(shown.stdout)")
        #expect(!shown.stdout.contains("unfinished"), "\(shown.stdout)")
    }

    @Test func forceUnwrapDiesOfTheTrapSignal() throws {
        let dir = Binaries.freshDirectory("lib-trap")
        let r = try run(
            [Self.server, "forceunwrap"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir, "SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(r.status == 128 + SIGILL || r.status == 128 + SIGTRAP)
        #expect(r.stderr.contains("StartupProbe: fatal signal"))
        #expect(r.stderr.contains("Unexpectedly found nil"))
        let shown = try run([Binaries.probeExec, "show", dir])
        #expect(shown.stdout.contains("static Failures.loadPort(_:)"), "demangled: \(shown.stdout)")
    }

    /// A fault inside the crash handler itself: the process still dies of SIGSEGV (139), at once.
    @Test func crashInsideTheHandlerDoesNotHang() throws {
        let r = try run(
            [Self.server, "null"],
            environment: [
                "PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("lib-reentry"), "SWIFT_BACKTRACE": "enable=no",
                "STARTUPPROBE_FAULT_INJECTION": "crash-in-handler",
            ],
            timeout: 20
        )
        #expect(r.status == 139)
        #expect(r.stderr.contains("StartupProbe: fatal signal 11"), "the first line was out before the second fault")
    }

    /// Linking the library and loading libunwind (RTLD_LOCAL) leaves C++/Swift exception unwinding
    /// to libgcc_s: the executable defines no `_Unwind_*`, and the process binds them to libgcc_s.
    @Test func noUnwindInterposition() throws {
        let r = try run(
            [Self.server, "unwinder"],
            environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("lib-unw")]
        )
        #expect(r.stdout.contains("libgcc_s.so"), "\(r.stdout)")
        let symbols = try run(["/usr/bin/nm", "--defined-only", Self.server])
        #expect(symbols.status == 0)
        #expect(!symbols.stdout.split(separator: "\n").contains { $0.hasSuffix(" _Unwind_RaiseException") })
    }

    /// The Swift runtime's own backtracer (on by default) is chained, not replaced.
    @Test func swiftBacktracerStillRuns() throws {
        let r = try run(
            [Self.server, "null"],
            environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("lib-chain")],
            removing: ["SWIFT_BACKTRACE"]
        )
        #expect(r.status == 139)
        #expect(r.stderr.contains("StartupProbe: fatal signal 11"))
        #expect(r.stderr.contains("Program crashed"), "the runtime's backtracer ran after ours")
    }
}
