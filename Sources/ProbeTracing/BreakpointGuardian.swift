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
/// tracer), and the untraced program would die of SIGTRAP at the first one it reached. While any
/// is planted, a guardian process (`spr_guardian_start`, C: a forked child) holds the program's
/// memory open and the planted words; if probe-exec dies it puts the original bytes back. It is
/// released as soon as none is planted (main() reached, tracing ended, the program gone).
package struct BreakpointGuardian {
    /// `Milestones.plantings` when the running guardian was started; nil when none runs.
    private var guardedPlantings: Int?
    /// Why the last guardian could not be started (reported once by the tracer).
    package private(set) var failure: SystemError?

    /// Guards nothing yet.
    package init() {}

    /// Whether the running guardian's list is out of date with `milestones` (breakpoints planted
    /// since it started), so a new one must start.
    package func needsStart(_ milestones: Milestones) -> Bool {
        !milestones.breakpoints.isEmpty && guardedPlantings != milestones.plantings
    }

    /// Whether a guardian runs though no breakpoint is planted any more.
    package func needsRelease(_ milestones: Milestones) -> Bool {
        milestones.breakpoints.isEmpty && guardedPlantings != nil
    }

    /// Starts a guardian for every breakpoint planted in `milestones` (releasing the previous one).
    /// Returns false when it could not (``failure`` says why); the breakpoints are then unguarded.
    package mutating func start(_ milestones: Milestones) -> Bool {
        let planted = milestones.breakpoints.values.map {
            spr_planted_t(address: $0.address, original: $0.original, planted: $0.planted)
        }
        let pid = planted.withUnsafeBufferPointer {
            spr_guardian_start(milestones.process, $0.baseAddress!, Int32($0.count))
        }
        guardedPlantings = milestones.plantings
        guard pid > 0 else {
            failure = SystemError.current
            guardedPlantings = nil
            return false
        }
        return true
    }

    /// Releases the running guardian: it exits without touching the program.
    package mutating func release() {
        spr_guardian_release()
        guardedPlantings = nil
    }
}
