import Logging
import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Logs, through the program's `Logger`, the signals probe-exec forwarded to this process, with
/// their sender, as probe-exec recorded them in its trace.
///
/// The library never intercepts a signal: no handler in front of the program's, no descriptor
/// taken from libdispatch, nothing read from a signalfd. Every signal reaches exactly what it would
/// reach without the library. Who sent one is known to probe-exec, which received it first: this
/// thread follows probe-exec's trace (inotify; it sleeps until the file changes: no polling) and
/// logs each `signal` event. Without probe-exec, senders are not seen (see the library's docs).
final class SignalRelay: @unchecked Sendable {  // immutable after init; used on its thread only
    private let logger: Logger
    private let path: String
    private let signals: Set<Int32>
    private let watch: Int32
    private var offset: Int = 0

    private init(logger: Logger, path: String, signals: Set<Int32>, watch: Int32, offset: Int) {
        self.logger = logger
        self.path = path
        self.signals = signals
        self.watch = watch
        self.offset = offset
    }

    /// Starts following the trace at `path` (probe-exec's) for the forwarding of `signals`.
    /// - Returns: nil when it started, else why not.
    static func start(logger: Logger, tracePath path: String, signals: [Int32]) -> SystemError? {
        let watch = LibraryThread.watch(path)
        guard watch >= 0 else { return SystemError.current }
        var info = stat()
        let size = stat(path, &info) == 0 ? Int(info.st_size) : 0
        let relay = SignalRelay(logger: logger, path: path, signals: Set(signals), watch: watch, offset: size)
        let context = Unmanaged.passRetained(relay).toOpaque()  // lives as long as the process
        let error = LibraryThread.start(name: "startupprobe", body: relayThreadBody, argument: context)
        guard error == 0 else {
            Unmanaged<SignalRelay>.fromOpaque(context).release()
            close(watch)
            return SystemError(error)
        }
        return nil
    }

    /// The thread: wait for the trace to grow, log the new `signal` events, again.
    fileprivate func run() {
        var pending: [UInt8] = []
        while LibraryThread.waitForChange(watch) == 0 {
            let fresh = readAppended()
            if fresh.isEmpty { continue }
            pending += fresh
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                pending.removeSubrange(...newline)
                guard let value = try? JSONParser.parse(line), let record = TraceRecord(value) else { continue }
                if case .signal(let signal) = record.event, signals.contains(signal.signal) {
                    log(signal, at: record.offsetMilliseconds)
                }
            }
        }
        close(watch)
    }

    /// The bytes appended since the last read.
    private func readAppended() -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(offset)) }
            if n <= 0 { break }
            out += chunk[0..<n]
            offset += n
        }
        return out
    }

    private func log(_ signal: TraceEvent.Signal, at milliseconds: Double) {
        let sender: String
        if signal.senderPID == 0 {
            sender = "outside this PID namespace (the container runtime or the kernel)"
        } else {
            let comm = signal.senderCommand.map { " (\($0))" } ?? ""
            sender = "pid \(signal.senderPID)\(comm) uid \(signal.senderUID)"
        }
        let rounded = (milliseconds * 10).rounded() / 10
        logger.notice(
            "received \(signal.name) from \(sender) at +\(rounded) ms, forwarded by probe-exec (trace \(path), event signal)",
            metadata: [
                "signal": "\(signal.name)", "sender_pid": "\(signal.senderPID)", "sender_uid": "\(signal.senderUID)",
                "sender_command": "\(signal.senderCommand ?? "")", "since_start_ms": "\(rounded)",
            ]
        )
    }
}

/// The relay thread's entry into Swift.
private let relayThreadBody: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { context in
    guard let context else { return nil }
    Unmanaged<SignalRelay>.fromOpaque(context).takeUnretainedValue().run()
    return nil
}
