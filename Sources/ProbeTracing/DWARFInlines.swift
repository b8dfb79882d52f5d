import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The functions inlined at code addresses, from an ELF file's `.debug_info` (DWARF 2 to 5): each
/// `DW_TAG_inlined_subroutine` covering an address, with the place it was called from.
///
/// An optimised build's address often has only a compiler-generated line of its own (Swift's
/// `<compiler-generated>:0` for a force unwrap's trap, inlined as "Swift runtime failure: …");
/// the call sites of its inline chain say which line a person wrote (as `addr2line -i` does).
///
/// Bounded like ``DWARFLines``: sections are read through ``DWARFSections`` (on first use, with
/// its size limit and deadline), units whose ranges hold none of the addresses are stepped over,
/// and the pass stops at the deadline. Malformed data ends the pass early; nothing traps.
package enum DWARFInlines {
    /// One inlined call: the function inlined and where it was called from.
    package typealias Call = TraceEvent.InlinedCall

    /// For each address (the module's own virtual addresses), the inlined calls covering it,
    /// innermost first; addresses in no inlined function are absent.
    package static func lookup(_ elf: ELFFile, addresses: [UInt64]) -> [UInt64: [Call]] {
        lookup(DWARFSections(elf), addresses: addresses)
    }

    /// The same, from sections read (or to be read) once for the module.
    package static func lookup(_ sections: DWARFSections, addresses: [UInt64]) -> [UInt64: [Call]] {
        guard !addresses.isEmpty, !sections[".debug_info"].isEmpty, !sections[".debug_abbrev"].isEmpty else {
            return [:]
        }
        var walk = Walk(sections: sections, targets: Array(Set(addresses)).sorted())
        walk.run()
        var result: [UInt64: [Call]] = [:]
        for (address, found) in walk.found {
            // Outer inlined calls come first in the tree: innermost (deepest) first here.
            result[address] = found.sorted { $0.depth > $1.depth }.map(\.call)
        }
        return result
    }

    /// Whether a line is one a person wrote: not line 0 (nor an implausible one from damaged
    /// data, past 2^24), not Swift's `<compiler-generated>` file, not an unknown file.
    package static func isWritten(file: String, line: Int) -> Bool {
        line > 0 && line < 1 << 24 && !file.hasSuffix("<compiler-generated>") && !file.isEmpty && file != "?"
    }

    /// One abbreviation: the DIE's tag, whether it has children, its attributes and their forms.
    struct Abbreviation {
        var tag: UInt64
        var hasChildren: Bool
        var attributes: [(name: UInt64, form: UInt64, constant: Int64)]
    }

    /// An attribute's value, undecoded: what kind of thing it is and the number it carries.
    struct Value {
        enum Kind { case none, constant, address, addressIndex, inlineString, string, lineString, stringIndex }
        enum Reference { case none, unit, info, rangeIndex }
        var kind: Kind = .none
        var reference: Reference = .none
        var number: UInt64 = 0
    }

    /// A compilation unit's header and the bases its attributes are read against.
    struct Unit {
        var start = 0
        var end = 0
        var version = 4
        var addressSize = 8
        var offsetSize = 4
        var abbreviations: [UInt64: Abbreviation] = [:]
        var lowPC: UInt64 = 0
        var stringOffsetsBase: UInt64 = 8
        var addressBase: UInt64 = 8
        var rangeListsBase: UInt64 = 12
        var files: [String]? = nil
        var statementList: UInt64? = nil
    }

    /// The attributes of one DIE this reader uses.
    struct Entry {
        var lowPC = Value()
        var highPC = Value()
        var ranges = Value()
        var origin = Value()
        var callFile: UInt64?
        var callLine: UInt64?
        var name = Value()
        var linkageName = Value()
    }

    struct Walk {
        let sections: DWARFSections
        let info: [UInt8]
        let targets: [UInt64]
        var found: [UInt64: [(depth: Int, call: Call)]] = [:]
        var abbreviationTables: [UInt64: [UInt64: Abbreviation]] = [:]

        init(sections: DWARFSections, targets: [UInt64]) {
            self.sections = sections
            self.info = sections[".debug_info"]
            self.targets = targets
        }

        mutating func run() {
            var r = DWARFReader(bytes: info)
            while r.index < info.count, !r.failed, !sections.expired {
                guard var unit = header(&r) else { return }
                walkUnit(&unit, &r)
                r.index = unit.end
            }
        }

        /// A unit header at `r`: nil when malformed; a unit of another type is walked as empty.
        mutating func header(_ r: inout DWARFReader) -> Unit? {
            var unit = Unit()
            unit.start = r.index
            guard let (end, offsetSize) = r.unitLength() else { return nil }
            (unit.end, unit.offsetSize) = (end, offsetSize)
            unit.version = Int(r.u16())
            var abbreviationOffset: UInt64
            if unit.version >= 5 {
                let type = r.u8()
                unit.addressSize = Int(r.u8())
                abbreviationOffset = r.word(unit.offsetSize)
                // Only full and partial compilation units hold code; type and split units are skipped.
                guard type == 1 || type == 3 else {
                    r.index = unit.end
                    return unit
                }
            } else {
                abbreviationOffset = r.word(unit.offsetSize)
                unit.addressSize = Int(r.u8())
            }
            guard (2...5).contains(unit.version), unit.addressSize == 8 || unit.addressSize == 4 else {
                r.index = unit.end
                return unit
            }
            unit.abbreviations = abbreviations(at: abbreviationOffset)
            return unit
        }

        mutating func abbreviations(at offset: UInt64) -> [UInt64: Abbreviation] {
            if let known = abbreviationTables[offset] { return known }
            var table: [UInt64: Abbreviation] = [:]
            var r = DWARFReader(bytes: sections[".debug_abbrev"])
            r.index = Int(clamping: offset)
            while !r.failed {
                let code = r.uleb()
                if code == 0 { break }
                var abbreviation = Abbreviation(tag: r.uleb(), hasChildren: r.u8() != 0, attributes: [])
                while !r.failed {
                    let name = r.uleb()
                    let form = r.uleb()
                    if name == 0 && form == 0 { break }
                    let constant = form == 0x21 ? r.sleb() : 0  // DW_FORM_implicit_const
                    abbreviation.attributes.append((name, form, constant))
                }
                table[code] = abbreviation
            }
            abbreviationTables[offset] = table
            return table
        }

        /// Walks one unit's DIEs (when its ranges hold a target), recording the inlined calls.
        mutating func walkUnit(_ unit: inout Unit, _ r: inout DWARFReader) {
            guard !unit.abbreviations.isEmpty, r.index < unit.end else { return }
            var depth = 0
            var first = true
            var entries = 0
            while r.index < unit.end, !r.failed {
                // The budget holds inside a unit too (a -wmo module or a unity build is one unit).
                entries += 1
                if entries & 255 == 0, sections.expired { return }
                let code = r.uleb()
                if code == 0 {
                    depth -= 1
                    if depth <= 0 { return }
                    continue
                }
                guard let abbreviation = unit.abbreviations[code] else { return }
                var entry = Entry()
                for attribute in abbreviation.attributes {
                    let value = read(attribute.form, constant: attribute.constant, &r, unit)
                    switch attribute.name {
                    case 0x03: entry.name = value
                    case 0x11: entry.lowPC = value
                    case 0x12: entry.highPC = value
                    case 0x55: entry.ranges = value
                    case 0x31: entry.origin = value
                    case 0x58: entry.callFile = value.number
                    case 0x59: entry.callLine = value.number
                    case 0x6E, 0x2007: entry.linkageName = value
                    case 0x10 where first: unit.statementList = value.number
                    case 0x72 where first: unit.stringOffsetsBase = value.number
                    case 0x73 where first, 0x2133 where first: unit.addressBase = value.number
                    case 0x74 where first: unit.rangeListsBase = value.number
                    default: break
                    }
                }
                if first {
                    first = false
                    unit.lowPC = address(entry.lowPC, unit) ?? 0
                    // The unit's own ranges hold none of the addresses: nothing in it does.
                    if entry.lowPC.kind != .none || entry.ranges.kind != .none,
                        !covers(entry, unit)
                    {
                        return
                    }
                } else if abbreviation.tag == 0x1D, let callLine = entry.callLine {  // DW_TAG_inlined_subroutine
                    record(entry, callLine: callLine, depth: depth, &unit)
                }
                if abbreviation.hasChildren { depth += 1 }
                if depth == 0 { return }
            }
        }

        /// Whether the entry's ranges hold any target.
        func covers(_ entry: Entry, _ unit: Unit) -> Bool {
            var hit = false
            forEachRange(entry, unit) { low, high in
                let i = DWARFLines.lowerBound(targets, low)
                if i < targets.count, targets[i] < high { hit = true }
                return !hit
            }
            return hit
        }

        mutating func record(_ entry: Entry, callLine: UInt64, depth: Int, _ unit: inout Unit) {
            var hits: [UInt64] = []
            forEachRange(entry, unit) { low, high in
                var i = DWARFLines.lowerBound(targets, low)
                while i < targets.count, targets[i] < high {
                    hits.append(targets[i])
                    i += 1
                }
                return true
            }
            guard !hits.isEmpty else { return }
            if unit.files == nil {
                unit.files =
                    unit.statementList.map {
                        DWARFLines.fileNames(
                            sections[".debug_line"],
                            at: $0,
                            sections: sections
                        )
                    } ?? []
            }
            let files = unit.files ?? []
            let fileIndex = Int(clamping: entry.callFile ?? UInt64.max)
            let call = Call(
                function: functionName(entry.origin, unit),
                file: fileIndex < files.count ? files[fileIndex] : "?",
                line: Int(clamping: callLine)
            )
            for address in hits { found[address, default: []].append((depth, call)) }
        }

        /// Calls `body` with each [low, high) range of the entry until it returns false.
        func forEachRange(_ entry: Entry, _ unit: Unit, _ body: (UInt64, UInt64) -> Bool) {
            if let low = address(entry.lowPC, unit), entry.highPC.kind != .none {
                let high =
                    entry.highPC.kind == .constant ? low &+ entry.highPC.number : (address(entry.highPC, unit) ?? low)
                _ = body(low, high)
                return
            }
            guard entry.ranges.kind != .none else { return }
            if unit.version >= 5 {
                var offset = entry.ranges.number
                if entry.ranges.reference == .rangeIndex {
                    let at = unit.rangeListsBase &+ offset &* UInt64(unit.offsetSize)
                    guard let relative = word(sections[".debug_rnglists"], at: at, size: unit.offsetSize) else {
                        return
                    }
                    offset = unit.rangeListsBase &+ relative
                }
                rangeList(at: offset, unit, body)
            } else {
                var r = DWARFReader(bytes: sections[".debug_ranges"])
                r.index = Int(clamping: entry.ranges.number)
                var base = unit.lowPC
                let largest: UInt64 = unit.addressSize == 4 ? 0xFFFF_FFFF : UInt64.max
                for _ in 0..<4096 where !r.failed {
                    let start = r.word(unit.addressSize)
                    let end = r.word(unit.addressSize)
                    if r.failed || (start == 0 && end == 0) { return }
                    if start == largest {
                        base = end
                        continue
                    }
                    if !body(base &+ start, base &+ end) { return }
                }
            }
        }

        /// A DWARF 5 range list (`.debug_rnglists`).
        func rangeList(at offset: UInt64, _ unit: Unit, _ body: (UInt64, UInt64) -> Bool) {
            var r = DWARFReader(bytes: sections[".debug_rnglists"])
            r.index = Int(clamping: offset)
            var base = unit.lowPC
            func plain() -> UInt64 { r.word(unit.addressSize) }
            func indexed(_ index: UInt64) -> UInt64 {
                word(
                    sections[".debug_addr"],
                    at: unit.addressBase &+ index &* UInt64(unit.addressSize),
                    size: unit.addressSize
                )
                    ?? 0
            }
            for _ in 0..<4096 {
                let kind = r.u8()
                if r.failed { return }
                var range: (UInt64, UInt64)? = nil
                switch kind {
                case 0: return  // end_of_list
                case 1: base = indexed(r.uleb())  // base_addressx
                case 2:  // startx_endx
                    let start = indexed(r.uleb())
                    range = (start, indexed(r.uleb()))
                case 3:  // startx_length
                    let start = indexed(r.uleb())
                    range = (start, start &+ r.uleb())
                case 4:  // offset_pair
                    let start = base &+ r.uleb()
                    range = (start, base &+ r.uleb())
                case 5: base = plain()  // base_address
                case 6:  // start_end
                    let start = plain()
                    range = (start, plain())
                case 7:  // start_length
                    let start = plain()
                    range = (start, start &+ r.uleb())
                default: return
                }
                if let range, !r.failed, !body(range.0, range.1) { return }
            }
        }

        func address(_ value: Value, _ unit: Unit) -> UInt64? {
            switch value.kind {
            case .address: return value.number
            case .addressIndex:
                return word(
                    sections[".debug_addr"],
                    at: unit.addressBase &+ value.number &* UInt64(unit.addressSize),
                    size: unit.addressSize
                )
            default: return nil
            }
        }

        func word(_ bytes: [UInt8], at offset: UInt64, size: Int) -> UInt64? {
            guard offset < UInt64(bytes.count), Int(offset) + size <= bytes.count else { return nil }
            let i = Int(offset)
            return size == 8 ? ELFFile.u64(bytes, i) : UInt64(ELFFile.u32(bytes, i))
        }

        func string(_ value: Value, _ unit: Unit) -> String? {
            switch value.kind {
            case .inlineString:
                return DWARFReader.string(in: info, at: value.number)
            case .string: return DWARFReader.string(in: sections[".debug_str"], at: value.number)
            case .lineString: return DWARFReader.string(in: sections[".debug_line_str"], at: value.number)
            case .stringIndex:
                let at = unit.stringOffsetsBase &+ value.number &* UInt64(unit.offsetSize)
                return word(sections[".debug_str_offsets"], at: at, size: unit.offsetSize).map {
                    DWARFReader.string(in: sections[".debug_str"], at: $0)
                }
            default: return nil
            }
        }

        /// The name of the function a reference leads to (following abstract origins and
        /// specifications a few steps), demangled.
        mutating func functionName(_ reference: Value, _ unit: Unit) -> String? {
            var target = reference
            var unit = unit
            for _ in 0..<4 {
                var offset: UInt64
                switch target.reference {
                case .unit: offset = UInt64(unit.start) &+ target.number
                case .info: offset = target.number
                default: return nil
                }
                if offset < UInt64(unit.start) || offset >= UInt64(unit.end) {
                    guard let other = unitHolding(offset) else { return nil }
                    unit = other
                }
                var r = DWARFReader(bytes: info)
                r.index = Int(offset)
                guard let abbreviation = unit.abbreviations[r.uleb()] else { return nil }
                var entry = Entry()
                var specification = Value()
                for attribute in abbreviation.attributes {
                    let value = read(attribute.form, constant: attribute.constant, &r, unit)
                    switch attribute.name {
                    case 0x03: entry.name = value
                    case 0x6E, 0x2007: entry.linkageName = value
                    case 0x31, 0x47: specification = value
                    default: break
                    }
                }
                if r.failed { return nil }
                if let linkage = string(entry.linkageName, unit), !linkage.isEmpty {
                    return Demangle.name(linkage)
                }
                if let name = string(entry.name, unit), !name.isEmpty { return name }
                target = specification
            }
            return nil
        }

        /// The unit holding `offset` (for a reference across units).
        mutating func unitHolding(_ offset: UInt64) -> Unit? {
            var r = DWARFReader(bytes: info)
            while r.index < info.count, !r.failed {
                let start = r.index
                guard let unit = header(&r) else { return nil }
                if offset >= UInt64(start), offset < UInt64(unit.end) { return unit }
                r.index = unit.end
            }
            return nil
        }

        /// Reads one attribute value of `form`.
        func read(_ form: UInt64, constant: Int64, _ r: inout DWARFReader, _ unit: Unit) -> Value {
            var value = Value()
            let offsetSize = unit.offsetSize
            func offset() -> UInt64 { r.word(offsetSize) }
            switch form {
            case 0x01:  // addr
                value = Value(kind: .address, number: r.word(unit.addressSize))
            case 0x0B, 0x11: value.number = UInt64(r.u8())  // data1, ref1
            case 0x05, 0x12: value.number = UInt64(r.u16())  // data2, ref2
            case 0x06, 0x13: value.number = UInt64(r.u32())  // data4, ref4
            case 0x07, 0x14: value.number = r.u64()  // data8, ref8
            case 0x0F, 0x15: value.number = r.uleb()  // udata, ref_udata
            case 0x0D: value.number = UInt64(bitPattern: r.sleb())  // sdata
            case 0x0C: value.number = UInt64(r.u8())  // flag
            case 0x19: value.number = 1  // flag_present
            case 0x21: value.number = UInt64(bitPattern: constant)  // implicit_const
            case 0x17: value.number = offset()  // sec_offset
            case 0x10:  // ref_addr: an offset in DWARF 3+, an address-sized one in DWARF 2
                value.reference = .info
                value.number = unit.version <= 2 ? r.word(unit.addressSize) : offset()
                return value
            case 0x08:  // string
                value = Value(kind: .inlineString, number: UInt64(r.index))
                while r.index < r.count && r.bytes[r.index] != 0 { r.index += 1 }
                _ = r.u8()
            case 0x0E:  // strp
                value = Value(kind: .string, number: offset())
            case 0x1F:  // line_strp
                value = Value(kind: .lineString, number: offset())
            case 0x1A, 0x1F02:  // strx, GNU_str_index
                value = Value(kind: .stringIndex, number: r.uleb())
            case 0x25, 0x26, 0x27, 0x28:  // strx1-4
                value = Value(kind: .stringIndex, number: fixed(&r, Int(form - 0x24)))
            case 0x1B, 0x1F01:  // addrx, GNU_addr_index
                value = Value(kind: .addressIndex, number: r.uleb())
            case 0x29, 0x2A, 0x2B, 0x2C:  // addrx1-4
                value = Value(kind: .addressIndex, number: fixed(&r, Int(form - 0x28)))
            case 0x23: return Value(kind: .constant, reference: .rangeIndex, number: r.uleb())  // rnglistx
            case 0x22: value.number = r.uleb()  // loclistx
            case 0x0A, 0x03, 0x04, 0x09, 0x18:  // block1, block2, block4, block, exprloc
                let length =
                    form == 0x0A
                    ? UInt64(r.u8()) : form == 0x03 ? UInt64(r.u16()) : form == 0x04 ? UInt64(r.u32()) : r.uleb()
                r.skip(length)
            case 0x1E: r.skip(16)  // data16
            case 0x20, 0x24: r.skip(8)  // ref_sig8, ref_sup8
            case 0x1C: r.skip(4)  // ref_sup4
            case 0x1D, 0x1F20, 0x1F21: _ = offset()  // strp_sup, GNU_ref_alt, GNU_strp_alt
            case 0x16:  // indirect
                let actual = r.uleb()
                return actual == 0x16 ? value : read(actual, constant: constant, &r, unit)
            default:
                r.failed = true  // an unknown form: its size is unknown, the unit cannot be read on
            }
            if (0x11...0x15).contains(form) {
                value.reference = .unit
            } else if value.kind == .none {
                value.kind = .constant
            }
            return value
        }

        func fixed(_ r: inout DWARFReader, _ size: Int) -> UInt64 {
            var result: UInt64 = 0
            for i in 0..<size { result |= UInt64(r.u8()) << (8 * UInt64(i)) }
            return result
        }
    }

}
