/// The mappings of a process from `/proc/PID/maps`, to name the module of an address.
package struct MemoryMap {
    package struct Region {
        package var start: UInt64
        package var end: UInt64
        package var fileOffset: UInt64
        package var path: String
        package var executable: Bool
        /// Whether it may be read or written (not a `---p` guard).
        package var accessible: Bool
        /// Whether it may be written (a stack is).
        package var writable: Bool
        /// The mapped file's device (major << 32 | minor) and inode: which file it is, whatever has
        /// its path now (0 for anonymous memory, or when not known).
        package var device: UInt64 = 0
        package var inode: UInt64 = 0

        /// Whether `other` maps the same file (device, inode, path) the same way at the same place.
        package func sameMapping(as other: Region) -> Bool {
            start == other.start && end == other.end && fileOffset == other.fileOffset
                && executable == other.executable && device == other.device && inode == other.inode
                && path == other.path
        }

        /// A mapping of `path` (from `fileOffset`) at `start..<end`.
        package init(
            start: UInt64,
            end: UInt64,
            fileOffset: UInt64,
            path: String,
            executable: Bool,
            accessible: Bool = true,
            writable: Bool = false
        ) {
            self.start = start
            self.end = end
            self.fileOffset = fileOffset
            self.path = path
            self.executable = executable
            self.accessible = accessible
            self.writable = writable
        }
    }
    package var regions: [Region]

    /// Whether `other` maps the same files at the same places, mapping for mapping (anonymous
    /// memory, the heap and the stacks aside: they change as any program runs). A field-by-field
    /// loop: `==` on the arrays would build generic conformances at its first use in each run.
    package func sameFiles(as other: MemoryMap) -> Bool {
        var i = 0
        var j = 0
        while true {
            while i < regions.count && !regions[i].path.hasPrefix("/") { i += 1 }
            while j < other.regions.count && !other.regions[j].path.hasPrefix("/") { j += 1 }
            guard i < regions.count, j < other.regions.count else { break }
            guard regions[i].sameMapping(as: other.regions[j]) else { return false }
            i += 1
            j += 1
        }
        return i == regions.count && j == other.regions.count
    }

    /// A map from known regions.
    package init(regions: [Region]) { self.regions = regions }

    /// Reads `/proc/<pid>/maps` (empty when unreadable). Parsed as bytes (``ProcText``).
    package init(pid: Int32) {
        let bytes = ProcessFacts.readSmallFileBytes("/proc/\(pid)/maps", limit: 1 << 20) ?? []
        var regions: [Region] = []
        for line in ProcText.lines(bytes) {
            // start-end perms offset dev inode [path]; the path may hold spaces.
            var fields: [ArraySlice<UInt8>] = []
            var rest = line
            while fields.count < 5, let space = rest.firstIndex(of: UInt8(ascii: " ")) {
                fields.append(rest[..<space])
                rest = rest[(space + 1)...]
            }
            guard fields.count == 5, let dash = fields[0].firstIndex(of: UInt8(ascii: "-")),
                let start = ProcText.hex(fields[0][..<dash]), let end = ProcText.hex(fields[0][(dash + 1)...]),
                let offset = ProcText.hex(fields[2])
            else { continue }
            while rest.first == UInt8(ascii: " ") { rest = rest.dropFirst() }
            var region = Region(
                start: start,
                end: end,
                fileOffset: offset,
                path: ProcText.string(rest),
                executable: fields[1].contains(UInt8(ascii: "x")),
                accessible: fields[1].prefix(3).contains { $0 != UInt8(ascii: "-") },
                writable: fields[1].contains(UInt8(ascii: "w"))
            )
            // "fd:01 1234567": the device (major:minor, hex) and the inode (decimal).
            if let colon = fields[3].firstIndex(of: UInt8(ascii: ":")),
                let major = ProcText.hex(fields[3][..<colon]), let minor = ProcText.hex(fields[3][(colon + 1)...])
            {
                region.device = major << 32 | minor
            }
            region.inode = ProcText.decimal(fields[4]).map { UInt64(max($0, 0)) } ?? 0
            regions.append(region)
        }
        self.regions = regions
    }

    /// The module (file path, or `[stack]` and the like) holding `address`, and the address's
    /// offset in that file.
    package func locate(_ address: UInt64) -> (module: String, offset: UInt64)? {
        guard let region = regions.first(where: { $0.start <= address && address < $0.end }) else { return nil }
        return (region.path.isEmpty ? "[anonymous]" : region.path, address - region.start + region.fileOffset)
    }

    /// Whether `address` is in an executable mapping of `module`: code, where a breakpoint may go
    /// (not the module's data, where one would corrupt it).
    package func isCode(_ address: UInt64, of module: String?) -> Bool {
        regions.contains { $0.start <= address && address < $0.end && $0.executable && $0.path == module }
    }
}
