import CProbeExec
import CStartupProbe
import ProbeCore

/// The caller of a frame whose code has no unwind information — musl's C library (every Alpine
/// program) is built without, so libunwind stops at `_Exit`, or guesses through a frame-pointer
/// chain and skips the function that called `_exit`.
///
/// Nothing is guessed; the function holding the frame's pc is found from the module's symbols, then:
/// - a function that keeps a frame pointer (it starts `push %rbp; mov %rsp,%rbp`, and the pc is
///   past that) saved its return address at rbp+8 and its caller's rbp at rbp: taken when the
///   word there follows a call;
/// - else a stack word is taken as the return address only where the instruction before it is a
///   call to that function (`call rel32`, or `call *GOT(%rip)` of -fno-plt code), or to a stub that jumps there (`jmp rel32`,
///   `jmp rel8`, a PLT entry's `jmp *GOT`, after an `endbr64`): the first such word above the
///   stack pointer. A stale word left by an earlier call to the same function inside this
///   frame's own uninitialised locals would pass too: a function without a frame pointer gives no
///   other way to know its frame's size.
///
/// x86_64 only; elsewhere the unwind stops there. Bounded: modules whose symbol table is larger
/// than ``largestSymbolTable`` are not searched, and one backtrace spends at most ``budget``
/// nanoseconds here (the program waits at the stop).
final class CallerByCall {
    private let pid: Int32
    private let map: MemoryMap
    private let symbols: SymbolResolver
    private let deadline: Int64

    /// How far up the stack a return address is looked for (words): a frame of code without unwind
    /// information in a C library is small.
    static let searchedWords = 64
    /// The time one backtrace may spend finding callers (5 ms of this thread's CPU time: a
    /// deadline on the wall clock ran out on a loaded machine while the thread waited for a CPU,
    /// and frames were lost).
    static let budget: Int64 = 5_000_000
    /// The largest symbol table searched for a function's start (a 60 MB static program's is
    /// 7 MB, one pass over it tens of milliseconds).
    static let largestSymbolTable: UInt64 = 2 << 20

    init(pid: Int32, map: MemoryMap, symbols: SymbolResolver) {
        self.pid = pid
        self.map = map
        self.symbols = symbols
        self.deadline = CallerByCall.cpuNanoseconds + CallerByCall.budget
    }

    /// CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID), in nanoseconds.
    private static var cpuNanoseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The C callback for `spr_unwind_thread`; its context is an unretained `CallerByCall`.
    static let finder: spr_caller_finder_t = { context, ip, sp, fp, callerIP, callerSP, callerFP in
        guard let context else { return 0 }
        let scan = Unmanaged<CallerByCall>.fromOpaque(context).takeUnretainedValue()
        guard let found = scan.caller(ip: ip, sp: sp, fp: fp) else { return 0 }
        callerIP.pointee = found.ip
        callerSP.pointee = found.sp
        callerFP.pointee = found.fp
        return 1
    }

    /// The proven caller of the frame at `ip` with stack pointer `sp` and frame pointer `fp`: its
    /// return address, and its stack pointer and frame pointer after the return. nil when none is
    /// proven.
    func caller(ip: UInt64, sp: UInt64, fp: UInt64) -> (ip: UInt64, sp: UInt64, fp: UInt64)? {
        #if arch(x86_64)
        guard CallerByCall.cpuNanoseconds < deadline, let start = functionStart(ip) else { return nil }
        if let body = framePointerBody(start), ip >= body {
            guard fp > sp, fp - sp < 1 << 20, let ra = word(fp &+ 8), let saved = word(fp),
                spr_is_return_address(pid, ra) != 0, isCode(ra), directCallFits(returnAddress: ra, start: start)
            else { return nil }
            return (ra, fp &+ 16, saved)
        }
        var words = [UInt64](repeating: 0, count: CallerByCall.searchedWords)
        let got = words.withUnsafeMutableBytes { spr_read_memory(pid, sp, $0.baseAddress!, $0.count) }
        guard got > 0 else { return nil }
        for i in 0..<(Int(got) / 8) {
            let ra = words[i]
            guard ra > 6, isCode(ra), let target = callTarget(returnAddress: ra),
                leads(from: target, to: start, hops: 2)
            else { continue }
            let slot = sp &+ UInt64(i) * 8
            // A frame pointer kept after all (its push not at the start): the caller's is saved below.
            let callerFP = slot == fp &+ 8 ? (word(fp) ?? fp) : fp
            return (ra, slot &+ 8, callerFP)
        }
        return nil
        #else
        return nil
        #endif
    }

    /// Where the body of the function at `start` begins when it sets up a frame pointer first
    /// (`[endbr64] push %rbp; mov %rsp,%rbp`), else nil.
    private func framePointerBody(_ start: UInt64) -> UInt64? {
        guard var code = read(start, count: 8) else { return nil }
        var at = start
        if code.starts(with: [0xF3, 0x0F, 0x1E, 0xFA]) {
            code.removeFirst(4)
            at &+= 4
        }
        // push %rbp; mov %rsp,%rbp (48 89 e5 or 48 8b ec)
        guard code.count >= 4, code[0] == 0x55, code[1] == 0x48,
            (code[2] == 0x89 && code[3] == 0xE5) || (code[2] == 0x8B && code[3] == 0xEC)
        else { return nil }
        return at &+ 4
    }

    /// A return address after a call whose target is known must come from a call to `start` (or a
    /// stub leading there); after an indirect one through a register, the frame pointer vouches.
    private func directCallFits(returnAddress ra: UInt64, start: UInt64) -> Bool {
        guard let target = callTarget(returnAddress: ra) else { return true }
        return leads(from: target, to: start, hops: 2)
    }

    /// The target of the call that `ra` returns from, when the instruction says it: `call rel32`,
    /// or `call *disp32(%rip)` through a GOT slot (-fno-plt), read from memory.
    private func callTarget(returnAddress ra: UInt64) -> UInt64? {
        guard let code = read(ra &- 6, count: 6) else { return nil }
        if code[1] == 0xE8 { return ra &+ CallerByCall.displacement(code, 2) }
        if code[0] == 0xFF && code[1] == 0x15 {
            return word(ra &+ CallerByCall.displacement(code, 2))
        }
        return nil
    }

    /// Whether code at `target` is `start`, or jumps there within `hops` jumps.
    private func leads(from target: UInt64, to start: UInt64, hops: Int) -> Bool {
        if target == start { return true }
        guard hops > 0, isCode(target), var code = read(target, count: 16) else { return false }
        var at = target
        if code.starts(with: [0xF3, 0x0F, 0x1E, 0xFA]) {  // endbr64
            code.removeFirst(4)
            at &+= 4
        }
        if code.first == 0xF2 {  // bnd prefix of an MPX-era PLT entry
            code.removeFirst()
            at &+= 1
        }
        switch code.first {
        case 0xE9:  // jmp rel32
            return leads(
                from: at &+ 5 &+ CallerByCall.displacement(code, 1),
                to: start,
                hops: hops - 1
            )
        case 0xEB:  // jmp rel8
            return leads(
                from: at &+ 2 &+ UInt64(bitPattern: Int64(Int8(bitPattern: code[1]))),
                to: start,
                hops: hops - 1
            )
        case 0xFF where code[1] == 0x25:  // jmp *disp32(%rip): a PLT entry through its GOT slot
            let slot = at &+ 6 &+ CallerByCall.displacement(code, 2)
            guard let value = word(slot) else { return false }
            return leads(from: value, to: start, hops: hops - 1)
        default:
            return false
        }
    }

    /// The run-time start of the function symbol holding `ip`, or nil.
    private func functionStart(_ ip: UInt64) -> UInt64? {
        guard let place = map.locate(ip), place.module.hasPrefix("/"), let elf = ELFFile(path: place.module) else {
            return nil
        }
        defer { elf.close() }
        guard elf.largestSymbolTableSize <= CallerByCall.largestSymbolTable else { return nil }
        guard let address = elf.address(ofFileOffset: place.offset),
            let named = symbols.names(module: place.module, elf: elf, addresses: [address])[address]
        else { return nil }
        return ip &- named.offset
    }

    private func isCode(_ address: UInt64) -> Bool {
        map.regions.contains { $0.executable && $0.start <= address && address < $0.end }
    }

    private func word(_ address: UInt64) -> UInt64? {
        read(address, count: 8).map { ELFFile.u64($0, 0) }
    }

    private func read(_ address: UInt64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { spr_read_memory(pid, address, $0.baseAddress!, count) }
        return n == count ? bytes : nil
    }

    /// The signed 32-bit displacement at `at` (little-endian), sign-extended for address arithmetic.
    private static func displacement(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        UInt64(bitPattern: Int64(Int32(bitPattern: ELFFile.u32(bytes, at))))
    }
}
