import CProbeExec
import ProbeCore
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Copies one of the child's output streams to one of our descriptors on its own thread
/// (C, `spr_pump.c`), as bytes arrive, and keeps the last bytes for the trace.
package final class OutputPump {
    /// `stdout` or `stderr`.
    package let stream: String
    private var pump = spr_pump_t()
    package private(set) var isRunning = false

    package init(stream: String) { self.stream = stream }

    /// Starts forwarding `input` (a pipe read end, now owned by the pump) to `output`. Where no
    /// thread can be started (a pids limit), the pump is ``inline``: its owner polls ``inlinePoll``,
    /// forwards with ``service()`` when it is ready, and ``join(until:)`` drains it.
    /// - Throws: ``SystemError`` when the pump cannot be made at all (no memory).
    package func start(input: Int32, output: Int32, stop: Int32, notify: Int32) throws(SystemError) {
        let error = spr_pump_start(&pump, input, output, stop, notify, 1)
        guard error == 0 else { throw SystemError(error) }
        isRunning = true
    }

    /// Why no thread forwards this stream (its owner does), or nil when one does.
    package var inline: SystemError? { pump.inline_mode != 0 ? SystemError(pump.thread_errno) : nil }

    /// Inline: the pipe to poll for the program's bytes (-1 once forwarding is over).
    package var inputDescriptor: Int32 { pump.in_fd }

    /// Inline: what to poll next, so the loop never blocks on a reader that does not read: the
    /// output for room (POLLOUT) when it took no more, else the pipe for bytes (POLLIN).
    package var inlinePoll: pollfd {
        pump.waiting_for_output != 0
            ? pollfd(fd: pump.out_fd, events: Int16(POLLOUT), revents: 0)
            : pollfd(fd: pump.in_fd, events: Int16(POLLIN), revents: 0)
    }

    /// Inline: forwards what the pipe holds now.
    package func service() { _ = spr_pump_service(&pump) }

    /// CLOCK_MONOTONIC nanoseconds of the first byte, or nil (safe to read while running).
    package var firstByteNanoseconds: Int64? {
        let ns = spr_pump_first_byte_ns(&pump)
        return ns == 0 ? nil : ns
    }

    /// The output error that stopped forwarding (EPIPE when the reader left), once known.
    package var outputError: SystemError? {
        let e = spr_pump_out_errno(&pump)
        return e == 0 ? nil : SystemError(e)
    }

    /// Waits for the thread; afterwards ``bytes`` and ``takeTail(capacity:)`` are final.
    package func join() {
        guard isRunning else { return }
        if inline != nil {
            _ = join(until: .max)  // drained, within its own drain time
            return
        }
        _ = spr_pump_join(&pump)
        isRunning = false
    }

    /// Waits for the thread until CLOCK_MONOTONIC `deadline`; true when it has ended. A pump that
    /// does not end is abandoned: ``takeTail(capacity:)`` then copies its tail without closing
    /// anything it may still use.
    package func join(until deadline: Int64) -> Bool {
        guard isRunning else { return true }
        if inline != nil {
            spr_pump_drain(&pump, min(deadline, spr_monotonic_ns() + Int64(pump.drain_ms) * 1_000_000))
            isRunning = false
            return true
        }
        guard spr_pump_join_until(&pump, deadline) == 0 else { return false }
        isRunning = false
        return true
    }

    /// Bytes forwarded.
    package var bytes: UInt64 { withUnsafeMutablePointer(to: &pump) { spr_pump_bytes($0) } }

    /// Whether splice carried the bytes (false: the read/write fallback did).
    package var usedSplice: Bool { pump.spliced != 0 }

    /// The most recent output (at most `capacity` bytes), without consuming it; while running.
    package func peekTail(capacity: Int) -> [UInt8] {
        guard isRunning else { return [] }
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = spr_pump_peek_tail(&pump, buffer.baseAddress!, capacity)
        }
    }

    /// The last at most `capacity` bytes that went through. Call once, after ``join()``.
    package func takeTail(capacity: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = spr_pump_take_tail(&pump, buffer.baseAddress!, capacity)
        }
    }
}
