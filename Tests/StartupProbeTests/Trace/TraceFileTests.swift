import Foundation
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

/// The trace file: where it goes, how it is created, what it holds, and that it fails open.
@Suite(.serialized) struct TraceFileTests {
    func events(_ path: String) throws -> [TraceRecord] {
        let document = try TraceReader.read(path: path)
        return document.events
    }

    @Test func traceIsCreated0600WithLatestLinkAndEveryEvent() throws {
        let dir = Binaries.freshDirectory("trace")
        let result = try run(
            [Binaries.probeExec, "--", Binaries.fixture, "segv"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir]
        )
        #expect(result.status == 139)
        var info = stat()
        #expect(lstat(dir + "/latest", &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK)
        #expect(stat(dir + "/latest", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let kinds = try events(dir + "/latest").map(\.kind)
        #expect(kinds.first == "start")
        #expect(kinds.contains("exec"))
        #expect(kinds.contains("exit"))
        #expect(kinds.last == "verdict")
        let verdict = try events(dir + "/latest").last!
        #expect(verdict["category"]?.stringValue == "crash")
        #expect(verdict["status"]?.intValue == 139)
        #expect(result.stderr.contains("Trace: \(dir)/"))
    }

    @Test func signalEventsNameTheSender() throws {
        let dir = Binaries.freshDirectory("sender")
        let child = try ChildProcess(
            [Binaries.probeExec, "--", Binaries.fixture, "trapterm"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir]
        )
        #expect(child.readLine() == "ready")
        child.signal(SIGTERM)
        #expect(try child.wait() == 42)
        let signal = try #require(try events(dir + "/latest").first { $0.kind == "signal" })
        #expect(signal["name"]?.stringValue == "SIGTERM")
        #expect(signal["sender_pid"]?.intValue == Int(getpid()))
        #expect(signal["sender_uid"]?.intValue == Int(getuid()))
        let verdict = try #require(try events(dir + "/latest").last)
        #expect(verdict["summary"]?.stringValue?.contains("SIGTERM from pid \(getpid())") == true)
    }

    @Test func environmentValuesNeverEnterTheTrace() throws {
        let dir = Binaries.freshDirectory("env")
        let secret = "hunter2-\(UInt32.random(in: 1000...9999))-secret"
        _ = try run(
            [Binaries.probeExec, "--", "/bin/true"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir, "DB_PASSWORD": secret]
        )
        let text = try #require(readFile(dir + "/latest"))
        #expect(text.contains("\"DB_PASSWORD\""))
        #expect(!text.contains(secret))
    }

    @Test func symlinkedTraceIsRefusedAndTheProgramStillRuns() throws {
        let dir = Binaries.freshDirectory("symlink")
        try writeFile(dir + "/victim", "untouched\n", mode: 0o644)
        symlink(dir + "/victim", dir + "/trace.ndjson")
        let result = try run([Binaries.probeExec, "-o", dir + "/trace.ndjson", "--", Binaries.fixture, "exit", "7"])
        #expect(result.status == 7)
        #expect(readFile(dir + "/victim") == "untouched\n")
        #expect(result.stderr.contains("symbolic link"))
        #expect(result.stderr.components(separatedBy: "symbolic link").count == 2, "said once")
    }

    @Test func unusableTraceDirectoryFailsOpen() throws {
        let result = try run(
            [Binaries.probeExec, "--", "/bin/sh", "-c", "echo out; exit 3"],
            environment: ["PROBE_EXEC_TRACE_DIR": "/etc/hostname/traces"]
        )
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        #expect(result.stderr.contains("cannot use the trace directory"))
    }

    @Test func fullDiskFailsOpenAndWarnsOnce() throws {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let result = try run([Binaries.probeExec, "-o", "/dev/full", "--", "/bin/sh", "-c", "echo out; kill -TERM $$"])
        #expect(result.status == 128 + SIGTERM)
        #expect(result.stdout == "out\n")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("cannot write the trace") }
        #expect(warnings.count == 1)
    }

    @Test func traceParsesAfterProbeExecIsKilled() throws {
        let dir = Binaries.freshDirectory("kill9")
        let child = try ChildProcess(
            [Binaries.probeExec, "--", "/bin/sh", "-c", "echo up; exec sleep 30"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir]
        )
        #expect(child.readLine() == "up")
        let orphans = childrenOf(child.pid)
        child.signal(SIGKILL)
        #expect(try child.wait() == 128 + SIGKILL)
        // No PTRACE_O_EXITKILL and no parent-death signal asked for: the program lives on.
        usleep(100_000)
        #expect(orphans.allSatisfy { kill($0, 0) == 0 }, "the program survives probe-exec's death")
        for orphan in orphans { kill(orphan, SIGKILL) }
        let document = try TraceReader.read(path: dir + "/latest")
        #expect(document.events.map(\.kind).starts(with: ["start", "exec"]))
        #expect(document.problems.contains { $0.contains("no exit event") })
        let shown = try run([Binaries.probeExec, "show", dir])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("VERDICT: none recorded"))
        let json = try run([Binaries.probeExec, "show", dir + "/latest", "--json"])
        let parsed = try JSONParser.parse(json.stdout)
        #expect(parsed["complete"] == .bool(false))
    }
}

extension TraceFileTests {
    /// With `-p`, SIGKILL of probe-exec takes the program down too (its parent-death signal);
    /// the trace written so far still parses.
    @Test func parentDeathSignalReachesTheProgramWhenProbeExecIsKilled() throws {
        let dir = Binaries.freshDirectory("kill9-p")
        let child = try ChildProcess(
            [Binaries.probeExec, "-p", "TERM", "--", "/bin/sh", "-c", "echo up; exec sleep 30"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir]
        )
        #expect(child.readLine() == "up")
        let programs = childrenOf(child.pid)
        #expect(programs.count == 1)
        child.signal(SIGKILL)
        #expect(try child.wait() == 128 + SIGKILL)
        // Gone, or a zombie waiting for whoever adopted it: either way no longer running.
        func running(_ pid: pid_t) -> Bool {
            guard let status = readFileText("/proc/\(pid)/status") else { return false }
            return !status.contains("State:\tZ")
        }
        let deadline = now() + 5
        while now() < deadline && programs.contains(where: running) { usleep(10_000) }
        #expect(!programs.contains(where: running), "the program died with probe-exec")
        for program in programs { kill(program, SIGKILL) }
        let document = try TraceReader.read(path: dir + "/latest")
        #expect(document.events.map(\.kind).starts(with: ["start", "exec"]))
    }
}

/// probe-exec where /proc is not mounted (a bare chroot): the program still runs, with its output
/// and exit status (the Swift runtime needs /proc for its own path and CommandLine.arguments).
@Suite(.serialized) struct NoProcTests {
    static let canHideProc: Bool =
        (try? run([
            "/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", "mount -t tmpfs none /proc && test ! -e /proc/self",
        ]).status) == 0

    @Test(.enabled(if: canHideProc, "needs unshare -m and mount (root)"))
    func runsWithoutProc() throws {
        let script = "mount -t tmpfs none /proc && exec \(Binaries.probeExec) -- /bin/sh -c 'echo out; exit 3'"
        let r = try run(
            ["/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", script],
            environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("noproc")]
        )
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stdout == "out\n")
        #expect(!r.stderr.contains("main() was NOT reached"), "no milestone claims without /proc")
    }
}

/// Trace directories on real file systems that fail part-way: a tmpfs that fills up while the
/// program runs, and a read-only mount. Each runs in its own mount namespace (needs root).
@Suite(.serialized) struct FileSystemFaultTests {
    static let canMount: Bool =
        (try? run([
            "/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", "mount -t tmpfs none /mnt && umount /mnt",
        ]).status) == 0

    /// Runs `probe-exec -- /bin/sh -c program` with its trace directory on a fresh tmpfs mounted
    /// with `options`, then prints the trace as JSON (`show --json`) after the program's output.
    func runOnMount(
        _ options: String,
        program: String,
        tag: String
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let mountPoint = Binaries.freshDirectory(tag)
        let quoted = program.replacingOccurrences(of: "'", with: "'\\''")
        let script = """
            mount -t tmpfs -o \(options) none \(mountPoint) || exit 99
            PROBE_EXEC_TRACE_DIR=\(mountPoint) \(Binaries.probeExec) -- /bin/sh -c '\(quoted)'
            status=$?
            echo "=== status $status" >&2
            \(Binaries.probeExec) show --json \(mountPoint)/latest 2>/dev/null
            exit $status
            """
        return try run(["/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", script])
    }

    @Test(.enabled(if: canMount, "needs unshare -m and mount (root)"))
    func diskFillingMidRunKeepsTheProgramAndTheTraceSoFar() throws {
        // 8 KiB hold the start and exec events and a few dozen signal events; then ENOSPC.
        let program = "trap : USR1; i=0; while [ $i -lt 200 ]; do kill -USR1 $$; i=$((i+1)); done; echo done; exit 5"
        let r = try runOnMount("size=8k", program: program, tag: "tmpfs-full")
        #expect(r.status == 5, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("done\n"), "the program's output is untouched")
        let warnings = r.stderr.split(separator: "\n").filter { $0.contains("cannot write the trace") }
        #expect(warnings.count == 1, "said once: \(r.stderr)")
        #expect(warnings.first?.contains("ENOSPC") == true)
        // The verdict paragraph still reaches stderr even though the trace could not hold it.
        #expect(r.stderr.contains("exited with code 5"))
        let json = try JSONParser.parse(String(r.stdout.dropFirst("done\n".count)))
        #expect(json["complete"] == .bool(false))
        guard case .array(let events)? = json["events"] else {
            Issue.record("no events in \(r.stdout)")
            return
        }
        let kinds = events.compactMap { $0["event"]?.stringValue }
        #expect(kinds.starts(with: ["start", "exec"]), "what fitted is readable: \(kinds)")
        let signals = kinds.filter { $0 == "target_signal" }.count
        #expect(signals > 5 && signals < 200, "some signals fitted, not all: \(signals)")
    }

    @Test(.enabled(if: canMount, "needs unshare -m and mount (root)"))
    func readOnlyTraceDirectoryFailsOpen() throws {
        let r = try runOnMount("ro", program: "echo out; exit 4", tag: "tmpfs-ro")
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stdout == "out\n", "nothing to show: no trace was written")
        #expect(r.stderr.contains("cannot create the trace"))
        #expect(r.stderr.contains("Read-only file system (EROFS)"), "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: "cannot create the trace").count == 2, "said once")
    }
}

/// probe-exec run by an unprivileged user: tracing still works (a process may trace its own
/// child), the trace is private to that user, and another unprivileged user cannot read it.
@Suite(.serialized) struct NonRootTests {
    static let canSwitchUser = getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0

    static func asUser(_ uid: Int, _ argv: [String]) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] + argv
    }

    @Test(.enabled(if: canSwitchUser, "needs root to switch users with setpriv"))
    func tracesArePrivateToTheirUser() throws {
        // A sticky world-writable parent, like /tmp (the test scratch directory is root's own,
        // 0700); the trace directory inside it is made by the user.
        var template = Array("/tmp/startupprobe-nonroot-XXXXXX".utf8CString)
        let parent = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { _ = try? run(["/bin/rm", "-rf", parent]) }
        chmod(parent, 0o1777)
        let dir = parent + "/traces"
        let result = try run(
            Self.asUser(65534, [Binaries.probeExec, "--", "/bin/sh", "-c", "echo hi; exit 3"]),
            environment: ["PROBE_EXEC_TRACE_DIR": dir]
        )
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stdout == "hi\n")
        #expect(result.stderr.contains("main() was reached"), "ptrace works unprivileged: \(result.stderr)")
        var info = stat()
        #expect(stat(dir, &info) == 0 && info.st_uid == 65534 && info.st_mode & 0o777 == 0o700)
        #expect(stat(dir + "/latest", &info) == 0 && info.st_uid == 65534 && info.st_mode & 0o777 == 0o600)
        // Its owner can read it; another unprivileged user can neither show it nor open it.
        let own = try run(Self.asUser(65534, [Binaries.probeExec, "show", dir + "/latest"]))
        #expect(own.status == 0 && own.stdout.contains("exited with code 3"), "\(own.stdout)\(own.stderr)")
        let other = try run(Self.asUser(65533, [Binaries.probeExec, "show", dir + "/latest"]))
        #expect(other.status != 0)
        #expect(other.stderr.contains("Permission denied (EACCES)"), "\(other.stderr)")
        let cat = try run(Self.asUser(65533, ["/bin/cat", dir + "/latest"]))
        #expect(cat.status != 0 && cat.stdout.isEmpty)
    }
}
