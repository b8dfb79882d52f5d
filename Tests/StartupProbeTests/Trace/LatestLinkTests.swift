import ProbeCore
import ProbeTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `latest` per program: `latest` links to the newest trace of all, `latest-<program>` to the newest of
/// each program, the program being the executable that ran (after a shell's `exec`, the final image);
/// `show PROGRAM-NAME` picks it, and an argument that is an existing file is a trace.
@Suite struct LatestLinkTests {
    /// What a link in `dir` holds.
    static func target(_ dir: String, _ name: String) -> String? {
        TraceLocation.linkTarget(name, in: dir)
    }

    /// A program named `name` in `dir`: a shell script that exits with `status`.
    static func program(_ dir: String, _ name: String, status: Int) throws -> String {
        let path = dir + "/" + name
        try writeFile(path, "#!/bin/sh\necho \(name) ran\nexit \(status)\n", mode: 0o755)
        return path
    }

    /// `latest` is the newest of all, `latest-<program>` the newest of each; `show NAME` reads it.
    @Test func eachProgramHasItsLatestAndShowPicksIt() throws {
        let dir = Binaries.freshDirectory("latest-per-program")
        let bin = Binaries.freshDirectory("latest-programs")
        let environment = ["PROBE_EXEC_TRACE_DIR": dir]
        let api = try Self.program(bin, "api", status: 3)
        let worker = try Self.program(bin, "worker", status: 4)
        _ = try run([Binaries.probeExec, "-q", api], environment: environment)
        let apiTrace = try #require(Self.target(dir, "latest-api"))
        _ = try run([Binaries.probeExec, "-q", worker], environment: environment)
        let workerTrace = try #require(Self.target(dir, "latest-worker"))
        #expect(Self.target(dir, "latest") == workerTrace, "latest: the most recent of all")
        #expect(Self.target(dir, "latest-api") == apiTrace, "another program's run leaves it")
        #expect(apiTrace != workerTrace)
        let shown = try run([Binaries.probeExec, "show", "api"], environment: environment)
        #expect(shown.status == 0 && shown.stdout.contains("exited with code 3"), "\(shown.stdout)\(shown.stderr)")
        let json = try run([Binaries.probeExec, "show", "worker", "--json"], environment: environment)
        #expect(try JSONParser.parse(json.stdout)["exit"]?["code"] == 4)
        let all = try run([Binaries.probeExec, "show"], environment: environment)
        #expect(all.stdout.contains("exited with code 4"), "no argument: the latest of all")
        let none = try run([Binaries.probeExec, "show", "nginx"], environment: environment)
        #expect(none.status == 2)
        #expect(none.stderr.contains("no trace of a program named nginx in \(dir)"), "\(none.stderr)")
        #expect(none.stderr.contains("programs with one: api, worker"), "\(none.stderr)")
        // An existing file is a trace, whatever its name.
        let file = try run([Binaries.probeExec, "show", dir + "/" + apiTrace], environment: environment)
        #expect(file.stdout.contains("exited with code 3"))
    }

    /// A shell that execs the real program: filed under the final image, and the shell's link gets back
    /// what it held before. Untraced, the images are not known: filed under the command.
    @Test func afterAShellsExecTheFinalImageNamesTheRun() throws {
        let dir = Binaries.freshDirectory("latest-exec")
        let environment = ["PROBE_EXEC_TRACE_DIR": dir]
        _ = try run([Binaries.probeExec, "-q", "/bin/sh", "-c", "exit 2"], environment: environment)
        let plainShell = try #require(Self.target(dir, "latest-sh"))
        let r = try run(
            [Binaries.probeExec, "-q", "/bin/sh", "-c", "exec \(Binaries.fixture) exit 5"],
            environment: environment
        )
        #expect(r.status == 5)
        let wrapped = try #require(Self.target(dir, "latest-fixture"), "filed under the final image")
        #expect(wrapped != plainShell)
        #expect(Self.target(dir, "latest") == wrapped)
        #expect(Self.target(dir, "latest-sh") == plainShell, "the shell's link is given back")
        let shown = try run([Binaries.probeExec, "show", "fixture", "--json"], environment: environment)
        #expect(try JSONParser.parse(shown.stdout)["program"]?["name"] == "fixture")
        // --no-ptrace: the command's name.
        _ = try run(
            [Binaries.probeExec, "-q", "--no-ptrace", "/bin/sh", "-c", "exec \(Binaries.fixture) exit 6"],
            environment: environment
        )
        let untraced = try #require(Self.target(dir, "latest-sh"))
        #expect(untraced != plainShell && Self.target(dir, "latest-fixture") == wrapped)
        // The first shell run had no link to give back: after it, the link is gone.
        let fresh = Binaries.freshDirectory("latest-exec-first")
        _ = try run(
            [Binaries.probeExec, "-q", "/bin/sh", "-c", "exec \(Binaries.fixture) exit 5"],
            environment: ["PROBE_EXEC_TRACE_DIR": fresh]
        )
        #expect(Self.target(fresh, "latest-sh") == nil && Self.target(fresh, "latest-fixture") != nil)
    }

    /// An executable file is not a trace (traces never are): `show server` beside `./server` is the program's.
    /// Any other existing file is a trace, whatever its name.
    @Test func anExecutableOfTheProgramsNameIsTheProgram() throws {
        let dir = Binaries.freshDirectory("latest-beside")
        let bin = Binaries.freshDirectory("latest-beside-bin")
        let server = try Self.program(bin, "server", status: 1)
        _ = try run([Binaries.probeExec, "-q", server], environment: ["PROBE_EXEC_TRACE_DIR": dir])
        /// `probe-exec show ARGUMENT` in the programs' directory.
        func show(_ argument: String) throws -> (status: Int32, stdout: String, stderr: String) {
            try run(
                ["/bin/sh", "-c", "cd \(bin) && exec \(Binaries.probeExec) show \(argument)"],
                environment: ["PROBE_EXEC_TRACE_DIR": dir]
            )
        }
        let r = try show("server")
        #expect(r.status == 0 && r.stdout.contains("exited with code 1"), "\(r.stdout)\(r.stderr)")
        // A program `api` with a trace, whose file is then replaced by one that is not executable.
        let api = try Self.program(bin, "api", status: 2)
        _ = try run([Binaries.probeExec, "-q", api], environment: ["PROBE_EXEC_TRACE_DIR": dir])
        unlink(api)
        try writeFile(api, "not a trace\n", mode: 0o600)
        let file = try show("api")
        #expect(
            file.status == 0 && file.stdout.contains("no events could be read"),
            "a file is a trace: \(file.stdout)"
        )
        let none = try show("worker")
        #expect(none.status == 2 && none.stderr.contains("no trace of a program named worker"), "\(none.stderr)")
    }

    /// The name is the base name, made safe for a file name.
    @Test func theNameIsTheExecutablesBaseName() {
        #expect(TraceLocation.programName(command: "./server", finalImage: nil) == "server")
        #expect(TraceLocation.programName(command: "/bin/sh", finalImage: "/usr/local/bin/api") == "api")
        #expect(TraceLocation.latestName(program: "./my server") == "latest-my_server")
        #expect(TraceLocation.latestName(program: "/usr/bin/python3.11") == "latest-python3.11")
    }
}
