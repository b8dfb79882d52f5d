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
        let lines = result.stderr.split(separator: "\n")
        let warnings = lines.filter { $0.hasPrefix("probe-exec: cannot") }
        #expect(warnings.count == 1, "said once: \(result.stderr)")
        #expect(warnings.first?.contains("it is a symbolic link, which probe-exec refuses to follow") == true)
        let story = lines.first { $0.contains("exited with code 7") }
        let reason = "\(dir)/trace.ndjson is a symbolic link, which probe-exec refuses to follow"
        #expect(story?.hasSuffix(" No trace was kept: \(reason).") == true, "\(result.stderr)")
    }

    @Test func unusableTraceDirectoryFailsOpen() throws {
        let result = try run(
            [Binaries.probeExec, "--", "/bin/sh", "-c", "echo out; exit 3"],
            environment: ["PROBE_EXEC_TRACE_DIR": "/etc/hostname/traces"]
        )
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        expectNoTraceKept(
            result.stderr,
            directory: "/etc/hostname/traces",
            error: "Not a directory (ENOTDIR)",
            paragraph: "`/bin/sh` exited with code 3"
        )
    }

    /// A configured trace directory that is a symbolic link to a directory (`/var/log/probe` → a volume)
    /// is used; one whose target does not exist is named ENOENT (before: both ENOTDIR).
    @Test func traceDirectoryThatIsALinkIsFollowed() throws {
        let dir = Binaries.freshDirectory("dir-link")
        mkdir(dir + "/volume", 0o700)
        symlink(dir + "/volume", dir + "/traces")
        let used = try run(
            [Binaries.probeExec, "--", "/bin/sh", "-c", "exit 3"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir + "/traces"]
        )
        #expect(used.status == 3)
        #expect(!used.stderr.contains("cannot use the trace directory"), "\(used.stderr)")
        #expect(readFile(dir + "/volume/latest") != nil, "the trace is in the volume")
        symlink(dir + "/nowhere/x", dir + "/dangling")
        let dangling = try run(
            [Binaries.probeExec, "--", "/bin/sh", "-c", "exit 3"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir + "/dangling"]
        )
        #expect(dangling.status == 3)
        expectNoTraceKept(
            dangling.stderr,
            directory: dir + "/dangling",
            error: "No such file or directory (ENOENT)",
            paragraph: "`/bin/sh` exited with code 3"
        )
    }

    /// A trace directory below a dangling symbolic link: mkdir really fails with ENOENT (the link's target
    /// has no parent), and that is what is named.
    @Test func missingParentBehindALinkIsNamedENOENT() throws {
        let dir = Binaries.freshDirectory("dangling")
        symlink(dir + "/gone/deeper", dir + "/link")
        let result = try run(
            [Binaries.probeExec, "--", "/bin/sh", "-c", "echo out; exit 3"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir + "/link/traces"]
        )
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        expectNoTraceKept(
            result.stderr,
            directory: dir + "/link/traces",
            error: "No such file or directory (ENOENT)",
            paragraph: "`/bin/sh` exited with code 3"
        )
    }

    @Test func fullDiskFailsOpenAndWarnsOnce() throws {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let result = try run([Binaries.probeExec, "-o", "/dev/full", "--", "/bin/sh", "-c", "echo out; kill -TERM $$"])
        #expect(result.status == 128 + SIGTERM)
        #expect(result.stdout == "out\n")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("cannot write the trace") }
        #expect(warnings.count == 1)
        // A file probe-exec did not create (here a device) is never removed, though nothing reached it.
        var info = stat()
        #expect(lstat("/dev/full", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR, "/dev/full is still there")
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
        // (Traced, probe-exec may also have its breakpoint guardian as a child until main(): named
        // probe-guardian, or still probe-exec in the instant after its fork.)
        let programs = childrenOf(child.pid).filter {
            !["probe-guardian\n", "probe-exec\n"].contains(readFileText("/proc/\($0)/comm"))
        }
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

/// Checks what probe-exec says when the trace directory `directory` cannot be used: exactly one line naming
/// `error` (the C library's text and the errno's name, as `Read-only file system (EROFS)`) and no other
/// errno, and a paragraph (beginning with `paragraph`) that ends saying no trace was kept and why, with no
/// `Trace:` path.
func expectNoTraceKept(
    _ stderr: String,
    directory: String,
    error: String,
    paragraph: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let lines = stderr.split(separator: "\n").map(String.init)
    let warnings = lines.filter { $0.hasPrefix("probe-exec: cannot") }
    #expect(
        warnings == [
            "probe-exec: cannot use the trace directory \(directory): \(error); the program runs, but nothing is recorded"
        ],
        "one accurate line: \(stderr)",
        sourceLocation: sourceLocation
    )
    let name = String(error[error.index(after: error.lastIndex(of: "(")!)...].dropLast())
    let message = String(error[..<error.lastIndex(of: "(")!].dropLast())
    let story = lines.first { $0.hasPrefix("probe-exec: " + paragraph) }
    #expect(
        story?.hasSuffix(" No trace was kept: cannot use the trace directory \(directory) (\(message), \(name)).")
            == true,
        "\(stderr)",
        sourceLocation: sourceLocation
    )
    #expect(!stderr.contains("Trace: "), "no path to a trace that does not exist", sourceLocation: sourceLocation)
    for other in ["ENOENT", "EROFS", "EACCES", "ENOSPC", "ENOTDIR"] where other != name {
        #expect(!stderr.contains(other), "only \(name) is named: \(stderr)", sourceLocation: sourceLocation)
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
    /// - Parameters:
    ///   - below: the trace directory's path under the mount point (`/a/b`: directories to create).
    ///   - fill: shell commands run on the mount (`$MNT`) before probe-exec, as `head -c 8192 /dev/zero >$MNT/f`.
    ///   - options: probe-exec's own options, before `--`.
    func runOnMount(
        _ mountOptions: String,
        program: String,
        tag: String,
        below: String = "",
        fill: String = ":",
        options: [String] = []
    ) throws -> (status: Int32, stdout: String, stderr: String, directory: String) {
        let mountPoint = Binaries.freshDirectory(tag)
        let quoted = program.replacingOccurrences(of: "'", with: "'\\''")
        let script = """
            MNT=\(mountPoint)
            mount -t tmpfs -o \(mountOptions) none $MNT || exit 99
            \(fill)
            PROBE_EXEC_TRACE_DIR=$MNT\(below) \(Binaries.probeExec) \(options.joined(separator: " ")) -- /bin/sh -c '\(quoted)'
            status=$?
            echo "=== status $status" >&2
            \(Binaries.probeExec) show --json $MNT\(below)/latest 2>/dev/null
            ls -A $MNT\(below) 2>/dev/null | sed 's/^/=== file /' >&2
            exit $status
            """
        let r = try run(["/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", script])
        return (r.status, r.stdout, r.stderr, mountPoint + below)
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

/// Each way a trace directory cannot be used names mkdir's, open's or write's own errno, once, and the
/// paragraph (and the termination message, its copy) says no trace was kept instead of giving a path.
extension FileSystemFaultTests {
    /// The trace directory's parent exists on a read-only file system: mkdir fails with EROFS (the
    /// lstat after it would say ENOENT, the name an earlier version printed).
    @Test(.enabled(if: canMount, "needs unshare -m and mount (root)"))
    func readOnlyParentIsNamedEROFS() throws {
        let log = Binaries.freshDirectory("termlog-ro") + "/termination-log"
        let r = try runOnMount(
            "ro",
            program: "echo out; exit 4",
            tag: "ro-child",
            below: "/traces",
            options: ["--termination-log", log]
        )
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stdout == "out\n")
        let error = "Read-only file system (EROFS)"
        expectNoTraceKept(r.stderr, directory: r.directory, error: error, paragraph: "`/bin/sh` exited with code 4")
        let copy = try #require(readFile(log))
        #expect(copy.hasPrefix("probe-exec: `/bin/sh` exited with code 4"))
        #expect(
            copy.hasSuffix(
                " No trace was kept: cannot use the trace directory \(r.directory) (Read-only file system, EROFS).\n"
            ),
            "\(copy)"
        )
    }

    /// mkdir's own errno, whichever component fails: directories to create two levels down on a read-only
    /// file system (each component in turn, the first fails with EROFS), and a tmpfs out of inodes (ENOSPC).
    @Test(
        .enabled(if: canMount, "needs unshare -m and mount (root)"),
        arguments: [
            ("ro", "/a/b", "Read-only file system (EROFS)"),
            ("size=8k,nr_inodes=1", "/a", "No space left on device (ENOSPC)"),
        ]
    )
    func directoryThatCannotBeMadeIsNamed(mountOptions: String, below: String, error: String) throws {
        let r = try runOnMount(mountOptions, program: "echo out; exit 4", tag: "mkdir-fails", below: below)
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stdout == "out\n")
        expectNoTraceKept(r.stderr, directory: r.directory, error: error, paragraph: "`/bin/sh` exited with code 4")
    }

    /// A tmpfs already full: the directory and the empty file are made, the first write fails with ENOSPC;
    /// nothing reached the file, so no trace was kept: the empty file goes, and no `latest` link points at it.
    @Test(.enabled(if: canMount, "needs unshare -m and mount (root)"))
    func fullFileSystemKeepsNoTraceAndSaysENOSPC() throws {
        let r = try runOnMount(
            "size=8k",
            program: "echo out; exit 4",
            tag: "full",
            below: "/traces",
            fill: "head -c 8192 /dev/zero >$MNT/filler"
        )
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stdout == "out\n", "nothing to show")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let warnings = lines.filter { $0.hasPrefix("probe-exec: cannot") }
        #expect(warnings.count == 1, "\(r.stderr)")
        let path = try #require(
            warnings.first?.split(separator: " ").dropFirst(5).first.map { String($0.dropLast()) }
        )
        #expect(path.hasPrefix(r.directory + "/sh-"))
        #expect(
            warnings.first
                == "probe-exec: cannot write the trace \(path): No space left on device (ENOSPC); the program runs on, but nothing is recorded"
        )
        let story = lines.first { $0.hasPrefix("probe-exec: `/bin/sh` exited with code 4") }
        #expect(
            story?.hasSuffix(" No trace was kept: cannot write \(path) (No space left on device, ENOSPC).") == true,
            "\(r.stderr)"
        )
        #expect(!r.stderr.contains("Trace: "))
        let files = r.stderr.split(separator: "\n").filter { $0.hasPrefix("=== file ") }
        // The empty file is removed: it would read as a start with nothing recorded in `show --history`.
        #expect(files.isEmpty, "neither the empty file nor a `latest` link to it: \(files)")
    }

    /// A tmpfs that fills up part-way: the paragraph points at the trace and says it is incomplete.
    @Test(.enabled(if: canMount, "needs unshare -m and mount (root)"))
    func traceCutShortIsMarkedIncomplete() throws {
        let program = "trap : USR1; i=0; while [ $i -lt 200 ]; do kill -USR1 $$; i=$((i+1)); done; exit 5"
        let r = try runOnMount("size=8k", program: program, tag: "cut-short")
        #expect(r.status == 5, "\(r.stderr)")
        let story = try #require(r.stderr.split(separator: "\n").first { $0.contains("exited with code 5") })
        let marked = story.firstRange(of: " Trace (incomplete: writing stopped after ")
        #expect(marked != nil, "\(story)")
        #expect(story.contains(" events (No space left on device, ENOSPC)): \(r.directory)/sh-"), "\(story)")
    }
}

/// probe-exec run by an unprivileged user: tracing still works (a process may trace its own
/// child), the trace is private to that user, and another unprivileged user cannot read it.
@Suite(.serialized) struct NonRootTests {
    static let canSwitchUser = getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0

    static func asUser(_ uid: Int, _ argv: [String]) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] + argv
    }

    /// A new directory `/tmp/startupprobe-<name>-XXXXXX` with `mode` (the test scratch directory is root's
    /// own, 0700, so other users cannot reach into it); the caller removes it.
    static func temporaryParent(_ name: String, mode: mode_t) -> String {
        var template = Array("/tmp/startupprobe-\(name)-XXXXXX".utf8CString)
        let parent = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        chmod(parent, mode)
        return parent
    }

    @Test(.enabled(if: canSwitchUser, "needs root to switch users with setpriv"))
    func tracesArePrivateToTheirUser() throws {
        // A sticky world-writable parent, like /tmp; the trace directory inside it is made by the user.
        let parent = Self.temporaryParent("nonroot", mode: 0o1777)
        defer { _ = try? run(["/bin/rm", "-rf", parent]) }
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

    /// A trace directory (mode 0500, the user's own) where the user may not write: creating the trace in
    /// it, or a directory below it, fails with EACCES, and that is what is named.
    @Test(.enabled(if: canSwitchUser, "needs root to switch users with setpriv"))
    func unwritableDirectoryIsNamedEACCES() throws {
        let parent = Self.temporaryParent("eacces", mode: 0o755)
        defer { _ = try? run(["/bin/rm", "-rf", parent]) }
        let dir = parent + "/traces"
        mkdir(dir, 0o500)
        chown(dir, 65534, 65534)
        let command = [Binaries.probeExec, "--", "/bin/sh", "-c", "echo out; exit 3"]
        for below in ["/a", "/a/b"] {
            let r = try run(Self.asUser(65534, command), environment: ["PROBE_EXEC_TRACE_DIR": dir + below])
            #expect(r.status == 3, "\(r.stderr)")
            #expect(r.stdout == "out\n")
            let error = "Permission denied (EACCES)"
            expectNoTraceKept(r.stderr, directory: dir + below, error: error, paragraph: "`/bin/sh` exited with code 3")
        }
        // The directory itself: it exists, the file in it cannot be created.
        let r = try run(Self.asUser(65534, command), environment: ["PROBE_EXEC_TRACE_DIR": dir])
        #expect(r.status == 3, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let warnings = lines.filter { $0.hasPrefix("probe-exec: cannot") }
        #expect(warnings.count == 1, "\(r.stderr)")
        #expect(warnings.first?.hasPrefix("probe-exec: cannot create the trace \(dir)/sh-") == true)
        #expect(
            warnings.first?.hasSuffix(": Permission denied (EACCES); the program runs, but nothing is recorded") == true
        )
        let story = lines.first { $0.hasPrefix("probe-exec: `/bin/sh` exited with code 3") }
        #expect(story?.contains(" No trace was kept: cannot create \(dir)/sh-") == true, "\(r.stderr)")
        #expect(story?.hasSuffix(".ndjson (Permission denied, EACCES).") == true, "\(r.stderr)")
        #expect(!r.stderr.contains("Trace: "))
    }
}
