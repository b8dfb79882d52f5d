import ProbeCore
import ProbeTrace

/// The program's memory cgroup over a run: found and read when the program is spawned, found
/// again at each image it execs while traced (an entrypoint script that moves itself into
/// another cgroup and then execs the program is measured where the program runs), and read
/// again after the exit. A cgroup is read through its directory, which outlives the program.
final class MemoryCgroupWatch {
    /// The cgroup and its OOM-kill counts when it was found.
    private(set) var found: (cgroup: MemoryCgroup, reading: MemoryCgroupReading)?

    /// `/proc/PID/cgroup` as last read: an exec that leaves it unchanged needs nothing more read
    /// (the mount table, the cgroup's files) while the program waits at its exec stop.
    private var membership: [UInt8]?

    /// The program, just spawned.
    private let pid: Int32
    /// Whether the cgroup was looked for (``start()``).
    private var started = false
    /// Whether the exec stop of the image probe-exec started has been seen (later ones may have
    /// moved the program to another cgroup).
    private var spawnedImageSeen = false

    /// Watches the memory cgroup of `pid`, just spawned: which cgroup it is in is read now, while
    /// it exists (one small /proc file; it may be gone by the time ``start()`` runs); ``start()``
    /// finds and reads the cgroup.
    init(pid: Int32) {
        self.pid = pid
        self.membership = MemoryCgroup.membership(of: pid)
    }

    /// Finds and reads the program's memory cgroup: once its exec stop is handled, so that the
    /// program does not wait for it (the mount table and the cgroup's files: a few hundred µs).
    /// The cgroup's directory outlives the program.
    func start() {
        guard !started else { return }
        started = true
        found = membership.flatMap { MemoryCgroup.of(membership: $0) }.map { ($0, $0.readOOMCounters()) }
    }

    /// The program (`pid`) exec'd an image: if it is in another cgroup now, that one is read
    /// (before ``start()``, the start reads that one).
    func programExecuted(pid: Int32) {
        guard spawnedImageSeen else {
            spawnedImageSeen = true  // the exec probe-exec made: its membership was read after it
            return
        }
        let now = MemoryCgroup.membership(of: pid)
        guard let now, now != membership else { return }
        membership = now
        guard started else { return }  // start() reads the cgroup it is in now
        guard let cgroup = MemoryCgroup.of(membership: now), cgroup != found?.cgroup else { return }
        found = (cgroup, cgroup.readOOMCounters())
    }

    /// Reads the cgroup again after the exit and records both readings in `recorder`; nil when
    /// no memory cgroup was found.
    func finish(recorder: TraceRecorder) -> MemoryCgroupUse? {
        start()
        guard let found else { return nil }
        let use = MemoryCgroupUse(cgroup: found.cgroup, before: found.reading, after: found.cgroup.read())
        var event = TraceEvent.MemoryCgroup()
        event.version = use.cgroup.version
        event.path = use.cgroup.path
        event.limitBytes = use.after.limitBytes
        event.peakBytes = use.after.peakBytes
        event.oomKillBefore = use.before.oomKills
        event.oomKillAfter = use.after.oomKills
        event.oomGroupKillBefore = use.before.oomGroupKills
        event.oomGroupKillAfter = use.after.oomGroupKills
        recorder.append(.memoryCgroup(event))
        return use
    }
}
