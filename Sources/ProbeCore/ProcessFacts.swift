#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Facts about processes and the host read from /proc and uname, without Foundation.
package enum ProcessFacts {
    /// The command name of `pid` from `/proc/PID/comm`, or nil when it is gone or unreadable.
    package static func command(of pid: Int32) -> String? {
        guard pid > 0, let text = readSmallFile("/proc/\(pid)/comm") else { return nil }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    /// The process (thread group) a thread belongs to, from `/proc/TID/status`.
    package static func threadGroup(of tid: Int32) -> Int32? {
        guard let status = readSmallFileBytes("/proc/\(tid)/status", limit: 8192),
            let value = ProcText.value(of: "Tgid", in: status).flatMap(ProcText.decimal)
        else { return nil }
        return Int32(exactly: value)
    }

    /// Whether thread `tid`, stopped at its exit, is the last live thread of its process: the
    /// only one counted, or one of two beside a leader that already ended (a zombie until the
    /// whole group is gone). Its `exit` system call then ends the process.
    package static func isLastThread(_ tid: Int32) -> Bool {
        guard let status = readSmallFileBytes("/proc/\(tid)/status", limit: 8192),
            let threads = ProcText.value(of: "Threads", in: status).flatMap(ProcText.decimal),
            let group = ProcText.value(of: "Tgid", in: status).flatMap(ProcText.decimal)
        else { return false }
        if threads == 1 { return true }
        guard threads == 2, Int32(exactly: group) != tid,
            let leader = readSmallFileBytes("/proc/\(group)/stat", limit: 4096),
            let close = leader.lastIndex(of: UInt8(ascii: ")")), close + 2 < leader.count
        else { return false }
        return leader[close + 2] == UInt8(ascii: "Z")
    }

    /// A field of `/proc/PID/status` (`TracerPid`, `CapEff`, …), without its name, or nil.
    package static func statusField(_ name: String, of pid: String = "self") -> String? {
        guard let status = readSmallFileBytes("/proc/\(pid)/status", limit: 16384),
            let value = ProcText.value(of: name, in: status)
        else { return nil }
        return ProcText.string(value)
    }

    /// Whether this process has capability number `capability` in its effective set (CapEff).
    package static func hasCapability(_ capability: Int) -> Bool {
        guard let text = statusField("CapEff"), let bits = UInt64(text, radix: 16) else { return false }
        return bits & (1 << UInt64(capability)) != 0
    }

    /// The pid of the process tracing `pid` (TracerPid), or nil when it is not traced.
    package static func tracer(of pid: Int32) -> Int32? {
        guard let text = statusField("TracerPid", of: String(pid)), let tracer = Int32(text), tracer != 0 else {
            return nil
        }
        return tracer
    }

    /// The children of process `pid` (of all its threads), from /proc/PID/task/*/children.
    package static func children(of pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var result: [Int32] = []
        while let entry = readdir(dir) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard Int32(tid) != nil, let text = readSmallFile("/proc/\(pid)/task/\(tid)/children", limit: 1 << 16)
            else { continue }
            result += text.split(separator: " ").compactMap { Int32($0.filter(\.isNumber)) }
        }
        return result
    }

    /// The program `pid` runs, from `/proc/PID/exe`, or nil.
    package static func executable(of pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// When `pid` started, in CLOCK_REALTIME nanoseconds: `starttime` of `/proc/PID/stat` (clock
    /// ticks since boot, 10 ms steps) placed on the wall clock through CLOCK_BOOTTIME; nil when
    /// the process is gone or unreadable.
    package static func startTime(of pid: Int32) -> Int64? {
        guard pid > 0, let stat = readSmallFile("/proc/\(pid)/stat"), let nameEnd = stat.lastIndex(of: ")") else {
            return nil
        }
        // After the command name: field 3 (state) is first; field 22 (starttime) is the 20th.
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        let hertz = Int64(sysconf(Int32(_SC_CLK_TCK)))
        guard fields.count > 19, let ticks = Int64(fields[19]), hertz > 0 else { return nil }
        var boot = timespec()
        var real = timespec()
        guard clock_gettime(CLOCK_BOOTTIME, &boot) == 0, clock_gettime(CLOCK_REALTIME, &real) == 0 else { return nil }
        let sinceBoot = Int64(boot.tv_sec) * 1_000_000_000 + Int64(boot.tv_nsec)
        let now = Int64(real.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec)
        return now - sinceBoot + ticks * (1_000_000_000 / hertz)
    }

    /// The whole (small) file at `path` as text, or nil.
    package static func readSmallFile(_ path: String, limit: Int = 4096) -> String? {
        readSmallFileBytes(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The whole (small) file at `path`, or nil.
    package static func readSmallFileBytes(_ path: String, limit: Int = 4096) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Read in 8 KiB steps: /proc files report size 0, and most are small.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit, 8192))
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min($0.count, limit - bytes.count)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }

    /// The current working directory, or nil.
    package static var workingDirectory: String? {
        guard let p = getcwd(nil, 0) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// `(hostname, "Linux 6.1.0 x86_64")` from uname(2).
    package static var host: (name: String, kernel: String) {
        var u = utsname()
        guard uname(&u) == 0 else { return ("unknown", "unknown") }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return (field(u.nodename), "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))")
    }
}
