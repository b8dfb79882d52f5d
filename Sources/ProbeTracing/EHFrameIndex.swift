import CProbeExec

/// The search table of a file's `.eh_frame`, for files linked without `.eh_frame_hdr` (gcc links
/// static executables without one, so a static musl program's frames could not be unwound): one
/// (function start, FDE) pair per FDE, as offsets from the section's start, sorted — the layout of
/// `.eh_frame_hdr`'s table, which libunwind searches (spr_unwind_table_t.local_table).
final class EHFrameIndex {
    /// The pairs, kept at a fixed address for the C unwinder while this object lives.
    let pairs: UnsafeMutablePointer<Int32>
    /// How many pairs.
    let count: Int

    /// The largest `.eh_frame` indexed, at the program's first backtrace stop (a static C
    /// program's is a few hundred KB; 4 MB take a few milliseconds).
    static let maximumSectionSize = 4 << 20

    /// The index of `elf`'s `.eh_frame`, or nil when the file has none or it cannot be read.
    init?(_ elf: ELFFile) {
        guard let address = elf.sectionAddress(named: ".eh_frame"),
            let data = elf.section(named: ".eh_frame", limit: EHFrameIndex.maximumSectionSize)
        else { return nil }
        var entries: [(start: Int64, fde: Int64)] = []
        var fdeEncodings: [Int: UInt8] = [:]  // by CIE offset
        var offset = 0
        while offset + 8 <= data.count {
            let length = Int(ELFFile.u32(data, offset))
            guard length != 0, length != 0xFFFF_FFFF, offset + 4 + length <= data.count else { break }
            let idAt = offset + 4
            let id = Int(ELFFile.u32(data, idAt))
            let end = offset + 4 + length
            if id == 0 {
                fdeEncodings[offset] = EHFrameIndex.fdeEncoding(cie: data, from: idAt + 4, end: end)
            } else if let encoding = fdeEncodings[idAt - id],
                let start = EHFrameIndex.pointer(data, at: idAt + 4, encoding: encoding, sectionAddress: address)
            {
                entries.append((start &- Int64(bitPattern: address), Int64(offset)))
            }
            offset = end
        }
        guard !entries.isEmpty,
            entries.allSatisfy({ Int64(Int32.min) <= $0.start && $0.start <= Int64(Int32.max) })
        else { return nil }
        entries.sort { $0.start < $1.start }
        count = entries.count
        pairs = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * entries.count)
        for (i, entry) in entries.enumerated() {
            pairs[2 * i] = Int32(entry.start)
            pairs[2 * i + 1] = Int32(entry.fde)
        }
    }

    deinit { pairs.deallocate() }

    /// The table for a mapping at `start..<end` whose `.eh_frame` is at run-time address `base`.
    func table(start: UInt64, end: UInt64, base: UInt64) -> spr_unwind_table_t {
        spr_unwind_table_t(
            start: start,
            end: end,
            eh_frame_hdr: 0,
            local_table: UnsafePointer(pairs),
            local_count: UInt32(count),
            local_base: base
        )
    }

    /// The FDE pointer encoding of the CIE whose body (after its id) starts at `at`: the `R`
    /// entry of a `z` augmentation, else absolute.
    private static func fdeEncoding(cie data: [UInt8], from at: Int, end: Int) -> UInt8 {
        var r = DWARFReader(bytes: data)
        r.index = at
        let version = r.u8()
        let augmentation = r.cstring()
        guard !r.failed, r.index <= end, augmentation.first == "z" else { return 0 }
        _ = r.uleb()  // code alignment
        _ = r.sleb()  // data alignment
        if version == 1 { _ = r.u8() } else { _ = r.uleb() }  // return address register
        _ = r.uleb()  // augmentation data length
        for letter in augmentation.dropFirst() where !r.failed && r.index < end {
            switch letter {
            case "R": return r.u8()
            case "L": _ = r.u8()
            case "P": r.index += size(of: r.u8())
            default: break  // S, B: no data
            }
        }
        return 0
    }

    /// Bytes of a pointer in `encoding` (its low four bits).
    private static func size(of encoding: UInt8) -> Int {
        switch encoding & 0x0F {
        case 0x02, 0x0A: return 2
        case 0x03, 0x0B: return 4
        default: return 8
        }
    }

    /// A pointer encoded at `at` (absolute or pc-relative; not indirect), as a file virtual address.
    private static func pointer(_ data: [UInt8], at: Int, encoding: UInt8, sectionAddress: UInt64) -> Int64? {
        guard at + size(of: encoding) <= data.count, encoding & 0x80 == 0 else { return nil }
        let raw: Int64
        switch encoding & 0x0F {
        case 0x00, 0x04, 0x0C: raw = Int64(bitPattern: ELFFile.u64(data, at))
        case 0x03: raw = Int64(ELFFile.u32(data, at))
        case 0x0B: raw = Int64(Int32(bitPattern: ELFFile.u32(data, at)))
        case 0x02: raw = Int64(ELFFile.u16(data, at))
        case 0x0A: raw = Int64(Int16(bitPattern: ELFFile.u16(data, at)))
        default: return nil
        }
        switch encoding & 0x70 {
        case 0x00: return raw
        case 0x10: return raw &+ Int64(bitPattern: sectionAddress) &+ Int64(at)  // pc-relative
        default: return nil
        }
    }
}
