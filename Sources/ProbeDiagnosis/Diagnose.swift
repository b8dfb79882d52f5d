import ProbeCore
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns a ``RunReport`` into a ``Verdict``: what was observed, in plain words; where a cause is
/// inferred the verdict says so, and where it is not known it says that.
package enum Diagnose {
    /// The verdict for a finished run.
    package static func verdict(for report: RunReport) -> Verdict {
        verdict(for: RunFacts(report))
    }

    /// The verdict for a finished run and what was found after it: a pure function of facts.
    package static func verdict(for report: RunFacts) -> Verdict {
        let program = "`\(report.command.first ?? "program")`"
        var parts: [String]
        let category: Verdict.Category
        switch report.cause {
        case .spawnFailed(let error):
            let sentence = "\(program) could not be started: probe-exec could not fork (\(error))."
            return Verdict(
                category: .execFailed,
                summary: [sentence, "main() was not reached: the program never ran."].joinedWithSpaces()
            )
        case .execFailed(let error, let path):
            let why =
                report.execExplanation.map { "\($0) (\(error.name))" } ?? Diagnose.execExplanation(error, path: path)
            let sentence = "\(program) could not be started: \(why); exit status \(report.cause.shellStatus)."
            return Verdict(
                category: .execFailed,
                summary: [sentence, "main() was not reached: the program never ran."].joinedWithSpaces()
            )
        case .exited(let code):
            (category, parts) = exitedStory(report, program: program, code: code)
        case .killed(let signal, let core):
            (category, parts) = killedStory(report, program: program, signal: signal, core: core)
        }
        parts += Diagnose.portStory(report)
        parts += Diagnose.subtreeStory(report)
        parts += Diagnose.outputStory(report)
        return Verdict(category: category, summary: parts.joinedWithSpaces())
    }

    /// A program that exited with `code`: stopped on request, a service that stopped on its own,
    /// a clean exit or an exit code; then how far it got and who ended it.
    static func exitedStory(_ report: RunFacts, program: String, code: Int32) -> (Verdict.Category, [String]) {
        let after = "after \(duration(report.durationMilliseconds))"
        if code == 0, let request = stopRequest(report) {
            var parts = [
                "\(program) exited normally with code 0 \(after), stopped on request: probe-exec forwarded \(forwardedText(request))."
            ]
            parts += startupStory(report)
            parts += exitCallerStory(report, code: code)
            return (.stoppedOnRequest, parts)
        }
        let stopped = report.signals.contains(where: { [1, 2, 3, 15].contains($0.signal) })
        let category: Verdict.Category =
            report.service && !stopped ? .serviceExited : code == 0 ? .cleanExit : .exitCode
        var parts = [
            category == .cleanExit
                ? "\(program) exited normally with code 0 \(after)." : "\(program) exited with code \(code) \(after)."
        ]
        if category == .serviceExited { parts += serviceStory(report, code: code) }
        parts += startupStory(report)
        if let missing = missingLibrariesSentence(report) {
            return (category, parts + [missing])
        }
        // A shell's own exit path says nothing; its status may say what became of its command.
        if let shell = shellStory(report, code: code) {
            parts += shell
        } else if shellName(report) == nil {
            parts += exitCallerStory(report, code: code)
        }
        parts += oomKillsInCgroupStory(report)
        parts += signalStory(report, killedBy: nil)
        return (category, parts)
    }

    /// A program killed by `signal`: stopped on request, or a crash or a signal with where it
    /// happened, how far start-up got and who sent it.
    static func killedStory(
        _ report: RunFacts,
        program: String,
        signal: Int32,
        core: Bool
    ) -> (Verdict.Category, [String]) {
        let after = "after \(duration(report.durationMilliseconds))"
        let dumped = core ? "; a core dump was written." : "."
        let name = SignalName.name(signal)
        if let request = stopRequest(report), request.signal == signal, report.graceExpired == nil {
            let sentence =
                "\(program) stopped on request: probe-exec forwarded \(forwardedText(request)), and \(name) ended it \(after)\(dumped)"
            return (.stoppedOnRequest, [sentence] + startupStory(report))
        }
        // A fault signal sent by a process (kill, raise; abort() aside) is not a fault: say who sent it.
        let sentByProcess = faultSignalSentByProcess(report, signal)
        let meaning = sentByProcess ? "sent by a process, not raised by a fault" : SignalName.meaning(signal)
        var sentence = "\(program) was killed by \(name) (\(meaning))"
        if let address = report.tracing.faultAddress ?? report.libraryCrash?.faultAddress {
            sentence += " at address 0x" + String(address, radix: 16)
        }
        sentence += " " + after
        if let crash = report.tracing.crashSummary, !crash.isEmpty {
            sentence += ", in " + crash.backticked()
            if let place = report.tracing.crashLocation { sentence += " (\(place))" }
            if let tid = report.tracing.crashThread, tid != report.childPID { sentence += " (thread \(tid))" }
        } else if let crash = report.libraryCrash {
            // No tracer saw it: the library's own report from inside the program says where.
            sentence += ", in " + crash.summary.backticked()
            if let place = crash.location { sentence += " (\(place))" }
            sentence += " (reported by the StartupProbe library in the program)"
        }
        var parts = [sentence + dumped]
        if let trap = report.tracing.crashTrap ?? report.libraryCrash?.trap {
            parts.append(
                "The faulting instruction is the compiler's trap for “\(trap)” (named in the program's debug information)."
            )
        }
        parts += stackOverflowStory(report)
        parts += startupStory(report)
        parts += signalStory(report, killedBy: signal)
        // A SIGKILL's story already weighed the OOM killer; other deaths only mention its kills.
        if signal != 9 { parts += oomKillsInCgroupStory(report) }
        return (SignalName.isFault(signal) && !sentByProcess ? .crash : .signal, parts)
    }

    /// Why execve failed, for a person.
    package static func execExplanation(_ error: SystemError, path: String) -> String {
        switch error.code {
        case ENOENT:
            return path.contains("/")
                ? "\(path) does not exist, or its interpreter (the #! line or the ELF loader) does not (ENOENT)"
                : "\(path) was not found in PATH (ENOENT)"
        case EACCES: return "\(path) is not executable: no execute permission, or a noexec mount (EACCES)"
        case ENOEXEC:
            return
                "\(path) is not in a format this system can run: no #! line and not a valid ELF binary for this machine (ENOEXEC)"
        case EISDIR: return "\(path) is a directory (EISDIR)"
        default: return "execve(\(path)) failed: \(error)"
        }
    }

    /// A crash that is a stack overflow: where the fault was (the memory map's guard below the
    /// stack, next to the stack pointer) and the function that recurs in the frames.
    static func stackOverflowStory(_ report: RunFacts) -> [String] {
        guard let overflow = report.tracing.stackOverflow else { return [] }
        let whose =
            report.tracing.crashThread.map { $0 == report.childPID ? "the main thread's" : "thread \($0)'s" }
            ?? "the thread's"
        let place =
            overflow.guardKind == "gap"
            ? "the unmapped gap the kernel keeps below \(whose) stack" : "the guard page below \(whose) stack"
        var sentence =
            "It overflowed its stack: the fault address 0x\(String(overflow.fault, radix: 16)) is in \(place), \(overflow.distance) bytes from the stack pointer"
        if let function = report.tracing.recursingFunction {
            sentence +=
                "; `\(function)` is \(report.tracing.recursionCount) of the \(report.tracing.framesUnwound) frames unwound (a recursion)"
        }
        return [sentence + "."]
    }

    /// Whether `signal` is a fault signal (abort() aside, its usual sender being the program itself)
    /// that the tracer saw delivered by a process, not raised by the kernel for a fault.
    static func faultSignalSentByProcess(_ report: RunFacts, _ signal: Int32) -> Bool {
        guard SignalName.isFault(signal), signal != SIGABRT, let sender = report.tracing.signalSenders[signal] else {
            return false
        }
        return sender.kind != "kernel"
    }
}
