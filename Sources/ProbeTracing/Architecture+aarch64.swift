/// aarch64: exit_group is 94, `brk #0` is reported with the pc still on it, and glibc's `_start`
/// loads main into x0 a few instructions before `bl __libc_start_main`.
package enum AArch64: Architecture {
    /// `__NR_exit_group` in the generic system call table aarch64 uses.
    package static let exitGroupSyscall: Int64 = 94
    /// `brk` is reported with the pc still on it.
    package static let breakpointPCAdvance: UInt64 = 0
    /// `brk #0`.
    package static let breakpointInstruction: UInt32 = 0xD420_0000

    /// How many instructions the load of x0 may come before the `bl`.
    private static let window = 8

    /// Decodes the last load of x0 before `_start`'s first `bl` (the call to `__libc_start_main`),
    /// in the forms glibc's start.S uses:
    /// - `adrp x0, main` + `add x0, x0, #:lo12:main` (`.address`); glibc 2.34 and later point it
    ///   at `__wrap_main` (non-PIE, static), a `[bti c|nop]; b main` right after `_start`, which
    ///   is followed to main when its bytes are in `startCode`.
    /// - `adrp x0, :got:main` + `ldr x0, [x0, #:got_lo12:main]` (PIE): `.literalAt` the GOT slot.
    /// - `ldr x0, =main` (LDR literal, older glibc, non-PIE): `.literalAt` the literal.
    /// - `movz x0, #:abs_g3:main` + `movk x0, …` (older glibc's MOVL, non-PIE): `.address`.
    package static func mainLocation(startCode: [UInt8], entry: UInt64) -> StartMain? {
        let instructions = stride(from: 0, to: startCode.count - 3, by: 4).map { word(startCode, $0) }
        var page: UInt64?  // x0 after an adrp
        var immediate: UInt64?  // x0 after movz/movk
        var found: (location: StartMain, index: Int)?
        for (index, insn) in instructions.enumerated() {
            let pc = entry &+ UInt64(index * 4)
            if insn & 0xFC00_0000 == 0x9400_0000 {  // bl: the first call is __libc_start_main
                guard let found, index - found.index <= window else { return nil }
                if case .address(let target) = found.location {
                    return .address(followWrapper(target, instructions, entry) ?? target)
                }
                return found.location
            }
            guard writesX0(insn) else { continue }
            let (previousPage, previousImmediate) = (page, immediate)
            (page, immediate) = (nil, nil)
            if insn & 0x9F00_0000 == 0x9000_0000 {  // adrp x0, page
                let offset = (UInt64(insn >> 5 & 0x7_FFFF) << 2 | UInt64(insn >> 29 & 3)) << 12
                page = (pc & ~0xFFF) &+ signExtend(offset, bits: 33)
            } else if insn & 0xFF80_0000 == 0x9100_0000, insn >> 5 & 0x1F == 0, let base = previousPage {
                // add x0, x0, #imm12 {, lsl #12}
                let shift: UInt64 = insn & 0x40_0000 != 0 ? 12 : 0
                found = (.address(base &+ (UInt64(insn >> 10 & 0xFFF) << shift)), index)
            } else if insn & 0xFFC0_0000 == 0xF940_0000, insn >> 5 & 0x1F == 0, let base = previousPage {
                // ldr x0, [x0, #imm12 * 8]
                found = (.literalAt(base &+ UInt64(insn >> 10 & 0xFFF) * 8), index)
            } else if insn & 0xFF00_0000 == 0x5800_0000 {  // ldr x0, literal
                found = (.literalAt(pc &+ signExtend(UInt64(insn >> 5 & 0x7_FFFF) << 2, bits: 21)), index)
            } else if insn & 0xFF80_0000 == 0xD280_0000 {  // movz x0, #imm16, lsl #hw*16
                let value = UInt64(insn >> 5 & 0xFFFF) << (16 * UInt64(insn >> 21 & 3))
                (immediate, found) = (value, (.address(value), index))
            } else if insn & 0xFF80_0000 == 0xF280_0000, let value = previousImmediate {  // movk x0
                let shift = 16 * UInt64(insn >> 21 & 3)
                let updated = value & ~(0xFFFF << shift) | UInt64(insn >> 5 & 0xFFFF) << shift
                (immediate, found) = (updated, (.address(updated), index))
            } else {
                found = nil  // x0 overwritten by something else
            }
        }
        return nil
    }

    /// Not checked on aarch64: glibc's decoded forms already need its `bl __libc_start_main` with
    /// x0 set just before it.
    package static func isLibraryStart(_ startCode: [UInt8]) -> Bool { true }

    /// Not recognised on aarch64 yet: musl's `_start` (`b _start_c`) is single-stepped.
    package static func calledFunction(startCode: [UInt8], entry: UInt64) -> UInt64? { nil }

    /// Whether an instruction's destination register field (bits 0-4) is x0 for the instruction
    /// classes that write Rd/Rt there: data processing (immediate and register) and loads.
    private static func writesX0(_ insn: UInt32) -> Bool {
        let group = insn >> 25 & 0xF
        let isDataProcessing = group & 0b1110 == 0b1000 || group & 0b0111 == 0b0101
        let isLoad = group & 0b0101 == 0b0100 && insn >> 22 & 1 == 1
        let isLiteralLoad = insn & 0x3B00_0000 == 0x1800_0000
        return insn & 0x1F == 0 && (isDataProcessing || isLoad || isLiteralLoad)
    }

    /// The target of glibc's `__wrap_main` (`[bti c|nop]; b main`) when `address` is one inside
    /// `instructions` (which start at `entry`); else nil.
    private static func followWrapper(_ address: UInt64, _ instructions: [UInt32], _ entry: UInt64) -> UInt64? {
        guard address >= entry, (address &- entry) % 4 == 0 else { return nil }
        var index = Int((address &- entry) / 4)
        if index < instructions.count, instructions[index] == 0xD503_201F || instructions[index] == 0xD503_245F {
            index += 1  // nop, bti c
        }
        guard index < instructions.count, instructions[index] & 0xFC00_0000 == 0x1400_0000 else { return nil }
        let offset = signExtend(UInt64(instructions[index] & 0x3FF_FFFF) << 2, bits: 28)
        return entry &+ UInt64(index * 4) &+ offset
    }

    /// The little-endian instruction word at byte `i`.
    private static func word(_ code: [UInt8], _ i: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(code[i + $1]) << (8 * UInt32($1)) }
    }

    /// `value`'s low `bits` bits, sign-extended to 64 (as a two's-complement bit pattern).
    private static func signExtend(_ value: UInt64, bits: Int) -> UInt64 {
        let shift = UInt64(64 - bits)
        return UInt64(bitPattern: Int64(bitPattern: value << shift) >> shift)
    }
}
