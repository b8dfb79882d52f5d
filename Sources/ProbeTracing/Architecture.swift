/// What probe-exec's tracer needs to know about one processor architecture. `X86_64` and
/// `AArch64` are pure values and functions, compiled on every architecture (so both are unit-tested
/// on any machine); `NativeArchitecture` is the one this build runs on.
package protocol Architecture {
    /// exit_group(2): what exit(3) and returning from main end in. The plain `exit` system call
    /// ends one thread (pthread_exit, a runtime's helper thread), not the process.
    static var exitGroupSyscall: Int64 { get }
    /// How many bytes past a breakpoint's address the ip is when its SIGTRAP is reported.
    static var breakpointPCAdvance: UInt64 { get }
    /// Where `_start` (the bytes at the ELF entry point, `entry` being their run-time address)
    /// gets `main` from, as the first argument of `__libc_start_main`: nil when the code is not
    /// recognised (the caller then single-steps `_start`).
    static func mainLocation(startCode: [UInt8], entry: UInt64) -> StartMain?
    /// The function `_start` calls first, when its code (at run-time address `entry`) is
    /// recognised: musl's `_start` calls `_start_c`, which passes main to `__libc_start_main`.
    static func calledFunction(startCode: [UInt8], entry: UInt64) -> UInt64?
    /// Whether the code at the entry point is a C library's `_start` (glibc's or musl's), whose
    /// first call passes main on: only then is main decoded from it, or `_start` single-stepped.
    /// A program's own `_start` may load any function before any call (a false main would make
    /// the verdict say main() was not reached).
    static func isLibraryStart(_ startCode: [UInt8]) -> Bool
}

/// Where `_start` loads `main` from.
package enum StartMain: Equatable {
    /// main's run-time address, computed from the code alone.
    case address(UInt64)
    /// The run-time address of an 8-byte word that holds main's address: a literal pool entry
    /// (`ldr x0, =main`) or a GOT slot (`adrp x0, :got:main` + `ldr x0, [x0, #:got_lo12:main]`;
    /// x86_64's unrelaxed `mov main@GOTPCREL(%rip), %rdi`). The caller reads the word from the
    /// tracee. A literal in a non-PIE holds main's address from the start; a GOT slot of a PIE
    /// holds it only once the dynamic loader has relocated it (before that, Debian's linker leaves
    /// main's link-time address there: add the load bias, or read the slot at the entry point).
    case literalAt(UInt64)
}

extension Architecture {
    /// main's address when `_start` computes it from the code alone (`StartMain.address`); nil
    /// when it is loaded from memory (`literalAt`, see `mainLocation`) or not recognised.
    package static func mainAddress(startCode: [UInt8], entry: UInt64) -> UInt64? {
        if case .address(let main)? = mainLocation(startCode: startCode, entry: entry) {
            return main
        }
        return nil
    }

    /// The address of the breakpoint whose trap left the thread at `ip`.
    package static func breakpointAddress(trappedAt ip: UInt64) -> UInt64 { ip &- breakpointPCAdvance }
}

#if arch(x86_64)
/// The architecture this build runs on.
package typealias NativeArchitecture = X86_64
#elseif arch(arm64)
/// The architecture this build runs on.
package typealias NativeArchitecture = AArch64
#else
#error("StartupProbe supports x86_64 and aarch64")
#endif
