import ProbeTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Tracing never changes the program: a program whose privilege or sanitizer runtime ptrace would
/// change runs untraced (the trace says why), and a program someone else already traces is left
/// to that tracer with an accurate reason.
@Suite(.serialized) struct TracingPolicyTests {
    static let leakSource =
        "#include <stdlib.h>\n#include <stdio.h>\nint main(void) { void *p = malloc(1234); p = 0; printf(\"done\\n\"); return 0; }\n"

    /// An ASan program that leaks, built with gcc (libasan), or nil where it cannot be built.
    static let leaking: String? = {
        let dir = Binaries.freshDirectory("sanitizer")
        let source = dir + "/leak.c"
        let written = try? run(["/bin/sh", "-c", "printf '%s' \"$0\" > \(source)", leakSource])
        guard written?.status == 0 else { return nil }
        let output = dir + "/leak"
        let built = try? run(["/usr/bin/env", "gcc", "-fsanitize=address", "-g", "-o", output, source])
        return built?.status == 0 ? output : nil
    }()

    static var canBuildSanitized: Bool { leaking != nil }

    @Test(.enabled(if: canBuildSanitized, "needs gcc with libasan"))
    func sanitizedProgramRunsUntracedAndReportsItself() throws {
        let program = try #require(Self.leaking)
        let trace = Binaries.freshDirectory("sanitizer-run") + "/t.ndjson"
        let bare = try run([program])
        let wrapped = try run([Binaries.probeExec, "-q", "-o", trace, "--", program])
        #expect(bare.stderr.contains("LeakSanitizer: detected memory leaks"))
        #expect(wrapped.stderr.contains("LeakSanitizer: detected memory leaks"), "\(wrapped.stderr)")
        #expect(!wrapped.stderr.contains("does not work under ptrace"))
        #expect(wrapped.status == bare.status)
        let tracing = try TraceReader.read(path: trace).first { if case .tracing(let e) = $0 { e } else { nil } }
        #expect(tracing?.state == "off")
        #expect(tracing?.reason?.contains("sanitizer") == true, "\(String(describing: tracing?.reason))")
    }

    /// clang links its sanitizer runtime statically: `__asan_init` is defined in the executable
    /// (found through .gnu.hash, not a scan of the dynamic string table).
    @Test(.enabled(if: access("/opt/swift/usr/bin/clang", X_OK) == 0, "needs the toolchain's clang"))
    func clangStaticSanitizerRuntimeIsRecognised() throws {
        try expectLeakReportedUntraced(
            building: ["/opt/swift/usr/bin/clang", "-fsanitize=address"],
            in: "clang-asan",
            reason: "__asan_init"
        )
    }

    /// gcc's -static-libasan: the runtime's own functions are in .symtab only; the program
    /// is known by the hooks the runtime looks up in it (undefined in .dynsym). Before:
    /// "LeakSanitizer does not work under ptrace" instead of its report.
    @Test(.enabled(if: canBuildSanitized, "needs gcc with libasan"))
    func gccStaticSanitizerRuntimeIsRecognised() throws {
        try expectLeakReportedUntraced(
            building: ["/usr/bin/env", "gcc", "-fsanitize=address", "-static-libasan"],
            in: "gcc-static-asan",
            reason: "__lsan_is_turned_off"
        )
    }

    /// Builds the leaking program with `compiler`, runs it bare and under probe-exec: the same
    /// LeakSanitizer report and status, tracing off for a reason that names `reason`.
    func expectLeakReportedUntraced(building compiler: [String], in name: String, reason: String) throws {
        let dir = Binaries.freshDirectory(name)
        let source = dir + "/leak.c"
        _ = try run(["/bin/sh", "-c", "printf '%s' \"$0\" > \(source)", Self.leakSource])
        let built = try run(compiler + ["-o", dir + "/leak", source])
        try #require(built.status == 0, "\(built.stderr)")
        let trace = dir + "/t.ndjson"
        let bare = try run([dir + "/leak"])
        let wrapped = try run([Binaries.probeExec, "-q", "-o", trace, "--", dir + "/leak"])
        #expect(bare.stderr.contains("LeakSanitizer: detected memory leaks"))
        #expect(wrapped.stderr.contains("LeakSanitizer: detected memory leaks"), "\(wrapped.stderr)")
        #expect(wrapped.status == bare.status)
        let tracing = try TraceReader.read(path: trace).first { if case .tracing(let e) = $0 { e } else { nil } }
        #expect(tracing?.state == "off")
        #expect(tracing?.reason?.contains(reason) == true, "\(String(describing: tracing?.reason))")
    }

    static var canDropPrivileges: Bool {
        getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0 && access("/usr/bin/id", X_OK) == 0
    }

    @Test(.enabled(if: canDropPrivileges, "needs root, setpriv and id"))
    func setuidProgramKeepsItsPrivilegeWhenProbeExecIsNotRoot() throws {
        // A setuid-root copy of `id`, run by uid 65534: bare it prints 0 (its effective uid).
        let dir = "/tmp/startupprobe-setuid-\(getpid())"
        let prepared = try run([
            "/bin/sh", "-c",
            "mkdir -p \(dir)/traces && chmod 755 \(dir) && chmod 777 \(dir)/traces && cp /usr/bin/id \(dir)/id && chown root:root \(dir)/id && chmod 4755 \(dir)/id",
        ])
        #expect(prepared.status == 0)
        defer { _ = try? run(["/bin/rm", "-rf", dir]) }
        let drop = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]
        let bare = try run(drop + ["\(dir)/id", "-u"])
        // probe-exec must be readable and runnable by uid 65534: copy it next to the program.
        _ = try run(["/bin/sh", "-c", "cp \(Binaries.probeExec) \(dir)/probe-exec && chmod 755 \(dir)/probe-exec"])
        let wrapped = try run(
            drop + ["\(dir)/probe-exec", "-q", "-o", "\(dir)/traces/t.ndjson", "--", "\(dir)/id", "-u"],
            environment: ["PROBE_EXEC_TRACE_DIR": "\(dir)/traces"]
        )
        #expect(bare.stdout == "0\n")
        #expect(wrapped.stdout == bare.stdout, "\(wrapped.stdout) \(wrapped.stderr)")
        let tracing = try TraceReader.read(path: "\(dir)/traces/t.ndjson")
            .first { if case .tracing(let e) = $0 { e } else { nil } }
        #expect(tracing?.state == "off")
        #expect(tracing?.reason?.contains("setuid") == true, "\(String(describing: tracing?.reason))")
    }

    static var hasStrace: Bool { access("/usr/bin/strace", X_OK) == 0 }

    @Test(.enabled(if: hasStrace, "needs strace"))
    func programAlreadyTracedIsSaidSo() throws {
        let trace = Binaries.freshDirectory("already-traced") + "/t.ndjson"
        let r = try run([
            "/usr/bin/strace", "-f", "-o", "/dev/null", Binaries.probeExec, "-o", trace, "--", "/bin/true",
        ])
        #expect(r.status == 0)
        #expect(r.stderr.contains("already traced by pid"), "\(r.stderr)")
        #expect(r.stderr.contains("`strace`"), "\(r.stderr)")
    }
}
