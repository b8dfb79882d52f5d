import ProbeTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Programs linked with musl (Alpine's C library, `Tests/Fixtures/musl_job.c` built by musl-gcc),
/// static and dynamic: musl's code has no unwind information (static executables not even an
/// `.eh_frame_hdr`) and its FILE is not glibc's. The trace must still name who called `_exit`,
/// recover what the stdio buffer held, and change nothing of the program.
@Suite(.serialized) struct MuslProgramTests {
    /// musl_job.c built with musl-gcc (`-static` or not), once per linking.
    static func build(static linkStatic: Bool) throws -> String {
        let source =
            Binaries.testsDirectory + "/Fixtures/musl_job.c"
        let output = Binaries.freshDirectory("musl-\(linkStatic ? "static" : "dynamic")") + "/job"
        let flags = ["-g", "-O1"] + (linkStatic ? ["-static"] : [])
        let result = try run(["/usr/bin/env", "musl-gcc"] + flags + ["-o", output, source])
        try #require(
            result.status == 0,
            "cannot build musl_job.c (scripts/test.sh installs musl-tools): \(result.stderr)"
        )
        return output
    }

    /// The program run bare and traced: the same status and bytes, and the trace's events.
    func bareAndTraced(_ program: [String]) throws -> (status: Int32, stdout: String, events: [TraceRecord]) {
        let bare = try run(program)
        let trace = Binaries.freshDirectory("musl-run") + "/t.ndjson"
        let traced = try run([Binaries.probeExec, "-q", "-o", trace, "--"] + program)
        #expect(traced.status == bare.status, "\(program)")
        #expect(traced.stdout == bare.stdout, "\(program)")
        return (traced.status, traced.stdout, try TraceReader.read(path: trace).events)
    }

    func exitFrames(_ events: [TraceRecord]) -> [String] {
        functions(events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit" })
    }

    @Test(arguments: [true, false])
    func exitFromAFunctionIsTracedThroughTheCLibrary(linkStatic: Bool) throws {
        #if arch(x86_64)
        let program = try Self.build(static: linkStatic)
        let r = try bareAndTraced([program, "finish"])
        #expect(r.status == 0 && r.stdout.isEmpty)
        // Before: `_Exit` alone (static), or `_Exit ← main` through a frame-pointer guess.
        let frames = exitFrames(r.events)
        #expect(Array(frames.prefix(4)) == ["_Exit", "_exit", "finish_job", "main"], "\(frames)")
        #expect(verdict(r.events).contains("_exit(0) was called from `finish_job` ← `main`"), "\(verdict(r.events))")
        // musl's FILE: the bytes printf left in stdout's buffer.
        let lost = r.events.first { $0.kind == "lost_output" }
        #expect(lost?["stream"]?.stringValue == "stdout")
        #expect(lost?["text"]?.stringValue == "job finished: 42 items")
        #expect(!verdict(r.events).contains("wrote nothing"))
        #endif
    }

    @Test(arguments: [true, false])
    func exitFromMainIsNamedAsMain(linkStatic: Bool) throws {
        #if arch(x86_64)
        let program = try Self.build(static: linkStatic)
        let r = try bareAndTraced([program, "direct"])
        let frames = exitFrames(r.events)
        #expect(Array(frames.prefix(3)) == ["_Exit", "_exit", "main"], "\(frames)")
        // Before: the caller was named as musl's `libc_start_main_stage2`.
        #expect(verdict(r.events).contains("_exit(0) was called from `main`"), "\(verdict(r.events))")
        #expect(r.events.first { $0.kind == "lost_output" }?["text"]?.stringValue == "direct exit")
        #endif
    }

    @Test(arguments: [true, false])
    func returnFromMainIsKnown(linkStatic: Bool) throws {
        #if arch(x86_64)
        let program = try Self.build(static: linkStatic)
        let r = try bareAndTraced([program, "return"])
        #expect(r.status == 3 && r.stdout == "partial")
        let exit = r.events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit" }
        #expect(exit?["main_returned"]?.boolValue == true, "\(exitFrames(r.events))")
        #expect(verdict(r.events).contains("main() returned 3"), "\(verdict(r.events))")
        // exit() flushed it: nothing was lost, and the trace says the buffers were read.
        #expect(!r.events.contains { $0.kind == "lost_output" })
        #endif
    }

    @Test(arguments: [["musl-gcc"], ["musl-gcc", "-static"], ["cc"], ["cc", "-static"]])
    func framesWithoutUnwindInformationAreNeitherRepeatedNorStale(_ compiler: [String]) throws {
        #if arch(x86_64)
        let source =
            Binaries.testsDirectory + "/Fixtures/no_unwind_info.c"
        let dir = Binaries.freshDirectory("no-unwind-info")
        let callee = try run(
            [
                "/usr/bin/env", compiler[0], "-O0", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
                "-DPART_CALLEE",
            ]
                + ["-c", "-o", dir + "/callee.o", source]
        )
        try #require(callee.status == 0, "\(callee.stderr)")
        let linked = try run(
            ["/usr/bin/env"] + compiler + [
                "-O0", "-g", "-DPART_MAIN", "-o", dir + "/program", source, dir + "/callee.o",
            ]
        )
        try #require(linked.status == 0, "\(linked.stderr)")
        let r = try bareAndTraced([dir + "/program"])
        #expect(r.status == 3)
        let frames = exitFrames(r.events)
        // Before: `F ← Y ← Y ← main` (F's frame pointer taken for Y's), or `F ← X ← main` (a word X's call left).
        let own = frames.filter { ["F", "X", "Y", "main"].contains($0) }
        #expect(own == ["F", "Y", "main"], "\(frames)")
        #expect(verdict(r.events).contains("_exit(3) was called from `F` ← `Y` ← `main`"), "\(verdict(r.events))")
        #endif
    }

    @Test func mainReturningIsKnownWithAlpinesLoaderName() throws {
        #if arch(x86_64)
        // On Alpine the C library is the loader itself, /lib/ld-musl-x86_64.so.1, with no symbol
        // for its start code: main's return is known by the module (before: main_returned false).
        let dir = Binaries.freshDirectory("alpine-layout")
        let loader = dir + "/ld-musl-x86_64.so.1"
        #expect(try run(["/bin/cp", "/usr/lib/x86_64-linux-musl/libc.so", loader]).status == 0)
        let source =
            Binaries.testsDirectory + "/Fixtures/musl_job.c"
        let built = try run(
            ["/usr/bin/env", "musl-gcc", "-O1", "-Wl,--dynamic-linker=" + loader, "-o", dir + "/job", source]
        )
        try #require(built.status == 0, "\(built.stderr)")
        let r = try bareAndTraced([dir + "/job", "return"])
        let exit = r.events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "exit" }
        #expect(exit?["main_returned"]?.boolValue == true, "\(exitFrames(r.events))")
        #expect(verdict(r.events).contains("main() returned 3"), "\(verdict(r.events))")
        #endif
    }

    @Test(arguments: [true, false])
    func aCrashInTheCLibraryNamesTheProgramsFrames(linkStatic: Bool) throws {
        #if arch(x86_64)
        let program = try Self.build(static: linkStatic)
        let r = try bareAndTraced([program, "segv"])
        #expect(r.status == 128 + SIGSEGV)
        let crash = r.events.first { $0.kind == "backtrace" && $0["reason"]?.stringValue == "crash" }
        let frames = functions(crash)
        #expect(Array(frames.prefix(3)) == ["strlen", "measure", "main"], "\(frames)")
        #expect(verdict(r.events).contains("`measure` ← `main`"), "\(verdict(r.events))")
        #endif
    }
}
