import CProbeExec
import CStartupProbe
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

/// Breakpoints prove how far start-up got: entry point, main(), or neither.
@Suite(.serialized) struct MilestoneTests {
    func milestone(_ events: [TraceRecord], _ name: String) -> TraceRecord? {
        events.first { $0.kind == "milestone" && $0["name"]?.stringValue == name }
    }

    @Test(arguments: ["hardware", "int3"])
    func mainIsReachedAndTheProgramBehavesTheSame(breakpoints: String) throws {
        let r = try traced(["exit4", "9"], environment: ["PROBE_EXEC_BREAKPOINTS": breakpoints])
        #expect(r.status == 9)
        let entry = try #require(milestone(r.events, "entry"))
        let main = try #require(milestone(r.events, "main"))
        // Decoded from `_start` first (64 bytes, while the program waits), not the symbol table.
        #expect(main["how"]?.stringValue == "first argument of __libc_start_main")
        #expect(entry.offsetMilliseconds <= main.offsetMilliseconds)
        #expect(verdict(r.events).contains("main() was reached at +"))
        // The stops are counted and the longest is recorded: exec and exit; with `int3`, entry and
        // main too. The CPU's breakpoints do not stop the program, and leave its code as it was.
        let exit = try #require(r.events.last { $0.kind == "exit" })
        if breakpoints == "hardware" {
            #expect(exit["stops"]?.intValue == 2, "\(exit.fields)")
            #expect(!r.events.contains { $0.kind == "warning" }, "\(r.events.map(\.fields))")
        } else {
            #expect((exit["stops"]?.intValue ?? 0) >= 4, "\(exit.fields)")
        }
        let longest = try #require(exit["longest_stop_ms"]?.doubleValue)
        #expect(longest > 0 && longest <= (exit["duration_ms"]?.doubleValue ?? 0))
    }

    @Test func theEarlyHardwareProbeIsWaitedForWithinItsBound() {
        // Asked on its own thread (probe-exec's start); waited for at the exec stop. An unbounded
        // wait must get the answer (a deadline that overflowed once spun holding the lock the
        // answer needed: a hang), and an answered probe answers at once.
        spr_hwbp_probe_start()
        let answer = spr_hwbp_probe_wait(Int64.max)
        #expect(answer != -1)
        let started = spr_monotonic_ns()
        #expect(spr_hwbp_probe_wait(0) == answer)
        #expect(spr_monotonic_ns() - started < 1_000_000)
        spr_hwbp_probe_release()
    }

    @Test(arguments: ["glibc", "musl, stripped"])
    func staticProgramsAreWatchedFromTheirExecStop(library: String) throws {
        // No dynamic loader: the exec stop is at the entry point (nothing planted there); a
        // stripped musl binary's main() is decoded from `_start_c` (no single-stepping), watched by the
        // CPU's breakpoint: two stops (exec, exit) and the program's code never written.
        var program = Binaries.tracee(["-static"])
        var arguments = ["exit4", "9"]
        if library != "glibc" {
            program = try MuslProgramTests.build(static: true)
            #expect(try run(["/usr/bin/env", "strip", program]).status == 0)
            arguments = ["return"]
        }
        let bare = try run([program] + arguments)
        // The CPU's breakpoints however long the kernel takes to allow them (a loaded machine's
        // first perf event may wait past the default bound, and that run uses int3: 3 stops).
        let r = try underProbeExec([program] + arguments, environment: ["PROBE_EXEC_BREAKPOINTS": "hardware"])
        #expect(r.status == bare.status && r.stdout == bare.stdout)
        let untraced = try underProbeExec([program] + arguments, options: ["--no-ptrace"])
        #expect(untraced.status == bare.status && untraced.stdout == bare.stdout)
        let events = r.events
        let entry = try #require(milestone(events, "entry"))
        #expect(entry["how"]?.stringValue == "AT_ENTRY, at exec (no dynamic loader)")
        let main = try #require(milestone(events, "main"))
        if library != "glibc" {
            #expect(main["how"]?.stringValue == "first argument of __libc_start_main")
        }
        let exit = try #require(events.last { $0.kind == "exit" })
        #expect(exit["stops"]?.intValue == 2, "\(exit.fields)")
        #expect(verdict(events).contains("main() was reached at +"))
    }

    @Test func milestoneTimesHoldInATimeNamespace() throws {
        // CLOCK_MONOTONIC offset by 1000 s (as in a restored or sandboxed container): the CPU's
        // breakpoint samples are stamped on the host's clock (before: main() "at +-999778 ms").
        let trace = Binaries.freshDirectory("timens") + "/t.ndjson"
        let r = try run(
            ["/usr/bin/unshare", "-T", "--monotonic", "1000", "--fork", Binaries.probeExec, "-q", "-o", trace, "--"]
                + [Binaries.tracee(), "exit4", "9"]
        )
        try #require(r.status == 9, "unshare -T: \(r.stderr)")
        let events = try TraceReader.read(path: trace).events
        let exit = try #require(events.last { $0.kind == "exit" })
        for name in ["entry", "main"] {
            let reached = try #require(milestone(events, name)).offsetMilliseconds
            #expect(reached > 0 && reached < exit.offsetMilliseconds, "\(name) at \(reached)")
        }
        #expect(verdict(events).contains("main() was reached at +"))
    }

    @Test func untracedRunsRecordNoStops() throws {
        let r = try traced(["return", "3"], options: ["--no-ptrace"])
        #expect(r.status == 3)
        let exit = try #require(r.events.last { $0.kind == "exit" })
        #expect(exit["stops"] == nil && exit["longest_stop_ms"] == nil)
    }

    @Test func mainIsFoundInTheSymbolTableWhenStartIsNotRecognised() throws {
        let r = try traced([], flags: ["-nostartfiles", "-DOWN_START"])
        #expect(r.status == 7)
        let main = try #require(milestone(r.events, "main"))
        #expect(main["how"]?.stringValue == "symbol table")
        #expect(verdict(r.events).contains("main() was reached at +"))
    }

    @Test func strippedBinaryMainIsFoundThroughLibcStartMain() throws {
        let r = try traced(["segv3"], flags: ["-s"])
        #expect(r.status == 139)
        let main = try #require(milestone(r.events, "main"))
        #expect(main["how"]?.stringValue == "first argument of __libc_start_main")
        #expect(verdict(r.events).contains("main() was reached"))
    }

    @Test func crashInAConstructorMeansMainWasNotReached() throws {
        let r = try traced(["return", "0"], flags: ["-DCRASH_IN_CONSTRUCTOR"])
        #expect(r.status == 139)
        #expect(milestone(r.events, "main") == nil)
        let text = verdict(r.events)
        #expect(text.contains("main() was NOT reached"))
        #expect(text.contains("static initializer (constructor)"))
        #expect(text.contains("`level3` ← `level2` ← `level1` ← `broken_initializer`"))
    }

    @Test func exitFromInitArrayIsNamedAndMainWasNotReached() throws {
        let r = try traced(["return", "5"], flags: ["-DEXIT_IN_INIT_ARRAY"])
        #expect(r.status == 0)
        #expect(milestone(r.events, "main") == nil)
        let exit = try #require(r.events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit" })
        #expect(functions(exit).contains("exits_early"))
        #expect(exit["main_returned"] == .bool(false))
        #expect(verdict(r.events).contains("main() was NOT reached"))
        #expect(verdict(r.events).contains("exit(0) was called from `exits_early`"))
    }

    @Test(.enabled(if: access("/usr/bin/g++", X_OK) == 0, "needs g++"))
    func cxxStaticInitializerThatThrows() throws {
        let source =
            Binaries.testsDirectory + "/Fixtures/static_init.cpp"
        let binary = Binaries.scratch + "/static_init"
        #expect(try run(["/usr/bin/g++", "-O0", "-g", "-o", binary, source]).status == 0)
        let trace = Binaries.freshDirectory("cxx") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace, "--", binary])
        #expect(r.status == 134)
        #expect(r.stderr.contains("cannot open /etc/app/config.yaml"))  // the program's own message
        let events = try TraceReader.read(path: trace).events
        #expect(milestone(events, "main") == nil)
        let crash = try #require(events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true })
        #expect(
            functions(crash).contains(
                "config::Loader::Loader(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)"
            )
        )
        #expect(verdict(events).contains("main() was NOT reached"))
    }

    @Test(arguments: [("forceunwrap", "forceUnwrap"), ("fatal", "fatal")])
    func swiftCrashFramesAreDemangled(mode: String, function: String) throws {
        let trace = Binaries.freshDirectory("swift") + "/t.ndjson"
        let r = try run(
            [Binaries.probeExec, "-o", trace, "--", Binaries.swiftFixture, mode],
            environment: ["SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(r.status == 128 + SIGTRAP || r.status == 128 + SIGILL)
        let events = try TraceReader.read(path: trace).events
        let crash = try #require(events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true })
        let names = functions(crash)
        #expect(names.contains { $0.contains("Crashes.\(function)(") }, "\(names)")
        #expect(names.allSatisfy { !$0.hasPrefix("$s") }, "all Swift frames demangled: \(names)")
        #expect(milestone(events, "main") != nil)
        if mode == "fatal" {
            #expect(r.stderr.contains("configuration invalid: missing DATABASE_URL"))
        }
    }

    @Test func exitFromASwiftTaskIsNamedByTheAsyncFunction() throws {
        // exit(3) from a task on the concurrency pool while the main thread sleeps: the caller is
        // the async function as written, not its partial function or the executor
        // (`swift::runJobInEstablishedExecutorContext`), and the frames are named (the main
        // thread's maps are not needed).
        for attempt in 0..<3 {
            let r = try underProbeExec([Binaries.swiftFixture, "async-exit", "3"])
            #expect(r.status == 3)
            let summary = verdict(r.events)
            #expect(
                summary.contains("exit(3) was called from `static Jobs.finish(code:)` (main.swift:"),
                "\(attempt): \(summary)"
            )
            #expect(!summary.contains("runJob"), "\(summary)")
        }
    }
}
