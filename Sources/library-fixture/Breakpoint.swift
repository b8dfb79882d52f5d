#if canImport(Glibc)
import Glibc
#endif

/// Executes the architecture's breakpoint instruction (x86_64 `int3`, aarch64 `brk #0`) from a
/// page of its own: the kernel sends SIGTRAP with si_code > 0, as for a debugger's breakpoint
/// (Swift has no inline assembly). On x86_64 the `ret` after it runs if the process goes on.
@inline(never)
func raiseBreakpoint() {
    #if arch(x86_64)
    let code: [UInt8] = [0xCC, 0xC3]  // int3; ret
    #elseif arch(arm64)
    let code: [UInt8] = [0x00, 0x00, 0x20, 0xD4, 0xC0, 0x03, 0x5F, 0xD6]  // brk #0; ret
    #endif
    guard let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        page != MAP_FAILED
    else { return }
    page.copyMemory(from: code, byteCount: code.count)
    mprotect(page, 4096, PROT_READ | PROT_EXEC)
    let function = unsafeBitCast(page, to: (@convention(c) () -> Void).self)
    function()
}
