import CStartupProbe

/// Names and plain-language meanings of signals and their `si_code` values.
package enum SignalName {
    private static let names: [Int32: (String, String)] = [
        1: ("SIGHUP", "hang-up"), 2: ("SIGINT", "interrupt, as from Ctrl-C"),
        3: ("SIGQUIT", "quit, as from Ctrl-\\"), 4: ("SIGILL", "illegal instruction"),
        5: ("SIGTRAP", "trace/breakpoint trap"), 6: ("SIGABRT", "abort"),
        7: ("SIGBUS", "bus error: a memory access that could not be completed"),
        8: ("SIGFPE", "arithmetic error, such as division by zero"),
        9: ("SIGKILL", "kill, which cannot be caught"), 10: ("SIGUSR1", "user signal 1"),
        11: ("SIGSEGV", "segmentation fault: invalid memory access"), 12: ("SIGUSR2", "user signal 2"),
        13: ("SIGPIPE", "broken pipe: a write to a pipe or socket with no reader"), 14: ("SIGALRM", "alarm clock"),
        15: ("SIGTERM", "termination request"), 16: ("SIGSTKFLT", "stack fault"),
        17: ("SIGCHLD", "child status changed"), 18: ("SIGCONT", "continue"),
        19: ("SIGSTOP", "stop, which cannot be caught"), 20: ("SIGTSTP", "stop from the terminal, as Ctrl-Z"),
        21: ("SIGTTIN", "background read from the terminal"), 22: ("SIGTTOU", "background write to the terminal"),
        23: ("SIGURG", "urgent socket data"), 24: ("SIGXCPU", "CPU time limit exceeded"),
        25: ("SIGXFSZ", "file size limit exceeded"), 26: ("SIGVTALRM", "virtual timer"),
        27: ("SIGPROF", "profiling timer"), 28: ("SIGWINCH", "window size change"),
        29: ("SIGIO", "I/O possible"), 30: ("SIGPWR", "power failure"), 31: ("SIGSYS", "bad system call"),
    ]

    /// `SIGTERM`, `SIGRTMIN+3`, or `signal N`.
    package static func name(_ signal: Int32) -> String {
        if let known = names[signal] { return known.0 }
        let rtmin = spr_sigrtmin()
        if signal >= rtmin && signal <= spr_sigrtmax() {
            return signal == rtmin ? "SIGRTMIN" : "SIGRTMIN+\(signal - rtmin)"
        }
        return "signal \(signal)"
    }

    /// What the signal is, such as "segmentation fault: invalid memory access" (never a guess at
    /// its cause).
    package static func meaning(_ signal: Int32) -> String {
        names[signal]?.1 ?? "real-time signal"
    }

    /// The signal number for a name such as `TERM`, `SIGTERM` or `15`.
    package static func number(_ text: String) -> Int32? {
        if let n = Int32(text), n > 0, n < spr_signal_count() { return n }
        let upper = text.uppercased()
        let wanted = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        return names.first(where: { $0.value.0 == wanted })?.key
    }

    /// The name of a `si_code` for a signal sent by a process or the kernel.
    package static func codeName(_ code: Int32) -> String {
        switch code {
        case 0: return "SI_USER"
        case 0x80: return "SI_KERNEL"
        case -1: return "SI_QUEUE"
        case -2: return "SI_TIMER"
        case -3: return "SI_MESGQ"
        case -4: return "SI_ASYNCIO"
        case -5: return "SI_SIGIO"
        case -6: return "SI_TKILL"
        default: return code > 0 ? "kernel code \(code)" : "code \(code)"
        }
    }

    /// The name of a `si_code` for a given signal: the fault kinds for SEGV, BUS, FPE, ILL and
    /// TRAP (kernel-sent codes are per signal), else ``codeName(_:)``.
    package static func codeName(_ code: Int32, signal: Int32) -> String {
        let perSignal: [Int32: [Int32: String]] = [
            11: [
                1: "SEGV_MAPERR: address not mapped", 2: "SEGV_ACCERR: no permission for this access", 3: "SEGV_BNDERR",
                4: "SEGV_PKUERR",
            ],
            7: [
                1: "BUS_ADRALN: misaligned address",
                2: "BUS_ADRERR: no such physical address (e.g. past the end of a mapped file)",
                3: "BUS_OBJERR: hardware error",
            ],
            8: [
                1: "FPE_INTDIV: integer division by zero", 2: "FPE_INTOVF: integer overflow",
                3: "FPE_FLTDIV: floating-point division by zero",
                4: "FPE_FLTOVF", 5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB",
            ],
            4: [
                1: "ILL_ILLOPC: illegal opcode (often a trap such as ud2, e.g. a Swift runtime check)", 2: "ILL_ILLOPN",
                3: "ILL_ILLADR",
                4: "ILL_ILLTRP", 5: "ILL_PRVOPC: privileged opcode", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK",
            ],
            5: [1: "TRAP_BRKPT: breakpoint", 2: "TRAP_TRACE: trace trap"],
        ]
        if code > 0, code != 0x80, let name = perSignal[signal]?[code] { return name }
        return codeName(code)
    }

    /// Whether a signal's default action leaves a core dump when the process dies by it.
    package static func isFault(_ signal: Int32) -> Bool {
        [4, 5, 6, 7, 8, 11, 31].contains(signal)
    }
}
