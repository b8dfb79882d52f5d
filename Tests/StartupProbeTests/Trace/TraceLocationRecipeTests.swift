import Foundation
import ProbeCore
import ProbeTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What each recipe of `docs/trace-location.md` relies on, reproduced with the kernel features a
/// container runtime uses (there is no Docker engine or Kubernetes here): probe-exec as PID 1 of a PID
/// namespace (`unshare -p -f --mount-proc`), a volume as a bind mount, an `emptyDir` as a tmpfs that
/// outlives three "containers", a read-only root file system as `/` remounted read-only in a mount
/// namespace. Skipped where unshare or mount are not permitted.
@Suite(.serialized) struct TraceLocationRecipeTests {
    /// Whether this process may make mount and PID namespaces, mount a tmpfs and remount `/` read-only in
    /// its own mount namespace (root, no seccomp profile in the way).
    static let canIsolate: Bool =
        (try? run([
            "/usr/bin/unshare", "-m", "-p", "-f", "--mount-proc", "--", "/bin/sh", "-c",
            "test $$ -eq 1 && mount -t tmpfs none /mnt && umount /mnt && mount -o remount,bind,ro /",
        ]).status) == 0

    /// Runs `script` with `/bin/sh` in new mount and PID namespaces (a container: `$$` is 1 there).
    static func inContainer(_ script: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(["/usr/bin/unshare", "-m", "-p", "-f", "--mount-proc", "--", "/bin/sh", "-c", script])
    }

    /// The `start` event of the trace at `path`.
    static func start(_ path: String) throws -> TraceEvent.Start {
        let document = try TraceReader.read(path: path)
        return try #require(document.first { if case .start(let e) = $0 { e } else { nil } })
    }

    /// Every recipe of `docs/trace-location.md` says which test checks it and that it was not run on Docker
    /// or Kubernetes, and every test the page names exists; its YAML parses.
    @Test func recipesNameTheTestsThatCheckThem() throws {
        let text = try #require(readFile(ExamplesTests.root + "/docs/trace-location.md"))
        let recipes = text.components(separatedBy: "\n## ").dropFirst().filter { !$0.hasPrefix("When ") }
        #expect(recipes.count == 3, "Docker, Kubernetes, read-only root")
        for recipe in recipes {
            let title = recipe.prefix { $0 != "\n" }
            let prose = recipe.replacingOccurrences(of: "\n", with: " ")
            #expect(prose.contains("**Checked by test `"), "\(title)")
            #expect(prose.contains("not run on Docker") || prose.contains("not run on Kubernetes"), "\(title)")
        }
        let sources = try listDirectory(ExamplesTests.root + "/Tests/StartupProbeTests/Trace").map {
            readFile(ExamplesTests.root + "/Tests/StartupProbeTests/Trace/" + $0) ?? ""
        }
        let named = text.components(separatedBy: "`").filter {
            ($0.hasPrefix("TraceLocationRecipeTests.") || $0.hasPrefix("HistoryTests.")) && !$0.contains(" ")
        }
        #expect(named.count >= 5, "\(named)")
        for name in named {
            let function = "func " + name.split(separator: ".")[1] + "("
            #expect(sources.contains { $0.contains(function) }, "\(name) is not a test")
        }
        let yaml = text.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(yaml.count == 1)
        if ExamplesTests.hasPyYAML, let block = yaml.first {
            let file = Binaries.freshDirectory("recipe-yaml") + "/pod.yaml"
            try writeFile(file, block, mode: 0o644)
            let parsed = try run([
                "/usr/bin/env", "python3", "-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))", file,
            ])
            #expect(parsed.status == 0, "\(parsed.stderr)")
        }
    }

    /// Docker recipe: a named volume at `PROBE_EXEC_TRACE_DIR`. What it relies on: probe-exec as PID 1 of
    /// the container writes the trace into a directory mounted from outside, the trace is there once the
    /// container is gone, and another container with the same volume reads it (`docker run --rm -v …
    /// probe-exec show`).
    @Test(.enabled(if: canIsolate, "needs unshare -m -p and mount (root)"))
    func volumeKeepsTheTraceOfPIDOneAfterTheContainerIsGone() throws {
        let volume = Binaries.freshDirectory("volume")
        let mountPoint = Binaries.freshDirectory("var-lib-probe-exec")
        let container = try Self.inContainer(
            """
            mount --bind \(volume) \(mountPoint) || exit 99
            PROBE_EXEC_TRACE_DIR=\(mountPoint) exec \(Binaries.probeExec) /bin/sh -c 'echo "pid $$"; exit 3'
            """
        )
        #expect(container.status == 3, "\(container.stderr)")
        let programPID = container.stdout.hasPrefix("pid ") ? Int(container.stdout.dropFirst(4).dropLast()) : nil
        #expect((programPID ?? 0) > 1, "probe-exec is PID 1, the program another: \(container.stdout)")
        // Named after probe-exec's pid: 1.
        #expect(container.stderr.contains(" Trace: \(mountPoint)/sh-1-"), "\(container.stderr)")
        // The container is gone; the volume holds the trace of PID 1.
        let start = try Self.start(volume + "/latest")
        #expect(start.pid == 1)
        #expect(start.options?.pid1 == true)
        let reader = try Self.inContainer(
            """
            mount --bind \(volume) \(mountPoint) || exit 99
            PROBE_EXEC_TRACE_DIR=\(mountPoint) \(Binaries.probeExec) show
            """
        )
        #expect(reader.status == 0, "\(reader.stderr)")
        #expect(reader.stdout.contains("VERDICT (exit_code): `/bin/sh` exited with code 3"), "\(reader.stdout)")
    }

    /// Kubernetes recipe: an `emptyDir` volume at `PROBE_EXEC_TRACE_DIR`, which lives as long as the pod,
    /// across restarts of its container (`readOnlyRootFilesystem: true`). What it relies on: three containers
    /// started one after the other (each its own mount and PID namespace, `/` read-only, probe-exec PID 1)
    /// write into one tmpfs that outlives them, and `kubectl exec … probe-exec show --history` there says
    /// what changed across the crash loop.
    @Test(.enabled(if: canIsolate, "needs unshare -m -p and mount (root)"))
    func emptyDirKeepsACrashLoopAcrossRestarts() throws {
        let pod = Binaries.freshDirectory("pod")
        let emptyDir = Binaries.freshDirectory("empty-dir")
        let app = try HistoryTests.crashLoopProgram(in: pod, state: emptyDir)
        let restart = """
            /usr/bin/unshare -m -p -f --mount-proc -- /bin/sh -c \
            'mount -o remount,bind,ro / && exec \(Binaries.probeExec) -q /bin/sh \(app) >/dev/null'
            echo "=== status $?" >&2
            """
        let r = try run(
            [
                "/usr/bin/unshare", "-m", "--", "/bin/sh", "-c",
                """
                mount -t tmpfs -o size=1m emptydir \(emptyDir) || exit 99
                export PROBE_EXEC_TRACE_DIR=\(emptyDir)/traces
                \(restart)
                \(restart)
                \(restart)
                \(Binaries.probeExec) show --history
                grep -h -o '"event":"start"[^{]*"pid":[0-9]*' \(emptyDir)/traces/*.ndjson | sed 's/.*"pid":/=== pid /' >&2
                """,
            ]
        )
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("=== ") }
        #expect(
            lines == ["=== status 3", "=== status 139", "=== status 3", "=== pid 1", "=== pid 1", "=== pid 1"],
            "\(r.stderr)"
        )
        HistoryTests.expectCrashLoopHistory(r.stdout)
    }

    /// Read-only root file system (Docker `--read-only`, Kubernetes `readOnlyRootFilesystem`). What it
    /// relies on: with `/` read-only the default directory cannot be made (one line naming EROFS, the
    /// program runs with its status, the paragraph says no trace was kept); with a tmpfs mounted where the
    /// traces go (`--tmpfs /tmp`, an `emptyDir`) the trace is kept there and `show` reads it.
    @Test(.enabled(if: canIsolate, "needs unshare -m -p and mount (root)"))
    func readOnlyRootKeepsTracesOnATmpfs() throws {
        let tmp = Binaries.freshDirectory("read-only-root-tmp")
        let defaultDirectory = "\(tmp)/probe-exec-\(getuid())"
        let run = "TMPDIR=\(tmp) \(Binaries.probeExec) /bin/sh -c 'echo out; exit 3'; echo \"=== status $?\" >&2"
        let r = try Self.inContainer(
            """
            mount -o remount,bind,ro / || exit 99
            touch \(tmp)/probe 2>/dev/null && exit 98
            \(run)
            mount -t tmpfs -o size=1m,mode=1777 tmp \(tmp) || exit 97
            \(run)
            TMPDIR=\(tmp) \(Binaries.probeExec) show | grep VERDICT
            """
        )
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.prefix(2) == ["out", "out"], "the program runs both times: \(r.stdout)")
        #expect(lines.dropFirst(2).first?.hasPrefix("VERDICT (exit_code): `/bin/sh` exited with code 3") == true)
        let parts = r.stderr.components(separatedBy: "=== status 3\n")
        #expect(parts.count == 3, "\(r.stderr)")
        guard parts.count == 3 else { return }
        expectNoTraceKept(
            parts[0],
            directory: defaultDirectory,
            error: "Read-only file system (EROFS)",
            paragraph: "`/bin/sh` exited with code 3"
        )
        #expect(!parts[1].contains("probe-exec: cannot"), "\(parts[1])")
        #expect(parts[1].contains(" Trace: \(defaultDirectory)/sh-"), "kept on the tmpfs: \(parts[1])")
    }
}
