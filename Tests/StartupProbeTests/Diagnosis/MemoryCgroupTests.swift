import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The v1 memory controller of this machine, when tests may make cgroups in it: the directory of
/// the test process's own memory cgroup (test cgroups are made below it, so they stay within its
/// limits).
enum MemoryControllerV1 {
    /// The test process's own v1 memory cgroup directory, when a cgroup can be made in it.
    static let parent: String? = {
        guard let own = MemoryCgroup.of(pid: getpid()), own.version == 1 else { return nil }
        let probe = own.directory + "/startupprobe-probe-\(getpid())"
        guard mkdir(probe, 0o755) == 0 else { return nil }
        rmdir(probe)
        return own.directory
    }()

    /// Whether tests can make memory cgroups here.
    static var writable: Bool { parent != nil }

    /// A new memory cgroup limited to `limit` bytes (memory and memory+swap), removed by `body`'s end.
    static func withCgroup<R>(limit: UInt64, _ body: (String) throws -> R) throws -> R {
        let directory = try #require(parent) + "/startupprobe-test-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(directory, 0o755) == 0)
        defer {
            // Emptied once its processes are reaped; removing it may take a moment after that.
            for _ in 0..<100 where rmdir(directory) != 0 { usleep(20_000) }
        }
        try writeFile(directory + "/memory.limit_in_bytes", "\(limit)\n", mode: 0o644)
        if access(directory + "/memory.memsw.limit_in_bytes", W_OK) == 0 {
            try writeFile(directory + "/memory.memsw.limit_in_bytes", "\(limit)\n", mode: 0o644)
        }
        return try body(directory)
    }
}

/// The program's memory cgroup: found from /proc, read before and after, and an OOM kill named
/// as a fact in the verdict.
@Suite(.serialized) struct MemoryCgroupTests {
    @Test func v1MembershipAndMountAreFound() {
        let membership = "9:name=systemd:/\n4:memory:/kubepods/pod1/ctr\n1:cpu,cpuacct:/kubepods/pod1/ctr\n0::/\n"
        let mounts = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        let found = MemoryCgroup.locate(membership: membership, mountInfo: mounts)
        #expect(
            found
                == MemoryCgroup(
                    version: 1,
                    path: "/kubepods/pod1/ctr",
                    directory: "/sys/fs/cgroup/memory/kubepods/pod1/ctr"
                )
        )
    }

    @Test func v2UnderABindMountedRootWithEscapes() {
        // A container without a cgroup namespace: the mount shows the hierarchy from its own cgroup on.
        let membership = "0::/docker/abc\n"
        let mounts = "700 690 0:38 /docker/abc /sys/fs/my\\040cgroup ro,nosuid - cgroup2 cgroup rw\n"
        let found = MemoryCgroup.locate(membership: membership, mountInfo: mounts)
        #expect(found == MemoryCgroup(version: 2, path: "/docker/abc", directory: "/sys/fs/my cgroup"))
        #expect(MemoryCgroup.locate(membership: "0::/a\n", mountInfo: "1 0 0:1 / / rw - ext4 /dev/sda rw\n") == nil)
    }

    @Test func v2FilesAreReadFromAFixtureTree() throws {
        let root = Binaries.freshDirectory("cgroup2")
        let cgroup = root + "/kubepods/pod1/ctr"
        for dir in [root + "/kubepods", root + "/kubepods/pod1", cgroup] { mkdir(dir, 0o755) }
        try writeFile(
            cgroup + "/memory.events",
            "low 0\nhigh 0\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n",
            mode: 0o644
        )
        try writeFile(cgroup + "/memory.max", "100663296\n", mode: 0o644)
        try writeFile(cgroup + "/memory.peak", "100659200\n", mode: 0o644)
        let found = try #require(
            MemoryCgroup.locate(
                membership: "0::/kubepods/pod1/ctr\n",
                mountInfo: "41 31 0:38 / \(root) rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
            )
        )
        #expect(found.version == 2 && found.directory == cgroup)
        let reading = found.read()
        #expect(reading.limitBytes == 96 << 20)
        #expect(reading.peakBytes == 100_659_200)
        #expect(reading.oomKills == 1 && reading.oomGroupKills == 0)
        // A run's first reading: the counters only (the limit and the peak are read after the exit).
        let counters = found.readOOMCounters()
        #expect(counters.oomKills == 1 && counters.oomGroupKills == 0)
        #expect(counters.limitBytes == nil && counters.peakBytes == nil)
        try writeFile(cgroup + "/memory.max", "max\n", mode: 0o644)
        #expect(found.read().limitBytes == nil, "`max` is no limit")

        // The verdict of a SIGKILL while that counter rose from 0 to 1.
        var before = MemoryCgroupReading()
        before.oomKills = 0
        var after = MemoryCgroupReading()
        after.oomKills = 1
        after.limitBytes = 96 << 20
        after.peakBytes = 96 << 20
        var report = RunReport(
            command: ["app"],
            cause: .killed(signal: 9, coreDumped: false),
            durationMilliseconds: 800
        )
        report.memoryCgroup = MemoryCgroupUse(cgroup: found, before: before, after: after)
        let summary = Diagnose.verdict(for: report).summary
        #expect(
            summary.contains(
                "It was killed by the kernel's OOM killer: the memory limit of its cgroup (96 MiB) was reached (cgroup v2 `/kubepods/pod1/ctr`: 1 OOM kill during the run, peak usage 96 MiB)."
            ),
            "\(summary)"
        )
        #expect(!summary.contains("usual"))
        // No kill counted: said as such, and no sender invented.
        report.memoryCgroup?.after.oomKills = 0
        let none = Diagnose.verdict(for: report).summary
        #expect(
            none.contains(
                "counted no OOM kill during the run (cgroup v2 `/kubepods/pod1/ctr`); who sent it is not known."
            )
        )
    }

    @Test func v1FilesAreRead() throws {
        let root = Binaries.freshDirectory("cgroup1")
        try writeFile(root + "/memory.limit_in_bytes", "9223372036854771712\n", mode: 0o644)
        try writeFile(root + "/memory.max_usage_in_bytes", "4096\n", mode: 0o644)
        try writeFile(root + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", mode: 0o644)
        let reading = MemoryCgroup(version: 1, path: "/", directory: root).read()
        #expect(reading.limitBytes == nil, "PAGE_COUNTER_MAX is no limit")
        #expect(reading.peakBytes == 4096 && reading.oomKills == 3 && reading.oomGroupKills == nil)
        let counters = MemoryCgroup(version: 1, path: "/", directory: root).readOOMCounters()
        #expect(counters.oomKills == 3 && counters.limitBytes == nil && counters.peakBytes == nil)
    }

    @Test func bytesAreWrittenForPeople() {
        #expect(Diagnose.bytes(100) == "100 bytes")
        #expect(Diagnose.bytes(64 << 20) == "64 MiB")
        #expect(Diagnose.bytes(3 << 29) == "1.5 GiB")
    }

    /// probe-exec as a container's entrypoint: it and the program in a cgroup limited to 64 MiB,
    /// the program allocating 200 MiB.
    @Test(.enabled(if: MemoryControllerV1.writable, "needs a writable v1 memory controller"))
    func realOOMKillIsNamedWithTheLimit() throws {
        try MemoryControllerV1.withCgroup(limit: 64 << 20) { cgroup in
            let trace = Binaries.freshDirectory("oom") + "/t.ndjson"
            let r = try run([
                "/bin/sh", "-c", "echo $$ > \(cgroup)/cgroup.procs && exec \"$@\"", "sh", Binaries.probeExec, "-o",
                trace, "--", Binaries.fixture, "alloc", "200",
            ])
            #expect(r.status == 128 + SIGKILL)
            #expect(
                r.stderr.contains("killed by the kernel's OOM killer: the memory limit of its cgroup (64 MiB)"),
                "\(r.stderr)"
            )
            let events = try TraceReader.read(path: trace).events
            let memory = try #require(events.first { $0.kind == "memory_cgroup" })
            #expect(memory["version"]?.intValue == 1)
            #expect(memory["limit_bytes"]?.intValue == 64 << 20)
            let kills = (memory["oom_kill_after"]?.intValue ?? 0) - (memory["oom_kill_before"]?.intValue ?? 0)
            #expect(kills >= 1, "\(memory.fields)")
            #expect(verdict(events).contains("was reached (cgroup v1 `"))
        }
    }

    @Test(.enabled(if: MemoryCgroup.of(pid: getpid()) != nil, "needs a memory cgroup"))
    func aProgramThatEndsAtOnceStillHasItsCgroupRead() throws {
        // Which cgroup the program is in is read while it exists: once read after its exec stop,
        // it was gone in 2 of 40 runs of a program that exits at once (and 9 of 30 killed at
        // that stop), and the trace had no memory_cgroup event for the verdict's OOM facts.
        let program = Binaries.tracee(["-static"])
        let directory = Binaries.freshDirectory("cgroup-at-once")
        for attempt in 0..<20 {
            let trace = directory + "/t\(attempt).ndjson"
            let r = try run([Binaries.probeExec, "-q", "-o", trace, "--", program, "exit4", "3"])
            #expect(r.status == 3)
            let events = try TraceReader.read(path: trace).events
            #expect(events.contains { $0.kind == "memory_cgroup" }, "run \(attempt): \(events.map(\.kind))")
        }
    }

    /// The entrypoint script moves itself into the limited cgroup and then execs the program: the
    /// tracer sees the exec, and the cgroup is found again there.
    @Test(.enabled(if: MemoryControllerV1.writable, "needs a writable v1 memory controller"))
    func programThatMovesItselfIsMeasuredWhereItRuns() throws {
        try MemoryControllerV1.withCgroup(limit: 64 << 20) { cgroup in
            let trace = Binaries.freshDirectory("oom-moved") + "/t.ndjson"
            let r = try run([
                Binaries.probeExec, "-o", trace, "--", "/bin/sh", "-c",
                "echo $$ > \(cgroup)/cgroup.procs && exec \(Binaries.fixture) alloc 200",
            ])
            #expect(r.status == 128 + SIGKILL)
            let text = verdict(try TraceReader.read(path: trace).events)
            #expect(
                text.contains("killed by the kernel's OOM killer: the memory limit of its cgroup (64 MiB)"),
                "\(text)"
            )
            // Within the limit: the same cgroup, no kill counted, a clean exit.
            let small = Binaries.freshDirectory("oom-none") + "/t.ndjson"
            let ok = try run([
                Binaries.probeExec, "-o", small, "--", "/bin/sh", "-c",
                "echo $$ > \(cgroup)/cgroup.procs && exec \(Binaries.fixture) alloc 8",
            ])
            #expect(ok.status == 0 && ok.stdout == "allocated\n")
            let memory = try #require(try TraceReader.read(path: small).events.first { $0.kind == "memory_cgroup" })
            #expect(memory["path"]?.stringValue?.hasSuffix(String(cgroup.split(separator: "/").last!)) == true)
            #expect(memory["oom_kill_after"] == memory["oom_kill_before"])
        }
    }

    /// A shell whose command the OOM killer ended: the shell's status and the cgroup's count, both.
    @Test(.enabled(if: MemoryControllerV1.writable, "needs a writable v1 memory controller"))
    func shellWhoseCommandWasOOMKilled() throws {
        try MemoryControllerV1.withCgroup(limit: 64 << 20) { cgroup in
            let r = try run([
                "/bin/sh", "-c", "echo $$ > \(cgroup)/cgroup.procs && exec \"$@\"", "sh", Binaries.probeExec, "--",
                "/bin/sh", "-c", "\(Binaries.fixture) alloc 200; exit $?",
            ])
            #expect(r.status == 137)
            #expect(r.stderr.contains("a program it ran was killed by SIGKILL"), "\(r.stderr)")
            #expect(
                r.stderr.contains(
                    "The kernel's OOM killer killed 1 process in its memory cgroup during the run (limit 64 MiB"
                )
            )
        }
    }
}
