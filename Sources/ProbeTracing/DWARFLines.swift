import ProbeCore
import ProbeTrace

/// Source file and line of code addresses, from an ELF file's `.debug_line` (DWARF 2 to 5).
///
/// One pass over every line program of the module answers all the addresses of a backtrace.
/// Bounded: sections are read through ``DWARFSections`` (size limit, one deadline for all the
/// module's DWARF); malformed data ends the pass early; nothing traps.
package enum DWARFLines {
    /// For each address (the module's own virtual addresses), the file and line covering it.
    package static func lookup(_ elf: ELFFile, addresses: [UInt64]) -> [UInt64: (file: String, line: Int)] {
        lookup(DWARFSections(elf), addresses: addresses)
    }

    /// The same, from sections read (or to be read) once for the module.
    package static func lookup(_ sections: DWARFSections, addresses: [UInt64]) -> [UInt64: (file: String, line: Int)] {
        let lines = sections[".debug_line"]
        guard !addresses.isEmpty, !lines.isEmpty else { return [:] }
        let targets = Array(Set(addresses)).sorted()
        var found: [UInt64: (file: String, line: Int)] = [:]
        var reader = DWARFReader(bytes: lines)
        while reader.index < lines.count && found.count < targets.count && !sections.expired {
            guard
                let next = runUnit(
                    &reader,
                    sections: sections,
                    targets: targets,
                    into: &found
                )
            else {
                break
            }
            reader.index = next
        }
        return found
    }

    /// A line program's header: what its opcodes need, and its file names by file number.
    struct Header {
        var unitEnd: Int
        var programStart: Int
        var addressSize: Int
        var minimumInstructionLength: UInt64
        var lineBase: Int
        var lineRange: Int
        var opcodeBase: Int
        var standardLengths: [Int]
        /// By file number (DWARF 5 counts from 0; earlier versions from 1, 0 is a blank here).
        var files: [String]
    }

    /// The file names of the line program at `offset` (a unit's `DW_AT_stmt_list`), by file number.
    package static func fileNames(
        _ lines: [UInt8],
        at offset: UInt64,
        sections: DWARFSections
    ) -> [String] {
        guard offset < lines.count else { return [] }
        var r = DWARFReader(bytes: lines)
        r.index = Int(offset)
        guard case .some(.some(let header)) = header(&r, sections: sections)
        else { return [] }
        return header.files
    }

    /// Reads a unit's header: nil when malformed (the pass ends), .some(nil) when the unit is to be
    /// skipped (`r.index` then is its end).
    static func header(_ r: inout DWARFReader, sections: DWARFSections) -> Header?? {
        guard let (unitEnd, offsetSize) = r.unitLength() else { return nil }
        func skip() -> Header?? {
            r.index = unitEnd
            return .some(nil)
        }
        let version = r.u16()
        guard (2...5).contains(version) else { return skip() }
        var addressSize = 8
        if version >= 5 {
            addressSize = Int(r.u8())
            _ = r.u8()  // segment selector size
        }
        let headerLength = r.word(offsetSize)
        let programStart = r.offset(after: headerLength) ?? Int.max
        let minimumInstructionLength = UInt64(r.u8())
        if version >= 4 { _ = r.u8() }  // maximum operations per instruction
        _ = r.u8()  // default is_stmt
        let lineBase = Int(Int8(bitPattern: r.u8()))
        let lineRange = Int(r.u8())
        let opcodeBase = Int(r.u8())
        guard lineRange > 0, opcodeBase > 0 else { return skip() }
        var standardLengths: [Int] = []
        for _ in 1..<opcodeBase { standardLengths.append(Int(r.u8())) }

        var directories: [String] = []
        var files: [(name: String, directory: Int)] = []
        if version >= 5 {
            // Counts are bounded, and so is the time (a damaged count of 2^20 entries, each a
            // string of the whole string section, took minutes).
            let directoryFormats = formats(&r)
            let directoryCount = min(r.uleb(), 1 << 16)
            for i in 0..<directoryCount where !r.failed {
                if i & 1023 == 1023, sections.expired { return nil }
                directories.append(
                    entry(&r, directoryFormats, offsetSize: offsetSize, sections: sections).path
                )
            }
            let fileFormats = formats(&r)
            let fileCount = min(r.uleb(), 1 << 20)
            for i in 0..<fileCount where !r.failed {
                if i & 1023 == 1023, sections.expired { return nil }
                let e = entry(&r, fileFormats, offsetSize: offsetSize, sections: sections)
                files.append((e.path, e.directory))
            }
        } else {
            directories.append("")  // 0: the compilation directory, not recorded here
            while !r.failed, r.index < programStart {
                let directory = r.cstring()
                if directory.isEmpty { break }
                directories.append(directory)
            }
            files.append(("", 0))  // file numbers start at 1
            while !r.failed, r.index < programStart {
                let name = r.cstring()
                if name.isEmpty { break }
                let directory = Int(clamping: r.uleb())
                _ = r.uleb()
                _ = r.uleb()
                files.append((name, directory))
            }
        }
        guard !r.failed, programStart <= unitEnd else { return skip() }
        let names = files.map { f -> String in
            if f.name.hasPrefix("/") || f.directory >= directories.count || directories[f.directory].isEmpty {
                return f.name
            }
            return directories[f.directory] + "/" + f.name
        }
        return Header(
            unitEnd: unitEnd,
            programStart: programStart,
            addressSize: addressSize,
            minimumInstructionLength: minimumInstructionLength,
            lineBase: lineBase,
            lineRange: lineRange,
            opcodeBase: opcodeBase,
            standardLengths: standardLengths,
            files: names
        )
    }

    /// Runs one unit's line program; returns where the next unit starts, or nil when malformed.
    private static func runUnit(
        _ r: inout DWARFReader,
        sections: DWARFSections,
        targets: [UInt64],
        into found: inout [UInt64: (file: String, line: Int)]
    ) -> Int? {
        guard let parsed = header(&r, sections: sections) else {
            return nil
        }
        guard let h = parsed else { return r.index }
        let unitEnd = h.unitEnd
        let programStart = h.programStart
        let addressSize = h.addressSize
        let minimumInstructionLength = h.minimumInstructionLength
        let lineBase = h.lineBase
        let lineRange = h.lineRange
        let opcodeBase = h.opcodeBase
        let standardLengths = h.standardLengths
        func fileName(_ index: UInt64) -> String { index < h.files.count ? h.files[Int(index)] : "?" }

        r.index = programStart
        var address: UInt64 = 0
        var file: UInt64 = 1
        var line = 1
        var previous: (address: UInt64, file: UInt64, line: Int)? = nil
        /// A new row at `address` closes the range [previous.address, address).
        func emit(_ rowAddress: UInt64, closingOnly: Bool) {
            if let p = previous, rowAddress > p.address {
                var i = lowerBound(targets, p.address)
                while i < targets.count && targets[i] < rowAddress {
                    if found[targets[i]] == nil { found[targets[i]] = (fileName(p.file), p.line) }
                    i += 1
                }
            }
            previous = closingOnly ? nil : (rowAddress, file, line)
        }
        var opcodes = 0
        while r.index < unitEnd && !r.failed {
            opcodes += 1
            if opcodes & 0xFFFF == 0, sections.expired { return nil }
            let opcode = Int(r.u8())
            if opcode >= opcodeBase {
                let adjusted = opcode - opcodeBase
                address &+= UInt64(adjusted / lineRange) &* minimumInstructionLength
                line &+= lineBase &+ adjusted % lineRange
                emit(address, closingOnly: false)
                continue
            }
            switch opcode {
            case 0:
                let length = r.uleb()
                let end = r.offset(after: length) ?? r.count
                let sub = r.u8()
                switch sub {
                case 1:  // end_sequence
                    emit(address, closingOnly: true)
                    address = 0
                    file = 1
                    line = 1
                case 2:  // set_address
                    address = r.word(addressSize)
                default: break
                }
                r.index = end
            case 1: emit(address, closingOnly: false)  // copy
            case 2: address &+= r.uleb() &* minimumInstructionLength
            case 3: line &+= Int(truncatingIfNeeded: r.sleb())
            case 4: file = r.uleb()
            case 5: _ = r.uleb()
            case 6, 7, 10, 11: break
            case 8: address &+= UInt64((255 - opcodeBase) / lineRange) &* minimumInstructionLength
            case 9: address &+= UInt64(r.u16())
            case 12: _ = r.uleb()
            default:
                for _ in 0..<(opcode - 1 < standardLengths.count ? standardLengths[opcode - 1] : 0) { _ = r.uleb() }
            }
        }
        return unitEnd
    }

    private static func formats(_ r: inout DWARFReader) -> [(content: UInt64, form: UInt64)] {
        var result: [(UInt64, UInt64)] = []
        for _ in 0..<r.u8() { result.append((r.uleb(), r.uleb())) }
        return result
    }

    /// One directory or file entry of a DWARF 5 line header: its path and directory index.
    private static func entry(
        _ r: inout DWARFReader,
        _ formats: [(content: UInt64, form: UInt64)],
        offsetSize: Int,
        sections: DWARFSections
    ) -> (path: String, directory: Int) {
        var path = ""
        var directory = 0
        for (content, form) in formats {
            var text: String? = nil
            var number: UInt64 = 0
            switch form {
            case 0x08: text = r.cstring()  // DW_FORM_string
            case 0x1F, 0x0E:  // line_strp, strp: their string sections are read only when used
                let offset = r.word(offsetSize)
                text = DWARFReader.string(in: sections[form == 0x1F ? ".debug_line_str" : ".debug_str"], at: offset)
            case 0x0B: number = UInt64(r.u8())
            case 0x05: number = UInt64(r.u16())
            case 0x06: number = UInt64(r.u32())
            case 0x07: number = r.u64()
            case 0x0F: number = r.uleb()
            case 0x1E: r.skip(16)  // data16 (MD5)
            case 0x09:  // block
                let length = r.uleb()
                r.skip(length)
            default: r.failed = true
            }
            if content == 1, let text { path = text }  // DW_LNCT_path
            if content == 2 { directory = Int(clamping: number) }  // DW_LNCT_directory_index
        }
        return (path, directory)
    }

    static func lowerBound(_ sorted: [UInt64], _ value: UInt64) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// Little-endian reading of DWARF data that never traps: reading past the end sets `failed`.
package struct DWARFReader {
    package let bytes: [UInt8]
    package var index = 0
    package var failed = false
    package var count: Int { bytes.count }

    package mutating func u8() -> UInt8 {
        guard index < bytes.count else {
            failed = true
            return 0
        }
        defer { index += 1 }
        return bytes[index]
    }
    package mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    package mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    package mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    /// A 4- or 8-byte word (an address of `size`, or a 32-/64-bit DWARF offset).
    package mutating func word(_ size: Int) -> UInt64 { size == 4 ? UInt64(u32()) : u64() }

    /// A unit's initial length: where the unit ends and its offset size (4, or 8 for 64-bit
    /// DWARF); nil when it is empty, unreadable or runs past the data.
    package mutating func unitLength() -> (end: Int, offsetSize: Int)? {
        var length = UInt64(u32())
        var offsetSize = 4
        if length == 0xFFFF_FFFF {
            length = u64()
            offsetSize = 8
        }
        guard length > 0, !failed, let end = offset(after: length) else { return nil }
        return (end, offsetSize)
    }

    /// Where `count` bytes past the current offset end, or nil when that is past the data.
    package func offset(after count: UInt64) -> Int? {
        guard index <= bytes.count, count <= UInt64(bytes.count - index) else { return nil }
        return index + Int(count)
    }

    /// Skips `count` bytes; past the end of the data, the reading fails.
    package mutating func skip(_ count: UInt64) {
        if let next = offset(after: count) {
            index = next
        } else {
            index = bytes.count
            failed = true
        }
    }

    package mutating func uleb() -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = u8()
            if shift < 64 { result |= UInt64(byte & 0x7F) << shift }
            shift += 7
            if byte & 0x80 == 0 || failed { return result }
        }
    }

    package mutating func sleb() -> Int64 {
        var result: Int64 = 0
        var shift: Int64 = 0
        var byte: UInt8 = 0
        repeat {
            byte = u8()
            if shift < 64 { result |= Int64(byte & 0x7F) << shift }
            shift += 7
        } while byte & 0x80 != 0 && !failed
        if shift < 64 && byte & 0x40 != 0 { result |= -(Int64(1) << shift) }
        return result
    }

    package mutating func cstring() -> String {
        let start = index
        while index < bytes.count && bytes[index] != 0 { index += 1 }
        guard index < bytes.count else {
            failed = true
            return ""
        }
        defer { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// The NUL-terminated string at `offset` of a string table (at most 4 KiB of it).
    package static func string(in table: [UInt8], at offset: UInt64) -> String {
        guard offset < table.count else { return "" }
        let start = Int(offset)
        let window = table[start..<min(table.count, start + 4096)]
        let end = window.firstIndex(of: 0) ?? window.endIndex
        return String(decoding: table[start..<end], as: UTF8.self)
    }
}
