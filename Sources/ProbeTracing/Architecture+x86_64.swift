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
    /// `addr32 call rel32` (67 e8, static binaries) — or, in musl's `_start_c`, by the tail call
    /// `jmp rel32` (e9) or `jmp *disp32(%rip)` (ff 25).
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

    /// Whether a call or a tail call starts at `i`: e8, 67 e8, ff 15, e9 or ff 25.
    private static func callFollows(_ code: [UInt8], _ i: Int) -> Bool {
        guard i + 1 < code.count else { return false }
        return code[i] == 0xE8 || code[i] == 0xE9 || (code[i] == 0x67 && code[i + 1] == 0xE8)
            || (code[i] == 0xFF && (code[i + 1] == 0x15 || code[i + 1] == 0x25))
    }

    /// glibc's `_start` begins `[endbr64] xor %ebp,%ebp; mov %rdx,%r9; pop %rsi`; musl's
    /// `xor %rbp,%rbp; mov %rsp,%rdi` (then its `_start_c`, which begins `mov (%rdi),%esi; lea
    /// 8(%rdi),%rdx`, is checked by ``isMuslStartC(_:)``).
    package static func isLibraryStart(_ code: [UInt8]) -> Bool {
        let glibc: [UInt8] = [0x31, 0xED, 0x49, 0x89, 0xD1, 0x5E]
        let endbr64: [UInt8] = [0xF3, 0x0F, 0x1E, 0xFA]
        let body = code.dropFirst(code.starts(with: endbr64) ? endbr64.count : 0)
        return body.starts(with: glibc) || body.starts(with: muslStart)
    }

    /// musl's `_start` begins `xor %rbp,%rbp; mov %rsp,%rdi`.
    private static let muslStart: [UInt8] = [0x48, 0x31, 0xED, 0x48, 0x89, 0xE7]

    /// Whether `code` is musl's `_start_c`: `mov (%rdi),%esi; lea 8(%rdi),%rdx`.
    package static func isMuslStartC(_ code: [UInt8]) -> Bool {
        code.starts(with: [0x8B, 0x37, 0x48, 0x8D, 0x57, 0x08])
    }

    /// musl's `_start`: `xor %rbp,%rbp; mov %rsp,%rdi; lea _DYNAMIC(%rip),%rsi; and $-16,%rsp;
    /// call _start_c` — the target of that call.
    package static func calledFunction(startCode code: [UInt8], entry: UInt64) -> UInt64? {
        let prologue = muslStart + [0x48, 0x8D, 0x35]  // then lea _DYNAMIC(%rip),%rsi
        let call = 17  // after the 7-byte lea and the 4-byte and
        guard code.count >= call + 5, code.starts(with: prologue),
            code[13] == 0x48, code[14] == 0x83, code[15] == 0xE4, code[call] == 0xE8
        else { return nil }
        let displacement = Int64(Int32(bitPattern: littleEndian32(code, call + 1)))
        return entry &+ UInt64(call + 5) &+ UInt64(bitPattern: displacement)
    }

    /// The little-endian 32-bit value at `i`.
    private static func littleEndian32(_ code: [UInt8], _ i: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(code[i + $1]) << (8 * UInt32($1)) }
    }
}
