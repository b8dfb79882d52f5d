import ProbeCore
import ProbeSupervisor
import ProbeTracing

extension Diagnose {
    /// The main() fact, in plain words: proven by the tracer's breakpoints, reported by the
    /// StartupProbe library, or not known (and why).
    package static func startupStory(_ report: RunFacts) -> [String] {
        let tracing = report.tracing
        if let signal = report.killedBeforeExec {
            return [
                "main() was NOT reached: the program never ran; \(SignalName.name(signal)) ended probe-exec's child before its execve."
            ]
        }
        if tracing.provesMilestones {
            if let main = tracing.mainReachedMilliseconds {
                return ["main() was reached at +\(duration(main))."]
            }
            guard let entry = tracing.entryReachedMilliseconds else {
                return [
                    "main() was NOT reached: the process died before its entry point, while the dynamic loader was loading libraries or running their initializers."
                ]
            }
            if !tracing.mainLocated {
                return [
                    "Whether main() was reached is not known: its entry point was reached at +\(duration(entry)), but main() could not be located (no symbol, and no C-library start-up that probe-exec recognises to read it from)."
                ]
            }
            return [
                "main() was NOT reached: the process died after its entry point (+\(duration(entry))), in the C library's start-up or a static initializer (constructor)."
            ]
        }
        if let reported = report.libraryMainReachedMilliseconds {
            return [
                "main() was reached at +\(duration(reported)) (reported by the StartupProbe library in the program)."
            ]
        }
        switch tracing.state {
        case "off" where tracing.reason != nil:
            return ["Whether main() was reached is not known: the program was not traced (\(tracing.reason!))."]
        case "off": return ["Whether main() was reached is not known: the program was not traced (--no-ptrace)."]
        case "detached":
            return [
                "Whether main() was reached is not known: tracing ended before it was (\(tracing.detachedReason ?? "detached"))."
            ]
        case "unavailable": return ["Whether main() was reached is not known: tracing was unavailable."]
        default:
            return ["Whether main() was reached is not known: the start-up breakpoints could not be planted."]
        }
    }

    /// Who ended the program: main() returning, or the function that called `exit` or `_exit`.
    package static func exitCallerStory(_ report: RunFacts, code: Int32) -> [String] {
        if report.tracing.mainReturned == true {
            // A Rust panic in the main thread unwinds to the runtime's start code, which makes the
            // C main() return 101: the panic, not the program, chose the code.
            if code == 101, let error = report.programError, error.language == "Rust", error.kind == "panic" {
                return ["It panicked; after a panic in the main thread Rust's runtime returns 101 from main()."]
            }
            return [code == 0 ? "main() returned normally." : "main() returned \(code)."]
        }
        // When the runtime reported an error, its exit path is its own plumbing: not worth a sentence.
        guard let caller = report.tracing.exitSummary, !caller.isEmpty, code == 0 || report.programError == nil else {
            return []
        }
        let place = report.tracing.exitLocation.map { " (\($0))" } ?? ""
        guard let function = report.tracing.exitFunction else {
            return ["It made the exit_group system call (code \(code)) from \(caller.backticked())\(place)."]
        }
        return ["\(function)(\(code)) was called from \(caller.backticked())\(place)."]
    }

    /// The base names of the shells whose status 128+N means "a command it ran was killed by N".
    /// (An array, not a `Set`: its generic metadata would be built at run time on every start.)
    package static let shells = RemoteBacktrace.shellNames

    /// The shell the program is (its last image, else the file exec'd), or nil.
    package static func shellName(_ report: RunFacts) -> String? {
        guard let path = report.programPath else { return nil }
        let name = path.lastPathComponent
        return shells.contains(name) ? name : nil
    }

    /// A shell that exited 128+N: what that status says, inferred, and `exec` as the way to have
    /// probe-exec see the program's own end. nil when the program is not a shell or the code is
    /// not 128 + a signal number.
    package static func shellStory(_ report: RunFacts, code: Int32) -> [String]? {
        guard code > 128, code <= 128 + 64, let shell = shellName(report) else { return nil }
        let signal = code - 128
        return [
            "It is a shell (`\(shell)`), and a shell exits with 128+N when a program it ran was killed by signal N: a program it ran was killed by \(SignalName.name(signal)) (\(SignalName.meaning(signal))). This is inferred from the status alone (an `exit \(code)` in the script would look the same).",
            "Start the program with `exec` (`exec PROGRAM …` as the script's last command, or `sh -c 'exec PROGRAM …'`) so that probe-exec runs it directly and sees how it ends.",
        ]
    }
}
