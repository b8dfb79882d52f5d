/// A process's memory cgroup, found from `/proc/PID/cgroup` and `/proc/self/mountinfo`: the v1
/// memory controller's hierarchy when it is mounted, else the unified (v2) hierarchy.
package struct MemoryCgroup: Sendable, Equatable {
    /// 1 (the v1 memory controller) or 2 (the unified hierarchy).
    package var version: Int
    /// The cgroup's path in its hierarchy, as `/proc/PID/cgroup` shows it (`/kubepods/…`).
    package var path: String
    /// The cgroup's directory in this file system (under the hierarchy's mount).
    package var directory: String

    /// The cgroup at `path` of hierarchy `version`, found at `directory`.
    package init(version: Int, path: String, directory: String) {
        self.version = version
        self.path = path
        self.directory = directory
    }

    /// The memory cgroup of `pid`, or nil when no memory hierarchy holding it is mounted here.
    package static func of(pid: Int32) -> MemoryCgroup? {
        membership(of: pid).flatMap { of(membership: $0) }
    }

    /// `/proc/PID/cgroup` of `pid`, or nil.
    package static func membership(of pid: Int32) -> [UInt8]? {
        ProcessFacts.readSmallFileBytes("/proc/\(pid)/cgroup", limit: 1 << 16)
    }

    /// The memory cgroup named in `membership` (a `/proc/PID/cgroup`) under this mount table.
    package static func of(membership: [UInt8]) -> MemoryCgroup? {
        guard let mounts = ProcessFacts.readSmallFileBytes("/proc/self/mountinfo", limit: 1 << 20) else { return nil }
        return locate(membership: membership, mountInfo: mounts)
    }

    /// The memory cgroup named in `membership` (a `/proc/PID/cgroup`), at its place under the
    /// matching mount of `mountInfo` (a `/proc/self/mountinfo`); nil when it is not mounted.
    package static func locate(membership: String, mountInfo: String) -> MemoryCgroup? {
        locate(membership: Array(membership.utf8), mountInfo: Array(mountInfo.utf8))
    }

    /// ``locate(membership:mountInfo:)`` on the files' bytes (``ProcText``: this runs at every start).
    static func locate(membership: [UInt8], mountInfo: [UInt8]) -> MemoryCgroup? {
        var v1Path: String?
        var v2Path: String?
        for line in ProcText.lines(membership) {
            // hierarchy-ID:controller-list:path (the path may itself hold colons)
            guard let first = line.firstIndex(of: UInt8(ascii: ":")),
                let second = line[(first + 1)...].firstIndex(of: UInt8(ascii: ":"))
            else { continue }
            let controllers = line[(first + 1)..<second]
            let path = ProcText.string(line[(second + 1)...])
            if line[..<first].elementsEqual("0".utf8) && controllers.isEmpty {
                v2Path = path
            } else if ProcText.split(controllers, at: UInt8(ascii: ",")).contains(where: {
                $0.elementsEqual("memory".utf8)
            }) {
                v1Path = path
            }
        }
        if let path = v1Path,
            let mount = Mount.first(
                in: mountInfo,
                where: { type, superOptions in
                    type.elementsEqual("cgroup".utf8)
                        && ProcText.split(superOptions, at: UInt8(ascii: ",")).contains {
                            $0.elementsEqual("memory".utf8)
                        }
                }
            )
        {
            return MemoryCgroup(version: 1, path: path, directory: mount.directory(of: path))
        }
        if let path = v2Path,
            let mount = Mount.first(in: mountInfo, where: { type, _ in type.elementsEqual("cgroup2".utf8) })
        {
            return MemoryCgroup(version: 2, path: path, directory: mount.directory(of: path))
        }
        return nil
    }

    /// The cgroup's limit, peak usage and OOM-kill counts now (each nil when its file is missing:
    /// an older kernel, or the root cgroup, which has no limit).
    package func read() -> MemoryCgroupReading {
        var reading = readOOMCounters()
        func number(_ file: String) -> UInt64? {
            guard let bytes = ProcessFacts.readSmallFileBytes(directory + "/" + file),
                let line = ProcText.lines(bytes).first
            else { return nil }
            return ProcText.unsigned(line)
        }
        if version == 1 {
            // 0x7FFFFFFFFFFFF000 (PAGE_COUNTER_MAX pages) means no limit.
            reading.limitBytes = number("memory.limit_in_bytes").flatMap { $0 >= 1 << 62 ? nil : $0 }
            reading.peakBytes = number("memory.max_usage_in_bytes")
        } else {
            reading.limitBytes = number("memory.max")  // "max" (no limit) is not a number
            reading.peakBytes = number("memory.peak")
        }
        return reading
    }

    /// Only the cgroup's OOM-kill counts now, one file (what a run's first reading needs: the limit
    /// and the peak are read after the exit).
    package func readOOMCounters() -> MemoryCgroupReading {
        var reading = MemoryCgroupReading()
        if version == 1 {
            reading.oomKills = ProcessFacts.readSmallFileBytes(directory + "/memory.oom_control").flatMap {
                MemoryCgroup.counter("oom_kill", in: $0)
            }
        } else if let events = ProcessFacts.readSmallFileBytes(directory + "/memory.events") {
            reading.oomKills = MemoryCgroup.counter("oom_kill", in: events)
            reading.oomGroupKills = MemoryCgroup.counter("oom_group_kill", in: events)
        }
        return reading
    }

    /// The value of the `name N` line of a flat-keyed cgroup file (`memory.events`,
    /// `memory.oom_control`).
    package static func counter(_ name: String, in text: String) -> UInt64? {
        counter(name, in: Array(text.utf8))
    }

    /// ``counter(_:in:)`` on the file's bytes.
    static func counter(_ name: String, in bytes: [UInt8]) -> UInt64? {
        for line in ProcText.lines(bytes) {
            let fields = ProcText.split(line, at: UInt8(ascii: " "))
            if fields.count == 2, fields[0].elementsEqual(name.utf8) {
                return ProcText.unsigned(fields[1])
            }
        }
        return nil
    }
}

/// What a memory cgroup's files said at one moment.
package struct MemoryCgroupReading: Sendable, Equatable {
    /// The limit (v1 `memory.limit_in_bytes`, v2 `memory.max`); nil when there is none.
    package var limitBytes: UInt64?
    /// The highest usage since the cgroup was made (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`).
    package var peakBytes: UInt64?
    /// Processes killed by the OOM killer in this cgroup (v1 `memory.oom_control`, v2 `memory.events`).
    package var oomKills: UInt64?
    /// v2: times the whole cgroup was killed at once (`memory.oom.group`).
    package var oomGroupKills: UInt64?

    /// Nothing read.
    package init() {}
}

/// One line of `/proc/self/mountinfo`: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS…] - TYPE SOURCE SUPER`.
private struct Mount {
    /// The directory of the file system (here: of the hierarchy) shown at the mount point.
    var root: String
    /// Where it is mounted.
    var mountPoint: String

    /// The first mount of `mountInfo` whose file system type and super-block options (a v1
    /// hierarchy's controllers) satisfy `matches`; only that line's paths are decoded.
    static func first(
        in mountInfo: [UInt8],
        where matches: (_ type: ArraySlice<UInt8>, _ superOptions: ArraySlice<UInt8>) -> Bool
    ) -> Mount? {
        for line in ProcText.lines(mountInfo) {
            let fields = ProcText.split(line, at: UInt8(ascii: " "))
            guard fields.count >= 7,
                let dash = fields.firstIndex(where: { $0.count == 1 && $0.first == UInt8(ascii: "-") }),
                dash + 1 < fields.count
            else { continue }
            let superOptions = dash + 3 < fields.count ? fields[dash + 3] : []
            guard matches(fields[dash + 1], superOptions) else { continue }
            return Mount(root: unescape(fields[3]), mountPoint: unescape(fields[4]))
        }
        return nil
    }

    /// Where the cgroup at `path` is under this mount: the mount shows the hierarchy from `root` on.
    func directory(of path: String) -> String {
        // Bytes (String algorithms here cost generic metadata at every start).
        let pathBytes = Array(path.utf8)
        let rootBytes = Array(root.utf8)
        var relative = pathBytes[...]
        if rootBytes != [UInt8(ascii: "/")] && pathBytes.starts(with: rootBytes)
            && (pathBytes.count == rootBytes.count || pathBytes[rootBytes.count] == UInt8(ascii: "/"))
        {
            relative = pathBytes[rootBytes.count...]
        }
        let base = mountPoint == "/" ? "" : mountPoint
        if relative.isEmpty || relative.elementsEqual([UInt8(ascii: "/")]) { return base.isEmpty ? "/" : base }
        return base + String(decoding: relative, as: UTF8.self)
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescape(_ field: ArraySlice<UInt8>) -> String {
        var bytes: [UInt8] = []
        var i = field.startIndex
        while i < field.endIndex {
            if field[i] == UInt8(ascii: "\\"), i + 3 < field.endIndex,
                field[(i + 1)...(i + 3)].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") })
            {
                bytes.append(field[(i + 1)...(i + 3)].reduce(0) { $0 << 3 | ($1 - UInt8(ascii: "0")) })
                i += 4
            } else {
                bytes.append(field[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
