import ProbeCore
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The plain-language cause of an exit, for the trace's `verdict` event and probe-exec's stderr.
package struct Verdict: Sendable, Equatable {
    /// A coarse class of outcome that tools can switch on.
    package enum Category: String, Sendable {
        /// Exit code 0.
        case cleanExit = "clean_exit"
        /// A non-zero exit code.
        case exitCode = "exit_code"
        /// Killed by a fault signal (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS).
        case crash
        /// Killed by another signal (TERM, KILL, INT…).
        case signal
        /// The program could not be started.
        case execFailed = "exec_failed"
        /// A service (--service) exited on its own, without being asked to stop.
        case serviceExited = "service_exited"
    }

    /// The class of outcome.
    package var category: Category
    /// One paragraph an on-call engineer can act on.
    package var summary: String
}

/// Turns a ``RunReport`` into a ``Verdict``.
package enum Diagnose {
    /// The verdict for a finished run.
    package static func verdict(for report: RunReport) -> Verdict {
        verdict(for: RunFacts(report))
    }

    /// The verdict for a finished run and what was found after it: a pure function of facts.
    package static func verdict(for report: RunFacts) -> Verdict {
        let program = "`\(report.command.first ?? "program")`"
        let after = "after \(Diagnose.duration(report.durationMilliseconds))"
        var parts: [String] = []
        var category: Verdict.Category
        switch report.cause {
        case .spawnFailed(let error):
            category = .execFailed
            parts.append("\(program) could not be started: probe-exec could not fork (\(error)).")
        case .execFailed(let error, let path):
            category = .execFailed
            let why =
                report.execExplanation.map { "\($0) (\(error.name))" } ?? Diagnose.execExplanation(error, path: path)
            parts.append("\(program) could not be started: \(why); exit status \(report.cause.shellStatus).")
        case .exited(let code):
            let stopped = report.signals.contains(where: { [1, 2, 3, 15].contains($0.signal) })
            category = report.service && !stopped ? .serviceExited : code == 0 ? .cleanExit : .exitCode
            parts.append(
                category == .cleanExit
                    ? "\(program) exited normally with code 0 \(after)."
                    : "\(program) exited with code \(code) \(after)."
            )
            if category == .serviceExited { parts += Diagnose.serviceStory(report, code: code) }
            parts += Diagnose.startupStory(report.tracing)
            if let missing = Diagnose.missingLibrariesSentence(report) {
                parts.append(missing)
                return Verdict(category: category, summary: parts.joinedWithSpaces())
            }
            parts += Diagnose.exitCallerStory(report, code: code)
            parts += Diagnose.signalStory(report, killedBy: nil)
        case .killed(let signal, let core):
            category = SignalName.isFault(signal) ? .crash : .signal
            var sentence = "\(program) was killed by \(SignalName.name(signal)) (\(SignalName.meaning(signal)))"
            if let address = report.tracing.faultAddress {
                sentence += " at address 0x" + String(address, radix: 16)
            }
            sentence += " " + after
            if let crash = report.tracing.crashSummary, !crash.isEmpty {
                sentence += ", in " + crash.backticked()
                if let place = report.tracing.crashLocation { sentence += " (\(place))" }
                if let tid = report.tracing.crashThread, tid != report.childPID { sentence += " (thread \(tid))" }
            }
            sentence += core ? "; a core dump was written." : "."
            parts.append(sentence)
            parts += Diagnose.startupStory(report.tracing)
            parts += Diagnose.signalStory(report, killedBy: signal)
        }
        if case .execFailed = report.cause {
        } else if case .spawnFailed = report.cause {
        } else {
            parts += Diagnose.portStory(report)
            parts += Diagnose.outputStory(report)
        }
        return Verdict(category: category, summary: parts.joinedWithSpaces())
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

    /// Who ended the program: main() returning, or the function that called exit().
    package static func exitCallerStory(_ report: RunFacts, code: Int32) -> [String] {
        if report.tracing.mainReturned == true {
            return [code == 0 ? "main() returned normally." : "main() returned \(code)."]
        }
        // When the runtime reported an error, its exit path is its own plumbing: not worth a sentence.
        guard let caller = report.tracing.exitSummary, !caller.isEmpty, code == 0 || report.programError == nil else {
            return []
        }
        let place = report.tracing.exitLocation.map { " (\($0))" } ?? ""
        return ["exit(\(code)) was called from \(caller.backticked())\(place)."]
    }

    /// "The dynamic loader could not find libx.so.1 …", when it failed to start the program.
    package static func missingLibrariesSentence(_ report: RunFacts) -> String? {
        guard !report.missingLibraries.isEmpty else { return nil }
        let names = report.missingLibraries.map { library in
            library.neededBy == report.programPath ? library.name : "\(library.name) (needed by \(library.neededBy))"
        }
        return "The dynamic loader could not find " + names.joinedWithCommas()
            + " in RPATH/RUNPATH, LD_LIBRARY_PATH, /etc/ld.so.cache or the default directories: install the package that provides it, or fix the library path."
    }

    /// A service that exited without being told to: daemonized, or a placeholder.
    package static func serviceStory(_ report: RunFacts, code: Int32) -> [String] {
        let after = Diagnose.duration(report.durationMilliseconds)
        var parts = [
            "It was started as a service (--service) but exited on its own after \(after), without being asked to stop."
        ]
        if let first = report.leftRunning.first {
            let others = report.leftRunning.count > 1 ? " and \(report.leftRunning.count - 1) more" : ""
            parts.append(
                "It daemonized: it left pid \(first.pid) (`\(first.command ?? "?")`)\(others) running in the background; run it in the foreground (e.g. `nginx -g 'daemon off;'`, `--no-daemon`, `-f`)."
            )
        } else if code == 0 && report.listening.isEmpty {
            let output = (report.stdoutBytes ?? 0) == 0 && (report.stderrBytes ?? 0) == 0 ? "wrote nothing, " : ""
            parts.append(
                "It \(output)never listened on a port and left nothing running: is this a placeholder command (such as `true`, `echo ok` or `sleep 0`) instead of the real server?"
            )
        }
        return parts
    }

    /// How far start-up got, proven by the tracer's breakpoints.
    package static func startupStory(_ tracing: TracingFindings) -> [String] {
        guard tracing.state == "on", tracing.execCount > 0, tracing.milestonesArmed else { return [] }
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
                "Its entry point was reached at +\(duration(entry)), but main() could not be located (no symbol, and no C-library start-up to read it from)."
            ]
        }
        return [
            "main() was NOT reached: the process died after its entry point (+\(duration(entry))), in the C library's start-up or a static initializer (constructor)."
        ]
    }

    /// What the signals probe-exec received say about the exit.
    package static func signalStory(_ report: RunFacts, killedBy signal: Int32?) -> [String] {
        let forwarded = report.signals.filter(\.forwarded)
        if let signal, let match = forwarded.last(where: { $0.signal == signal }) {
            return [
                "probe-exec forwarded that signal, which it received from \(describe(match)) at +\(duration(match.offsetMilliseconds))."
            ]
        }
        if signal == 9 {
            return [
                "Nobody sent SIGKILL through probe-exec: the usual senders are the kernel's out-of-memory killer (check `dmesg` or the container's OOMKilled state) or a runtime whose stop timeout ran out."
            ]
        }
        guard let last = forwarded.last(where: { [1, 2, 3, 15].contains($0.signal) }) else { return [] }
        let verb = signal == nil ? "It had been asked to stop:" : "Before that,"
        return [
            "\(verb) probe-exec forwarded \(SignalName.name(last.signal)) from \(describe(last)) at +\(duration(last.offsetMilliseconds))."
        ]
    }

    /// Who sent a signal, as "pid 4242 (`kill`, uid 0)".
    package static func describe(_ signal: ReceivedSignal) -> String {
        if signal.senderPID == 0 { return "outside this PID namespace (the container runtime or the kernel)" }
        let command = signal.senderCommand.map { "`\($0)`, " } ?? ""
        return "pid \(signal.senderPID) (\(command)uid \(signal.senderUID))"
    }

    /// Ports: the one it could not bind (and who holds it), or the ones it listened on.
    package static func portStory(_ report: RunFacts) -> [String] {
        if let inUse = report.portInUse {
            guard let holder = inUse.holders.first else {
                return ["Port \(inUse.port) was already in use (the holder is not visible from here)."]
            }
            return [
                "Port \(inUse.port) was already in use by pid \(holder.pid) (`\(holder.command ?? "?")`): another instance, perhaps a stale one, holds it."
            ]
        }
        guard let first = report.listening.first else { return [] }
        let places = report.listening.prefix(3).map { "\($0.listener.address):\($0.listener.port)" }
        return ["It was listening on \(places.joinedWithCommas()) from +\(duration(first.offsetMilliseconds))."]
    }

    /// What the output says: nothing at all, or its last line.
    package static func outputStory(_ report: RunFacts) -> [String] {
        var lost: [String] = []
        for stream in ["stdout", "stderr"] {
            guard let bytes = report.tracing.lostOutput[stream], !bytes.isEmpty else { continue }
            var sentence =
                "\(bytes.count) bytes it wrote to \(stream) were still in its stdio buffer and never came out"
            if let line = lastLine(bytes) { sentence += " (ending \"\(line)\")" }
            lost.append(sentence + "; they are in the trace.")
        }
        let piped = report.stdoutBytes != nil || report.stderrBytes != nil
        guard piped else { return lost }
        if !lost.isEmpty && (report.stdoutBytes ?? 0) == 0 && (report.stderrBytes ?? 0) == 0 {
            return ["Nothing reached stdout or stderr."] + lost
        }
        if !lost.isEmpty { return lost + Diagnose.outputStoryWithoutLoss(report) }
        return Diagnose.outputStoryWithoutLoss(report)
    }

    package static func outputStoryWithoutLoss(_ report: RunFacts) -> [String] {
        if (report.stdoutBytes ?? 0) == 0 && (report.stderrBytes ?? 0) == 0 {
            return ["It wrote nothing on stdout or stderr."]
        }
        if let error = report.programError {
            var sentence = "It reported a \(error.language) \(error.kind): \(Escaping.visible(error.message))"
            if let location = error.location { sentence += " at \(Escaping.visible(location))" }
            sentence += "."
            var parts = [sentence]
            if error.importChain.count > 1 {
                parts.append("Import chain: " + error.importChain.map { Escaping.visible($0) }.joinedWithArrows() + ".")
            }
            if let variable = error.environmentVariable {
                parts.append("The environment variable \(Escaping.visible(variable)) is not set.")
            }
            return parts
        }
        if let line = lastLine(report.stderrTail) ?? lastLine(report.stdoutTail) {
            let stream =
                report.mergedOutput
                ? "its output (stdout and stderr, one file)" : lastLine(report.stderrTail) != nil ? "stderr" : "stdout"
            return ["Last line on \(stream): \"\(line)\"."]
        }
        return []
    }

    /// The last non-empty line of `bytes`, with control characters made visible, at most 200 characters.
    package static func lastLine(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard
            let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: {
                !$0.allSatisfy(\.isWhitespace)
            })
        else { return nil }
        let visible = Escaping.visible(String(line.trimmingWhitespace()))
        return visible.count > 200 ? String(visible.prefix(200)) + "…" : visible
    }

    /// "340 ms", "1.2 s", "3 min 20 s".
    package static func duration(_ ms: Double) -> String {
        if ms < 1 { return "\(Double(Int(ms * 100)) / 100) ms" }
        if ms < 1000 { return "\(Int(ms.rounded())) ms" }
        if ms < 60_000 { return "\(Double(Int(ms / 100)) / 10) s" }
        let seconds = Int(ms / 1000)
        return "\(seconds / 60) min \(seconds % 60) s"
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}

extension String {
    /// "f ← g ← main" as "`f` ← `g` ← `main`".
    fileprivate func backticked() -> String {
        var out = ""
        for name in self.split(separator: "←") {
            if !out.isEmpty { out += " ← " }
            out += "`" + name.trimmingWhitespace() + "`"
        }
        return out
    }
}

extension Array where Element == String {
    /// Joined by hand: `joined(separator:)` instantiates generic metadata whose first
    /// conformance lookup scans the whole static binary (measured in the start-up profile).
    fileprivate func concatenated(separator: String) -> String {
        var out = ""
        for item in self {
            if !out.isEmpty { out += separator }
            out += item
        }
        return out
    }

    fileprivate func joinedWithSpaces() -> String { concatenated(separator: " ") }
    fileprivate func joinedWithArrows() -> String { concatenated(separator: " → ") }

    /// "a, b and c"
    fileprivate func joinedWithCommas() -> String {
        var out = ""
        for (i, item) in enumerated() {
            if i > 0 { out += i == count - 1 ? " and " : ", " }
            out += item
        }
        return out
    }
}
