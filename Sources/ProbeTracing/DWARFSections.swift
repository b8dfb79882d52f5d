import ProbeCore

/// The DWARF sections of one module for one backtrace: each read (and inflated, when compressed)
/// on first use and once, under one deadline that everything reading them shares, so that a
/// damaged or enormous debug build costs a bounded time after the program's end.
package final class DWARFSections {
    /// The largest section read (a crash must not wait on a huge debug build).
    package static let maximumSectionBytes = 32 << 20
    /// The time all reading of one backtrace's DWARF may take.
    package static let budgetNanoseconds: Int64 = 250_000_000

    private let elf: ELFFile
    private var cache: [String: [UInt8]] = [:]
    /// CLOCK_MONOTONIC nanoseconds after which reading stops.
    package let deadline: Int64

    /// The sections of `elf`, read until `deadline` (by default ``budgetNanoseconds`` from now;
    /// the modules of one backtrace share one).
    package init(_ elf: ELFFile, deadline: Int64? = nil) {
        self.elf = elf
        self.deadline = deadline ?? TraceClock.nowNanoseconds + DWARFSections.budgetNanoseconds
    }

    /// The section called `name`; empty when it is absent, unreadable, too large, or the time is up.
    package subscript(_ name: String) -> [UInt8] {
        if let known = cache[name] { return known }
        let bytes =
            expired
            ? [] : (elf.section(named: name, limit: DWARFSections.maximumSectionBytes, deadline: deadline) ?? [])
        cache[name] = bytes
        return bytes
    }

    /// Whether the time is up.
    package var expired: Bool { TraceClock.nowNanoseconds >= deadline }
}
