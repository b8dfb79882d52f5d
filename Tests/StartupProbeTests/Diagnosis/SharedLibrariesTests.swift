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

/// The dynamic loader's failure, explained by resolving DT_NEEDED entries ourselves.
@Suite(.serialized) struct SharedLibrariesTests {
    /// prog needs libouter.so.1 (found through RUNPATH), which needs libinner.so.2 (missing);
    /// prog also needs libdirect.so.1 (missing).
    func build() throws -> String {
        let dir = Binaries.freshDirectory("libs")
        try writeFile(dir + "/inner.c", "int inner(void) { return 1; }\n", mode: 0o644)
        try writeFile(dir + "/outer.c", "int inner(void);\nint outer(void) { return inner(); }\n", mode: 0o644)
        try writeFile(dir + "/direct.c", "int direct(void) { return 2; }\n", mode: 0o644)
        try writeFile(
            dir + "/prog.c",
            "int outer(void); int direct(void);\nint main(void) { return outer() + direct(); }\n",
            mode: 0o644
        )
        let script = """
            set -e
            cd \(dir)
            cc -shared -fPIC -o libinner.so.2 inner.c -Wl,-soname,libinner.so.2 && ln -s libinner.so.2 libinner.so
            cc -shared -fPIC -o libouter.so.1 outer.c -Wl,-soname,libouter.so.1 -L. -linner && ln -s libouter.so.1 libouter.so
            cc -shared -fPIC -o libdirect.so.1 direct.c -Wl,-soname,libdirect.so.1 && ln -s libdirect.so.1 libdirect.so
            mkdir runpath && cp libouter.so.1 runpath/
            cc -o prog prog.c -L. -louter -ldirect -Wl,-rpath-link,. -Wl,--enable-new-dtags,-rpath,'$ORIGIN/runpath'
            rm libinner.so.2 libdirect.so.1 libouter.so.1
            """
        let r = try run(["/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        return dir
    }

    @Test func everyMissingLibraryIsNamedWithWhoNeedsIt() throws {
        let dir = try build()
        let missing = SharedLibraries.missing(program: dir + "/prog", libraryPath: nil)
        #expect(missing.contains(SharedLibraries.Missing(name: "libdirect.so.1", neededBy: dir + "/prog")))
        #expect(
            missing.contains(SharedLibraries.Missing(name: "libinner.so.2", neededBy: dir + "/runpath/libouter.so.1"))
        )
        #expect(!missing.contains { $0.name == "libouter.so.1" || $0.name == "libc.so.6" })
    }

    @Test func loaderFailureIsExplainedInTheVerdict() throws {
        let dir = try build()
        let trace = dir + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace, "--", dir + "/prog"])
        #expect(r.status == 127)
        #expect(r.stderr.contains("The dynamic loader could not find"))
        #expect(r.stderr.contains("libdirect.so.1"))
        #expect(r.stderr.contains("libinner.so.2 (needed by \(dir)/runpath/libouter.so.1)"))
        let events = try TraceReader.read(path: trace).events
        #expect(events.first { $0.kind == "missing_libraries" }?["libraries"]?.arrayValue?.count == 2)
    }

    @Test func cacheHoldsTheCLibrary() {
        let cache = LoaderCache.names()
        #expect(cache["libc.so.6"].map { $0.hasSuffix("/libc.so.6") } == true)
    }
}
