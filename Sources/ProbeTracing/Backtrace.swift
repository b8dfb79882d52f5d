import CProbeExec
import ProbeCore
import ProbeTrace

/// One frame of a remote backtrace, located and named.
package struct BacktraceFrame {
    package var ip: UInt64
    package var module: String?
    package var moduleOffset: UInt64?
    package var buildID: String?
    package var symbol: String?
    package var symbolOffset: UInt64
    package var demangled: String?
    package var file: String?
    package var line: Int?
    /// The calls inlined at this address, innermost first (``DWARFInlines``).
    package var inlined: [TraceEvent.InlinedCall] = []

    /// A frame at `ip`, with what is known of it.
    package init(
        ip: UInt64,
        module: String? = nil,
        moduleOffset: UInt64? = nil,
        buildID: String? = nil,
        symbol: String? = nil,
        symbolOffset: UInt64 = 0,
        demangled: String? = nil,
        file: String? = nil,
        line: Int? = nil
    ) {
        self.ip = ip
        self.module = module
        self.moduleOffset = moduleOffset
        self.buildID = buildID
        self.symbol = symbol
        self.symbolOffset = symbolOffset
        self.demangled = demangled
        self.file = file
        self.line = line
    }

    /// The frame as the trace records it.
    package var traceFrame: TraceEvent.Frame {
        var frame = TraceEvent.Frame()
        frame.ip = ip
        frame.module = module
        frame.moduleOffset = moduleOffset
        frame.buildID = buildID
        if let symbol {
            frame.symbol = symbol
            frame.function = demangled ?? symbol
            frame.functionOffset = symbolOffset
        }
        if let file, let line {
            frame.file = file
            frame.line = line
        }
        frame.inlined = inlined
        return frame
    }
}

/// The unwind tables of a process's modules (``RemoteBacktrace/unwindTables(_:)``), and their
/// build-ids by module path.
package struct UnwindTables {
    /// One per executable mapping that has a table.
    package var tables: [spr_unwind_table_t] = []
    /// Build-ids by module path.
    package var buildIDs: [String: String] = [:]
    /// Each executable mapping with a table, by its start: what a later map is compared with (a
    /// file replaced at the same path and loaded at the same place is another file).
    var mappings: [UInt64: MemoryMap.Region] = [:]
    /// The tables built here, which `tables` point into: kept alive with them.
    var indexes: [EHFrameIndex] = []
}

/// Remote backtraces of stopped tracee threads through libunwind-ptrace.
package enum RemoteBacktrace {
    /// The deepest backtrace taken.
    package static let maximumFrames = 256

    /// Unwinds `tid` (stopped) and names each frame's module; with `symbols`, also its function
    /// (without: raw pcs, modules and offsets, named later by ``name(_:symbols:)`` once the
    /// program no longer waits). Where code has no unwind information, `callers` (from the same
    /// symbols) proves the caller. Returns nil and a reason when libunwind is unavailable.
    package static func capture(
        tid: Int32,
        map: MemoryMap,
        tables: [spr_unwind_table_t],
        buildIDs: [String: String] = [:],
        symbols: SymbolResolver?,
        callers: SymbolResolver? = nil
    ) -> (frames: [BacktraceFrame], error: String?) {
        tables.withUnsafeBufferPointer { spr_unwind_set_tables($0.baseAddress, Int32($0.count)) }
        var raw = [spr_frame_t](repeating: spr_frame_t(), count: maximumFrames)
        var error: Int32 = 0
        let finder = callers.map { CallerByCall(pid: tid, map: map, symbols: $0) }
        let count = withExtendedLifetime(finder) {
            Int(
                spr_unwind_thread(
                    tid,
                    &raw,
                    Int32(maximumFrames),
                    &error,
                    finder == nil ? nil : CallerByCall.finder,
                    finder.map { Unmanaged.passUnretained($0).toOpaque() }
                )
            )
        }
        var frames: [BacktraceFrame] = []
        for i in 0..<count {
            let f = raw[i]
            // A return address points after the call: look up ip-1 so the frame is the call's
            // function and line, not whatever follows it (a call to a noreturn function is
            // often the last instruction of its function).
            let lookup = (i == 0 || f.signal_frame != 0) ? f.ip : f.ip &- 1
            let place = map.locate(lookup)
            frames.append(
                BacktraceFrame(
                    ip: f.ip,
                    module: place?.module,
                    moduleOffset: place?.offset,
                    buildID: place.flatMap { buildIDs[$0.module] },
                    symbol: nil,
                    symbolOffset: lookup == f.ip ? 0 : 1,
                    demangled: nil
                )
            )
        }
        if let symbols { name(&frames, symbols: symbols) }
        return (frames, error == 0 ? nil : "libunwind stopped with error \(error)")
    }

    /// Calls `body` once per module file with the module's own virtual address of each of its
    /// frames (by frame index).
    private static func forEachModule(
        _ frames: [BacktraceFrame],
        including include: (String) -> Bool = { _ in true },
        _ body: (_ module: String, _ elf: ELFFile, _ addressOf: [Int: UInt64]) -> Void
    ) {
        var byModule: [String: [Int]] = [:]
        for (i, frame) in frames.enumerated()
        where frame.module?.hasPrefix("/") == true && frame.moduleOffset != nil && include(frame.module!) {
            byModule[frame.module!, default: []].append(i)
        }
        // The innermost frame's module first (a crash's own module gets the reading time first).
        for (module, indices) in byModule.sorted(by: { $0.value[0] < $1.value[0] }) {
            guard let elf = ELFFile(path: module) else { continue }
            defer { elf.close() }
            var addressOf: [Int: UInt64] = [:]
            for i in indices {
                if let address = elf.address(ofFileOffset: frames[i].moduleOffset!) { addressOf[i] = address }
            }
            body(module, elf, addressOf)
        }
    }

    /// Names the frames from their modules' symbol tables, one pass per module.
    package static func name(_ frames: inout [BacktraceFrame], symbols: SymbolResolver) {
        var named = frames
        forEachModule(frames) { module, elf, addressOf in
            let names = symbols.names(module: module, elf: elf, addresses: Array(addressOf.values))
            for (i, address) in addressOf {
                guard let found = names[address] else { continue }
                named[i].symbol = found.name
                // symbolOffset holds 1 for return addresses (looked up at ip-1): report ip's offset.
                named[i].symbolOffset = found.offset + named[i].symbolOffset
                named[i].demangled = Demangle.name(found.name)
            }
        }
        for i in named.indices where named[i].symbol == nil { named[i].symbolOffset = 0 }
        frames = named
    }

    /// Fills in file:line for the frames of the program's own modules (not the C library's, the
    /// loader's or an interpreter's) that have DWARF line tables. Where an address's own
    /// line is compiler-generated (or absent), its inline chain (``DWARFInlines``) is read and the
    /// innermost call site a person wrote gives the line.
    package static func addSourceLines(_ frames: inout [BacktraceFrame]) {
        var lined = frames
        // The C library's, the loader's or an interpreter's lines are never the place a verdict
        // gives, and their debug files are large (libc6-dbg's line table: 45 ms at each exit).
        let programs: (String) -> Bool = { !isSystemModule($0) && !isInterpreterModule($0) }
        // One deadline for all the backtrace's modules.
        let deadline = TraceClock.nowNanoseconds + DWARFSections.budgetNanoseconds
        forEachModule(frames, including: programs) { module, moduleELF, addressOf in
            // A module stripped of its DWARF may have it in a file of its own (same addresses).
            let separate = SeparateDebugFile.open(for: module, moduleELF)
            defer { separate?.close() }
            // Each section read once for both readers, all of it within one deadline.
            let dwarf = DWARFSections(separate ?? moduleELF, deadline: deadline)
            let lines = DWARFLines.lookup(dwarf, addresses: Array(addressOf.values))
            // The inline chain only where the line table has a line nobody wrote (code with no
            // line at all, such as crt1.o's `_start`, has no inline chain to read either).
            let unwritten = addressOf.values.filter { address in
                lines[address].map { !DWARFInlines.isWritten(file: $0.file, line: $0.line) } ?? false
            }
            let inlined = unwritten.isEmpty ? [:] : DWARFInlines.lookup(dwarf, addresses: unwritten)
            for (i, address) in addressOf {
                let calls = inlined[address] ?? []
                lined[i].inlined = calls
                if let call = calls.first(where: { DWARFInlines.isWritten(file: $0.file, line: $0.line) }) {
                    lined[i].file = call.file
                    lined[i].line = call.line
                } else if let found = lines[address] {
                    lined[i].file = found.file
                    lined[i].line = found.line
                }
            }
        }
        frames = lined
    }

    /// Where each executable mapping's `.eh_frame_hdr` is at run time: the load bias comes from the
    /// program header of the segment mapped there (its address may differ from its file offset).
    /// A file linked without one gets a table built from its `.eh_frame` (``EHFrameIndex``).
    /// The tables of `previous` (made from an earlier map of the same image) are taken as they are
    /// for the mappings that are still where they were: only new modules' files are read.
    package static func unwindTables(_ map: MemoryMap, reusing previous: UnwindTables? = nil) -> UnwindTables {
        var files: [String: ELFFile?] = [:]
        var found = UnwindTables()
        var indexes: [String: EHFrameIndex] = [:]
        if let previous { found.indexes = previous.indexes }  // what reused tables may point into
        for region in map.regions where region.executable && region.path.hasPrefix("/") {
            if let previous, let known = previous.mappings[region.start], known.sameMapping(as: region),
                let kept = previous.tables.first(where: { $0.start == region.start && $0.end == region.end })
            {
                found.tables.append(kept)
                found.mappings[region.start] = region
                if let id = previous.buildIDs[region.path] { found.buildIDs[region.path] = id }
                continue
            }
            found.mappings[region.start] = region
            if files[region.path] == nil {
                let elf = ELFFile(path: region.path)
                files[region.path] = .some(elf)
                if let id = elf?.buildID { found.buildIDs[region.path] = id }
            }
            guard let elf = files[region.path] ?? nil, let bias = elf.loadBias(of: region, executable: true) else {
                continue
            }
            if let frameHeader = elf.segments.first(where: { $0.type == 0x6474_E550 }) {  // PT_GNU_EH_FRAME
                found.tables.append(
                    spr_unwind_table_t(
                        start: region.start,
                        end: region.end,
                        eh_frame_hdr: bias &+ frameHeader.address,
                        local_table: nil,
                        local_count: 0,
                        local_base: 0
                    )
                )
            } else if let address = elf.sectionAddress(named: ".eh_frame"),
                let index = indexes[region.path] ?? EHFrameIndex(elf)
            {
                indexes[region.path] = index
                found.tables.append(index.table(start: region.start, end: region.end, base: bias &+ address))
            } else {
                // Built without unwind information (-fno-asynchronous-unwind-tables): said so, so
                // that its frames' callers are proven (CallerByCall), not guessed.
                found.tables.append(
                    spr_unwind_table_t(
                        start: region.start,
                        end: region.end,
                        eh_frame_hdr: 0,
                        local_table: nil,
                        local_count: 0,
                        local_base: 0
                    )
                )
            }
        }
        found.indexes += Array(indexes.values)
        for case let elf? in files.values { elf.close() }
        return found
    }

    /// "crash3 ← crash2 ← crash1 ← main": the program's own frames, innermost first, ending at
    /// `main`. C-library frames are left out (Debian's libc has no .symtab, so its internal
    /// functions carry the names of unrelated exports); unnamed frames show as module+offset.
    package static func summary(_ frames: [BacktraceFrame], limit: Int = 6) -> String {
        var names: [String] = []
        var counts: [Int] = []
        for frame in frames {
            let name = frame.demangled ?? frame.symbol
            if isSystemModule(frame.module) || isInterpreterModule(frame.module) || name.map(isPlumbing) == true {
                continue
            }
            var shown: String
            if let name {
                shown = name
            } else if let module = frame.module {
                shown =
                    module.lastPathComponent + "+0x"
                    + String(frame.moduleOffset ?? 0, radix: 16)
            } else {
                continue
            }
            // A recursion reads once, with its count: `recurse ×256`, not six `recurse` in a row.
            if names.last == shown {
                counts[counts.count - 1] += 1
                continue
            }
            if names.count == limit { break }
            names.append(shown)
            counts.append(1)
            if let name, name == "main" || name.hasSuffix("::main") || name.hasPrefix("std::rt::lang_start") { break }
        }
        var text = ""
        for (name, count) in zip(names, counts) {
            if !text.isEmpty { text += " ← " }
            text += count > 1 ? "\(name) ×\(count)" : name
        }
        return text
    }

    /// "tracee.c:18": the source location of the innermost frame of the program's own code that
    /// has one (the same frames as ``summary(_:limit:)``), or nil.
    package static func sourceLocation(_ frames: [BacktraceFrame]) -> String? {
        for frame in frames {
            let name = frame.demangled ?? frame.symbol
            if isSystemModule(frame.module) || isInterpreterModule(frame.module) || name.map(isPlumbing) == true {
                continue
            }
            // A line nobody wrote (line 0, `<compiler-generated>`, an unknown file) is no place.
            guard let file = frame.file, let line = frame.line, DWARFInlines.isWritten(file: file, line: line) else {
                continue
            }
            return file.lastPathComponent + ":\(line)"
        }
        return nil
    }

    /// What a trap instruction at the fault stands for, as the compiler recorded it in the debug
    /// information: the name of the pseudo-function inlined there. Swift emits a force unwrap's or
    /// an overflow's trap as "Swift runtime failure: …"; clang's `__builtin_verbose_trap` as
    /// `__clang_trap_msg$CATEGORY$MESSAGE`. Nil for any other fault.
    package static func trapReason(_ frames: [BacktraceFrame]) -> String? {
        guard let name = frames.first?.inlined.first?.function else { return nil }
        if name.hasPrefix("Swift runtime failure: ") { return name }
        let clang = "__clang_trap_msg$"
        if name.hasPrefix(clang) {
            let parts = name.dropFirst(clang.count).split(
                separator: "$",
                maxSplits: 1,
                omittingEmptySubsequences: false
            )
            guard parts.count == 2 else { return nil }
            return parts[0].isEmpty ? String(parts[1]) : "\(parts[0]): \(parts[1])"
        }
        return nil
    }

    /// The C library, the dynamic loader and the vDSO: plumbing, not the program.
    package static func isSystemModule(_ module: String?) -> Bool {
        guard let module else { return false }
        let base = module.lastPathComponent
        // libswiftCore: the runtime's failure path (_assertionFailure, fatalError's closures)
        // sits above the program's own frame that failed. libswift_Concurrency and libdispatch:
        // the executor that ran the program's task (`swift::runJobInEstablishedExecutorContext`).
        return isCLibrary(module) || base.hasPrefix("ld-linux") || base.hasPrefix("libpthread") || base == "[vdso]"
            || base.hasPrefix("libswiftCore") || base.hasPrefix("libswift_Concurrency") || base.hasPrefix("libdispatch")
    }

    /// Whether the module at `path` is a C library: glibc's `libc.so.6` (`libc-2.x.so`), musl's
    /// `libc.so` (Debian) or `ld-musl-<arch>.so.1` (Alpine, where the loader is the library).
    package static func isCLibrary(_ path: String) -> Bool {
        let base = path.lastPathComponent
        return base.hasPrefix("libc.so") || base.hasPrefix("libc-") || base.hasPrefix("ld-musl")
            || base.hasPrefix("libc.musl")
    }

    /// The base names of the shells (their frames are the shell's machinery; a shell's status 128+N
    /// means a command it ran was killed by N). An array, not a `Set`: no generic metadata at start.
    package static let shellNames = ["sh", "dash", "bash", "ash", "busybox", "zsh"]

    /// A shell or a language runtime (its executable or its library): its frames are the
    /// interpreter's, not the program's own code (that is the script's own traceback), and stay
    /// in the trace but out of the summary (`Py_Exit ← python3.11+0x255c3f`, `dash+0x1322f`).
    package static func isInterpreterModule(_ module: String?) -> Bool {
        guard let module else { return false }
        let base = module.lastPathComponent
        let exact = ["node", "nodejs", "java", "deno", "bun", "Rscript"]
        if shellNames.contains(base) || exact.contains(base) { return true }
        let prefixes = [
            "python", "libpython", "ruby", "libruby", "perl", "libperl", "php", "libphp", "lua", "liblua", "libnode",
            "libjvm",
        ]
        return prefixes.contains { prefix in
            guard base.hasPrefix(prefix) else { return false }
            // `python3.11`, `libpython3.11.so.1.0`, `perl5.36.0`: a version or a library suffix, not `pythonic-tool`.
            let rest = base.dropFirst(prefix.count)
            return rest.isEmpty || rest.first.map { $0.isNumber || $0 == "." || $0 == "-" } == true
        }
    }

    /// Start-up and exit plumbing of the C library, not the program's own code.
    package static func isPlumbing(_ name: String) -> Bool {
        [
            "_start", "__libc_start_main", "__libc_start_call_main", "__libc_start_main_impl", "__run_exit_handlers",
            "_exit", "_Exit", "__GI__exit", "exit", "__GI_exit", "raise", "__GI_raise", "abort", "__GI_abort",
            "__pthread_kill_implementation",
            "__pthread_kill_internal", "pthread_kill", "__pthread_kill", "start_thread", "clone3", "__clone3", "clone",
            "__clone",
            "gsignal", "__restore_rt", "killpg", "kill", "std::sys::exit::exit", "std::sys::pal::unix::os::exit",
            // musl's, linked into every static Alpine program (so not in a system module there)
            "_start_c", "libc_start_main_stage2", "__funcs_on_exit", "__libc_exit_fini", "__stdio_exit",
            "__restore_sigs", "__block_app_sigs", "__block_all_sigs",
        ].contains(name)
    }
}
