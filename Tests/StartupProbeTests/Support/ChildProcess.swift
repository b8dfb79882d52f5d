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

/// A process started for a test with posix_spawn: empty signal mask and default dispositions
/// (the test runner's worker threads block many signals, and a child would inherit that),
/// stdin from /dev/null unless told otherwise, stdout and stderr on pipes.
final class ChildProcess {
    let pid: pid_t
    private var stdoutFD: Int32
    private var stderrFD: Int32
    private var lineBuffer: [UInt8] = []
    private var errorBuffer: [UInt8] = []
    private(set) var exitStatus: Int32?

    /// Starts `argv[0]` (a path) with `argv`, the test's environment plus `environment`.
    init(_ argv: [String], environment: [String: String] = [:], removing: [String] = []) throws {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw TestFailure("pipe failed: errno \(errno)")
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Only 0, 1, 2: the test runner's own descriptors must not leak into what we test.
        for fd in openDescriptors() where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var env = TestEnvironment.current.filter { !removing.contains($0.key) }
        for (k, v) in environment { env[k] = v }
        let envStrings = env.map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let rc = withCStringArray(argv) { argvp in
            withCStringArray(envStrings) { envp in
                posix_spawn(&child, argv[0], &actions, &attributes, argvp, envp)
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw TestFailure("posix_spawn \(argv[0]) failed: \(String(cString: strerror(rc)))")
        }
        pid = child
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
        }
        if stdoutFD >= 0 { close(stdoutFD) }
        if stderrFD >= 0 { close(stderrFD) }
    }

    /// The next line of stdout (without the newline), or nil at end of file or after `timeout` seconds.
    func readLine(timeout: Double = 10) -> String? {
        let deadline = now() + timeout
        while true {
            if let nl = lineBuffer.firstIndex(of: 0x0A) {
                let line = String(decoding: lineBuffer[..<nl], as: UTF8.self)
                lineBuffer.removeSubrange(...nl)
                return line
            }
            guard let more = Self.readMore(stdoutFD, until: deadline) else { return nil }
            lineBuffer += more
        }
    }

    /// Reads stderr until it holds `text` (kept for `finish`). False at end of file or after `timeout` seconds.
    func waitForError(containing text: String, timeout: Double = 10) -> Bool {
        let deadline = now() + timeout
        while !String(decoding: errorBuffer, as: UTF8.self).contains(text) {
            guard let more = Self.readMore(stderrFD, until: deadline) else { return false }
            errorBuffer += more
        }
        return true
    }

    /// The next bytes from `fd` (possibly none, when poll was interrupted), or nil at end of file
    /// or once `deadline` has passed.
    private static func readMore(_ fd: Int32, until deadline: Double) -> [UInt8]? {
        let left = deadline - now()
        if left <= 0 { return nil }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(left * 1000) + 1) > 0 else { return [] }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &chunk, chunk.count)
        return n > 0 ? Array(chunk[0..<n]) : nil
    }

    /// Reads stdout and stderr to their end (or `timeout`), then waits for the exit.
    /// - Returns: the shell-style status (128+N for signal N) and both outputs.
    func finish(timeout: Double = 60) throws -> (status: Int32, stdout: [UInt8], stderr: [UInt8]) {
        let deadline = now() + timeout
        var out = lineBuffer
        var err = errorBuffer
        lineBuffer = []
        errorBuffer = []
        var open = [stdoutFD, stderrFD]
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while !open.isEmpty {
            let left = deadline - now()
            if left <= 0 { throw TestFailure("output of pid \(pid) did not end within \(timeout) s") }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), Int32(left * 1000) + 1) > 0 else { continue }
            for p in fds where p.revents != 0 {
                let n = read(p.fd, &chunk, chunk.count)
                if n <= 0 {
                    open.removeAll { $0 == p.fd }
                } else if p.fd == stdoutFD {
                    out += chunk[0..<n]
                } else {
                    err += chunk[0..<n]
                }
            }
        }
        let status = try wait(timeout: max(1, deadline - now()))
        return (status, out, err)
    }

    /// Waits for the exit without reading output. Returns the shell-style status.
    func wait(timeout: Double = 60) throws -> Int32 {
        if let exitStatus { return exitStatus }
        let deadline = now() + timeout
        while true {
            var s: Int32 = 0
            let r = waitpid(pid, &s, WNOHANG)
            if r == pid {
                let status = (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f)
                exitStatus = status
                return status
            }
            if now() > deadline { throw TestFailure("pid \(pid) did not exit within \(timeout) s") }
            usleep(2000)
        }
    }

    /// Sends a signal to the process.
    func signal(_ sig: Int32) { kill(pid, sig) }
}

/// Runs a command to its end and returns status, stdout and stderr.
func run(
    _ argv: [String],
    environment: [String: String] = [:],
    removing: [String] = [],
    timeout: Double = 60
) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let child = try ChildProcess(argv, environment: environment, removing: removing)
    let result = try child.finish(timeout: timeout)
    return (
        result.status, String(decoding: result.stdout, as: UTF8.self), String(decoding: result.stderr, as: UTF8.self)
    )
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer {
        for pointer in pointers { free(pointer) }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

enum TestEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let e = p.pointee {
            let s = String(cString: e)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }
}

/// The descriptors open in this process now.
func openDescriptors() -> [Int32] {
    numberedEntries(of: "/proc/self/fd", skippingItsOwnDescriptor: true)
}

/// The entries of `path` whose names are numbers (pids, tids, descriptors); with
/// `skippingItsOwnDescriptor`, not the descriptor the listing itself holds open.
func numberedEntries(of path: String, skippingItsOwnDescriptor: Bool = false) -> [Int32] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var result: [Int32] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if let number = Int32(name), !(skippingItsOwnDescriptor && number == dirfd(dir)) { result.append(number) }
    }
    return result
}
