import ProbeCore

/// Where the supervisor and the tracer record events: a trace writer, and the clock their
/// offsets are measured on.
package final class TraceRecorder {
    /// The trace file (fails open).
    package let writer: TraceWriter
    /// The clock every offset comes from.
    package let clock: TraceClock

    /// Records into `writer` with offsets on `clock`.
    package init(writer: TraceWriter, clock: TraceClock) {
        self.writer = writer
        self.clock = clock
    }

    /// Milliseconds since the start, now or at `nanoseconds`.
    package func offset(_ nanoseconds: Int64 = TraceClock.nowNanoseconds) -> Double {
        clock.milliseconds(at: nanoseconds)
    }

    /// Appends `event` at `offset` (now by default).
    package func append(_ event: TraceEvent, at offset: Double? = nil) {
        writer.append(TraceRecord(event, at: offset ?? self.offset()))
    }

    /// Records a `warning` event.
    package func warning(_ message: String) {
        append(.warning(.init(message)))
    }

    /// Says `message` once on probe-exec's stderr (through the writer's warning channel).
    package func warn(_ message: String) {
        writer.fail(message)
    }
}
