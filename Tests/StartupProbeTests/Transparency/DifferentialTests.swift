import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The differences between a program run bare and the same program run under probe-exec that
/// are accepted, in one place (the README's "Transparency" section says the same):
/// - the hand-over variables `PROBE_EXEC_TRACE`, `PROBE_EXEC_START_NS`, `PROBE_EXEC_PID` (the
///   inspect fixture leaves them out);
/// - stdout and stderr are pipes (the fixture prints descriptor numbers, not their kinds);
/// - the parent pid (not printed), and the parent of a process the program orphans: probe-exec, a
///   child subreaper by default, instead of init;
/// - a descendant that outlives the program gets EPIPE once probe-exec has exited (probe-exec
///   exits within about a second of the program, with its status);
/// - the program leads a process group of its own;
/// - traced, until main() probe-exec holds two of the four debug registers of the program's first
///   thread (one for a static program);
/// - traced where hardware breakpoints are not used (perf_event_open refused, Go), probe-exec has
///   a second child, `probe-guardian` (it restores the start-up breakpoints if probe-exec is
///   killed; the program does not see it);
/// - a program killed by signal N makes probe-exec exit 128+N, as a shell does: the parent
///   sees `exited 128+N` where bare it sees `killed N` (``normalized(_:)``).
enum AcceptedDifferences {
    /// `killed N` (bare) and `exited 128+N` (probe-exec) read alike.
    static func normalized(_ transcript: String) -> String {
        transcript.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("exited "), let code = Int(line.dropFirst(7)), code > 128, code < 128 + 65 {
                return "killed \(code - 128)"
            }
            return String(line)
        }.joined(separator: "\n")
    }
}

/// Each behaviour run bare and under probe-exec, traced and with `--no-ptrace`, through the
/// `difftool` fixture: it starts the program as a job-control shell does, sends signals, and
/// prints every change its parent sees (waitpid with WUNTRACED | WCONTINUED); the program side
/// prints what it got (argv bytes, environment, descriptors, signal mask, ignored set, process
/// group, session) or counts the signals it received.
@Suite(.serialized) struct DifferentialTests {
    static let difftool: String = {
        let output = Binaries.scratch + "/difftool"
        let result = try? run([
            "/usr/bin/env", "cc", "-O1", "-o", output, Binaries.testsDirectory + "/Fixtures/difftool.c",
        ])
        precondition(result?.status == 0, "cannot compile difftool.c: \(result?.stderr ?? "cc did not run")")
        return output
    }()

    /// probe-exec traced (the default) and untraced.
    static let modes: [[String]] = [[], ["--no-ptrace"]]

    let environment = ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("differential")]

    /// The command line that runs `program` bare, or under probe-exec in `mode`.
    func wrapped(_ mode: [String]?, _ program: [String]) -> [String] {
        guard let mode else { return program }
        return [Binaries.probeExec, "-q"] + mode + ["--"] + program
    }

    /// `difftool launch OPTIONS -- program`, bare and in both modes: the transcripts.
    func launch(_ options: [String], _ program: [String], timeout: Double = 30) throws -> [String: String] {
        var result: [String: String] = [:]
        for (name, mode) in [("bare", nil), ("traced", Self.modes[0]), ("untraced", Self.modes[1])]
            as [(String, [String]?)]
        {
            let r = try run(
                [Self.difftool, "launch"] + options + ["--"] + wrapped(mode, program),
                environment: environment,
                timeout: timeout
            )
            result[name] = AcceptedDifferences.normalized(r.stdout)
        }
        return result
    }

    /// Expects the three transcripts to be equal, and returns the bare one.
    @discardableResult
    func expectSame(_ transcripts: [String: String], _ comment: Comment? = nil) -> String {
        let bare = transcripts["bare"] ?? ""
        #expect(
            transcripts["traced"] == bare,
            "traced differs from bare: \(transcripts) \(comment.map { "\($0)" } ?? "")"
        )
        #expect(transcripts["untraced"] == bare, "untraced differs from bare: \(transcripts)")
        return bare
    }

    @Test func programGetsTheSameArgvEnvironmentDescriptorsMaskIgnoredSetGroupAndSession() throws {
        // Inherited: SIGHUP and SIGPIPE ignored, SIGUSR1 and SIGTERM blocked, fd 5 open; argv with
        // bytes that are not UTF-8 and an empty argument; a variable whose value is not UTF-8.
        let script = """
            export NOT_UTF8=$'\\xff\\xfe'; exec 5</dev/null; exec "$@" $'\\xff\\xfe' '' 'plain'
            """
        var transcripts: [String: String] = [:]
        for (name, mode) in [("bare", nil), ("traced", Self.modes[0]), ("untraced", Self.modes[1])]
            as [(String, [String]?)]
        {
            let r = try run(
                [
                    Self.difftool, "launch", "--ignore", "HUP,PIPE", "--block", "USR1,TERM", "--",
                    "/bin/bash", "-c", script, "bash",
                ] + wrapped(mode, [Self.difftool, "inspect"]),
                environment: environment
            )
            transcripts[name] = r.stdout
        }
        let bare = expectSame(transcripts)
        #expect(bare.contains("argv[2]: ff fe\n"), "\(bare)")
        #expect(bare.contains("argv[3]:\n"))
        #expect(bare.contains("env: NOT_UTF8=\u{FFFD}\u{FFFD}\n"))  // the bytes ff fe, as the fixture printed them
        #expect(bare.contains("SigBlk:\t0000000000004200\n"), "\(bare)")  // USR1, TERM
        // HUP and PIPE (and glibc's 32 and 33 where the test runner's own start left them ignored).
        #expect(bare.contains("SigIgn:\t0000000000001001\n") || bare.contains("SigIgn:\t0000000180001001\n"), "\(bare)")
        #expect(bare.contains("fds: 0 1 2 5\n"), "\(bare)")
        #expect(bare.contains("pgid is own pid: 1\n"))
        #expect(bare.contains("exited 0"))
    }

    @Test func signalsAreDeliveredAsOftenAsBare() throws {
        let options = [
            "--send", "USR1@150", "--send", "USR2@200", "--send", "USR1@250", "--send", "HUP@300", "--send",
            "WINCH@350",
        ]
        let bare = expectSame(try launch(options, [Self.difftool, "count", "USR1,USR2,HUP,WINCH", "700"]))
        #expect(bare == "HUP 1\nUSR1 2\nUSR2 1\nWINCH 1\nexited 0\n", "\(bare)")
    }

    @Test func inheritedIgnoredSignalStaysIgnored() throws {
        // `trap '' HUP; exec probe-exec -- prog`, then SIGHUP: bare, prog lives on.
        let bare = expectSame(try launch(["--ignore", "HUP", "--send", "HUP@200"], [Self.difftool, "sleep", "500"]))
        #expect(bare == "exited 0\n")
    }

    @Test(arguments: ["ABRT", "BUS", "TRAP", "SYS", "SEGV", "ILL", "FPE"])
    func faultSignalsSentWithKillAreForwarded(_ signal: String) throws {
        // Handled by the program: it counts one, as bare.
        let handled = expectSame(try launch(["--send", "\(signal)@200"], [Self.difftool, "count", signal, "500"]))
        #expect(handled == "\(signal) 1\nexited 0\n", "\(handled)")
        // Not handled: the program dies of it, and probe-exec exits 128+N.
        let fatal = expectSame(try launch(["--send", "\(signal)@200"], [Self.difftool, "sleep", "2000"]))
        #expect(fatal.hasPrefix("killed "), "\(fatal)")
    }

    @Test func jobControlStopsAndContinuesLikeBare() throws {
        let viaWrapper = expectSame(
            try launch(["--send", "TSTP@200", "--send", "CONT@450"], [Self.difftool, "sleep", "800"])
        )
        #expect(viaWrapper == "stopped 20\ncontinued\nexited 0\n", "\(viaWrapper)")
        let stopSignal = expectSame(
            try launch(["--send", "TTIN@200", "--send", "CONT@450"], [Self.difftool, "sleep", "800"])
        )
        #expect(stopSignal == "stopped 21\ncontinued\nexited 0\n", "\(stopSignal)")
    }

    @Test(arguments: modes)
    func programStoppedAndContinuedDirectlyDoesNotLeaveProbeExecStopped(_ mode: [String]) throws {
        // Someone stops and continues the program itself (not through probe-exec): probe-exec
        // mirrors the stop, and is continued with it.
        let r = try run(
            [Self.difftool, "launch", "--send", "STOP@200:child", "--send", "CONT@450:child", "--"]
                + wrapped(mode, [Self.difftool, "sleep", "800"]),
            environment: environment
        )
        #expect(r.stdout == "stopped 19\ncontinued\nexited 0\n", "\(r.stdout)")
    }

    @Test(arguments: modes)
    func signalBetweenForkAndExecNeverHangs(_ mode: [String]) throws {
        // A PATH of 3,000 missing directories before the fixture's widens the window between the
        // fork and the execve that finds it; SIGINT goes to the child in that window.
        let directory = String(Self.difftool.split(separator: "/").dropLast().joined(separator: "/"))
        let path = (0..<3000).map { "/nonexistent/d\($0)" }.joined(separator: ":") + ":/" + directory
        for attempt in 0..<10 {
            let r = try run(
                [Self.difftool, "launch", "--timeout", "8000", "--send", "INT@0:child", "--"]
                    + wrapped(mode, ["difftool", "sleep", "3000"]),
                environment: environment.merging(["PATH": path]) { $1 },
                timeout: 20
            )
            #expect(!r.stdout.contains("timeout"), "attempt \(attempt): \(r.stdout)")
            #expect(AcceptedDifferences.normalized(r.stdout) == "killed 2\n", "attempt \(attempt): \(r.stdout)")
        }
    }

    @Test(arguments: modes)
    func exitsWithinASecondWhileADescendantKeepsTheOutputBusy(_ mode: [String]) throws {
        // `yes` left behind writes without end into a reader that does not read.
        let status = Binaries.freshDirectory("drain") + "/status"
        let command = wrapped(mode, ["/bin/sh", "-c", "yes & sleep 0.2; exit 3"]).map { "'\($0)'" }.joined(
            separator: " "
        )
        let script = """
            start=$(date +%s%N)
            { \(command); echo "$? $(( ($(date +%s%N) - start) / 1000000 ))" > \(status); } | { sleep 5; head -c 1 > /dev/null; }
            """
        _ = try run(["/bin/bash", "-c", script], environment: environment, timeout: 30)
        let parts = (readFile(status) ?? "").split(separator: " ").compactMap { Int($0.filter(\.isNumber)) }
        #expect(parts.first == 3, "\(parts)")
        // The program exits after 0.2 s; probe-exec within a second of it.
        #expect((parts.last ?? 99_999) < 1200, "probe-exec took \(parts.last ?? -1) ms")
    }

    @Test(arguments: [4, 5, 7, 8, 9, 10, 15])
    func lowDescriptorLimitKeepsTheStatusAndTheOutput(_ limit: Int) throws {
        let program = "echo out; echo err >&2; exit 3"
        let bare = try run(
            ["/bin/bash", "-c", "ulimit -n \(limit); exec /bin/sh -c '\(program)'"],
            environment: environment
        )
        #expect(bare.status == 3)
        for mode in Self.modes {
            let command = wrapped(mode, ["/bin/sh", "-c", program]).map { "'\($0)'" }.joined(separator: " ")
            let r = try run(["/bin/bash", "-c", "ulimit -n \(limit); exec \(command)"], environment: environment)
            #expect(r.status == 3, "limit \(limit) \(mode): \(r.stderr)")
            #expect(r.stdout == bare.stdout, "limit \(limit) \(mode)")
            // probe-exec may add one line saying what it could not do; the program's own is the same.
            #expect(r.stderr.hasSuffix(bare.stderr), "limit \(limit) \(mode): \(r.stderr) / bare: \(bare.stderr)")
        }
    }

    @Test func ignoredSignalIsForwardedOnceTheProgramCatchesIt() throws {
        // Started with SIGHUP ignored, the program installs its own handler: bare it gets SIGHUP.
        let bare = expectSame(
            try launch(["--ignore", "HUP", "--send", "HUP@300"], [Self.difftool, "count", "HUP", "600"])
        )
        #expect(bare == "HUP 1\nexited 0\n")
    }

    @Test(arguments: modes)
    func killOfAStoppedProgramEndsTheRun(_ mode: [String]) throws {
        let r = try run(
            [
                Self.difftool, "launch", "--timeout", "5000", "--send", "STOP@200:child", "--send", "KILL@400:child",
                "--",
            ]
                + wrapped(mode, [Self.difftool, "sleep", "3000"]),
            environment: environment
        )
        #expect(!r.stdout.contains("timeout"), "\(r.stdout)")
        #expect(AcceptedDifferences.normalized(r.stdout).hasSuffix("killed 9\n"), "\(r.stdout)")
    }

    /// A SIGCONT sent to probe-exec soon after the program stopped continues both. (Within the
    /// microseconds between probe-exec deciding to stop with the program and stopping, the kernel
    /// discards a SIGCONT when the stop signal is raised: a documented limit.)
    @Test(arguments: modes)
    func continueSoonAfterTheProgramStopsIsNotLost(_ mode: [String]) throws {
        for attempt in 0..<5 {
            let r = try run(
                [Self.difftool, "launch", "--timeout", "5000", "--send", "STOP@200:child", "--send", "CONT@250", "--"]
                    + wrapped(mode, [Self.difftool, "sleep", "800"]),
                environment: environment
            )
            #expect(r.stdout.hasSuffix("exited 0\n"), "attempt \(attempt): \(r.stdout)")
        }
    }

    @Test(.enabled(if: FileSystemFaultTests.canMount, "needs unshare -m and mount (root)"), arguments: modes)
    func forwardsEverythingWithoutDevNull(_ mode: [String]) throws {
        // A minimal root with an empty /dev: more than the tail pipe holds goes through.
        let command = wrapped(mode, ["/usr/bin/head", "-c", "3000000", Binaries.probeExec])
            .map { "'\($0)'" }.joined(separator: " ")
        let r = try run(
            [
                "/usr/bin/unshare", "-m", "--", "/bin/bash", "-c",
                "mount -t tmpfs none /dev && \(command) | /usr/bin/wc -c",
            ],
            environment: environment,
            timeout: 30
        )
        #expect(r.stdout.filter(\.isNumber) == "3000000", "\(r.stdout) \(r.stderr)")
    }

    @Test(arguments: modes)
    func oneOpenFileForStdoutAndStderrKeepsTheOrderOfWrites(_ mode: [String]) throws {
        let directory = Binaries.freshDirectory("merged")
        let program = "for i in 1 2 3 4 5 6 7 8; do echo out$i; echo err$i >&2; done"
        let expected = (1...8).map { "out\($0)\nerr\($0)\n" }.joined()
        for attempt in 0..<5 {
            let command = wrapped(mode, ["/bin/sh", "-c", program]).map { "'\($0)'" }.joined(separator: " ")
            _ = try run(["/bin/bash", "-c", "\(command) > \(directory)/log 2>&1"], environment: environment)
            #expect(readFile(directory + "/log") == expected, "attempt \(attempt)")
        }
    }

    @Test(arguments: modes)
    func diagnosisParagraphStartsOnALineOfItsOwn(_ mode: [String]) throws {
        let r = try run(
            [Binaries.probeExec] + mode + ["--", "/bin/sh", "-c", "printf world >&2; exit 3"],
            environment: environment
        )
        #expect(r.status == 3)
        #expect(r.stderr.hasPrefix("world\nprobe-exec: "), "\(r.stderr)")
    }

    @Test(arguments: modes)
    func handOverNamesTheProgramItself(_ mode: [String]) throws {
        let r = try run(
            [Binaries.probeExec] + mode + ["--", "/bin/sh", "-c", "echo \"$PROBE_EXEC_PID $$\""],
            environment: environment
        )
        let pids = r.stdout.split(separator: " ").map { $0.filter(\.isNumber) }
        #expect(pids.count == 2 && pids[0] == pids[1] && !pids[0].isEmpty, "\(r.stdout)")
    }

    /// probe-exec killed alone, or with its whole process group (`timeout -s KILL`, `kill -9 %1`:
    /// the program has a group of its own, and so has the guardian).
    /// The two kinds of start-up breakpoints: the CPU's (the default where the kernel allows
    /// them), and `int3` planted in the program (PROBE_EXEC_BREAKPOINTS=int3, as where
    /// perf_event_open is refused).
    static let breakpointKinds = ["hardware", "int3"]

    @Test(arguments: [false, true], breakpointKinds)
    func killOfProbeExecBeforeMainLeavesNoBreakpointInTheProgram(wholeGroup: Bool, breakpoints: String) throws {
        // A start-up of 1.5 s (a constructor) and probe-exec killed with SIGKILL 0.5 s in: bare,
        // the program reaches main(); traced, the breakpoints planted at its exec must not stay
        // (the guardian puts the original bytes back), or it dies of SIGTRAP before main().
        let program = Binaries.tracee(["-DSLOW_CONSTRUCTOR"])
        // setsid: probe-exec leads a group of its own, which can be killed without the tests.
        let setsid = wholeGroup ? ["/usr/bin/setsid"] : []
        var outcomes: [String: String] = [:]
        for (name, mode) in [("bare", nil), ("traced", Self.modes[0]), ("untraced", Self.modes[1])]
            as [(String, [String]?)]
        {
            let mark = Binaries.freshDirectory("guardian-\(name)") + "/mark"
            let child = try ChildProcess(
                setsid + wrapped(mode, [program, "mark", mark]),
                environment: environment.merging(["PROBE_EXEC_BREAKPOINTS": breakpoints]) { $1 }
            )
            usleep(500_000)
            var guardians: [Int32] = []
            if mode != nil {
                guardians = Self.children(of: child.pid).filter {
                    readFile("/proc/\($0)/comm") == "probe-guardian\n"
                }
                kill(wholeGroup ? -child.pid : child.pid, SIGKILL)
            }
            _ = try child.finish(timeout: 10)
            let deadline = now() + 5
            // Until its content is complete: fopen makes the file before fputs fills it.
            while now() < deadline && readFile(mark) != "main reached\n" { usleep(20_000) }
            outcomes[name] = readFile(mark) ?? "main() not reached"
            if name == "traced" && breakpoints == "hardware" {
                #expect(guardians.isEmpty, "nothing planted, no guardian: \(guardians)")
            } else if name == "traced" {
                #expect(guardians.count == 1, "one guardian while the breakpoints are planted: \(guardians)")
                for guardian in guardians {
                    // Done once it restored them: gone, or a zombie its new parent has not reaped.
                    let state = (readFile("/proc/\(guardian)/stat") ?? "").split(separator: ")").last?.dropFirst().first
                    #expect(
                        state == nil || state == "Z",
                        "guardian \(guardian) still there: \(String(describing: state))"
                    )
                }
            } else if name == "untraced" {
                #expect(guardians.isEmpty, "no breakpoint, no guardian: \(guardians)")
            }
        }
        #expect(outcomes["bare"] == "main reached\n")
        #expect(outcomes["traced"] == outcomes["bare"], "\(outcomes)")
        #expect(outcomes["untraced"] == outcomes["bare"], "\(outcomes)")
    }

    @Test func killOfProbeExecJustBeforeMainNeverKillsTheProgram() throws {
        // probe-exec SIGKILLed in the last moments before main() (300 µs after the program's
        // constructor said so): bare, main() is reached. The CPU's breakpoints go with probe-exec's
        // descriptors, so it always is. (An `int3`, PROBE_EXEC_BREAKPOINTS=int3, is taken out by
        // the guardian, which can lose this race: 4 of 101 kills in the first milliseconds.)
        let program = Binaries.tracee(["-DREADY_CONSTRUCTOR"])
        let runs = 20
        var reached = 0
        for attempt in 0..<runs {
            let directory = Binaries.freshDirectory("kill-before-main-\(attempt)")
            let ready = directory + "/ready"
            let mark = directory + "/mark"
            let child = try ChildProcess(
                ["/usr/bin/setsid"] + wrapped([], [program, "mark", mark]),
                environment: environment.merging(["READY_FILE": ready, "PROBE_EXEC_BREAKPOINTS": "hardware"]) { $1 }
            )
            let deadline = now() + 10
            while access(ready, F_OK) != 0 && now() < deadline { usleep(20) }
            kill(-child.pid, SIGKILL)
            _ = try child.finish(timeout: 10)
            let end = now() + 3
            while now() < end && readFile(mark) != "main reached\n" { usleep(10_000) }
            if readFile(mark) == "main reached\n" { reached += 1 }
        }
        #expect(reached == runs, "main() reached in \(reached) of \(runs) runs")
    }

    @Test(arguments: breakpointKinds)
    func runsLeaveNoGuardianBehind(breakpoints: String) throws {
        // The guardian lives only while breakpoints are planted, and is neither an orphan nor a
        // process left running in the trace.
        let directory = Binaries.freshDirectory("guardian-done")
        let r = try run(
            [
                Binaries.probeExec, "-q", "-o", directory + "/t.ndjson", "--", Binaries.tracee(["-DSLOW_CONSTRUCTOR"]),
                "mark", directory + "/mark",
            ],
            environment: ["PROBE_EXEC_BREAKPOINTS": breakpoints]
        )
        #expect(r.status == 7)
        let trace = readFile(directory + "/t.ndjson") ?? ""
        #expect(trace.contains("\"name\":\"main\""), "main() proven by its breakpoint: \(trace)")
        #expect(trace.contains("\"orphans_reaped\":0"), "\(trace)")
        #expect(!trace.contains("probe-guardian"), "\(trace)")
    }

    /// The children of `pid` (of each of its threads).
    static func children(of pid: Int32) -> [Int32] {
        numberedEntries(of: "/proc/\(pid)/task").flatMap { tid in
            (readFile("/proc/\(pid)/task/\(tid)/children") ?? "").split(separator: " ").compactMap {
                Int32($0.filter(\.isNumber))
            }
        }
    }
}
