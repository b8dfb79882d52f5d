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

/// probe-exec exits with the child's status: its code, or 128+N for signal N, like a shell.
@Suite(.serialized) struct ExitStatusTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-exit"]

    @Test(arguments: [0, 1, 42, 255])
    func exitCodePassesThrough(code: Int32) throws {
        let result = try run(
            [Binaries.probeExec, "-q", "--", Binaries.fixture, "exit", String(code)],
            environment: env
        )
        #expect(result.status == code)
    }

    @Test(arguments: [("segv", SIGSEGV), ("abort", SIGABRT)])
    func crashGives128PlusSignal(mode: String, signal: Int32) throws {
        let result = try run([Binaries.probeExec, "--", Binaries.fixture, mode], environment: env)
        #expect(result.status == 128 + signal)
        #expect(result.stderr.contains("was killed by \(mode == "segv" ? "SIGSEGV" : "SIGABRT")"))
    }

    @Test(arguments: [SIGTERM, SIGKILL, SIGUSR1])
    func deathBySignalGives128PlusSignal(signal: Int32) throws {
        let result = try run(
            [Binaries.probeExec, "-q", "--", Binaries.fixture, "killself", String(signal)],
            environment: env
        )
        #expect(result.status == 128 + signal)
        #expect(result.stderr.isEmpty, "-q silences the diagnosis")
    }

    @Test func missingProgramExits127AndSaysWhy() throws {
        let result = try run([Binaries.probeExec, "--", "no-such-program-xyz"], environment: env)
        #expect(result.status == 127)
        #expect(result.stderr.contains("no-such-program-xyz"))
        #expect(result.stderr.contains("is not in any PATH directory"))
    }

    @Test func missingPathExits127() throws {
        let result = try run([Binaries.probeExec, "--", "/nonexistent/dir/prog"], environment: env)
        #expect(result.status == 127)
        #expect(result.stderr.contains("/nonexistent/dir/prog does not exist"))
    }

    @Test func notExecutableExits126() throws {
        let dir = Binaries.freshDirectory("noexec")
        let file = dir + "/script"
        try writeFile(file, "#!/bin/sh\necho hi\n", mode: 0o644)
        let result = try run([Binaries.probeExec, "--", file], environment: env)
        #expect(result.status == 126)
        #expect(result.stderr.contains("has no execute permission (mode 644)"))
    }

    @Test func directoryExits126() throws {
        let result = try run([Binaries.probeExec, "--", "/tmp"], environment: env)
        #expect(result.status == 126)
    }

    /// execvp would silently run a file without #! and without ELF header through /bin/sh.
    @Test func noShellFallbackOnENOEXEC() throws {
        let dir = Binaries.freshDirectory("enoexec")
        let file = dir + "/headless"
        try writeFile(file, "echo ran-by-sh\n", mode: 0o755)
        let result = try run([Binaries.probeExec, "--", file], environment: env)
        #expect(result.status == 126)
        #expect(!result.stdout.contains("ran-by-sh"))
        #expect(result.stderr.contains("ENOEXEC"))
    }

    @Test func pathSearchFindsProgramsAndSkipsNonExecutables() throws {
        let dir = Binaries.freshDirectory("pathsearch")
        try writeFile(dir + "/tool", "not executable", mode: 0o644)
        let result = try run(
            [Binaries.probeExec, "-q", "--", "tool"],
            environment: env.merging(["PATH": "\(dir):/usr/bin:/bin"]) { $1 }
        )
        // A non-executable match earlier in PATH is skipped only if something later runs: here
        // nothing else is called `tool`, so EACCES is reported, as a shell does.
        #expect(result.status == 126)
        let echo = try run(
            [Binaries.probeExec, "--", "echo", "found"],
            environment: env.merging(["PATH": "\(dir):/usr/bin:/bin"]) { $1 }
        )
        #expect(echo.status == 0)
        #expect(echo.stdout == "found\n")
    }

    @Test func aPathEntryTooLongToJoinIsSkippedAsByAShell() throws {
        // `/aaa…` of 5,000 bytes joined with the name is ENAMETOOLONG: shells and execvp go on to
        // the next entry (before: 126, the program never ran). A path given directly keeps its
        // own error.
        let path = "/" + String(repeating: "a", count: 5_000) + ":/usr/bin:/bin"
        let bare = try run(["/bin/sh", "-c", "true"], environment: env.merging(["PATH": path]) { $1 })
        #expect(bare.status == 0)
        for mode in [[], ["--no-ptrace"]] {
            let wrapped = try run(
                [Binaries.probeExec, "-q"] + mode + ["--", "true"],
                environment: env.merging(["PATH": path]) { $1 }
            )
            #expect(wrapped.status == bare.status, "\(mode): \(wrapped.stderr)")
        }
        let direct = try run(
            [Binaries.probeExec, "--", "/" + String(repeating: "a", count: 5_000) + "/x"],
            environment: env
        )
        #expect(direct.status == 126 && direct.stderr.contains("ENAMETOOLONG"), "\(direct.stderr.prefix(300))")
    }

    @Test func aChildKilledInItsPathSearchIsSaidNeverToHaveRun() throws {
        // Thousands of PATH entries, none holding the command: the child is in its search until
        // it is killed (or, never, exec'd). A SIGKILL there reaches no tracer and closes the status
        // pipe as an exec would: the trace said "exec ok" and "whether main() was reached is not
        // known" (before: 10 of 10). Traced, a child dead under probe-exec's name with no exec stop
        // never exec'd (execve renames it after its file).
        let path = (0..<6_000).map { "/nonexistent-\($0)" }.joined(separator: ":")
        let command = "startup-probe-no-such-command"
        for mode in [[], ["--no-ptrace"]] {
            var killedInSearch = 0
            for attempt in 0..<3 {
                let trace = Binaries.freshDirectory("exit-killed-in-search") + "/t.ndjson"
                let child = try ChildProcess(
                    [Binaries.probeExec, "-q", "-o", trace] + mode + ["--", command],
                    environment: env.merging(["PATH": path]) { $1 }
                )
                let deadline = now() + 10
                var target: Int32?
                while target == nil && now() < deadline {
                    target = DifferentialTests.children(of: child.pid).first
                }
                guard let target else { throw TestFailure("\(mode): no child") }
                kill(target, SIGKILL)
                let status = try child.wait(timeout: 20)
                // 127 when the search had ended first (the command is nowhere): no kill to see.
                guard status != 127 else { continue }
                killedInSearch += 1
                #expect(status == 128 + SIGKILL, "\(mode) attempt \(attempt)")  // as a shell reports it
                // Untraced, a death there and one just after the exec are not told apart: no claim.
                guard mode.isEmpty else { continue }
                let events = try TraceReader.read(path: trace).events
                let exec = events.first { $0.kind == "exec" }
                #expect(exec?["ok"]?.boolValue == false, "\(mode) attempt \(attempt): \(String(describing: exec))")
                let verdict = events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? ""
                #expect(verdict.contains("main() was NOT reached: the program never ran"), "\(verdict)")
            }
            #expect(killedInSearch > 0, "\(mode): the search never outlasted the kill")
        }
    }

    @Test func aChildKilledJustAfterItsExecIsNotSaidNeverToHaveRun() throws {
        // The exec done, the child is killed before probe-exec takes its exec stop (probe-exec held
        // with SIGSTOP meanwhile): it ends with no exec stop, as a child killed in its PATH search
        // does, and was said to have "never ran" (helper-24: 14 of 15). What tells them apart is its
        // name: execve renames it after the file it runs.
        let directory = Binaries.freshDirectory("exit-killed-after-exec")
        let path = (0..<3_000).map { "/nonexistent-\($0)" }.joined(separator: ":") + ":/bin"
        let trace = directory + "/t.ndjson"
        let child = try ChildProcess(
            [Binaries.probeExec, "-q", "-o", trace, "--", "sleep", "30"],
            environment: env.merging(["PATH": path]) { $1 }
        )
        var target: Int32?
        let deadline = now() + 10
        while target == nil && now() < deadline { target = DifferentialTests.children(of: child.pid).first }
        let program = try #require(target)
        kill(child.pid, SIGSTOP)
        // Its exec stop: the new image is there, and it waits for its tracer (stopped itself).
        func state(_ pid: Int32) -> Character? {
            guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
            return stat[stat.index(close, offsetBy: 2)]
        }
        // The child waits for probe-exec's `go` (sent just after the seize) before its search: a
        // SIGSTOP that came first holds it there (read(2) in /proc/PID/syscall): let probe-exec
        // send it, and stop it again (the full CI run hit this once).
        #if arch(x86_64)
        let readCall = "0 "
        #else
        let readCall = "63 "
        #endif
        var exe = ""
        while now() < deadline {
            exe = (try? run(["/usr/bin/readlink", "/proc/\(program)/exe"]).stdout) ?? ""
            if exe.hasSuffix("/sleep\n") && state(program) == "t" { break }
            if !exe.hasSuffix("/sleep\n"), readFile("/proc/\(program)/syscall")?.hasPrefix(readCall) == true {
                kill(child.pid, SIGCONT)
                usleep(200)
                kill(child.pid, SIGSTOP)
            }
            usleep(1_000)
        }
        try #require(exe.hasSuffix("/sleep\n"), "the child never exec'd sleep: \(exe)")
        kill(program, SIGKILL)
        usleep(50_000)  // (a tracee killed at a stop shows `t` until its stopped tracer runs)
        kill(child.pid, SIGCONT)
        #expect(try child.wait(timeout: 20) == 128 + SIGKILL)
        let events = try TraceReader.read(path: trace).events
        #expect(events.first { $0.kind == "exec" }?["ok"]?.boolValue == true)
        let verdict = events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? ""
        #expect(!verdict.contains("never ran"), "\(verdict)")
    }

    @Test func exitCodeRemapping() throws {
        let remapped = try run(
            [Binaries.probeExec, "-e", "3", "-q", "--", Binaries.fixture, "exit", "3"],
            environment: env
        )
        #expect(remapped.status == 0)
        let other = try run(
            [Binaries.probeExec, "-e", "3", "-q", "--", Binaries.fixture, "exit", "4"],
            environment: env
        )
        #expect(other.status == 4)
    }

    @Test func argumentParserFormsStillWork() throws {
        // `--trace=FILE` is not the fast entrypoint form: ArgumentParser parses it.
        let trace = Binaries.scratch + "/ap-form.ndjson"
        let result = try run(
            [Binaries.probeExec, "--trace=\(trace)", "-q", "--", Binaries.fixture, "exit", "5"],
            environment: env
        )
        #expect(result.status == 5)
        #expect(access(trace, F_OK) == 0)
        let empty = try run([Binaries.probeExec], environment: env)
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("name the program to run"))
    }
}

func writeFile(_ path: String, _ text: String, mode: mode_t) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw TestFailure("cannot create \(path)") }
    defer { close(fd) }
    var t = text
    _ = t.withUTF8 { write(fd, $0.baseAddress, $0.count) }
    fchmod(fd, mode)
}

func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
