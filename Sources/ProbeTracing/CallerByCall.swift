import CProbeExec
import ProbeCore

/// The caller of a frame whose code has no unwind information — musl's C library (every Alpine
/// program) is built without, so libunwind stops at `_Exit`, or guesses through a frame-pointer
/// chain and skips the function that called `_exit`.
///
/// Nothing is guessed: a stack word is taken as the frame's return address only where the
/// instruction before it is a direct call (`call rel32`) whose target is the start of the function
/// holding the frame's pc (from the module's symbols), or a stub that jumps there (`jmp rel32`,
/// `jmp rel8`, a PLT entry's `jmp *GOT`, after an `endbr64`). Stack words left over from earlier
/// calls do not pass: their calls went elsewhere. x86_64 only; elsewhere the unwind stops there.
final class CallerByCall {
    private let pid: Int32
    private let map: MemoryMap
    private let symbols: SymbolResolver

    /// How far up the stack a return address is looked for (words): a frame of code without unwind
    /// information in a C library is small.
    static let searchedWords = 64

    init(pid: Int32, map: MemoryMap, symbols: SymbolResolver) {
        self.pid = pid
        self.map = map
        self.symbols = symbols
    }

    /// The C callback for `spr_unwind_thread`; its context is an unretained `CallerByCall`.
    static let finder: spr_caller_finder_t = { context, ip, sp, callerIP, callerSP in
        guard let context else { return 0 }
        let scan = Unmanaged<CallerByCall>.fromOpaque(context).takeUnretainedValue()
        guard let found = scan.caller(ip: ip, sp: sp) else { return 0 }
        callerIP.pointee = found.ip
        callerSP.pointee = found.sp
        return 1
    }

    /// The proven caller of the frame at `ip` with stack pointer `sp`: its return address and the
    /// stack pointer after the return. nil when none is proven.
    func caller(ip: UInt64, sp: UInt64) -> (ip: UInt64, sp: UInt64)? {
        #if arch(x86_64)
        guard let start = functionStart(ip) else { return nil }
        var words = [UInt64](repeating: 0, count: CallerByCall.searchedWords)
        let got = words.withUnsafeMutableBytes { spr_read_memory(pid, sp, $0.baseAddress!, $0.count) }
        guard got > 0 else { return nil }
        for i in 0..<(Int(got) / 8) {
            let word = words[i]
            guard word > 5, isCode(word), let call = read(word &- 5, count: 5), call[0] == 0xE8 else { continue }
            let target = word &+ UInt64(bitPattern: Int64(CallerByCall.int32(call, 1)))
            if leads(from: target, to: start, hops: 2) { return (word, sp &+ UInt64(i + 1) * 8) }
        }
        return nil
        #else
        return nil
        #endif
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
                from: at &+ 5 &+ UInt64(bitPattern: Int64(CallerByCall.int32(code, 1))),
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
            let slot = at &+ 6 &+ UInt64(bitPattern: Int64(CallerByCall.int32(code, 2)))
            guard let value = read(slot, count: 8) else { return false }
            return leads(from: CallerByCall.uint64(value), to: start, hops: hops - 1)
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
        guard let address = elf.address(ofFileOffset: place.offset),
            let named = symbols.names(module: place.module, elf: elf, addresses: [address])[address]
        else { return nil }
        return ip &- named.offset
    }

    private func isCode(_ address: UInt64) -> Bool {
        map.regions.contains { $0.executable && $0.start <= address && address < $0.end }
    }

    private func read(_ address: UInt64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { spr_read_memory(pid, address, $0.baseAddress!, count) }
        return n == count ? bytes : nil
    }

    private static func int32(_ bytes: [UInt8], _ at: Int) -> Int32 {
        Int32(
            bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(
                bytes[at + 3]
            ) << 24
        )
    }

    private static func uint64(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}
