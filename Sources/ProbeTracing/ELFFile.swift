import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Just enough of a 64-bit little-endian ELF file to find the entry point and a function's
/// address: read with pread, never mapped or loaded whole.
package struct ELFFile {
    /// ET_EXEC (fixed addresses) or ET_DYN (position-independent).
    package var type: UInt16
    /// e_entry, before relocation.
    package var entry: UInt64
    /// Program headers: type, flags, file offset, virtual address, sizes in file and memory.
    package var segments:
        [(type: UInt32, flags: UInt32, offset: UInt64, address: UInt64, fileSize: UInt64, memorySize: UInt64)] = []
    let fd: Int32
    var sections: [(type: UInt32, offset: UInt64, size: UInt64, link: UInt32, entrySize: UInt64)] = []
    /// Section names and flags, parallel to `sections`.
    private var sectionNames: [String] = []
    private var sectionFlags: [UInt64] = []
    /// Section virtual addresses (sh_addr), parallel to `sections`.
    private var sectionAddresses: [UInt64] = []

    /// Opens `path`; nil when it is not a 64-bit little-endian ELF file.
    package init?(path: String) {
        // O_NONBLOCK: a path that names a FIFO (a debug link, say) must not block the open; only
        // regular files are read.
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var header = [UInt8](repeating: 0, count: 64)
        var kind = stat()
        guard fstat(fd, &kind) == 0, kind.st_mode & S_IFMT == S_IFREG, pread(fd, &header, 64, 0) == 64,
            header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C,
            header[3] == 0x46,
            header[4] == 2, header[5] == 1
        else {
            Glibc.close(fd)
            return nil
        }
        var status = stat()
        let fileSize = fstat(fd, &status) == 0 ? UInt64(max(status.st_size, 0)) : 0
        type = ELFFile.u16(header, 16)
        entry = ELFFile.u64(header, 24)
        let programOffset = ELFFile.u64(header, 32)
        let programEntrySize = Int(ELFFile.u16(header, 54))
        let programCount = Int(ELFFile.u16(header, 56))
        if let table = ELFFile.readTable(
            fd,
            offset: programOffset,
            entrySize: programEntrySize,
            count: programCount,
            minimumEntrySize: 56,
            maximumCount: 4096
        ) {
            for i in 0..<programCount {
                let b = i * programEntrySize
                var segment = (
                    type: ELFFile.u32(table, b), flags: ELFFile.u32(table, b + 4), offset: ELFFile.u64(table, b + 8),
                    address: ELFFile.u64(table, b + 16),
                    fileSize: ELFFile.u64(table, b + 32), memorySize: ELFFile.u64(table, b + 40)
                )
                // Out of the file, or past the end of the address space: a damaged header,
                // ignored (PT_NULL) so that no sum over it can overflow.
                if !ELFFile.fits(segment.offset, segment.fileSize, in: fileSize)
                    || segment.address > UInt64.max - max(segment.memorySize, segment.fileSize)
                {
                    segment.type = 0
                }
                segments.append(segment)
            }
        }
        let sectionOffset = ELFFile.u64(header, 40)
        let sectionEntrySize = Int(ELFFile.u16(header, 58))
        let sectionCount = Int(ELFFile.u16(header, 60))
        if let table = ELFFile.readTable(
            fd,
            offset: sectionOffset,
            entrySize: sectionEntrySize,
            count: sectionCount,
            minimumEntrySize: 64,
            maximumCount: 65536
        ) {
            var nameOffsets: [Int] = []
            for i in 0..<sectionCount {
                let base = i * sectionEntrySize
                var section = (
                    type: ELFFile.u32(table, base + 4), offset: ELFFile.u64(table, base + 24),
                    size: ELFFile.u64(table, base + 32),
                    link: ELFFile.u32(table, base + 40), entrySize: ELFFile.u64(table, base + 56)
                )
                if section.type != 8 && !ELFFile.fits(section.offset, section.size, in: fileSize) {  // not NOBITS
                    section.offset = 0  // out of the file: a damaged header, read as empty
                    section.size = 0
                }
                sections.append(section)
                nameOffsets.append(Int(ELFFile.u32(table, base)))
                sectionFlags.append(ELFFile.u64(table, base + 8))
                sectionAddresses.append(ELFFile.u64(table, base + 16))
            }
            let namesIndex = Int(ELFFile.u16(header, 62))
            if namesIndex < sections.count, sections[namesIndex].size < 1 << 24,
                let names = read(offset: sections[namesIndex].offset, count: Int(sections[namesIndex].size))
            {
                sectionNames = nameOffsets.map { DWARFReader.string(in: names, at: UInt64($0)) }
            }
        }
    }

    /// Closes the file.
    package func close() { _ = Glibc.close(fd) }

    /// Whether a section called `name` exists.
    package func hasSection(_ name: String) -> Bool { sectionNames.contains(name) }

    /// The contents of the section called `name`, or nil when absent, empty, compressed
    /// (SHF_COMPRESSED) or larger than `limit`.
    /// Whether the section called `name` has contents (not empty, not SHT_NOBITS as in a stripped
    /// file's debug copy).
    package func hasReadableSection(_ name: String) -> Bool {
        guard let i = sectionNames.firstIndex(of: name) else { return false }
        return sections[i].type != 8 && sections[i].size > 0
    }

    /// The contents of the section called `name`, at most `limit` bytes: a compressed one
    /// (`SHF_COMPRESSED`, as `-gz` writes debug sections) inflated when it is zlib's.
    package func section(named name: String, limit: Int, deadline: Int64 = .max) -> [UInt8]? {
        guard let i = sectionNames.firstIndex(of: name), sections[i].type != 8,  // SHT_NOBITS
            sections[i].size > 0, sections[i].size <= UInt64(limit)
        else { return nil }
        guard let bytes = read(offset: sections[i].offset, count: Int(sections[i].size)) else { return nil }
        guard sectionFlags[i] & 0x800 != 0 else { return bytes }
        // Elf64_Chdr: type (1: zlib; 2: zstd, not read), reserved, size, alignment; then the stream.
        guard bytes.count > 24, ELFFile.u32(bytes, 0) == 1 else { return nil }
        let size = ELFFile.u64(bytes, 8)
        guard size <= UInt64(limit) else { return nil }
        return Inflate.zlib(bytes, from: 24, expectedSize: Int(size), limit: limit, deadline: deadline)
    }

    /// The virtual address (before relocation) of the section called `name`, or nil.
    package func sectionAddress(named name: String) -> UInt64? {
        sectionNames.firstIndex(of: name).map { sectionAddresses[$0] }
    }

    /// The load bias of this file in a process, from one of its mappings: the mapping puts file
    /// offset `region.fileOffset` at `region.start`, so a PT_LOAD segment overlapping it (file
    /// offset o, address a) starts at region.start + o - region.fileOffset. Mappings start at
    /// page boundaries, segments need not, and a segment's address may differ from its offset
    /// (LLD). `executable` picks the executable segment.
    package func loadBias(of region: MemoryMap.Region, executable: Bool = false) -> UInt64? {
        guard
            let load = segments.first(where: {
                $0.type == 1 && (!executable || $0.flags & 1 != 0)
                    && $0.offset < region.fileOffset + (region.end - region.start)
                    && region.fileOffset < $0.offset + max($0.fileSize, 1)
            })
        else { return nil }
        return region.start &+ load.offset &- region.fileOffset &- load.address
    }

    /// Whether `address` (before relocation) lies in an executable PT_LOAD segment.
    package func isCode(atAddress address: UInt64) -> Bool {
        segments.contains {
            $0.type == 1 && $0.flags & 1 != 0 && $0.address <= address && address - $0.address < $0.memorySize
        }
    }

    /// The virtual address of file offset `offset`, through the PT_LOAD segment holding it.
    package func address(ofFileOffset offset: UInt64) -> UInt64? {
        guard
            let load = segments.first(where: { $0.type == 1 && $0.offset <= offset && offset < $0.offset + $0.fileSize }
            )
        else { return nil }
        return load.address &+ (offset - load.offset)
    }

    /// DT_NEEDED names, DT_RPATH and DT_RUNPATH from the PT_DYNAMIC segment.
    package func dynamicEntries() -> (needed: [String], rpath: String?, runpath: String?) {
        guard let dynamic = segments.first(where: { $0.type == 2 }), dynamic.fileSize < 1 << 20,  // PT_DYNAMIC
            let entries = read(offset: dynamic.offset, count: Int(dynamic.fileSize))
        else { return ([], nil, nil) }
        var neededOffsets: [UInt64] = []
        var rpath: UInt64?
        var runpath: UInt64?
        var stringTable: UInt64?
        var stringSize: UInt64 = 0
        var i = 0
        while i + 16 <= entries.count {
            let tag = ELFFile.u64(entries, i)
            let value = ELFFile.u64(entries, i + 8)
            switch tag {
            case 0: i = entries.count
            case 1: neededOffsets.append(value)  // DT_NEEDED
            case 5: stringTable = value  // DT_STRTAB (an address)
            case 10: stringSize = value  // DT_STRSZ
            case 15: rpath = value  // DT_RPATH
            case 29: runpath = value  // DT_RUNPATH
            default: break
            }
            i += 16
        }
        guard let stringTable, stringSize > 0, stringSize < 16 << 20,
            let load = segments.first(where: {
                $0.type == 1 && $0.address <= stringTable && stringTable < $0.address + $0.fileSize
            })
        else { return ([], nil, nil) }
        // Each name read where it is (the table is megabytes in a large program: node's is 5 MB).
        let start = load.offset + (stringTable - load.address)
        func string(_ offset: UInt64) -> String {
            offset < stringSize ? self.string(atFileOffset: start + offset, end: start + stringSize) : ""
        }
        return (neededOffsets.map(string), rpath.map(string), runpath.map(string))
    }

    /// The NUL-terminated string at file offset `offset` (not past `end`; about `limit` bytes at
    /// most), read in small steps.
    func string(atFileOffset offset: UInt64, end: UInt64, limit: Int = 1 << 16) -> String {
        var bytes: [UInt8] = []
        var position = offset
        while position < end && bytes.count < limit {
            let step = Int(min(256, end - position))
            guard let piece = read(offset: position, count: step) else { break }
            if let nul = piece.firstIndex(of: 0) {
                bytes += piece[..<nul]
                break
            }
            bytes += piece
            position += UInt64(step)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The dynamic string table (DT_STRTAB, DT_STRSZ: the names of the dynamic symbols and the
    /// DT_NEEDED libraries), or nil when absent or larger than `limit`.
    package func dynamicStrings(limit: Int = 16 << 20) -> [UInt8]? {
        guard let dynamic = segments.first(where: { $0.type == 2 }), dynamic.fileSize < 1 << 20,  // PT_DYNAMIC
            let entries = read(offset: dynamic.offset, count: Int(dynamic.fileSize))
        else { return nil }
        var stringTable: UInt64?
        var stringSize: UInt64 = 0
        var i = 0
        while i + 16 <= entries.count {
            let tag = ELFFile.u64(entries, i)
            if tag == 0 { break }
            if tag == 5 { stringTable = ELFFile.u64(entries, i + 8) }  // DT_STRTAB
            if tag == 10 { stringSize = ELFFile.u64(entries, i + 8) }  // DT_STRSZ
            i += 16
        }
        guard let stringTable, stringSize > 0, stringSize <= UInt64(limit),
            let load = segments.first(where: {
                $0.type == 1 && $0.address <= stringTable && stringTable < $0.address + $0.fileSize
            })
        else { return nil }
        return read(offset: load.offset + (stringTable - load.address), count: Int(stringSize))
    }

    /// The PT_INTERP path (the dynamic loader the kernel must load), or nil for a static binary.
    package var interpreter: String? {
        guard let segment = segments.first(where: { $0.type == 3 }), segment.fileSize < 4096,  // PT_INTERP
            let bytes = read(offset: segment.offset, count: Int(segment.fileSize))
        else { return nil }
        return String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// The sections loaded at run time (SHF_ALLOC), by name: address and size. A separate debug
    /// file keeps them (as SHT_NOBITS) with the addresses and sizes of the build it was made from.
    package var allocatedSections: [String: (address: UInt64, size: UInt64)] {
        var result: [String: (address: UInt64, size: UInt64)] = [:]
        for i in sections.indices where sectionFlags[i] & 0x2 != 0 {
            result[sectionNames[i]] = (sectionAddresses[i], sections[i].size)
        }
        return result
    }

    /// The CRC-32 (IEEE, as `.gnu_debuglink` holds it) of the whole file, read in 1 MiB pieces;
    /// nil when it is larger than `limit` or cannot be read.
    package func crc32(limit: Int) -> UInt32? {
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size >= 0, status.st_size <= limit else { return nil }
        var crc: UInt32 = 0xFFFF_FFFF
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while offset < Int(status.st_size) {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard n > 0 else { return nil }
            for i in 0..<n { crc = ELFFile.crcTable[Int((crc ^ UInt32(buffer[i])) & 0xFF)] ^ (crc >> 8) }
            offset += n
        }
        return ~crc
    }

    /// The CRC-32 table of the reflected polynomial 0xEDB88320.
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The GNU build-id (hex) from a PT_NOTE segment, or nil.
    package var buildID: String? {
        for note in segments where note.type == 4 && note.fileSize < 1 << 16 {  // PT_NOTE
            guard let bytes = read(offset: note.offset, count: Int(note.fileSize)) else { continue }
            var i = 0
            while i + 12 <= bytes.count {
                let nameSize = Int(ELFFile.u32(bytes, i))
                let descriptionSize = Int(ELFFile.u32(bytes, i + 4))
                let type = ELFFile.u32(bytes, i + 8)
                let name = i + 12
                let description = name + ((nameSize + 3) & ~3)
                guard description + descriptionSize <= bytes.count else { break }
                // NT_GNU_BUILD_ID
                // NT_GNU_BUILD_ID of owner "GNU"
                if type == 3, nameSize == 4, bytes[name] == 0x47, bytes[name + 1] == 0x4E, bytes[name + 2] == 0x55 {
                    // Hex by hand: String(_:radix:) builds generic metadata at its first use, at every start.
                    let digits: [UInt8] = Array("0123456789abcdef".utf8)
                    var hex: [UInt8] = []
                    hex.reserveCapacity(descriptionSize * 2)
                    for b in bytes[description..<(description + descriptionSize)] {
                        hex.append(digits[Int(b >> 4)])
                        hex.append(digits[Int(b & 0xF)])
                    }
                    return String(decoding: hex, as: UTF8.self)
                }
                i = description + ((descriptionSize + 3) & ~3)
            }
        }
        return nil
    }

    /// A header table (program or section headers): `count` entries of `entrySize` bytes at
    /// `offset`, or nil when the header's numbers are implausible or the file is short.
    private static func readTable(
        _ fd: Int32,
        offset: UInt64,
        entrySize: Int,
        count: Int,
        minimumEntrySize: Int,
        maximumCount: Int
    ) -> [UInt8]? {
        guard offset > 0, offset < UInt64(Int64.max) >> 1, entrySize >= minimumEntrySize, count > 0,
            count < maximumCount
        else { return nil }
        var table = [UInt8](repeating: 0, count: count * entrySize)
        return pread(fd, &table, table.count, off_t(offset)) == table.count ? table : nil
    }

    /// Whether `size` bytes at `offset` lie within a file of `fileSize` bytes.
    static func fits(_ offset: UInt64, _ size: UInt64, in fileSize: UInt64) -> Bool {
        offset <= fileSize && size <= fileSize - offset
    }

    /// Reads `count` bytes at `offset` into the start of `buffer` (at least `count` long); false
    /// when the file is short or unreadable there.
    func read(offset: UInt64, into buffer: inout [UInt8], count: Int) -> Bool {
        guard count >= 0, count <= buffer.count, offset <= UInt64(Int64.max) - UInt64(count) else { return false }
        return buffer.withUnsafeMutableBytes { readFully($0.baseAddress, count, at: offset) == count }
    }

    func read(offset: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, offset <= UInt64(Int64.max) - UInt64(count) else { return nil }
        // Read straight into the array's storage (no zero-filling first: sections run to MBs).
        var complete = true
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = readFully(UnsafeMutableRawPointer(buffer.baseAddress), count, at: offset)
            complete = initialized == count
        }
        return complete ? bytes : nil
    }

    /// Reads up to `count` bytes at `offset` into `destination`, as many pread calls as it takes;
    /// returns how many were read (fewer at the end of the file or on an error).
    private func readFully(_ destination: UnsafeMutableRawPointer?, _ count: Int, at offset: UInt64) -> Int {
        guard let destination else { return 0 }  // nothing to read into (count 0)
        var done = 0
        while done < count {
            let n = pread(fd, destination + done, count - done, off_t(offset) + off_t(done))
            if n <= 0 { break }
            done += n
        }
        return done
    }

    package static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    package static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }
    package static func u64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }
}
