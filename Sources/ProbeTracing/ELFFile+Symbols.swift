#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The symbol tables, read as a stream: a table is never held in memory whole (a 210 MB binary
/// such as `swift-frontend` has a 30 MB `.symtab`), so what probe-exec needs stays constant
/// whatever the size of the program it traces.
extension ELFFile {
    /// One Elf64_Sym entry.
    package struct Symbol {
        /// Offset of its name in the table's string section.
        package var nameOffset: UInt32
        /// STT_* (the low four bits of st_info).
        package var type: UInt8
        /// Its section index; 0 (SHN_UNDEF) for an undefined symbol.
        package var section: UInt16
        /// st_value: its address before relocation.
        package var value: UInt64
        /// st_size.
        package var size: UInt64

        /// A defined function (STT_FUNC or STT_GNU_IFUNC) with an address.
        package var isDefinedFunction: Bool { (type == 2 || type == 10) && section != 0 && value != 0 }
    }

    /// A symbol section and its string section (indices into the section headers).
    package struct SymbolTable {
        let symbols: Int
        let strings: Int
    }

    /// Bytes read per step while walking a table (a whole number of 24-byte entries): 16 KiB,
    /// read into one buffer reused for every step (a fresh 64 KiB array per step cost its page
    /// faults at each exit's naming, a third of the time spent reading libc's .dynsym).
    static let symbolChunkBytes = 24 * 683

    /// The symbol tables: .symtab first, then .dynsym.
    /// The size in bytes of the largest symbol table (.symtab or .dynsym), 0 without one.
    package var largestSymbolTableSize: UInt64 {
        symbolTables.map { sections[$0.symbols].size }.max() ?? 0
    }

    package var symbolTables: [SymbolTable] {
        var tables: [SymbolTable] = []
        for tableType: UInt32 in [2, 11] {  // SHT_SYMTAB, SHT_DYNSYM
            for (index, section) in sections.enumerated() where section.type == tableType && section.entrySize == 24 {
                guard Int(section.link) < sections.count else { continue }
                tables.append(SymbolTable(symbols: index, strings: Int(section.link)))
            }
        }
        return tables
    }

    /// Calls `body` with each entry of `table` in order, reading a chunk at a time; `body`
    /// returns false to stop.
    package func forEachSymbol(in table: SymbolTable, _ body: (Symbol) -> Bool) {
        let section = sections[table.symbols]
        var offset: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: ELFFile.symbolChunkBytes)
        while offset + 24 <= section.size {
            let count = Int(min(UInt64(ELFFile.symbolChunkBytes), (section.size - offset) / 24 * 24))
            guard read(offset: section.offset + offset, into: &buffer, count: count) else { return }
            let stop = buffer.withUnsafeBytes { raw -> Bool in
                var i = 0
                while i + 24 <= count {
                    let symbol = Symbol(
                        nameOffset: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)),
                        type: raw[i + 4] & 0xF,
                        section: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i + 6, as: UInt16.self)),
                        value: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)),
                        size: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self))
                    )
                    guard body(symbol) else { return true }
                    i += 24
                }
                return false
            }
            if stop { return }
            offset += UInt64(count)
        }
    }

    /// The NUL-terminated name at `offset` of `table`'s string section (at most `limit` bytes).
    package func symbolName(in table: SymbolTable, at offset: UInt32, limit: Int = 1 << 16) -> String? {
        let strings = sections[table.strings]
        guard UInt64(offset) < strings.size else { return nil }
        return string(atFileOffset: strings.offset + UInt64(offset), end: strings.offset + strings.size, limit: limit)
    }

    /// The offsets in `table`'s string section where a string equal to `name` starts (a name
    /// may also be stored as the tail of a longer one), found by streaming the section.
    func nameOffsets(of name: String, in table: SymbolTable) -> [UInt32] {
        let strings = sections[table.strings]
        let target = Array(name.utf8) + [0]
        var found: [UInt32] = []
        var offset: UInt64 = 0
        var carry: [UInt8] = [0]  // what precedes the chunk: its last bytes, so a match may span two
        while offset < strings.size {
            let count = Int(min(UInt64(ELFFile.symbolChunkBytes), strings.size - offset))
            guard let chunk = read(offset: strings.offset + offset, count: count) else { break }
            let window = carry + chunk
            let windowStart = Int64(offset) - Int64(carry.count)
            window.withUnsafeBufferPointer { bytes in
                var i = 0
                while i + target.count <= bytes.count {
                    if bytes[i] == target[0] {
                        var j = 1
                        while j < target.count && bytes[i + j] == target[j] { j += 1 }
                        if j == target.count, windowStart + Int64(i) >= 0 {
                            found.append(UInt32(windowStart + Int64(i)))
                        }
                    }
                    i += 1
                }
            }
            carry = Array(window.suffix(target.count - 1))
            offset += UInt64(count)
        }
        return found
    }

    /// The value (unrelocated address) of a defined symbol of STT type `type` whose name is one of
    /// `names` (tried in order), from `tables` (all: .symtab, else .dynsym).
    private func symbolValue(named names: [String], type: UInt8, in tables: [SymbolTable]? = nil) -> UInt64? {
        let tables = tables ?? symbolTables
        for name in names {
            for table in tables {
                let offsets = nameOffsets(of: name, in: table)
                guard !offsets.isEmpty else { continue }
                var value: UInt64?
                forEachSymbol(in: table) { symbol in
                    if symbol.type == type, symbol.section != 0, symbol.value != 0, offsets.contains(symbol.nameOffset)
                    {
                        value = symbol.value
                        return false
                    }
                    return true
                }
                if let value { return value }
            }
        }
        return nil
    }

    /// The value (unrelocated address) of a defined function named `names[0]`, else `names[1]`…,
    /// from .symtab, else .dynsym.
    package func functionAddress(named names: [String]) -> UInt64? {
        symbolValue(named: names, type: 2)
    }

    /// The value of a defined data object (STT_OBJECT) named `name`: from .dynsym, and from
    /// .symtab only in a file without a dynamic loader (PT_INTERP), such as a static executable.
    /// In a dynamically linked file a variable that others see (`stdout`, copy-relocated into an
    /// executable) is in .dynsym, a few hundred KB even in a 210 MB program whose .symtab and
    /// .strtab are 36 MB: this lookup runs while the program waits at its exit.
    package func objectAddress(named name: String) -> UInt64? {
        let hashed = hashedSymbolValue(named: name, type: 1)
        if let value = hashed.value { return value }
        if !hashed.hashed {
            let dynamic = symbolTables.filter { sections[$0.symbols].type == 11 }
            if let value = symbolValue(named: [name], type: 1, in: dynamic) { return value }
        }
        guard !segments.contains(where: { $0.type == 3 }) else { return nil }  // PT_INTERP
        return symbolValue(named: [name], type: 1, in: symbolTables.filter { sections[$0.symbols].type == 2 })
    }
}

extension ELFFile {
    /// The value of the defined symbol `name` of STT type `type` through the `.gnu.hash` table of
    /// .dynsym: a few small reads whatever the table's size (node's .dynstr is 5 MB). nil when
    /// the file has no such table (`hashed` false then) or no such symbol.
    func hashedSymbolValue(named name: String, type: UInt8) -> (hashed: Bool, value: UInt64?) {
        guard let hashIndex = sections.firstIndex(where: { $0.type == 0x6fff_fff6 }),  // SHT_GNU_HASH
            Int(sections[hashIndex].link) < sections.count, sections[hashIndex].size >= 16
        else { return (false, nil) }
        let symbolsIndex = Int(sections[hashIndex].link)
        let symbols = sections[symbolsIndex]
        guard symbols.entrySize == 24, Int(symbols.link) < sections.count,
            let header = read(offset: sections[hashIndex].offset, count: 16)
        else { return (false, nil) }
        let table = SymbolTable(symbols: symbolsIndex, strings: Int(symbols.link))
        let bucketCount = UInt64(ELFFile.u32(header, 0))
        let symbolOffset = UInt64(ELFFile.u32(header, 4))
        let bloomWords = UInt64(ELFFile.u32(header, 8))
        guard bucketCount > 0 else { return (true, nil) }
        let nameBytes = Array(name.utf8)
        let hash = nameBytes.reduce(UInt32(5381)) { $0 &* 33 &+ UInt32($1) }
        // The Bloom filter first: one word says most absent names are absent (the sanitizer checks
        // before every start look for five names that are almost never there).
        let bloomShift = UInt64(ELFFile.u32(header, 12))
        if bloomWords > 0, bloomShift < 64,
            let bloom = read(offset: sections[hashIndex].offset + 16 + UInt64(hash) / 64 % bloomWords * 8, count: 8)
        {
            let word = ELFFile.u64(bloom, 0)
            if (word >> (UInt64(hash) % 64)) & (word >> ((UInt64(hash) >> bloomShift) % 64)) & 1 == 0 {
                return (true, nil)
            }
        }
        let bucketsStart = sections[hashIndex].offset + 16 + bloomWords * 8
        guard let bucketBytes = read(offset: bucketsStart + UInt64(hash) % bucketCount * 4, count: 4) else {
            return (true, nil)
        }
        var index = UInt64(ELFFile.u32(bucketBytes, 0))
        guard index >= symbolOffset else { return (true, nil) }
        let chainStart = bucketsStart + bucketCount * 4
        // The chain of this bucket: hashes with the low bit set on its last entry.
        while index * 24 + 24 <= symbols.size {
            guard let chainBytes = read(offset: chainStart + (index - symbolOffset) * 4, count: 4) else { break }
            let chained = ELFFile.u32(chainBytes, 0)
            if chained | 1 == hash | 1, let entry = read(offset: symbols.offset + index * 24, count: 24) {
                let symbol = Symbol(
                    nameOffset: ELFFile.u32(entry, 0),
                    type: entry[4] & 0xF,
                    section: ELFFile.u16(entry, 6),
                    value: ELFFile.u64(entry, 8),
                    size: ELFFile.u64(entry, 16)
                )
                if symbol.type == type, symbol.section != 0, symbol.value != 0,
                    symbolName(in: table, at: symbol.nameOffset, limit: nameBytes.count + 1) == name
                {
                    return (true, symbol.value)
                }
            }
            if chained & 1 != 0 { break }
            index += 1
        }
        return (true, nil)
    }
}
