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

/// Output goes through probe-exec as it arrives, byte-exact, on both streams at once.
@Suite(.serialized) struct OutputTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-output"]

    func sha256(_ path: String) throws -> String {
        let r = try run(["/usr/bin/sha256sum", path])
        return String(r.stdout.prefix(64))
    }

    /// A v1 pids cgroup tests may make, when this machine has one.
    static let pidsController: String? = {
        let probe = "/sys/fs/cgroup/pids/startupprobe-probe-\(getpid())"
        guard mkdir(probe, 0o755) == 0 else { return nil }
        rmdir(probe)
        return "/sys/fs/cgroup/pids"
    }()

    /// A new pids cgroup (no limit yet) for one test; ``remove(_:)`` it when done.
    static func pidsGroup() throws -> String {
        let group = try #require(pidsController) + "/startupprobe-test-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(group, 0o755) == 0)
        return group
    }

    /// Removes a cgroup of ``pidsGroup()`` once its processes are gone.
    static func remove(_ group: String) {
        for _ in 0..<100 where rmdir(group) != 0 { usleep(20_000) }
    }

    @Test(.enabled(if: OutputTests.pidsController != nil, "needs a writable v1 pids controller"))
    func aPidsLimitThatLeavesRoomForThePumpsGivesThemToThem() throws {
        // pids.max=4: probe-exec, the program and the two output pumps. The trace directory's
        // housekeeping thread took a pump's place (started before them: 6 of 20 runs ended by
        // SIGPIPE with no output); it now comes after them, and runs at the end where no thread
        // is left for it.
        let group = try Self.pidsGroup()
        defer { Self.remove(group) }
        try writeFile(group + "/pids.max", "4\n", mode: 0o644)
        for attempt in 0..<10 {
            let r = try run(
                [
                    "/bin/sh", "-c", "echo $$ > \(group)/cgroup.procs && exec \"$@\"", "sh", Binaries.probeExec, "-q",
                    "--no-ptrace", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3",
                ],
                environment: env
            )
            #expect(r.status == 3 && r.stdout == "out\n" && r.stderr == "err\n", "run \(attempt): \(r)")
        }
    }

    @Test(.enabled(if: OutputTests.pidsController != nil, "needs a writable v1 pids controller"))
    func aPidsLimitWithNoRoomForThePumpsStillForwardsEveryByte() throws {
        // pids.max=2: probe-exec and the program only (3: one pump). A pump that could not be
        // started closed its pipe: the program died of SIGPIPE at its first write (before: 141,
        // nothing forwarded). probe-exec now forwards that stream itself, between its other work.
        let group = try Self.pidsGroup()
        defer { Self.remove(group) }
        let dir = Binaries.freshDirectory("pids-inline")
        let size = "3000000"
        let bare = try run(["/bin/sh", "-c", "\(Binaries.fixture) big \(size) > \(dir)/bare.out 2> \(dir)/bare.err"])
        #expect(bare.status == 0)
        for limit in ["2", "3"] {
            for mode in [[], ["--no-ptrace"]] {
                try writeFile(group + "/pids.max", "max\n", mode: 0o644)
                let r = try run(
                    [
                        "/bin/sh", "-c",
                        "echo $$ > \(group)/cgroup.procs && echo \(limit) > \(group)/pids.max && exec \"$@\" > \(dir)/out 2> \(dir)/err",
                        "sh", Binaries.probeExec, "-q",
                    ] + mode + ["--", Binaries.fixture, "big", size],
                    environment: env
                )
                #expect(r.status == bare.status, "pids.max=\(limit) \(mode)")
                for stream in ["out", "err"] {
                    let same = try run(["/usr/bin/cmp", dir + "/" + stream, dir + "/bare." + stream])
                    #expect(same.status == 0, "pids.max=\(limit) \(mode): std\(stream) differs: \(same.stdout)")
                }
            }
        }
        try writeFile(group + "/pids.max", "max\n", mode: 0o644)
    }

    @Test(.enabled(if: OutputTests.pidsController != nil, "needs a writable v1 pids controller"))
    func forwardingWithoutPumpThreadsNeverHoldsASignalBehindAStalledReader() throws {
        // Forwarding on the loop wrote to probe-exec's stdout with a blocking write: with a reader
        // that did not read for 8 s, a SIGTERM sent at 1 s was forwarded at +7982 ms (bare: the
        // program ends at once). The loop now writes only what the output takes without waiting.
        let group = try Self.pidsGroup()
        defer { Self.remove(group) }
        let dir = Binaries.freshDirectory("pids-stalled")
        let program = "import sys, time; sys.stdout.buffer.write(b'x' * 300000); sys.stdout.flush(); time.sleep(30)"
        let child = try ChildProcess(
            [
                "/bin/sh", "-c",
                "{ /bin/sh -c 'echo $$ > \(dir)/pid; echo $$ > \(group)/cgroup.procs && echo 2 > \(group)/pids.max && exec \"$@\"' sh \(Binaries.probeExec) -q -o \(dir)/t.ndjson -- /usr/bin/python3 -c \"\(program)\"; echo $? > \(dir)/status; } | { sleep 6; cat > /dev/null; }",
            ],
            environment: env
        )
        var probeExec: Int32?
        let deadline = now() + 10
        while probeExec == nil && now() < deadline {
            probeExec = readFile(dir + "/pid").flatMap { Int32($0.filter(\.isNumber)) }
            usleep(10_000)
        }
        let target = try #require(probeExec)
        usleep(1_000_000)
        let sent = now()
        kill(target, SIGTERM)
        // `echo $? > status` creates the file before it writes: wait for the whole line.
        while readFile(dir + "/status")?.hasSuffix("\n") != true && now() < sent + 20 { usleep(10_000) }
        let ended = now() - sent
        #expect(readFile(dir + "/status")?.filter(\.isNumber) == "143")  // SIGTERM's, as bare
        #expect(ended < 3, "probe-exec ended \(ended) s after the SIGTERM; the reader slept 6 s")
        _ = try child.finish(timeout: 20)
        try writeFile(group + "/pids.max", "max\n", mode: 0o644)
    }

    @Test func hundredMegabytesOnEachStreamAtOnceAreByteExact() throws {
        let dir = Binaries.freshDirectory("big")
        let size = "100000000"
        let bare = try run(["/bin/sh", "-c", "\(Binaries.fixture) big \(size) > \(dir)/bare.out 2> \(dir)/bare.err"])
        #expect(bare.status == 0)
        // Through pipes, so probe-exec uses splice into a pipe (the common container case)…
        let piped = try run(
            [
                "/bin/sh", "-c",
                "{ \(Binaries.probeExec) -- \(Binaries.fixture) big \(size) 2>&3 | cat > \(dir)/pipe.out; } 3>&1 | cat > \(dir)/pipe.err",
            ],
            environment: env,
            timeout: 120
        )
        #expect(piped.status == 0, "\(piped.stderr)")
        // …and into regular files.
        let files = try run(
            [
                "/bin/sh", "-c",
                "\(Binaries.probeExec) -- \(Binaries.fixture) big \(size) > \(dir)/file.out 2> \(dir)/file.err",
            ],
            environment: env,
            timeout: 120
        )
        #expect(files.status == 0)
        let expectedOut = try sha256(dir + "/bare.out")
        let expectedErr = try sha256(dir + "/bare.err")
        #expect(expectedOut != expectedErr)
        #expect(try sha256(dir + "/pipe.out") == expectedOut)
        #expect(try sha256(dir + "/pipe.err") == expectedErr)
        #expect(try sha256(dir + "/file.out") == expectedOut)
        #expect(try sha256(dir + "/file.err") == expectedErr)
        unlink(dir + "/bare.out")
        unlink(dir + "/bare.err")
        unlink(dir + "/pipe.out")
        unlink(dir + "/pipe.err")
        unlink(dir + "/file.out")
        unlink(dir + "/file.err")
    }

    /// splice(2) refuses an O_APPEND file: the pump falls back to read/write, bytes unchanged.
    @Test func appendModeOutputFallsBackToCopying() throws {
        let dir = Binaries.freshDirectory("append")
        let trace = dir + "/trace.ndjson"
        _ = try run(["/bin/sh", "-c", "\(Binaries.fixture) big 3000000 > \(dir)/bare.out 2> \(dir)/bare.err"])
        let r = try run(
            [
                "/bin/sh", "-c",
                "\(Binaries.probeExec) -o \(trace) -- \(Binaries.fixture) big 3000000 >> \(dir)/app.out 2>> \(dir)/app.err",
            ],
            environment: env
        )
        #expect(r.status == 0)
        #expect(try sha256(dir + "/app.out") == (try sha256(dir + "/bare.out")))
        #expect(try sha256(dir + "/app.err") == (try sha256(dir + "/bare.err")))
        let tails = try TraceReader.read(path: trace).events.filter { $0.kind == "tail" }
        #expect(tails.count == 2)
        #expect(tails.allSatisfy { $0["transport"]?.stringValue == "copy" && $0["bytes_total"]?.intValue == 3_000_000 })
        #expect(tails.allSatisfy { $0["tail_bytes"]?.intValue == 65536 && $0["truncated"]?.boolValue == true })
    }

    @Test(arguments: ["", ">>"])
    func tailIsExactlyTheLastBytes(append: String) throws {
        let dir = Binaries.freshDirectory("tail")
        let trace = dir + "/trace.ndjson"
        let redirect = append.isEmpty ? "| cat >" : ">>"
        _ = try run(
            ["/bin/sh", "-c", "\(Binaries.probeExec) -o \(trace) -- seq 1 300000 \(redirect) \(dir)/out"],
            environment: env
        )
        let full = try #require(readFile(dir + "/out"))
        let tail = try #require(try TraceReader.read(path: trace).events.first { $0.kind == "tail" })
        #expect(tail["bytes_total"]?.intValue == full.utf8.count)
        #expect(tail["text"]?.stringValue == String(decoding: Array(full.utf8).suffix(65536), as: UTF8.self))
    }

    /// Thousands of 1-byte writes: each is a pipe buffer of its own, and the tail pipe runs out of
    /// buffers long before bytes; the tail keeps them all (before: a few hundred of them).
    @Test func tailOfManySmallWritesIsExact() throws {
        let dir = Binaries.freshDirectory("dribble")
        let trace = dir + "/trace.ndjson"
        let r = try run([Binaries.probeExec, "-q", "-o", trace, "--", Binaries.fixture, "dribble", "3000"])
        #expect(r.status == 3)
        #expect(r.stderr.utf8.count == 3000)
        let tail = try #require(
            try TraceReader.read(path: trace).events.first {
                $0.kind == "tail" && $0["stream"]?.stringValue == "stderr"
            }
        )
        #expect(tail["bytes_total"]?.intValue == 3000)
        #expect(tail["tail_bytes"]?.intValue == 3000, "\(tail["tail_bytes"]?.intValue ?? -1) of 3000 kept")
        #expect(tail["text"]?.stringValue == r.stderr)
    }

    @Test func binaryWithoutTrailingNewlineIsExact() throws {
        let result = try run([Binaries.probeExec, "--", "/usr/bin/printf", "a\\000b\\377c"], environment: env)
        #expect(result.status == 0)
        let bytes = try ChildProcess([Binaries.probeExec, "--", "/usr/bin/printf", "a\\000b\\377c"], environment: env)
            .finish().stdout
        #expect(bytes == [0x61, 0x00, 0x62, 0xFF, 0x63])
    }

    @Test func outputWrittenJustBeforeSIGKILLArrives() throws {
        let child = try ChildProcess([Binaries.probeExec, "-q", "--", Binaries.fixture, "lastwords"], environment: env)
        let result = try child.finish()
        #expect(result.status == 128 + SIGKILL)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "last words on stdout\n")
        #expect(String(decoding: result.stderr, as: UTF8.self) == "last words on stderr")
    }

    @Test func readerGoneGivesTheChildSIGPIPE() throws {
        // Like `yes | head -c 10`: yes dies of SIGPIPE (141) with or without probe-exec.
        let bare = try run(["/bin/bash", "-c", "yes | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}"])
        let wrapped = try run(
            ["/bin/bash", "-c", "\(Binaries.probeExec) -q -- yes | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}"],
            environment: env,
            timeout: 20
        )
        #expect(bare.stdout == "141\n")
        #expect(wrapped.stdout == "141\n")
    }

    @Test(arguments: [[], ["--no-ptrace"]])
    func childInheritsTheSignalStateAndOnlyTheDescriptorsABareStartWould(_ mode: [String]) throws {
        // probe-exec itself starts with SIGINT/SIGHUP ignored and an extra inherited fd 5: the
        // program gets exactly what it would get bare (execve keeps SIG_IGN and the mask).
        let setup = "trap '' INT HUP; exec 5</dev/null;"
        let bare = try run(["/bin/bash", "-c", "\(setup) exec \(Binaries.fixture) status"], environment: env)
        let wrapped = try run(
            [
                "/bin/bash", "-c",
                "\(setup) exec \(Binaries.probeExec) \(mode.joined(separator: " ")) -- \(Binaries.fixture) status",
            ],
            environment: env
        )
        #expect(wrapped.status == 0)
        #expect(bare.stdout.contains("SigIgn:\t0000000"), "\(bare.stdout)")
        #expect(wrapped.stdout == bare.stdout)
        #expect(wrapped.stdout.contains("fds: 0 1 2 5\n"), "\(wrapped.stdout)")
    }

    @Test func runsWithStdinClosed() throws {
        let result = try run(
            ["/bin/sh", "-c", "\(Binaries.probeExec) -- /bin/sh -c 'echo ok; cat' <&-"],
            environment: env
        )
        #expect(result.stdout.hasPrefix("ok\n"))
        // cat fails on the closed stdin exactly as it would without probe-exec.
        let bare = try run(["/bin/sh", "-c", "/bin/sh -c 'echo ok; cat' <&-"])
        #expect(result.status == bare.status)
    }

    @Test func runsWithStdoutClosed() throws {
        let script = "echo to-stdout; echo status=$? >&2"
        let bare = try run(["/bin/sh", "-c", "/bin/sh -c '\(script)' >&-"])
        let wrapped = try run(
            ["/bin/sh", "-c", "\(Binaries.probeExec) -q -- /bin/sh -c '\(script)' >&-"],
            environment: env
        )
        #expect(wrapped.status == bare.status)
        #expect(wrapped.stderr == bare.stderr)
        #expect(bare.stderr.contains("status=1") || bare.stderr.contains("Bad file descriptor"))
    }
}
