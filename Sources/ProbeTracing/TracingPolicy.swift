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
        let libraries = ["libasan", "libtsan", "liblsan", "libmsan", "libhwasan"]
        if let needed = elf.dynamicEntries().needed.first(where: { name in
            libraries.contains { name.utf8.starts(with: $0.utf8) }
        }) {
            return
                "it is linked with a sanitizer runtime (\(needed)), which does not work under ptrace; it runs untraced and the sanitizer reports on stderr"
        }
        guard let strings = elf.dynamicStrings() else { return nil }
        for symbol in ["__asan_init", "__tsan_init", "__msan_init", "__lsan_init", "__hwasan_init"] {
            let needle = Array(symbol.utf8) + [0]
            if ProcText.find(needle, in: strings[...]) != nil {  // bytes: no generic search at start-up
                return
                    "it carries a sanitizer runtime (\(symbol)), which does not work under ptrace; it runs untraced and the sanitizer reports on stderr"
            }
        }
        return nil
    }
}
