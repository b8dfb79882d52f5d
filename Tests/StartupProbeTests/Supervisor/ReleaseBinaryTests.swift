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

/// The release binary (`scripts/build-release.sh`, also `make release`) in a root file system
/// with no C library, no Swift runtime and no libunwind: only it and a static program, as in a
/// `FROM scratch` image. It must start, wrap the program, keep its status and write a trace with
/// a symbolised backtrace (libunwind is linked in).
@Suite(.serialized) struct ReleaseBinaryTests {
    /// Mounting in a namespace of its own (root), as the file-system fault tests need too.
    static var canChroot: Bool { FileSystemFaultTests.canMount }

    /// A root holding only /probe-exec, /bin/tracee (static), /tmp and an empty /proc.
    static func makeRoot() throws -> String {
        let root = Binaries.freshDirectory("release-root")
        for dir in ["bin", "tmp", "proc"] { mkdir(root + "/" + dir, 0o755) }
        #expect(try run(["/bin/cp", Binaries.releaseBinary, root + "/probe-exec"]).status == 0)
        #expect(try run(["/bin/cp", Binaries.tracee(["-static"]), root + "/bin/tracee"]).status == 0)
        return root
    }

    /// Shipped stripped, at most 16 MiB, with its debug information in a separate file that the
    /// binary names (.gnu_debuglink) and that carries the same build-id: gdb finds it there.
    @Test func isShippedStrippedWithItsDebugInformationBeside() throws {
        let binary = Binaries.releaseBinary
        var info = stat()
        #expect(stat(binary, &info) == 0)
        #expect(info.st_size <= 16 << 20, "\(info.st_size) bytes")
        let sections = try run(["/usr/bin/readelf", "-SW", binary]).stdout
        #expect(!sections.contains(".symtab") && !sections.contains(".debug_info"), "stripped")
        let link = try run(["/usr/bin/readelf", "-p", ".gnu_debuglink", binary]).stdout
        #expect(link.contains("probe-exec.debug"), "\(link)")
        let debug = binary + ".debug"
        let debugSections = try run(["/usr/bin/readelf", "-SW", debug]).stdout
        #expect(debugSections.contains(".symtab") && debugSections.contains(".debug_info"))
        func buildID(_ path: String) throws -> String? {
            try run(["/usr/bin/readelf", "-n", path]).stdout.split(separator: "\n")
                .first { $0.contains("Build ID:") }.map { String($0.split(separator: " ").last ?? "") }
        }
        let id = try buildID(binary)
        let debugID = try buildID(debug)
        #expect(id != nil && id == debugID)
        if access("/usr/bin/gdb", X_OK) == 0 {
            // gdb follows the link to the debug file and names probe-exec's own functions.
            let gdb = try run(["/usr/bin/gdb", "-batch", "-nx", "-ex", "info address probe_exec_main", binary])
            #expect(
                gdb.stdout.contains("Symbol \"probe_exec_main\" is a function at address"),
                "\(gdb.stdout)\(gdb.stderr)"
            )
        }
    }

    @Test func isFullyStatic() throws {
        let ldd = try run(["/usr/bin/ldd", Binaries.releaseBinary])
        #expect(ldd.stdout.contains("not a dynamic executable") || ldd.stderr.contains("not a dynamic executable"))
    }

    @Test(.enabled(if: canChroot, "needs unshare -m, mount and chroot (root)"))
    func runsInARootWithNothingElse() throws {
        let root = try Self.makeRoot()
        let found = try run([
            "/usr/bin/find", root, "-name", "libc.so*", "-o", "-name", "libunwind*", "-o", "-name", "*swift*",
        ])
        #expect(found.stdout.isEmpty, "the root holds no C library, libunwind or Swift runtime")
        let script = """
            mount -t proc proc \(root)/proc || exit 99
            exec /usr/sbin/chroot \(root) /probe-exec -o /tmp/t.ndjson -- /bin/tracee segv3
            """
        let r = try run(["/usr/bin/unshare", "-m", "-p", "-f", "--mount-proc", "--", "/bin/sh", "-c", script])
        #expect(r.status == 128 + SIGSEGV, "\(r.stderr)")
        #expect(r.stderr.contains("probe-exec: `/bin/tracee` was killed by SIGSEGV"), "\(r.stderr)")
        #expect(
            r.stderr.contains("in `level3` ← `level2` ← `level1` ← `main` (tracee.c:20)"),
            "backtrace named in the root"
        )
        let trace = try TraceReader.read(path: root + "/tmp/t.ndjson")
        #expect(trace.events.contains { $0.kind == "exec" && $0["ok"]?.boolValue == true })
        #expect(trace.events.contains { $0.kind == "milestone" && $0["name"]?.stringValue == "main" })
        let shown = try run([Binaries.probeExec, "show", root + "/tmp/t.ndjson"]).stdout
        for frame in ["level3", "level2", "level1", "main"] {
            #expect(shown.contains(" \(frame)+"), "frame \(frame) in \(shown)")
        }
    }

    /// Without /proc inside the root (a bare `chroot`): it still runs and keeps the status.
    @Test(.enabled(if: canChroot, "needs chroot (root)"))
    func runsInARootWithoutProc() throws {
        let root = try Self.makeRoot()
        let r = try run([
            "/usr/sbin/chroot", root, "/probe-exec", "-o", "/tmp/t.ndjson", "--", "/bin/tracee", "return", "3",
        ])
        #expect(r.status == 3, "\(r.stderr)")
        let trace = try TraceReader.read(path: root + "/tmp/t.ndjson")
        #expect(trace.events.contains { $0.kind == "exit" && $0["code"]?.intValue == 3 })
    }

    /// Without /proc, probe-exec gives its own static Swift runtime a root (SWIFT_ROOT=/): that
    /// variable is probe-exec's, not the program's. The program gets the arguments and environment
    /// it gets bare (the hand-over variables aside), byte for byte, traced and not; the trace's
    /// variable names are the inherited ones (helper-27: SWIFT_ROOT reached the program 30 of 30).
    @Test(.enabled(if: canChroot, "needs chroot (root)"))
    func theProgramGetsItsOwnEnvironmentWithoutProc() throws {
        let root = try Self.makeRoot()
        let built = try run(
            [
                "/usr/bin/env", "cc", "-O1", "-static", "-o", root + "/bin/difftool",
                Binaries.testsDirectory + "/Fixtures/difftool.c",
            ]
        )
        #expect(built.status == 0, "\(built.stderr)")
        let environment = ["PATH": "/bin", "KEPT": "a\u{7F}b", "EMPTY": ""]
        func got(_ wrapper: [String]) throws -> [Substring] {
            let r = try run(
                ["/usr/sbin/chroot", root] + wrapper + ["/bin/difftool", "inspect", "\u{1}x", ""],
                environment: environment
            )
            #expect(r.status == 0, "\(wrapper): \(r.stderr)")
            return r.stdout.split(separator: "\n").filter { $0.hasPrefix("argv[") || $0.hasPrefix("env: ") }
        }
        let bare = try got([])
        #expect(bare.contains("env: KEPT=a\u{7F}b") && !bare.contains { $0.hasPrefix("env: SWIFT_ROOT=") })
        let bareNames = Set(bare.filter { $0.hasPrefix("env: ") }.map { String($0.dropFirst(5).prefix { $0 != "=" }) })
        for mode in [[], ["--no-ptrace"]] {
            #expect(try got(["/probe-exec", "-q", "-o", "/tmp/env.ndjson"] + mode + ["--"]) == bare, "\(mode)")
            let trace = try TraceReader.read(path: root + "/tmp/env.ndjson")
            let names = trace.events.first { $0.kind == "start" }?["env_names"]?.arrayValue?.compactMap(\.stringValue)
            #expect(names.map { Set($0) } == bareNames, "\(mode): \(names ?? [])")
        }
    }
}
