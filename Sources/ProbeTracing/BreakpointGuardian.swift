import CProbeExec
import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Keeps the start-up breakpoints from outliving probe-exec.
///
/// Between the program's exec and its `main()` the milestones' breakpoints are planted in its
/// code. A SIGKILL of probe-exec then detaches the program (the kernel does that for a dead
/// tracer), and the untraced program would die of SIGTRAP at the first one it reached. A guardian
/// process (`spr_guardian_start`, C: a forked child, in a process group of its own) is started
/// before the program where `int3` is expected (the CPU's breakpoints refused), else at the first
/// planting; at each planting, before the program is let go, it is sent the planted words and the
/// program's memory; if probe-exec dies, it puts the original bytes back. With the CPU's
/// breakpoints nothing is planted and no guardian runs.
package struct BreakpointGuardian {
    /// `Milestones.plantings` when the guardian was last told; nil when it guards nothing.
    private var guardedPlantings: Int?
    /// Why the guardian could not start or be told (reported once by the tracer); nil while it works.
    package private(set) var failure: SystemError?
    /// Whether the guardian process runs (it is started at the first planting otherwise).
    private var running: Bool

    /// A guardian not started yet: the milestones are expected to be watched by hardware
    /// breakpoints; it is started at the first breakpoint planted all the same.
    package init() {
        running = false
    }

    /// A guardian started now, before the program's first breakpoint: ``failure`` says why
    /// not when it could not start.
    package static func started() -> BreakpointGuardian {
        var guardian = BreakpointGuardian()
        guardian.failure = start()
        guardian.running = guardian.failure == nil
        return guardian
    }

    /// Starts the guardian process: nil when it runs, else why not.
    private static func start() -> SystemError? {
        spr_guardian_start() > 0 ? nil : SystemError.current
    }

    /// Releases the guardian and reaps it (the program is gone, or tracing ended).
    package static func finish(timeoutMilliseconds: Int32 = 100) {
        spr_guardian_finish(timeoutMilliseconds)
    }

    /// Brings the guardian up to date with `milestones`: the breakpoints planted since it was last
    /// told, or that none is planted any more. Call while the program is stopped, before letting
    /// it go. Returns false when it could not be told (``failure`` says why).
    package mutating func update(_ milestones: Milestones) -> Bool {
        guard failure == nil else { return false }
        if milestones.breakpoints.isEmpty {
            guard guardedPlantings != nil else { return true }
            guardedPlantings = nil
            let error = spr_guardian_forget()
            if error != 0 { failure = SystemError(error) }
            return error == 0
        }
        guard guardedPlantings != milestones.plantings else { return true }
        if !running {
            failure = BreakpointGuardian.start()
            running = failure == nil
            guard running else { return false }
        }
        guardedPlantings = milestones.plantings
        let planted = milestones.breakpoints.values.map {
            spr_planted_t(address: $0.address, original: $0.original, planted: $0.planted)
        }
        let error = planted.withUnsafeBufferPointer {
            spr_guardian_guard(milestones.process, $0.baseAddress!, Int32($0.count))
        }
        if error != 0 { failure = SystemError(error) }
        return error == 0
    }
}
