import ProbeTrace
import Testing

/// "It wrote nothing" only when that was seen: the C library's buffers read and empty as the
/// program ended; otherwise only that nothing reached the pipes. A Python program killed by a
/// signal with its stdout on a pipe is told its output may have died in Python's buffer.
@Suite(.serialized) struct OutputTruthTests {
    func summary(
        _ arguments: [String],
        environment: [String: String] = [:],
        removing: [String] = []
    ) throws
        -> (status: Int32, stdout: String, summary: String)
    {
        let trace = Binaries.freshDirectory("output-truth") + "/t.ndjson"
        let r = try run(
            [Binaries.probeExec, "-q", "-o", trace] + arguments,
            environment: environment,
            removing: removing
        )
        let events = try TraceReader.read(path: trace).events
        return (r.status, r.stdout, events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? "")
    }

    @Test func wroteNothingOnlyWhenItsBuffersWereRead() throws {
        let traced = try summary(["--", "/bin/true"])
        #expect(
            traced.summary.contains("It wrote nothing on stdout or stderr (its C library's stdio buffers were empty")
        )
        let untraced = try summary(["--no-ptrace", "--", "/bin/true"])
        #expect(untraced.summary.contains("Nothing reached stdout or stderr."), "\(untraced.summary)")
        #expect(!untraced.summary.contains("wrote nothing"), "\(untraced.summary)")
    }

    static let python =
        "import os, signal\nprint('loading config')\nprint('starting workers')\nos.kill(os.getpid(), signal.SIGTERM)\n"

    @Test func pythonKilledWithItsOutputInItsBufferIsToldSo() throws {
        let r = try summary(["--", "python3", "-c", Self.python], removing: ["PYTHONUNBUFFERED"])
        #expect(r.status == 143)
        #expect(r.stdout.isEmpty, "Python's buffer died with it")
        #expect(r.summary.contains("Nothing reached stdout or stderr."), "\(r.summary)")
        #expect(r.summary.contains("what it printed since its last flush may have been lost"), "\(r.summary)")
        #expect(r.summary.contains("PYTHONUNBUFFERED=1"))
    }

    @Test(arguments: [["-u"], ["--unbuffered"], ["PYTHONUNBUFFERED"]])
    func pythonWithUnbufferedOutputIsNotWarned(_ how: [String]) throws {
        let option = how == ["--unbuffered"] ? how : []
        let flag = how == ["-u"] ? how : []
        let environment = how == ["PYTHONUNBUFFERED"] ? ["PYTHONUNBUFFERED": "1"] : [:]
        let r = try summary(
            option + ["--", "python3"] + flag + ["-c", Self.python],
            environment: environment,
            removing: environment.isEmpty ? ["PYTHONUNBUFFERED"] : []
        )
        #expect(r.status == 143)
        #expect(r.stdout == "loading config\nstarting workers\n")
        #expect(!r.summary.contains("may have been lost"), "\(r.summary)")
    }

    @Test func pythonEndedByUnderscoreExitIsToldToo() throws {
        let r = try summary(
            ["--", "python3", "-c", "import os\nprint('hello')\nos._exit(3)\n"],
            removing: ["PYTHONUNBUFFERED"]
        )
        #expect(r.status == 3)
        #expect(r.stdout.isEmpty)
        #expect(r.summary.contains("may have been lost"), "\(r.summary)")
    }

    /// The paragraph names the program's own frames: a shell's or an interpreter's are its own
    /// machinery (they stay in the trace's backtraces).
    @Test func interpreterAndShellFramesStayOutOfTheParagraph() throws {
        let shell = try summary(["--", "/bin/sh", "-c", "kill -SEGV $$"])
        #expect(shell.status == 139)
        #expect(!shell.summary.contains("+0x"), "\(shell.summary)")
        let python = try summary(["--", "python3", "-c", "import sys; sys.exit(3)"])
        #expect(python.status == 3)
        #expect(!python.summary.contains("python3") || !python.summary.contains("+0x"), "\(python.summary)")
        #expect(!python.summary.contains("Py_Exit"), "\(python.summary)")
    }

    /// A fault signal sent with kill is not a fault: the verdict names the sender, not a memory error.
    @Test func faultSignalSentWithKillIsNotCalledAFault() throws {
        let trace = Binaries.freshDirectory("kill-segv") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-q", "-o", trace, "--", "/bin/sh", "-c", "kill -SEGV $$"])
        #expect(r.status == 139, "the status stays true")
        let verdict = try #require(try TraceReader.read(path: trace).events.last { $0.kind == "verdict" })
        let summary = verdict["summary"]?.stringValue ?? ""
        #expect(verdict["category"]?.stringValue == "signal", "\(summary)")
        #expect(summary.contains("killed by SIGSEGV (sent by a process, not raised by a fault)"), "\(summary)")
        #expect(summary.contains("It sent SIGSEGV to itself."), "\(summary)")
        #expect(!summary.contains("invalid memory access"))
    }
}
