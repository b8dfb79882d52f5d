import ProbeCore
import ProbeTrace

/// The ELF auxiliary vector of a process, from `/proc/PID/auxv`.
package struct Auxv {
    private var values: [UInt64: UInt64] = [:]

    /// Reads it; empty when unreadable.
    package init(pid: Int32) {
        guard let text = ProcessFacts.readSmallFileBytes("/proc/\(pid)/auxv", limit: 4096) else { return }
        var i = 0
        while i + 16 <= text.count {
            let key = ELFFile.u64(text, i)
            if key == 0 { break }
            values[key] = ELFFile.u64(text, i + 8)
            i += 16
        }
    }

    /// AT_ENTRY: the program's entry point, relocated.
    package var entry: UInt64? { values[9] }
}
