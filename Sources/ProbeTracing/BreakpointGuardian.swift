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
/// before the program; at each planting, before the program is let go, it is sent the planted
/// words and the program's memory; if probe-exec dies, it puts the original bytes back.
package struct BreakpointGuardian {
    /// `Milestones.plantings` when the guardian was last told; nil when it guards nothing.
    private var guardedPlantings: Int?
    /// Why the guardian could not start or be told (reported once by the tracer); nil while it works.
    package private(set) var failure: SystemError?

    /// A guardian started as ``start()`` said: `failure` is its error, nil when it runs.
    package init(failure: SystemError?) {
        self.failure = failure
    }

    /// Starts the guardian, before the program: nil when it runs, else why not.
    package static func start() -> SystemError? {
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
