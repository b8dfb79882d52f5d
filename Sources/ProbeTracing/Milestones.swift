import CProbeExec
import ProbeCore
import ProbeTrace

/// Start-up milestones of the traced program image: its ELF entry point (the dynamic loader is
/// done) and `main()`, proven with one-shot breakpoints that are removed when hit.
///
/// Where the kernel allows it, the breakpoints are the CPU's (``spr_hwbp_open``: perf_event,
/// owned by probe-exec's descriptors): nothing is written into the program, it is not stopped at
/// them, and they cannot outlive probe-exec. A program with no dynamic loader is at its entry
/// point at the exec stop: nothing is needed there. Otherwise (perf_event_open refused; Go, whose
/// `main.main` may run on any thread; the entry point of a dynamically linked program whose
/// `main` must be found by walking `_start`, which needs a stop) an `int3` (`brk #0`) is planted
/// and the guardian keeps it from outliving probe-exec (``BreakpointGuardian``).
///
/// `main` is found in the symbol table (`main`, or Go's `main.main`); in a stripped binary, from
/// `_start`, which passes it as the first argument of `__libc_start_main(main, argc, argv, …)`:
/// by decoding `_start` (`NativeArchitecture.mainLocation`), else by single-stepping `_start`
/// until the call and reading the argument register.
package struct Milestones {
    package struct Breakpoint {
        package var address: UInt64
        package var original: UInt64
        /// The word written in its place (the original with the breakpoint instruction over it).
        package var planted: UInt64
        package var name: String
        package var how: String
    }

    /// What a stop of the traced program means for the milestones.
    package enum Outcome {
        /// Not ours: handle the stop as usual.
        case notOurs
        /// A milestone was reached (recorded); the thread was repositioned: continue it.
        case reached(name: String, address: UInt64, how: String)
        /// Keep single-stepping this thread.
        case step
        /// Done stepping: continue the thread.
        case resume
    }

    package private(set) var breakpoints: [UInt64: Breakpoint] = [:]
    /// Every breakpoint planted in the current image, removed since or not: a child forked while
    /// one was there holds a copy of it (see the tracer's children).
    package private(set) var planted: [Breakpoint] = []
    /// Counts the breakpoints planted so far: it changes whenever one is added, so the tracer
    /// knows when its guardian's list (``BreakpointGuardian``) is out of date.
    package private(set) var plantings = 0
    /// The image's entry point (AT_ENTRY), once armed.
    package private(set) var entry: UInt64?
    /// The process whose image holds the breakpoints (the one armed last).
    package private(set) var process: Int32 = 0
    private var executable: String?
    private var stepping: (tid: Int32, count: Int)?
    /// A runtime that signals itself as it runs (Go preempts goroutines with SIGURG), named, when
    /// the image is one: tracing ends once main() is reached.
    package private(set) var selfSignallingRuntime: String?

    /// Whether main's address is known (by symbol, or once found by stepping).
    package private(set) var mainLocated = false
    /// Hardware breakpoints watching this image's milestones, in place of planted ones.
    private var watches: [(breakpoint: spr_hwbp_t, name: String, address: UInt64, how: String)] = []
    /// Whether hardware breakpoints are tried (false once refused: the rest of the run plants).
    package var hardwareAllowed = true
    /// Why hardware breakpoints were refused, when they were (said once in the trace).
    package private(set) var hardwareRefusal: SystemError?

    /// Whether start-up milestones are still awaited (a breakpoint planted or watched).
    package var awaited: Bool { !breakpoints.isEmpty || !watches.isEmpty }
    /// The descriptors of the hardware breakpoints: readable when one was hit.
    package var watchDescriptors: [Int32] { watches.map(\.breakpoint.fd) }

    /// The GNU build-id of the image armed last, read from the ELF file `arm` opens anyway (for the load
    /// bias): one more read, of its PT_NOTE segment; nil when it has none or could not be read.
    package private(set) var buildID: String?

    /// At PTRACE_EVENT_EXEC: plant the breakpoints of the new image (the old ones went with it).
    /// Returns whether the entry breakpoint is in place (it needs /proc/PID/auxv).
    @discardableResult
    package mutating func arm(pid: Int32) -> Bool {
        breakpoints = [:]
        planted = []
        closeWatches()
        process = pid
        stepping = nil
        mainLocated = false
        buildID = nil
        entryAtExec = false
        guard let entry = Auxv(pid: pid).entry else { return false }
        self.entry = entry
        // No dynamic loader (static, static-pie): the exec stop is at the entry point itself.
        var registers = spr_regs_t()
        entryAtExec = spr_ptrace_regs(pid, &registers) == 0 && registers.ip == entry
        executable = ProcessFacts.executable(of: pid)
        var bias: UInt64 = 0
        selfSignallingRuntime = nil
        let elf = executable.flatMap { ELFFile(path: $0) }
        defer { elf?.close() }
        if let elf {
            bias = entry &- elf.entry
            buildID = elf.buildID
            if elf.hasSection(".go.buildinfo") || elf.hasSection(".gopclntab") {
                selfSignallingRuntime =
                    "a Go program: its runtime signals itself (SIGURG) to preempt goroutines, each a stop under ptrace"
            }
        }
        // The program waits at this stop: the cheap fact first (64 bytes of `_start`), the symbol
        // table (streamed; tens of MB in a large program) only when `_start` is not recognised.
        let candidates = Milestones.decodeMainFromStart(pid: pid, entry: entry, bias: bias)
        var main: (address: UInt64, how: String)? = nil
        if !candidates.isEmpty {
            // In the executable's code only: a word `_start` loads may be data (a program of its own).
            // Its executable segments say where that is (no /proc/PID/maps read while it waits).
            let map = elf == nil ? MemoryMap(pid: pid) : nil
            let program = executable
            if let found = candidates.first(where: {
                elf?.isCode(atAddress: $0 &- bias) ?? map!.isCode($0, of: program)
            }) {
                main = (found, "first argument of __libc_start_main")
            }
        }
        if main == nil, let found = elf?.functionAddress(named: ["main", "main.main"]), found &+ bias != entry {
            main = (found &+ bias, "symbol table")
        }
        if entryAtExec {
            // Nothing to plant at the entry point: `_start` is walked from here when main() is
            // not known yet (a stripped static binary), main() watched or planted once found.
            if let main {
                mainLocated = place(pid: pid, address: main.address, how: main.how)
            } else if selfSignallingRuntime == nil, Milestones.startIsLibrary(pid: pid, entry: entry) {
                stepping = (pid, 0)
            }
            return true
        }
        // The CPU's breakpoints watch the first thread only: Go's main.main may run on another.
        if let main, selfSignallingRuntime == nil, hardwareAllowed,
            watch(pid: pid, address: entry, name: "entry", how: "AT_ENTRY"),
            watch(pid: pid, address: main.address, name: "main", how: main.how)
        {
            mainLocated = true
            return true
        }
        closeWatches()
        if let main {
            mainLocated = insert(pid: pid, address: main.address, name: "main", how: main.how)
        }
        return insert(pid: pid, address: entry, name: "entry", how: "AT_ENTRY")
    }

    /// Whether the exec stop was at the image's entry point (no dynamic loader): the entry
    /// milestone is reached there, with no breakpoint.
    package private(set) var entryAtExec = false

    /// Watches main() with the CPU's breakpoint where it may (not for Go), else plants one.
    private mutating func place(pid: Int32, address: UInt64, how: String) -> Bool {
        if selfSignallingRuntime == nil, hardwareAllowed, watch(pid: pid, address: address, name: "main", how: how) {
            return true
        }
        return insert(pid: pid, address: address, name: "main", how: how)
    }

    /// Watches `address` with a hardware breakpoint on thread `pid`; false (and no more tries this
    /// run) when the kernel refuses.
    private mutating func watch(pid: Int32, address: UInt64, name: String, how: String) -> Bool {
        var breakpoint = spr_hwbp_t()
        let error = spr_hwbp_open(pid, address, &breakpoint)
        guard error == 0 else {
            hardwareAllowed = false
            hardwareRefusal = SystemError(error)
            return false
        }
        watches.append((breakpoint, name, address, how))
        return true
    }

    /// A watch's descriptor polled readable or hung up with no hit in it: records of another kind
    /// are marked read; a watch whose thread is gone (hung up) is removed — it can never be hit.
    package mutating func settle(descriptor fd: Int32, hungUp: Bool) {
        guard let i = watches.firstIndex(where: { $0.breakpoint.fd == fd }) else { return }
        if hungUp {
            spr_hwbp_close(&watches[i].breakpoint)
            watches.remove(at: i)
        } else {
            spr_hwbp_consume(&watches[i].breakpoint)
        }
    }

    /// Removes the hardware breakpoints.
    private mutating func closeWatches() {
        for i in watches.indices { spr_hwbp_close(&watches[i].breakpoint) }
        watches = []
    }

    /// The milestones the hardware breakpoints saw since last asked, in the order they were
    /// reached, with when (CLOCK_MONOTONIC); each breakpoint is removed once hit. Reads mapped
    /// memory only.
    package mutating func collectHits() -> [(name: String, address: UInt64, how: String, nanoseconds: Int64)] {
        var hits: [(name: String, address: UInt64, how: String, nanoseconds: Int64)] = []
        var i = 0
        while i < watches.count {
            var hit = spr_hwbp_hit_t()
            if spr_hwbp_first_hit(&watches[i].breakpoint, &hit) == 1 {
                hits.append((watches[i].name, watches[i].address, watches[i].how, hit.nanoseconds))
                spr_hwbp_close(&watches[i].breakpoint)
                watches.remove(at: i)
            } else {
                i += 1
            }
        }
        return hits.sorted { $0.nanoseconds < $1.nanoseconds }.map {
            // The sample's clock ignores a time namespace: probe-exec's own clock does not.
            ($0.name, $0.address, $0.how, $0.nanoseconds &+ Milestones.monotonicOffsetNanoseconds)
        }
    }

    /// The CLOCK_MONOTONIC offset of probe-exec's time namespace (`/proc/self/timens_offsets`;
    /// 0 outside one, or when the kernel has none).
    static let monotonicOffsetNanoseconds: Int64 = {
        guard let text = ProcessFacts.readSmallFile("/proc/self/timens_offsets", limit: 4096) else { return 0 }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[0] == "monotonic", let seconds = Int64(fields[1]),
                let nanoseconds = Int64(fields[2])
            else { continue }
            return seconds &* 1_000_000_000 &+ nanoseconds
        }
        return 0
    }()

    /// Reads the first 64 bytes of `_start` and decodes where it loads main from
    /// (`NativeArchitecture.mainLocation`). Returns main's candidate addresses, none when the code is
    /// not recognised or unreadable. A literal or GOT slot is read from the tracee: at exec time a
    /// PIE's GOT slot is not relocated yet and holds main's link-time address, so both the word and
    /// the word plus `bias` are returned (the caller keeps the one inside the executable).
    package static func decodeMainFromStart(pid: Int32, entry: UInt64, bias: UInt64) -> [UInt64] {
        guard let code = peek(pid: pid, at: entry), NativeArchitecture.isLibraryStart(code) else { return [] }
        var location = NativeArchitecture.mainLocation(startCode: code, entry: entry)
        // musl: `_start` calls `_start_c`, which passes main on (no single-stepping needed).
        if location == nil, let callee = NativeArchitecture.calledFunction(startCode: code, entry: entry),
            let calleeCode = peek(pid: pid, at: callee), X86_64.isMuslStartC(calleeCode) || !isX86_64
        {
            location = NativeArchitecture.mainLocation(startCode: calleeCode, entry: callee)
        }
        switch location {
        case .address(let main)?:
            return [main]
        case .literalAt(let slot)?:
            var word: UInt64 = 0
            guard spr_ptrace_peek(pid, slot, &word) == 0, word != 0 else { return [] }
            return [word, word &+ bias]
        case nil:
            return []
        }
    }

    #if arch(x86_64)
    private static let isX86_64 = true
    #else
    private static let isX86_64 = false
    #endif

    /// Whether the code at `entry` in `pid` is a C library's `_start` (``Architecture/isLibraryStart(_:)``):
    /// only such a `_start` is single-stepped to find main.
    static func startIsLibrary(pid: Int32, entry: UInt64) -> Bool {
        guard let code = peek(pid: pid, at: entry), NativeArchitecture.isLibraryStart(code) else { return false }
        // A musl-shaped `_start` counts only with musl's own `_start_c` behind it.
        if let callee = NativeArchitecture.calledFunction(startCode: code, entry: entry) {
            return peek(pid: pid, at: callee).map(X86_64.isMuslStartC) ?? false
        }
        return true
    }

    /// 64 bytes of the tracee's code at `address` (one process_vm_readv, not eight peeks), or nil
    /// when not all of them are readable.
    private static func peek(pid: Int32, at address: UInt64) -> [UInt8]? {
        var code = [UInt8](repeating: 0, count: 64)
        let got = code.withUnsafeMutableBytes { spr_read_memory(pid, address, $0.baseAddress!, $0.count) }
        return got == code.count ? code : nil
    }

    /// At a SIGTRAP signal-delivery-stop of `tid`.
    package mutating func trap(tid: Int32) -> Outcome {
        var regs = spr_regs_t()
        guard spr_ptrace_regs(tid, &regs) == 0 else { return .notOurs }
        if let s = stepping, s.tid == tid {
            return step(tid: tid, regs: regs, count: s.count)
        }
        let address = NativeArchitecture.breakpointAddress(trappedAt: regs.ip)
        guard let bp = breakpoints.removeValue(forKey: address) else { return .notOurs }
        _ = spr_ptrace_poke(tid, bp.address, bp.original)
        _ = spr_ptrace_set_ip(tid, bp.address)
        if bp.name == "entry" && !mainLocated, let entry, Milestones.startIsLibrary(pid: tid, entry: entry) {
            stepping = (tid, 0)
        }
        return .reached(name: bp.name, address: bp.address, how: bp.how)
    }

    /// Puts back the original words of every breakpoint still planted (tracing ends): nothing of
    /// probe-exec stays in the program.
    package mutating func disarm(pid: Int32) {
        for breakpoint in breakpoints.values {
            _ = spr_ptrace_poke(pid, breakpoint.address, breakpoint.original)
        }
        breakpoints = [:]
        stepping = nil
        closeWatches()
    }

    /// Gives up walking `_start` (another stop intervened).
    package mutating func stopStepping() { stepping = nil }

    /// Whether `tid` is being single-stepped through `_start`.
    package func isStepping(_ tid: Int32) -> Bool { stepping?.tid == tid }

    private mutating func step(tid: Int32, regs: spr_regs_t, count: Int) -> Outcome {
        guard let entry, count < 64 else {
            stepping = nil
            return .resume
        }
        // Still inside _start: keep going until control leaves it through the call.
        if regs.ip >= entry && regs.ip < entry &+ 256 {
            stepping = (tid, count + 1)
            return .step
        }
        stepping = nil
        let candidate = regs.first_argument
        let map = MemoryMap(pid: tid)
        if map.isCode(candidate, of: executable),
            place(pid: tid, address: candidate, how: "first argument of __libc_start_main, found by stepping _start")
        {
            mainLocated = true
        }
        return .resume
    }

    private mutating func insert(pid: Int32, address: UInt64, name: String, how: String) -> Bool {
        var word: UInt64 = 0
        guard breakpoints[address] == nil, spr_ptrace_peek(pid, address, &word) == 0 else { return false }
        var length: Int32 = 0
        let instruction = spr_breakpoint_instruction(&length)
        let mask: UInt64 = length >= 8 ? ~0 : (1 << (UInt64(length) * 8)) - 1
        let planted = (word & ~mask) | instruction
        guard spr_ptrace_poke(pid, address, planted) == 0 else { return false }
        let breakpoint = Breakpoint(address: address, original: word, planted: planted, name: name, how: how)
        breakpoints[address] = breakpoint
        self.planted.append(breakpoint)
        plantings += 1
        return true
    }
}
