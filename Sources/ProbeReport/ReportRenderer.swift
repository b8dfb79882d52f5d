import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// Renders a trace for a person: the verdict first, then the facts of the start, a timeline with
/// +ms offsets, the output tails and any damage found in the file.
///
/// Everything that came from the child (arguments, output, command names) is passed through
/// ``Escaping/visible(_:keepNewlines:)`` so a hostile program cannot forge report lines or drive
/// the terminal.
package enum ReportRenderer {
    /// How many lines of each output tail are shown.
    package static let tailLines = 20

    /// The report as text, ending with a newline.
    package static func render(_ document: TraceDocument) -> String {
        var out: [String] = []
        let v = Escaping.visible
        out.append("probe-exec trace \(v(document.path, false))")
        if let verdict = document.last("verdict") {
            out.append("")
            out.append(
                "VERDICT (\(v(verdict["category"]?.stringValue ?? "?", false))): \(v(verdict["summary"]?.stringValue ?? "", false))"
            )
        } else if document.writtenInProcess {
            out.append("")
            if let crash = document.last("crash") {
                let name = crash["signal_name"]?.stringValue ?? "signal \(crash["signal"]?.intValue ?? 0)"
                out.append(
                    "VERDICT (crash): the program crashed with \(v(name, false)) after main() was reached (its own report below)."
                )
            } else {
                out.append(
                    "VERDICT: none — this trace was written by the program itself; run it under probe-exec to record how it exits."
                )
            }
        } else {
            out.append("")
            out.append("VERDICT: none recorded — the run did not finish under probe-exec (see notes below).")
        }
        if let start = document.first("start") {
            out.append("")
            let argv = start["argv"]?.arrayValue?.compactMap(\.stringValue) ?? []
            out.append("command:  \(v(argv.map(quoteIfNeeded).joined(separator: " "), false))")
            var facts: [String] = []
            if let time = start["time"]?.stringValue { facts.append("started \(v(time, false))") }
            if let host = start["host"]?.stringValue { facts.append("on \(v(host, false))") }
            if let kernel = start["kernel"]?.stringValue { facts.append("(\(v(kernel, false)))") }
            out.append("run:      " + facts.joined(separator: " "))
            var ids: [String] = []
            if let pid = start["pid"]?.intValue {
                ids.append(document.writtenInProcess ? "pid \(pid)" : "probe-exec pid \(pid)")
            }
            if let uid = start["uid"]?.intValue { ids.append("uid \(uid)") }
            if let gid = start["gid"]?.intValue { ids.append("gid \(gid)") }
            if let cwd = start["cwd"]?.stringValue { ids.append("cwd \(v(cwd, false))") }
            out.append("process:  " + ids.joined(separator: ", "))
            if let version = start["probe_exec_version"]?.stringValue {
                out.append("recorder: probe-exec \(v(version, false))")
            }
        }
        out.append("")
        out.append("timeline:")
        // Milestones are written when the loop learns of them, which can be slightly after they
        // happened: order by time (stable, so equal times keep file order).
        let timeline = document.events.enumerated()
            .filter { !["tail", "verdict"].contains($0.element.kind) }
            .sorted { ($0.element.offsetMilliseconds, $0.offset) < ($1.element.offsetMilliseconds, $1.offset) }
            .map(\.element)
        for event in timeline where event.kind != "modules" {
            let offset = formatOffset(event.offsetMilliseconds)
            let text = event.kind == "crash" ? describeCrash(event, document) : describe(event)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            out.append("  \(offset)  \(v(String(lines[0]), false))")
            for line in lines.dropFirst() {
                out.append(String(repeating: " ", count: 20) + v(String(line), false))
            }
        }
        for tail in document.events where tail.kind == "tail" {
            let stream = tail["stream"]?.stringValue ?? "?"
            let total = tail["bytes_total"]?.intValue ?? 0
            let text = tail["text"]?.stringValue ?? ""
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
            let shown = lines.suffix(tailLines)
            out.append("")
            let note =
                lines.count > shown.count || tail["truncated"]?.boolValue == true ? ", last \(shown.count) lines" : ""
            out.append("\(stream) (\(total) bytes\(note)):")
            for line in shown { out.append("  | " + v(line, false)) }
        }
        if !document.problems.isEmpty {
            out.append("")
            out.append("notes on this trace file:")
            for problem in document.problems { out.append("  - " + v(problem, false)) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    package static func formatOffset(_ ms: Double) -> String {
        let text = "+" + String(format3(ms)) + " ms"
        return text.count >= 14 ? text : String(repeating: " ", count: 14 - text.count) + text
    }

    package static func format3(_ ms: Double) -> String {
        guard ms.isFinite else { return "?" }
        let scaled = Int64((ms * 10).rounded())
        let sign = scaled < 0 ? "-" : ""
        return "\(sign)\(abs(scaled) / 10).\(abs(scaled) % 10)"
    }

    package static func quoteIfNeeded(_ arg: String) -> String {
        let plain =
            !arg.isEmpty
            && arg.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                    || "-_./=:,@+%".unicodeScalars.contains($0)
            }
        return plain ? arg : "'" + arg.replacingOccurrencesOfQuote() + "'"
    }

    /// An in-process crash report, its raw addresses named now from the recorded modules.
    package static func describeCrash(_ e: TraceEvent, _ document: TraceDocument) -> String {
        let pid = e["pid"]?.intValue
        let modules = document.events.last { $0.kind == "modules" && $0["pid"]?.intValue == pid }?["modules"]
        let ips = (e["frames"]?.arrayValue ?? []).compactMap {
            $0.stringValue.flatMap { UInt64($0.dropFirst(2), radix: 16) }
        }
        var text =
            "crash in process \(e["pid"]?.intValue.map(String.init) ?? "?") (its own handler): \(e["signal_name"]?.stringValue ?? "?") at \(e["fault_address"]?.stringValue ?? "?")"
        for (n, frame) in CrashSymbolizer(modules: modules).frames(ips).enumerated() {
            text += "\n  #\(n) " + describeFrame(frame.json).replacingNewlines()
        }
        return text
    }

    /// "level3+0x9 (/tmp/crash3+0x1159)"
    package static func describeFrame(_ frame: JSONValue) -> String {
        var text = frame["function"]?.stringValue ?? frame["ip"]?.stringValue ?? "?"
        if let offset = frame["function_offset"]?.intValue, offset > 0 { text += "+0x" + String(offset, radix: 16) }
        if let file = frame["file"]?.stringValue, let line = frame["line"]?.intValue {
            text += " at \(file):\(line)"
        }
        if let module = frame["module"]?.stringValue {
            let base = module.split(separator: "/").last.map(String.init) ?? module
            text += " (\(base)+\(frame["module_offset"]?.stringValue ?? "?"))"
        }
        return text
    }

    /// One timeline line for an event.
    package static func describe(_ e: TraceEvent) -> String {
        func s(_ k: String) -> String { e[k]?.stringValue ?? "?" }
        func i(_ k: String) -> String { e[k]?.intValue.map(String.init) ?? "?" }
        /// `pid 4242 (kill) uid 0`: the sender fields of signal, target_signal and program_signal.
        func sender() -> String {
            let comm = e["sender_comm"]?.stringValue.map { " (\($0))" } ?? ""
            return "pid \(i("sender_pid"))\(comm) uid \(i("sender_uid"))"
        }
        switch e.kind {
        case "start":
            if e["source"]?.stringValue == "in_process" { return "the program started (pid \(i("pid")))" }
            return "probe-exec started (pid \(i("pid")))"
        case "exec":
            if e["ok"]?.boolValue == true {
                return "exec ok: \(e["path"]?.stringValue ?? "program") is running as pid \(i("pid"))"
            }
            return "exec FAILED: \(s("path")): \(s("error")) (\(s("errno_name"))), exit status \(i("exit_status"))"
        case "signal":
            let from = e["sender_pid"]?.intValue == 0 ? "outside this PID namespace" : sender()
            let action =
                e["forward_error"] != nil
                ? "forwarding failed: \(s("forward_error"))" : "forwarded to \(i("forwarded_to"))"
            return "received \(s("name")) from \(from); \(action)"
        case "otlp_export":
            var parts: [String] = []
            if let file = e["file"]?.stringValue {
                parts.append(
                    e["file_error"] != nil ? "not written to \(file): \(s("file_error"))" : "appended to \(file)"
                )
            }
            if let endpoint = e["endpoint"]?.stringValue {
                parts.append(
                    e["delivered"]?.boolValue == true
                        ? "delivered to \(endpoint) (attempt \(i("attempts")))"
                        : "NOT delivered to \(endpoint): \(s("endpoint_error")) (\(i("attempts")) attempts)"
                )
            }
            return "OTLP export of \(i("records")) records: " + parts.joined(separator: "; ")
        case "program_signal":
            let thread = e["tid"]?.intValue == 0 ? "read ahead of its DispatchSource" : "thread \(i("tid"))"
            var text = "the program received \(s("name")) (\(thread))"
            switch e["sender_kind"]?.stringValue {
            case "kernel": text += " from the kernel (\(s("code_name")))"
            case "self": text += " from itself"
            case "outside": text += " from outside its PID namespace"
            default:
                text += " from \(sender())"
            }
            switch e["disposition"]?.stringValue {
            case "handler": text += "; its handler ran"
            case "default_ends": text += "; no handler: it ends the program"
            case "default_stops": text += "; no handler: it stops the program"
            default: text += "; ignored"
            }
            return text
        case "output":
            return "first byte on \(s("stream"))"
        case "output_error":
            return "\(s("stream")) output stopped: \(s("errno_name")): \(s("explanation"))"
        case "exit":
            let orphans = (e["orphans_reaped"]?.intValue ?? 0) > 0 ? ", reaped \(i("orphans_reaped")) orphans" : ""
            if e["signal"] != nil {
                let core = e["core_dumped"]?.boolValue == true ? ", core dumped" : ""
                return "exit: killed by \(s("signal_name"))\(core) (status \(i("status")))\(orphans)"
            }
            return "exit: code \(i("code"))\(orphans)"
        case "warning":
            return "warning: \(s("message"))"
        case "tracing":
            let reason = e["reason"]?.stringValue.map { " (\($0))" } ?? ""
            return "ptrace tracing \(s("state"))\(reason)"
        case "program_error":
            var text = "the program reported \(s("language")) \(s("kind")): \(s("message"))"
            if let location = e["location"]?.stringValue { text += " at \(location)" }
            return text
        case "missing_libraries":
            let names = (e["libraries"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            return "the dynamic loader cannot find: " + names.map { $0 }.reduce("") { $0.isEmpty ? $1 : $0 + ", " + $1 }
        case "lost_output":
            return
                "\(i("bytes")) bytes never written to \(s("stream")) (still in the program's stdio buffer): \(s("text"))"
        case "main_reached":
            return "main() reached (reported by the program itself, pid \(i("pid")))"
        case "milestone":
            let what = s("name") == "main" ? "main() reached" : "entry point reached (the dynamic loader is done)"
            return "\(what) at \(s("address")), found by \(s("how"))"
        case "target_exec":
            return "program image #\(i("count")): \(s("path"))"
        case "target_signal":
            var text = "\(s("name")) delivered to thread \(i("tid"))"
            switch e["sender_kind"]?.stringValue {
            case "kernel":
                text += " by the kernel (\(s("code_name")))"
                if let address = e["fault_address"]?.stringValue { text += ", fault address \(address)" }
            case "self": text += " by the program itself (\(s("code_name")))"
            case "probe-exec": text += ", forwarded by probe-exec"
            case "process":
                text += " from \(sender())"
            default: break
            }
            return text
        case "backtrace":
            var text = "backtrace of thread \(i("tid"))"
            switch e["reason"]?.stringValue {
            case "crash": text += e["crashed"]?.boolValue == true ? " (the crashing thread):" : " (another thread):"
            case "exit":
                let returned = e["main_returned"]?.boolValue
                text += returned == true ? " at exit (main() returned):" : " at exit (the thread that called exit):"
            default: text += ":"
            }
            for (n, frame) in (e["frames"]?.arrayValue ?? []).enumerated() {
                text += "\n  #\(n) " + describeFrame(frame).replacingNewlines()
            }
            return text
        default:
            let fields = e.fields.map { "\($0.0)=\($0.1.serialized)" }.joined(separator: " ")
            return "\(e.kind) \(fields)"
        }
    }
}

extension String {
    fileprivate func replacingOccurrencesOfQuote() -> String {
        var out = ""
        for c in self { out += c == "'" ? "'\\''" : String(c) }
        return out
    }
}

extension String {
    /// Frame text comes from the program's symbols: keep it on one line.
    fileprivate func replacingNewlines() -> String {
        String(self.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
