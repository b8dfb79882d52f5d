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

/// Runs the tracee under probe-exec and returns its status, stderr and trace events.
func traced(
    _ arguments: [String],
    flags: [String] = [],
    options: [String] = [],
    environment: [String: String] = [:]
)
    throws -> (status: Int32, stderr: String, events: [TraceRecord])
{
    let r = try underProbeExec(
        [Binaries.tracee(flags)] + arguments,
        options: options,
        quiet: false,
        environment: environment
    )
    return (r.status, r.stderr, r.events)
}

/// `command` run under probe-exec (`options` before `--`, `-q` unless `quiet` is false) into a
/// fresh trace: its status, output and the trace's events.
func underProbeExec(
    _ command: [String],
    options: [String] = [],
    quiet: Bool = true,
    environment: [String: String] = [:]
) throws -> (status: Int32, stdout: String, stderr: String, events: [TraceRecord]) {
    let trace = Binaries.freshDirectory("probe-exec") + "/t.ndjson"
    let r = try run(
        [Binaries.probeExec] + (quiet ? ["-q"] : []) + ["-o", trace] + options + ["--"] + command,
        environment: environment
    )
    return (r.status, r.stdout, r.stderr, try TraceReader.read(path: trace).events)
}

/// The function names of a backtrace event, innermost first.
func functions(_ event: TraceRecord?) -> [String] {
    (event?["frames"]?.arrayValue ?? []).compactMap { $0["function"]?.stringValue }
}

func verdict(_ events: [TraceRecord]) -> String { events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? "" }

/// ptrace + libunwind: what the trace proves about how the program ended.
@Suite(.serialized) struct TracingTests {
    @Test func segfaultThreeCallsDeepHasFramesInOrder() throws {
        let r = try traced(["segv3"])
        #expect(r.status == 139)
        let crash = try #require(r.events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true })
        #expect(Array(functions(crash).prefix(4)) == ["level3", "level2", "level1", "main"])
        let frame = try #require(crash["frames"]?.arrayValue?.first)
        let readelf = try run(["/bin/sh", "-c", "readelf -n \(Binaries.tracee()) | sed -n 's/.*Build ID: //p'"]).stdout
        #expect(frame["build_id"]?.stringValue == readelf.split(separator: "\n").first.map(String.init))
        #expect(
            frame["module"]?.stringValue?.hasSuffix("/tracee-0") == true
                || frame["module"]?.stringValue?.contains("tracee") == true
        )
        let signal = try #require(r.events.first { $0.kind == "target_signal" })
        #expect(signal["name"]?.stringValue == "SIGSEGV")
        #expect(signal["sender_kind"]?.stringValue == "kernel")
        #expect(signal["fault_address"]?.stringValue == "0x10")
        #expect(signal["code_name"]?.stringValue?.hasPrefix("SEGV_MAPERR") == true)
        // file:line from the fixture's DWARF line table: the line that writes through the pointer.
        let source = try #require(
            readFile(
                Binaries.testsDirectory + "/Fixtures/tracee.c"
            )
        )
        let level3Line =
            (source.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("void level3(") }
                ?? -1) + 1
        #expect(frame["file"]?.stringValue?.hasSuffix("Fixtures/tracee.c") == true)
        #expect(frame["line"]?.intValue == level3Line)
        #expect(verdict(r.events).contains("(tracee.c:\(level3Line))"))
        #expect(verdict(r.events).contains("at address 0x10"))
        #expect(verdict(r.events).contains("in `level3` ← `level2` ← `level1` ← `main`"))
        #expect(r.stderr.contains("in `level3` ← `level2` ← `level1` ← `main`"))
    }

    @Test func abortIsSentByTheProgramItself() throws {
        let r = try traced(["abort"])
        #expect(r.status == 134)
        let signal = try #require(r.events.first { $0.kind == "target_signal" && $0["name"]?.stringValue == "SIGABRT" })
        #expect(signal["sender_kind"]?.stringValue == "self")
        let crash = try #require(r.events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true })
        #expect(functions(crash).contains("main"))
        #expect(verdict(r.events).contains("← `main`") || verdict(r.events).contains("in `main`"))
    }

    @Test func divisionByZeroNamesTheFaultKind() throws {
        let r = try traced(["fpe"])
        #expect(r.status == 136)
        let signal = try #require(r.events.first { $0.kind == "target_signal" })
        #expect(signal["code_name"]?.stringValue?.hasPrefix("FPE_INTDIV") == true)
        #expect(verdict(r.events).contains("in `divide` ← `main`"))
    }

    @Test func crashInASecondThreadNamesThatThread() throws {
        let r = try traced(["thread-segv"])
        #expect(r.status == 139)
        let start = try #require(r.events.first { $0.kind == "exec" })
        let crash = try #require(r.events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true })
        #expect(crash["tid"]?.intValue != start["pid"]?.intValue)
        #expect(Array(functions(crash).prefix(4)) == ["level3", "level2", "level1", "crashing_thread"])
        // Every thread is unwound: the main thread waits in pthread_join.
        #expect(r.events.filter { $0.kind == "backtrace" }.count >= 2)
        #expect(verdict(r.events).contains("(thread \(crash["tid"]!.intValue!))"))
    }

    /// 200 threads, one crashing: every thread is unwound into the trace, the crashed one first
    /// named. (Its time is measured by scripts/bench.sh, not here.)
    @Test func crashAmongTwoHundredThreadsUnwindsEveryThread() throws {
        let r = try traced(["threads-segv", "200"])
        #expect(r.status == 139)
        let backtraces = r.events.filter { $0.kind == "backtrace" }
        // The main thread, 198 idle ones and the crashing one.
        #expect(backtraces.count == 200, "\(backtraces.count) threads unwound")
        #expect(Set(backtraces.compactMap { $0["tid"]?.intValue }).count == backtraces.count)
        let crash = try #require(backtraces.first { $0["crashed"]?.boolValue == true })
        #expect(Array(functions(crash).prefix(4)) == ["level3", "level2", "level1", "crashing_thread"])
        #expect(backtraces.filter { functions($0).contains("idle_thread") }.count == 198)
        #expect(backtraces.filter { functions($0).contains("main") }.count == 1, "main, waiting in pthread_join")
    }

    @Test(arguments: ["overflow", "thread-overflow"])
    func stackOverflowIsUnwoundFromOutside(mode: String) throws {
        let r = try traced([mode])
        #expect(r.status == 139)
        let crash = try #require(r.events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true })
        let names = functions(crash)
        #expect(names.first == "recurse")
        #expect(names.prefix(50).allSatisfy { $0 == "recurse" })
        // Named as what it is, from the memory map: the guard below the faulting thread's stack.
        let text = verdict(r.events)
        let place =
            mode == "overflow"
            ? "is in the unmapped gap the kernel keeps below the main thread's stack"
            : "is in the guard page below thread "
        #expect(text.contains("It overflowed its stack: the fault address 0x"), "\(text)")
        #expect(text.contains(place), "\(text)")
        #expect(text.contains("`recurse` is "), "\(text)")
        #expect(text.contains("in `recurse` ×"), "one name for the recursion: \(text)")
    }

    @Test func aFaultAwayFromTheStackIsNotCalledAnOverflow() throws {
        let r = try traced(["segv3"])
        #expect(r.status == 139)
        #expect(!verdict(r.events).contains("overflowed"), "\(verdict(r.events))")
    }

    @Test func exitFourCallsDeepNamesTheCaller() throws {
        let r = try traced(["exit4", "3"])
        #expect(r.status == 3)
        let exit = try #require(r.events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit" })
        #expect(exit["main_returned"] == .bool(false))
        let names = functions(exit)
        let from = try #require(names.firstIndex(of: "exit_d"))
        #expect(Array(names[from...].prefix(5)) == ["exit_d", "exit_c", "exit_b", "exit_a", "main"])
        #expect(
            verdict(r.events).contains(
                "exit(3) was called from `exit_d` ← `exit_c` ← `exit_b` ← `exit_a` ← `main` (tracee.c:"
            )
        )
    }

    @Test func returningFromMainIsRecognised() throws {
        let r = try traced(["return", "0"])
        #expect(r.status == 0)
        let exit = try #require(r.events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit" })
        #expect(exit["main_returned"] == .bool(true))
        #expect(verdict(r.events).contains("main() returned normally"))
    }

    @Test func signalFromAnotherProcessNamesTheSender() throws {
        let dir = Binaries.freshDirectory("sender")
        let child = try ChildProcess([Binaries.probeExec, "-o", dir + "/t.ndjson", "--", Binaries.tracee(), "wait"])
        let line = try #require(child.readLine())
        let pid = try #require(Int32(line.split(separator: " ").last ?? ""))
        // Straight to the program, not through probe-exec: ptrace sees who sent it.
        kill(pid, SIGTERM)
        #expect(try child.wait() == 143)
        let events = try TraceReader.read(path: dir + "/t.ndjson").events
        let signal = try #require(events.first { $0.kind == "target_signal" && $0["name"]?.stringValue == "SIGTERM" })
        #expect(signal["sender_kind"]?.stringValue == "process")
        #expect(signal["sender_pid"]?.intValue == Int(getpid()))
        let comm = readFile("/proc/self/comm")?.split(separator: "\n").first.map(String.init)
        #expect(signal["sender_comm"]?.stringValue == comm)
    }

    @Test func forwardedSignalIsDeliveredFromProbeExec() throws {
        let dir = Binaries.freshDirectory("forwarded")
        let child = try ChildProcess([Binaries.probeExec, "-o", dir + "/t.ndjson", "--", Binaries.tracee(), "wait"])
        _ = child.readLine()
        child.signal(SIGTERM)
        #expect(try child.wait() == 143)
        let events = try TraceReader.read(path: dir + "/t.ndjson").events
        #expect(events.first { $0.kind == "signal" }?["sender_pid"]?.intValue == Int(getpid()))
        #expect(events.first { $0.kind == "target_signal" }?["sender_kind"]?.stringValue == "probe-exec")
    }

    @Test func scriptThatExecsABinaryIsFollowed() throws {
        let dir = Binaries.freshDirectory("script")
        let trace = dir + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace, "--", "/bin/sh", "-c", "exec \(Binaries.tracee()) segv3"])
        #expect(r.status == 139)
        let events = try TraceReader.read(path: trace).events
        let images = events.filter { $0.kind == "target_exec" }
        #expect(images.count == 2)
        #expect(images.last?["path"]?.stringValue == Binaries.tracee())
        #expect(verdict(events).contains("`level3` ← `level2` ← `level1` ← `main`"))
    }

    @Test func followForksTracesChildrenWithoutConfusingTheVerdict() throws {
        let dir = Binaries.freshDirectory("follow")
        let trace = dir + "/t.ndjson"
        let r = try run([
            Binaries.probeExec, "--follow-forks", "-o", trace, "--", "/bin/sh", "-c",
            "\(Binaries.tracee()) segv3; exit 3",
        ])
        #expect(r.status == 3)
        let events = try TraceReader.read(path: trace).events
        // The child's crash is recorded…
        let crash = try #require(events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "crash" })
        #expect(Array(functions(crash).prefix(4)) == ["level3", "level2", "level1", "main"])
        #expect(events.contains { $0.kind == "target_exec" && $0["child"] == .bool(true) })
        // …but the verdict is about sh, which exited 3.
        let text = verdict(events)
        #expect(text.contains("exited with code 3"))
        #expect(!text.contains("level3"))
        // Without --follow-forks the child is not traced.
        let untraced = try run([
            Binaries.probeExec, "-o", dir + "/u.ndjson", "--", "/bin/sh", "-c", "\(Binaries.tracee()) segv3; exit 3",
        ])
        #expect(untraced.status == 3)
        #expect(
            !(try TraceReader.read(path: dir + "/u.ndjson").events.contains {
                $0.kind == "backtrace" && $0["reason"]?.stringValue == "crash"
            })
        )
    }

    /// Dynamically linked (`stdout` found in libc's or the executable's .dynsym) and static (in the
    /// executable's .symtab).
    @Test(arguments: ["abort", "_exit"], [[], ["-static"]])
    func bufferedOutputLostAtDeathIsRecovered(how: String, flags: [String]) throws {
        let r = try traced(["buffered", how], flags: flags)
        #expect(r.status == (how == "abort" ? 134 : 0))
        let lost = try #require(r.events.first { $0.kind == "lost_output" })
        #expect(lost["stream"]?.stringValue == "stdout")
        #expect(lost["text"]?.stringValue == "config loaded, starting workers")
        #expect(
            verdict(r.events).contains("31 bytes it wrote to stdout were still in its stdio buffer and never came out")
        )
        #expect(verdict(r.events).contains("Nothing reached stdout") == false, "stderr did get a line")
    }

    @Test func lostOutputIsLookedForWhenTheProcessEndsNotWhenAThreadDoes() throws {
        let r = try traced(["buffered", "_exit", "after-a-thread-ends"])
        #expect(r.status == 0)
        let lost = try #require(r.events.first { $0.kind == "lost_output" }, "\(r.events.map(\.kind))")
        #expect(lost["text"]?.stringValue == "config loaded, starting workers")
    }

    /// The paragraph says the lost bytes are in the trace only when a trace was kept.
    @Test func lostOutputIsSaidToBeInTheTraceOnlyWhenOneWasKept() throws {
        let sentence = "31 bytes it wrote to stdout were still in its stdio buffer and never came out"
        let kept = try run(
            [Binaries.probeExec, "--", Binaries.tracee(), "buffered", "abort"],
            environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("lost-kept")]
        )
        #expect(kept.status == 134)
        #expect(
            kept.stderr.contains(sentence + " (ending \"config loaded, starting workers\"); they are in the trace.")
        )
        let notKept = try run(
            [Binaries.probeExec, "--", Binaries.tracee(), "buffered", "abort"],
            environment: ["PROBE_EXEC_TRACE_DIR": "/etc/hostname/traces"]
        )
        #expect(notKept.status == 134)
        #expect(
            notKept.stderr.contains(sentence + " (ending \"config loaded, starting workers\")."),
            "\(notKept.stderr)"
        )
        #expect(!notKept.stderr.contains("in the trace"))
        #expect(notKept.stderr.contains(" No trace was kept: cannot use the trace directory /etc/hostname/traces"))
    }

    @Test func normalExitFlushesSoNothingIsLost() throws {
        let r = try traced(["buffered", "exit"])
        #expect(r.status == 0)
        #expect(!r.events.contains { $0.kind == "lost_output" })
        #expect(
            r.events.first { $0.kind == "tail" && $0["stream"]?.stringValue == "stdout" }?["text"]?.stringValue
                == "config loaded, starting workers"
        )
    }

    static var hasRustc: Bool { (try? run(["/usr/bin/env", "rustc", "--version"]).status) == 0 }

    /// A Rust program: `process::exit(0)` from a helper, and a panic, both named in the trace.
    @Test(.enabled(if: hasRustc, "needs rustc"))
    func rustExitAndPanicAreExplained() throws {
        let dir = Binaries.freshDirectory("rust")
        let source =
            Binaries.testsDirectory + "/Fixtures/service.rs"
        #expect(try run(["/usr/bin/env", "rustc", "-g", "-o", dir + "/service", source]).status == 0)
        let exitTrace = dir + "/exit.ndjson"
        let exited = try run([Binaries.probeExec, "-o", exitTrace, "--", dir + "/service"], removing: ["PORT"])
        #expect(exited.status == 0)
        let exitEvents = try TraceReader.read(path: exitTrace).events
        let text = verdict(exitEvents)
        #expect(
            text.contains("exit(0) was called from `std::process::exit` ← `service::validate_env` ← `service::main`"),
            "\(text)"
        )
        #expect(text.contains("(process.rs:") || text.contains("(service.rs:6)"), "\(text)")
        #expect(
            text.contains("It wrote nothing on stdout or stderr (its C library's stdio buffers were empty"),
            "\(text)"
        )
        let panicTrace = dir + "/panic.ndjson"
        let panicked = try run([Binaries.probeExec, "-o", panicTrace, "--", dir + "/service", "panic"])
        #expect(panicked.status == 101)
        #expect(panicked.stderr.contains("config path is empty"))
        let panicVerdict = verdict(try TraceReader.read(path: panicTrace).events)
        #expect(panicVerdict.contains("It panicked; after a panic in the main thread Rust's runtime returns 101"))
        #expect(!panicVerdict.contains("main() returned 101."), "the panic chose the code: \(panicVerdict)")
    }

    @Test func noPtraceRunsUntraced() throws {
        let r = try traced(["segv3"], options: ["--no-ptrace"])
        #expect(r.status == 139)
        #expect(r.events.first { $0.kind == "tracing" }?["state"]?.stringValue == "off")
        #expect(!r.events.contains { $0.kind == "backtrace" || $0.kind == "target_signal" })
    }

    @Test func ptraceDeniedBySeccompFailsOpen() throws {
        // The wrapper forbids ptrace for itself and everything it runs, then execs probe-exec.
        let dir = Binaries.freshDirectory("seccomp")
        let trace = dir + "/t.ndjson"
        let r = try run([
            Binaries.tracee(), "noptrace", Binaries.probeExec, "-o", trace, "--", Binaries.tracee(), "exit4", "7",
        ])
        #expect(r.status == 7)
        let events = try TraceReader.read(path: trace).events
        let tracing = try #require(events.first { $0.kind == "tracing" })
        #expect(tracing["state"]?.stringValue == "unavailable")
        #expect(tracing["reason"]?.stringValue?.contains("EPERM") == true)
        #expect(r.stderr.components(separatedBy: "tracing is unavailable").count == 2, "said once: \(r.stderr)")
    }
}

/// Job control and thread exits under tracing.
@Suite(.serialized) struct TracingJobControlTests {
    func state(_ pid: Int32) -> Character? {
        guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)]
    }

    func waitForState(_ pid: Int32, _ wanted: Set<Character>) -> Character? {
        let deadline = now() + 5
        while now() < deadline {
            if let s = state(pid), wanted.contains(s) { return s }
            usleep(5_000)
        }
        return state(pid)
    }

    /// SIGSTOP stops the traced program as it would an untraced one, and SIGCONT resumes it.
    @Test func stopAndContinueKeepTheirMeaning() throws {
        let child = try ChildProcess([Binaries.probeExec, "-q", "--", Binaries.tracee(), "wait"])
        let line = try #require(child.readLine())
        let pid = try #require(Int32(line.split(separator: " ").last ?? ""))
        kill(pid, SIGSTOP)
        let stopped = waitForState(pid, ["T", "t"])
        #expect(stopped == "T" || stopped == "t", "state \(String(describing: stopped)) after SIGSTOP")
        usleep(100_000)
        #expect(["T", "t"].contains(state(pid) ?? "?"), "still stopped a moment later")
        kill(pid, SIGCONT)
        #expect(waitForState(pid, ["S", "R"]).map { ["S", "R"].contains($0) } == true, "running again after SIGCONT")
        child.signal(SIGTERM)
        #expect(try child.wait() == 143)
    }

    /// 320 short-lived threads: a new thread's first stop may be reported before its creator's
    /// clone event; it must still be resumed (this once hung a JVM).
    @Test func threadBurstNeverHangs() throws {
        let r = try traced(["thread-burst"])
        #expect(r.status == 7)
    }

    /// A thread that ends (pthread_exit: the `exit` system call) is not "the thread that called
    /// exit": only the process's exit gets an exit backtrace.
    @Test func threadExitsAreNotProcessExits() throws {
        let dir = Binaries.freshDirectory("threadexit")
        let trace = dir + "/t.ndjson"
        let source = dir + "/threads.c"
        try writeFile(
            source,
            """
            #include <pthread.h>
            static void *work(void *a) { return a; }
            int main(void) { pthread_t t[4]; for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, work, 0);
              for (int i = 0; i < 4; i++) pthread_join(t[i], 0); return 0; }
            """,
            mode: 0o644
        )
        #expect(try run(["/usr/bin/env", "cc", "-pthread", "-o", dir + "/threads", source]).status == 0)
        #expect(try run([Binaries.probeExec, "-o", trace, "--", dir + "/threads"]).status == 0)
        let exits = try TraceReader.read(path: trace).events.filter {
            $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit"
        }
        #expect(exits.count == 1)
        #expect(exits.first?["main_returned"] == .bool(true))
    }
}

/// Tracing where libunwind is not installed: the program runs as ever, the trace says why there
/// are no backtraces.
@Suite(.serialized) struct NoLibunwindTests {
    static let library = HostArchitecture.remoteUnwinder
    static let canHide: Bool =
        access(library, F_OK) == 0
        && (try? run(["/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", "mount --bind /dev/null \(library)"]).status)
            == 0

    @Test(.enabled(if: canHide, "needs libunwind installed, unshare -m and mount (root)"))
    func crashWithoutLibunwindStillHasItsTrueStatus() throws {
        let dir = Binaries.freshDirectory("nounwind")
        let script =
            "mount --bind /dev/null \(Self.library) && exec \(Binaries.probeExec) -o \(dir)/t.ndjson -- \(Binaries.tracee()) segv3"
        let r = try run(["/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", script])
        #expect(r.status == 139)
        #expect(r.stderr.contains("was killed by SIGSEGV"))
        let events = try TraceReader.read(path: dir + "/t.ndjson").events
        #expect(!events.contains { $0.kind == "backtrace" })
        #expect(
            events.contains {
                $0.kind == "warning" && ($0["message"]?.stringValue?.contains("backtraces unavailable") ?? false)
            }
        )
        #expect(
            events.contains { $0.kind == "milestone" && $0["name"]?.stringValue == "main" },
            "milestones need no libunwind"
        )
    }
}
