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
        guard let membership = ProcessFacts.readSmallFile("/proc/\(pid)/cgroup", limit: 1 << 16),
            let mounts = ProcessFacts.readSmallFile("/proc/self/mountinfo", limit: 1 << 20)
        else { return nil }
        return locate(membership: membership, mountInfo: mounts)
    }

    /// The memory cgroup named in `membership` (a `/proc/PID/cgroup`), at its place under the
    /// matching mount of `mountInfo` (a `/proc/self/mountinfo`); nil when it is not mounted.
    package static func locate(membership: String, mountInfo: String) -> MemoryCgroup? {
        var v1Path: String?
        var v2Path: String?
        for line in membership.split(separator: "\n") {
            // hierarchy-ID:controller-list:path (the path may itself hold colons)
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                v2Path = String(fields[2])
            } else if fields[1].split(separator: ",").contains("memory") {
                v1Path = String(fields[2])
            }
        }
        let mounts = mountInfo.split(separator: "\n").compactMap(Mount.init)
        if let path = v1Path,
            let mount = mounts.first(where: { $0.type == "cgroup" && $0.superOptions.contains("memory") })
        {
            return MemoryCgroup(version: 1, path: path, directory: mount.directory(of: path))
        }
        if let path = v2Path, let mount = mounts.first(where: { $0.type == "cgroup2" }) {
            return MemoryCgroup(version: 2, path: path, directory: mount.directory(of: path))
        }
        return nil
    }

    /// The cgroup's limit, peak usage and OOM-kill counts now (each nil when its file is missing:
    /// an older kernel, or the root cgroup, which has no limit).
    package func read() -> MemoryCgroupReading {
        var reading = MemoryCgroupReading()
        func number(_ file: String) -> UInt64? {
            guard let text = ProcessFacts.readSmallFile(directory + "/" + file) else { return nil }
            return UInt64(text.split(separator: "\n").first ?? "")
        }
        if version == 1 {
            // 0x7FFFFFFFFFFFF000 (PAGE_COUNTER_MAX pages) means no limit.
            reading.limitBytes = number("memory.limit_in_bytes").flatMap { $0 >= 1 << 62 ? nil : $0 }
            reading.peakBytes = number("memory.max_usage_in_bytes")
            reading.oomKills = ProcessFacts.readSmallFile(directory + "/memory.oom_control").flatMap {
                MemoryCgroup.counter("oom_kill", in: $0)
            }
        } else {
            reading.limitBytes = number("memory.max")  // "max" (no limit) is not a number
            reading.peakBytes = number("memory.peak")
            if let events = ProcessFacts.readSmallFile(directory + "/memory.events") {
                reading.oomKills = MemoryCgroup.counter("oom_kill", in: events)
                reading.oomGroupKills = MemoryCgroup.counter("oom_group_kill", in: events)
            }
        }
        return reading
    }

    /// The value of the `name N` line of a flat-keyed cgroup file (`memory.events`,
    /// `memory.oom_control`).
    package static func counter(_ name: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == name { return UInt64(fields[1]) }
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
    /// The file system type (`cgroup`, `cgroup2`, …).
    var type: String
    /// The super-block options: a v1 hierarchy's controllers.
    var superOptions: [Substring]

    /// Parses one line; nil when it is not a mountinfo line.
    init?(_ line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { return nil }
        root = Mount.unescape(fields[3])
        mountPoint = Mount.unescape(fields[4])
        type = String(fields[dash + 1])
        superOptions = dash + 3 < fields.count ? fields[dash + 3].split(separator: ",") : []
    }

    /// Where the cgroup at `path` is under this mount: the mount shows the hierarchy from `root` on.
    func directory(of path: String) -> String {
        var relative = Substring(path)
        if root != "/" && (path == root || path.hasPrefix(root + "/")) { relative = relative.dropFirst(root.count) }
        let base = mountPoint == "/" ? "" : mountPoint
        return relative == "/" || relative.isEmpty ? (base.isEmpty ? "/" : base) : base + relative
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count,
                let value = UInt8(String(decoding: raw[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
