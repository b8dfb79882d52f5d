import ProbeCore
import ProbeSupervisor

extension Diagnose {
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
        if let left = leftRunningText(report) {
            parts.append(
                "It daemonized: it left \(left) running in the background; run it in the foreground (e.g. `nginx -g 'daemon off;'`, `--no-daemon`, `-f`)."
            )
        } else if code == 0 && report.listening.isEmpty && report.watchedDescendants {
            let output = (report.stdoutBytes ?? 0) == 0 && (report.stderrBytes ?? 0) == 0 ? "wrote nothing, " : ""
            let started = startedNoProcesses(report) ? "started no processes, " : ""
            parts.append(
                "It \(output)\(started)never listened on a port and left nothing running: is this a placeholder command (such as `true`, `echo ok` or `sleep 0`) instead of the real server?"
            )
        }
        return parts
    }

    /// What the program left running when it exited (its processes that outlived it, re-parented
    /// to probe-exec), in every verdict but a service's (its own story says it); after a clean exit
    /// with none, that it left nothing and whether it ever listened.
    package static func subtreeStory(_ report: RunFacts) -> [String] {
        guard !report.service else { return [] }
        if let left = leftRunningText(report) {
            return [
                "When it exited it left \(left) running: processes it started outlived it (it daemonized, or did not wait for them)."
            ]
        }
        guard case .exited(0) = report.cause else { return [] }
        guard report.watchedDescendants else {
            return [
                "Whether it left processes running is not known: probe-exec was not a child subreaper (--no-subreaper)."
            ]
        }
        if startedNoProcesses(report) {
            return [
                report.listening.isEmpty
                    ? "It started no processes and never listened on a port." : "It started no processes."
            ]
        }
        return [
            report.listening.isEmpty
                ? "It left no process running and never listened on a port." : "It left no process running."
        ]
    }

    /// Whether the program is known to have started no process: traced to its end, with no fork
    /// or vfork event (see ``TracingFindings/processesStarted``).
    static func startedNoProcesses(_ report: RunFacts) -> Bool {
        report.tracing.watchedProcessStarts && report.tracing.processesStarted == 0 && report.leftRunning.isEmpty
            && report.orphansReaped == 0
    }

    /// "pid 4312 (`nginx`) and 2 more": what the program left running, or nil when nothing.
    static func leftRunningText(_ report: RunFacts) -> String? {
        guard let first = report.leftRunning.first else { return nil }
        let others = report.leftRunning.count > 1 ? " and \(report.leftRunning.count - 1) more" : ""
        return "pid \(first.pid) (`\(first.command ?? "?")`)\(others)"
    }

    /// Ports: the one it could not bind (and who holds it), or the ones it listened on.
    package static func portStory(_ report: RunFacts) -> [String] {
        if let inUse = report.portInUse {
            // Where the port came from, when not the error line itself: a fact of the trace too.
            let named = inUse.source == "its error line" ? "" : " (named by \(inUse.source))"
            guard let holder = inUse.holders.first else {
                return ["Port \(inUse.port)\(named) was already in use (the holder is not visible from here)."]
            }
            let since = holder.startedNanoseconds.map {
                ", running since " + Timestamp.iso8601(realtimeNanoseconds: $0)
            }
            let others = inUse.holders.count > 1 ? " (and \(inUse.holders.count - 1) more processes)" : ""
            return [
                "Port \(inUse.port)\(named) was already in use: held by pid \(holder.pid) (`\(holder.command ?? "?")`)\(since ?? "")\(others)."
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
            lost.append(sentence + (report.traceKept ? "; they are in the trace." : "."))
        }
        let piped = report.stdoutBytes != nil || report.stderrBytes != nil
        guard piped else { return lost }
        if !lost.isEmpty && (report.stdoutBytes ?? 0) == 0 && (report.stderrBytes ?? 0) == 0 {
            return ["Nothing reached stdout or stderr."] + lost
        }
        if !lost.isEmpty { return lost + Diagnose.outputStoryWithoutLoss(report) }
        return Diagnose.outputStoryWithoutLoss(report)
    }

    /// The output that did come out: nothing, the runtime error it reported, or its last line.
    package static func outputStoryWithoutLoss(_ report: RunFacts) -> [String] {
        var python: [String] = []
        if report.pythonBufferedOutput {
            python = [
                "Python buffers stdout when it is not a terminal and writes the buffer out when it exits, not when a signal kills it or `os._exit()` ends it: what it printed since its last flush may have been lost (Python's buffer is not read). Set PYTHONUNBUFFERED=1, run `python -u`, or use `probe-exec --unbuffered`."
            ]
        }
        if (report.stdoutBytes ?? 0) == 0 && (report.stderrBytes ?? 0) == 0 {
            // "Wrote nothing" only when its C library's buffers were read and empty as it ended.
            if report.tracing.stdioBuffersRead && !report.pythonBufferedOutput {
                return ["It wrote nothing on stdout or stderr (its C library's stdio buffers were empty as it ended)."]
            }
            return ["Nothing reached stdout or stderr."] + python
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
            return ["Last line on \(stream): \"\(line)\"."] + python
        }
        return python
    }

    /// The last non-empty line of `bytes`, with control characters made visible, at most 200 characters.
    package static func lastLine(_ bytes: [UInt8]) -> String? {
        var text = String(decoding: bytes, as: UTF8.self)
        // A crash report printed after the program's own last words is not them: the StartupProbe
        // library's (raw `#3 0x…` frames) and the Swift runtime backtracer's ("Backtrace took 1.69s").
        for header in crashReportHeaders {
            if let at = text.find(header) { text = String(text[..<at.lowerBound]) }
        }
        guard
            let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: {
                !$0.allSatisfy(\.isWhitespace)
            })
        else { return nil }
        let visible = Escaping.visible(String(line.trimmingWhitespace()))
        return visible.count > 200 ? String(visible.prefix(200)) + "…" : visible
    }

    /// How the crash reports that follow a program's last words begin.
    static let crashReportHeaders = ["StartupProbe: fatal signal ", "💣 Program crashed: ", "*** Program crashed: "]
}
