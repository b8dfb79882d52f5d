/// x86_64: exit_group is 231, int3 leaves rip one byte past itself, and glibc's `_start` loads
/// main into rdi right before calling `__libc_start_main`.
package enum X86_64: Architecture {
    /// `__NR_exit_group` in x86_64's system call table.
    package static let exitGroupSyscall: Int64 = 231
    /// `int3` (0xCC, one byte) has executed when its SIGTRAP is reported: rip is one past it.
    package static let breakpointPCAdvance: UInt64 = 1

    /// Finds the instruction that loads main into rdi just before a call: `lea disp32(%rip), %rdi`
    /// (48 8d 3d: PIE, the linker's relaxation of a GOT load), `mov $imm32, %rdi` (48 c7 c7:
    /// non-PIE and static) or the unrelaxed GOT load `mov disp32(%rip), %rdi` (48 8b 3d:
    /// `.literalAt` the GOT slot), followed by `call *disp32(%rip)` (ff 15), `call rel32` (e8) or
    /// `addr32 call rel32` (67 e8, static binaries).
    package static func mainLocation(startCode code: [UInt8], entry: UInt64) -> StartMain? {
        var i = 0
        while i + 9 <= code.count {
            let rexW = code[i] == 0x48
            let isLea = rexW && code[i + 1] == 0x8D && code[i + 2] == 0x3D
            let isMov = rexW && code[i + 1] == 0xC7 && code[i + 2] == 0xC7
            let isLoad = rexW && code[i + 1] == 0x8B && code[i + 2] == 0x3D
            if isLea || isMov || isLoad {
                let value = Int64(Int32(bitPattern: littleEndian32(code, i + 3)))
                let next = i + 7
                if callFollows(code, next) {
                    let ripRelative = entry &+ UInt64(next) &+ UInt64(bitPattern: value)
                    if isLoad {
                        return .literalAt(ripRelative)
                    }
                    return .address(isLea ? ripRelative : UInt64(bitPattern: value))
                }
            }
            i += 1
        }
        return nil
    }

    /// Whether a call instruction starts at `i`: e8, 67 e8 or ff 15.
    private static func callFollows(_ code: [UInt8], _ i: Int) -> Bool {
        guard i + 1 < code.count else { return false }
        return code[i] == 0xE8 || (code[i] == 0x67 && code[i + 1] == 0xE8) || (code[i] == 0xFF && code[i + 1] == 0x15)
    }

    /// The little-endian 32-bit value at `i`.
    private static func littleEndian32(_ code: [UInt8], _ i: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(code[i + $1]) << (8 * UInt32($1)) }
    }
}
