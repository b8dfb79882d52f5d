import ProbeCore
import ProbeTrace

/// The ELF auxiliary vector of a process, from `/proc/PID/auxv`.
package struct Auxv {
    /// (Pairs, not a dictionary: a handful of entries, and no generic metadata built at start.)
    private var values: [(key: UInt64, value: UInt64)] = []

    /// Reads it; empty when unreadable.
    package init(pid: Int32) {
        guard let text = ProcessFacts.readSmallFileBytes("/proc/\(pid)/auxv", limit: 4096) else { return }
        var i = 0
        while i + 16 <= text.count {
            let key = ELFFile.u64(text, i)
            if key == 0 { break }
            values.append((key, ELFFile.u64(text, i + 8)))
            i += 16
        }
    }

    /// AT_ENTRY: the program's entry point, relocated.
    package var entry: UInt64? { values.last(where: { $0.key == 9 })?.value }
}
