import CProbeExec
import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// When tracing would change what the program does, it is not traced: the program runs as
/// without probe-exec, and the trace says why.
package enum TracingPolicy {
    /// Why `executable` must run untraced, or nil when tracing changes nothing.
    package static func reasonNotToTrace(executable path: String) -> String? {
        privilegeReason(path) ?? sanitizerReason(path)
    }

    /// A setuid/setgid program, or one with file capabilities, loses that privilege when the
    /// tracer lacks CAP_SYS_PTRACE (the kernel will not hand privileges to a traced exec).
    static func privilegeReason(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let setuid = info.st_mode & S_ISUID != 0 && info.st_uid != geteuid()
        let setgid = info.st_mode & S_ISGID != 0 && info.st_mode & S_IXGRP != 0 && info.st_gid != getegid()
        let capabilities = spr_has_file_capabilities(path) == 1
        guard setuid || setgid || capabilities, !ProcessFacts.hasCapability(19) else { return nil }  // CAP_SYS_PTRACE
        let what = setuid ? "setuid" : setgid ? "setgid" : "has file capabilities"
        return
            "\(path) is \(what == "has file capabilities" ? "a program with file capabilities" : what); traced without CAP_SYS_PTRACE it would run without that privilege, so it runs untraced"
    }

    /// The sanitizer runtimes refuse to run, or report differently, under ptrace (LeakSanitizer:
    /// "does not work under ptrace"); their own reports come on stderr.
    static func sanitizerReason(_ path: String) -> String? {
        guard let elf = ELFFile(path: path) else { return nil }
        defer { elf.close() }
        let libraries = [
            "libasan", "libtsan", "liblsan", "libmsan", "libhwasan",
            "libclang_rt.asan", "libclang_rt.tsan", "libclang_rt.lsan", "libclang_rt.msan", "libclang_rt.hwasan",
        ]
        if let needed = elf.dynamicEntries().needed.first(where: { name in
            libraries.contains { name.utf8.starts(with: $0.utf8) }
        }) {
            return
                "it is linked with a sanitizer runtime (\(needed)), which does not work under ptrace; it runs untraced and the sanitizer reports on stderr"
        }
        let symbols = ["__asan_init", "__tsan_init", "__msan_init", "__lsan_init", "__hwasan_init"]
        // A runtime linked in statically defines its init function: found through .gnu.hash with
        // a few small reads (this runs before every start; node's .dynstr is 5 MB). Without that
        // table, the names are looked for in the whole dynamic string table.
        var hashed = false
        for symbol in symbols {
            let found = elf.hashedSymbolValue(named: symbol, type: 2)
            hashed = found.hashed
            if found.value != nil { return carries(symbol) }
        }
        // Unhashed: the init names in the whole dynamic string table. Hashed (gcc's -static-libasan,
        // whose runtime's functions are in .symtab only): the hooks the runtime looks up in the
        // program (`__lsan_is_turned_off`, weak and undefined in .dynsym, so not in the hash
        // table), in a dynamic string table small enough to read at every start.
        let hooks = ["__lsan_is_turned_off", "__lsan_default_suppressions", "__tsan_default_options"]
        guard let strings = elf.dynamicStrings(limit: hashed ? 1 << 20 : 16 << 20) else { return nil }
        for symbol in hashed ? hooks : symbols + hooks {
            let needle = [0] + Array(symbol.utf8) + [0]  // a whole name, not the end of a longer one
            if ProcText.find(needle, in: strings[...]) != nil { return carries(symbol) }  // bytes: no generic search
        }
        return nil
    }

    private static func carries(_ symbol: String) -> String {
        "it carries a sanitizer runtime (\(symbol)), which does not work under ptrace; it runs untraced and the sanitizer reports on stderr"
    }
}
