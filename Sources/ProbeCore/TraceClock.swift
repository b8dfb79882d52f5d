import CStartupProbe

/// The one clock trace offsets are measured on: CLOCK_MONOTONIC, from a start instant (probe-exec's
/// process start, or the program's when the library runs without probe-exec).
package struct TraceClock: Sendable {
    /// CLOCK_MONOTONIC nanoseconds at the start.
    package let startNanoseconds: Int64

    /// A clock that starts at `startNanoseconds`.
    package init(startNanoseconds: Int64) {
        self.startNanoseconds = startNanoseconds
    }

    /// A clock that starts when this process started (taken by a C constructor before `main`).
    package static var processStart: TraceClock { TraceClock(startNanoseconds: spr_process_start_ns()) }

    /// CLOCK_MONOTONIC now, in nanoseconds.
    package static var nowNanoseconds: Int64 { spr_monotonic_ns() }

    /// Milliseconds from the start to `nanoseconds` (now by default), to the microsecond.
    package func milliseconds(at nanoseconds: Int64 = spr_monotonic_ns()) -> Double {
        Double(nanoseconds - startNanoseconds) / 1_000_000
    }
}
