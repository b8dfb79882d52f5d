import CStartupProbe
import Logging
import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Logs the signals the program receives, with their sender, through the program's `Logger` and
/// into the trace, without changing what the program does on them.
///
/// The C observer (`spr_signals.c`) wraps each signal's disposition: its handler reads the sender
/// from the siginfo, hands a record to a reader thread, and then runs the program's handler (or
/// libdispatch's, or the default action) exactly as before. This class is what the reader thread
/// calls: it never runs in signal context.
final class SignalLogger: @unchecked Sendable {  // immutable after init; used on the reader thread only
    private let logger: Logger
    private let traceFD: Int32
    private let startNanoseconds: Int64

    private init(logger: Logger, traceFD: Int32, startNanoseconds: Int64) {
        self.logger = logger
        self.traceFD = traceFD
        self.startNanoseconds = startNanoseconds
    }

    /// Starts observing `signals`. Returns those now observed (ignored ones are left alone), or
    /// the errno value that stopped it.
    static func start(
        signals: [Int32],
        logger: Logger,
        traceFD: Int32,
        startNanoseconds: Int64
    ) -> Result<[Int32], SystemError> {
        let instance = SignalLogger(logger: logger, traceFD: traceFD, startNanoseconds: startNanoseconds)
        let context = Unmanaged.passRetained(instance).toOpaque()  // lives as long as the process
        let error = signals.map { Int32($0) }.withUnsafeBufferPointer {
            spr_signals_observe($0.baseAddress!, Int32($0.count), signalCallback, context)
        }
        guard error == 0 else { return .failure(SystemError(error)) }
        return .success(signals.filter { spr_signals_is_observed($0) != 0 })
    }

    fileprivate func received(_ record: spr_signal_record_t) {
        var record = record
        let comm = withUnsafeBytes(of: &record.sender_comm) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let sender = Sender(code: record.code, pid: record.sender_pid, uid: record.sender_uid, comm: comm)
        let name = SignalName.name(record.signal)
        let offset = Double(record.monotonic_ns - startNanoseconds) / 1_000_000
        let action =
            record.tid == 0
            ? "read ahead of the program's DispatchSource, which gets it next"
            : Self.describe(disposition: record.disposition)
        let milliseconds = (offset * 10).rounded() / 10
        var event = TraceEvent.ProgramSignal()
        event.pid = record.pid
        event.tid = record.tid
        event.signal = record.signal
        event.name = name
        event.code = record.code
        event.codeName = SignalName.codeName(record.code, signal: record.signal)
        event.senderKind = sender.kind
        if sender.kind == "process" || sender.kind == "self" {
            event.senderPID = record.sender_pid
            event.senderUID = record.sender_uid
            event.senderCommand = comm.isEmpty ? nil : comm
        }
        event.disposition = Self.dispositionName(record.disposition)
        if traceFD >= 0 {  // first: the log line may be the last thing
            TraceRecord(.programSignal(event), at: offset).write(to: traceFD)
        }
        logger.notice(
            "received \(name) from \(sender.description) at +\(milliseconds) ms; \(action)",
            metadata: [
                "signal": "\(name)", "sender_pid": "\(record.sender_pid)", "sender_uid": "\(record.sender_uid)",
                "sender_command": "\(comm)", "since_start_ms": "\(milliseconds)", "thread": "\(record.tid)",
            ]
        )
    }

    fileprivate func observedAgain(_ signal: Int32) {
        if signal > 1000 {
            logger.debug(
                "StartupProbe: \(SignalName.name(signal - 1000)) is read by a DispatchSource; StartupProbe now reads it first and passes each one on to libdispatch"
            )
        } else if signal < -1000 {
            logger.warning(
                "StartupProbe: cannot read \(SignalName.name(-signal - 1000)) ahead of libdispatch (a signalfd, socket or epoll call failed); its sender may go unlogged"
            )
        } else if signal > 0 {
            logger.debug(
                "StartupProbe: the handler of \(SignalName.name(signal)) was replaced (by libdispatch or the program); observing it again, in front of the new one"
            )
        } else {
            logger.warning("StartupProbe: cannot observe \(SignalName.name(-signal)) again (sigaction failed)")
        }
    }

    private static func describe(disposition: Int32) -> String {
        switch disposition {
        case Int32(SPR_DISPOSITION_HANDLER): return "the program's handler runs"
        case Int32(SPR_DISPOSITION_DEFAULT_FATAL): return "no handler: the default action ends the process"
        case Int32(SPR_DISPOSITION_DEFAULT_STOP): return "no handler: the default action stops the process"
        default: return "no handler: the default action ignores it"
        }
    }

    private static func dispositionName(_ disposition: Int32) -> String {
        switch disposition {
        case Int32(SPR_DISPOSITION_HANDLER): return "handler"
        case Int32(SPR_DISPOSITION_DEFAULT_FATAL): return "default_ends"
        case Int32(SPR_DISPOSITION_DEFAULT_STOP): return "default_stops"
        default: return "default_ignores"
        }
    }

    /// Who sent a signal, from its siginfo.
    private struct Sender {
        let kind: String
        let description: String

        init(code: Int32, pid: Int32, uid: UInt32, comm: String) {
            let named = comm.isEmpty ? "" : " (\(comm))"
            if code > 0 {
                kind = "kernel"
                description = "the kernel (\(SignalName.codeName(code)))"
            } else if pid == getpid() {
                kind = "self"
                description = "the program itself (pid \(pid)\(named))"
            } else if pid == 0 {
                kind = "outside"
                description = "a process outside this PID namespace"
            } else {
                kind = "process"
                description = "pid \(pid)\(named) uid \(uid)"
            }
        }
    }
}

/// The reader thread's entry into Swift: a record, or (record NULL) a signal observed again.
private let signalCallback: spr_signal_callback_t = { record, signal, context in
    guard let context else { return }
    let logger = Unmanaged<SignalLogger>.fromOpaque(context).takeUnretainedValue()
    if let record {
        logger.received(record.pointee)
    } else {
        logger.observedAgain(signal)
    }
}
