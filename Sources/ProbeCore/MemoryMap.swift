/// The mappings of a process from `/proc/PID/maps`, to name the module of an address.
package struct MemoryMap {
    package struct Region {
        package var start: UInt64
        package var end: UInt64
        package var fileOffset: UInt64
        package var path: String
        package var executable: Bool

        /// A mapping of `path` (from `fileOffset`) at `start..<end`.
        package init(start: UInt64, end: UInt64, fileOffset: UInt64, path: String, executable: Bool) {
            self.start = start
            self.end = end
            self.fileOffset = fileOffset
            self.path = path
            self.executable = executable
        }
    }
    package var regions: [Region]

    /// A map from known regions.
    package init(regions: [Region]) { self.regions = regions }

    /// Reads `/proc/<pid>/maps` (empty when unreadable).
    package init(pid: Int32) {
        let text = ProcessFacts.readSmallFile("/proc/\(pid)/maps", limit: 1 << 20) ?? ""
        var regions: [Region] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                let offset = UInt64(fields[2], radix: 16)
            else { continue }
            let path = fields.count == 6 ? String(fields[5]).trimmingLeadingSpaces() : ""
            regions.append(
                Region(start: start, end: end, fileOffset: offset, path: path, executable: fields[1].contains("x"))
            )
        }
        self.regions = regions
    }

    /// The module (file path, or `[stack]` and the like) holding `address`, and the address's
    /// offset in that file.
    package func locate(_ address: UInt64) -> (module: String, offset: UInt64)? {
        guard let region = regions.first(where: { $0.start <= address && address < $0.end }) else { return nil }
        return (region.path.isEmpty ? "[anonymous]" : region.path, address - region.start + region.fileOffset)
    }
}

extension String {
    fileprivate func trimmingLeadingSpaces() -> String { String(self.drop(while: { $0 == " " })) }
}
