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

    /// Bytes read per step while walking a table (a whole number of 24-byte entries).
    static let symbolChunkBytes = 24 * 2730

    /// The symbol tables: .symtab first, then .dynsym.
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
        while offset + 24 <= section.size {
            let count = Int(min(UInt64(ELFFile.symbolChunkBytes), (section.size - offset) / 24 * 24))
            guard let chunk = read(offset: section.offset + offset, count: count) else { return }
            var i = 0
            while i + 24 <= chunk.count {
                let symbol = Symbol(
                    nameOffset: ELFFile.u32(chunk, i),
                    type: chunk[i + 4] & 0xF,
                    section: ELFFile.u16(chunk, i + 6),
                    value: ELFFile.u64(chunk, i + 8),
                    size: ELFFile.u64(chunk, i + 16)
                )
                guard body(symbol) else { return }
                i += 24
            }
            offset += UInt64(count)
        }
    }

    /// The NUL-terminated name at `offset` of `table`'s string section (at most `limit` bytes).
    package func symbolName(in table: SymbolTable, at offset: UInt32, limit: Int = 1 << 16) -> String? {
        let strings = sections[table.strings]
        guard UInt64(offset) < strings.size else { return nil }
        var name: [UInt8] = []
        var position = strings.offset + UInt64(offset)
        let end = strings.offset + strings.size
        while position < end && name.count < limit {
            let step = Int(min(256, end - position))
            guard let piece = read(offset: position, count: step) else { return nil }
            if let nul = piece.firstIndex(of: 0) {
                name += piece[..<nul]
                return String(decoding: name, as: UTF8.self)
            }
            name += piece
            position += UInt64(step)
        }
        return String(decoding: name, as: UTF8.self)
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
    /// `names` (tried in order), from .symtab, else .dynsym.
    private func symbolValue(named names: [String], type: UInt8) -> UInt64? {
        let tables = symbolTables
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

    /// The value of a defined data object (STT_OBJECT) named `name`, from .symtab, else .dynsym.
    package func objectAddress(named name: String) -> UInt64? {
        symbolValue(named: [name], type: 1)
    }
}
