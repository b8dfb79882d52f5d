import CProbeExec
import ProbeCore

/// What the probe-exec executable asks of the system for itself, behind ProbeSupervisor's door.
package enum ProbeExecProcess {
    /// Blocks every signal probe-exec forwards (first thing in main). Returns 0 or an errno value.
    @discardableResult
    package static func blockSupervisedSignals() -> Int32 { spr_block_supervised_signals() }

    /// Gives back the signal mask and dispositions probe-exec inherited (subcommands that run no
    /// program). Returns 0 or an errno value.
    @discardableResult
    package static func unblockSupervisedSignals() -> Int32 { spr_unblock_supervised_signals() }

    /// Holds the standard descriptors probe-exec was started without (see spr_supervise.h).
    @discardableResult
    package static func reserveStandardDescriptors() -> Int32 { spr_reserve_standard_fds() }

    /// argv as the kernel passed it, bytes (saved by a constructor; empty where the C library
    /// gives constructors no arguments).
    package static var arguments: [[UInt8]] {
        (0..<spr_saved_argc()).compactMap { spr_saved_argv($0).map { cStringBytes($0) } }
    }

    /// Variables probe-exec's constructor put into its own environment (`SWIFT_ROOT` without /proc,
    /// for the static Swift runtime): not the program's, so neither given to it nor recorded.
    package static var addedVariables: [String] { spr_added_swift_root() == 1 ? ["SWIFT_ROOT"] : [] }

    /// ``arguments`` as text, invalid UTF-8 repaired as `CommandLine.arguments` repairs it.
    package static var argumentStrings: [String] {
        (0..<spr_saved_argc()).compactMap { spr_saved_argv($0).map { String(cString: $0) } }
    }

    /// Connects to the control socket of probe-exec `pid` (`probe-exec detach`). Returns the fd or -1.
    package static func connectControl(to pid: Int32) -> Int32 { spr_control_connect(pid) }
}
