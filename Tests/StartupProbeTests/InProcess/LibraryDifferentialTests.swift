import Testing

#if canImport(Glibc)
import Glibc
#endif

/// With the library, every signal reaches exactly what it would reach without it, in every order
/// of installation: each scenario of `library-fixture` runs without StartupProbe, with `start`
/// before the program's own signal setup, and after it; output and status must be the same.
@Suite(.serialized) struct LibraryDifferentialTests {
    static var fixture: String { Binaries.buildDirectory + "/library-fixture" }

    /// The Swift runtime's backtracer is off, as in an image without the toolchain: what is
    /// compared is the signals' effect, not the backtracer's report.
    let environment = [
        "SWIFT_BACKTRACE": "enable=no", "PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("library-differential"),
    ]

    /// Runs `scenario` three ways; returns (status, stdout) of each.
    func threeWays(_ scenario: String) throws -> [String: (status: Int32, stdout: String, stderr: String)] {
        var result: [String: (Int32, String, String)] = [:]
        for when in ["none", "before", "after"] {
            result[when] = try run([Self.fixture, scenario, when], environment: environment, timeout: 30)
        }
        return result
    }

    @Test(arguments: [
        "dispatch-recreate", "resethand", "nodefer", "ignored", "sigtimedwait", "signalfd",
        "int3", "two-threads-crash", "crash", "start-twice-crash", "recover", "fork-exec",
    ])
    func sameOutputAndStatusWithAndWithoutTheLibrary(_ scenario: String) throws {
        let runs = try threeWays(scenario)
        let bare = try #require(runs["none"])
        for when in ["before", "after"] {
            let other = try #require(runs[when])
            #expect(other.status == bare.status, "\(scenario) \(when): status \(other.status), without \(bare.status)")
            #expect(other.stdout == bare.stdout, "\(scenario) \(when): \(other.stdout) / without: \(bare.stdout)")
        }
    }

    /// What each scenario does without the library, so a comparison of two broken runs cannot pass.
    @Test func scenariosBehaveAsTheyShouldWithoutTheLibrary() throws {
        func bare(_ scenario: String) throws -> (status: Int32, stdout: String) {
            let r = try run([Self.fixture, scenario, "none"], environment: environment, timeout: 30)
            return (r.status, r.stdout)
        }
        #expect(try bare("dispatch-recreate") == (0, "second source fired 1\nsecond source fired 2\n"))
        #expect(try bare("resethand") == (128 + SIGINT, "after the first SIGINT: handler ran 1\n"))
        #expect(try bare("nodefer") == (0, "deepest nesting: 2\n"))
        #expect(try bare("ignored") == (0, "alive after SIGTRAP, SIGHUP, SIGPIPE\n"))
        #expect(try bare("sigtimedwait") == (0, "sigtimedwait: SIGUSR1 from self: true\n"))
        #expect(try bare("signalfd") == (0, "signalfd: signal \(SIGUSR2)\n"))
        #expect(try bare("int3") == (128 + SIGTRAP, "trapping\n"))
        #expect(try bare("two-threads-crash").status == 128 + SIGSEGV)
        #expect(try bare("fork-exec").stdout.hasPrefix("child: trace=unset pid=unset\n"))
    }

    /// A DispatchSource, then the program's own sigaction handler for the same signal: which of
    /// the two gets each signal is libdispatch's race (it replaces the handler on its own thread,
    /// and its run-to-run outcome differs even without the library), so the outputs are not
    /// compared byte for byte; with the library, as without, the program goes on and the signals
    /// reach one of them.
    @Test(arguments: ["none", "before", "after"])
    func sigactionAfterADispatchSourceStillGetsSignalsHandled(_ when: String) throws {
        let r = try run([Self.fixture, "sigaction-after-source", when], environment: environment, timeout: 30)
        #expect(r.status == 0)
        let counts = r.stdout.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(counts.count == 2 && counts.reduce(0, +) >= 1, "\(r.stdout)")
    }

    @Test(arguments: ["before", "after"])
    func aFaultTheProgramRecoversFromIsNotReported(_ when: String) throws {
        let r = try run([Self.fixture, "recover", when], environment: environment, timeout: 30)
        #expect(r.status == 0)
        #expect(r.stdout == "recovered: wrote 42\n")
        #expect(!r.stderr.contains("StartupProbe: fatal signal"), "\(r.stderr)")
    }

    @Test func startCalledTwiceStillEndsACrashWithOneReport() throws {
        let r = try run([Self.fixture, "start-twice-crash", "after"], environment: environment, timeout: 30)
        #expect(r.status == 128 + SIGSEGV)
        #expect(r.stderr.components(separatedBy: "StartupProbe: fatal signal").count - 1 == 1, "\(r.stderr)")
    }

    @Test func twoThreadsCrashingAtOnceWriteOneWholeReport() throws {
        let r = try run([Self.fixture, "two-threads-crash", "after"], environment: environment, timeout: 30)
        #expect(r.status == 128 + SIGSEGV)
        let reports = r.stderr.components(separatedBy: "StartupProbe: fatal signal").count - 1
        #expect(reports == 1, "\(r.stderr)")
        #expect(r.stderr.contains("#0 0x"))
    }

    /// The library's thread (under probe-exec) leaves a signal the Swift runtime's backtracer can
    /// suspend it with: its crash report is the same as without the library (no "failed to
    /// suspend thread").
    @Test func swiftBacktracerCanSuspendTheLibrarysThread() throws {
        let trace = Binaries.freshDirectory("library-backtracer") + "/t.ndjson"
        let backtracer = ["SWIFT_BACKTRACE": "enable=yes,interactive=no,color=no"]
        let with = try run(
            [Binaries.probeExec, "-q", "-o", trace, "--", Self.fixture, "crash", "after"],
            environment: backtracer,
            timeout: 60
        )
        let without = try run(
            [Binaries.probeExec, "-q", "-o", trace + ".bare", "--", Self.fixture, "crash", "none"],
            environment: backtracer,
            timeout: 60
        )
        #expect(with.stderr.contains("Program crashed"), "\(with.stderr)")
        #expect(!with.stderr.contains("failed to suspend thread"), "\(with.stderr)")
        #expect(!without.stderr.contains("failed to suspend thread"))
        #expect(with.status == without.status)
    }
}
