import ProbeCore
import ProbeSupervisor
import ProbeTracing

extension Diagnose {
    /// The signals whose forwarding from outside is a request to stop: a death by one of them,
    /// or an exit 0 after one, is a stop that was asked for.
    package static let stopSignals: Set<Int32> = [2, 3, 15]  // SIGINT, SIGQUIT, SIGTERM

    /// The last stop request (SIGTERM, SIGINT, SIGQUIT) probe-exec forwarded, if any.
    package static func stopRequest(_ report: RunFacts) -> ReceivedSignal? {
        report.signals.last { $0.forwarded && stopSignals.contains($0.signal) }
    }

    /// "SIGTERM from pid 4242 (`kubelet`, uid 0) at +1.1 s".
    static func forwardedText(_ signal: ReceivedSignal) -> String {
        "\(SignalName.name(signal.signal)) from \(describe(signal)) at +\(duration(signal.offsetMilliseconds))"
    }

    /// What the signals probe-exec received and the tracer saw say about the exit.
    package static func signalStory(_ report: RunFacts, killedBy signal: Int32?) -> [String] {
        let forwarded = report.signals.filter(\.forwarded)
        if let signal, let match = forwarded.last(where: { $0.signal == signal }) {
            return [
                "probe-exec forwarded that signal, which it received from \(describe(match)) at +\(duration(match.offsetMilliseconds))."
            ]
        }
        if signal == 9 { return sigkillStory(report) }
        // A fault signal is named by its sender only when a process sent it (abort() aside).
        if let signal, let sender = report.tracing.signalSenders[signal],
            !SignalName.isFault(signal) || faultSignalSentByProcess(report, signal)
        {
            return [senderSentence(signal, sender, report: report)]
        }
        guard let last = forwarded.last(where: { [1, 2, 3, 15].contains($0.signal) }) else { return [] }
        let verb = signal == nil ? "It had been asked to stop:" : "Before that,"
        return ["\(verb) probe-exec forwarded \(forwardedText(last))."]
    }

    /// Who sent SIGKILL, as far as it is known: probe-exec after the grace period, the kernel's
    /// OOM killer (its memory cgroup counted the kill), or not known. A SIGKILL is never seen on
    /// its way by a tracer.
    static func sigkillStory(_ report: RunFacts) -> [String] {
        if let grace = report.graceExpired {
            var parts = [
                "It did not stop within \(seconds(grace.graceSeconds)) of SIGTERM; probe-exec sent SIGKILL to its process group at +\(duration(grace.offsetMilliseconds))."
            ]
            if let request = report.signals.last(where: {
                $0.forwarded && $0.offsetMilliseconds <= grace.offsetMilliseconds
            }) {
                parts.append("The stop had been asked for: probe-exec forwarded \(forwardedText(request)).")
            } else {
                parts.append("probe-exec had sent that SIGTERM itself, to end the readiness check.")
            }
            return parts
        }
        return [oomKillSentence(report) ?? unattributedKillSentence(report)]
    }

    /// The sender the tracer saw deliver `signal`, when it did not come through probe-exec.
    static func senderSentence(_ signal: Int32, _ sender: SignalSender, report: RunFacts) -> String {
        let name = SignalName.name(signal)
        switch sender.kind {
        case "self" where signal == 13:
            return
                "\(name) came from its own process: a write to a pipe or socket with no reader, or a signal it sent itself (the two look the same)."
        case "self":
            return "It sent \(name) to itself."
        case "process":
            let command = sender.command.map { "`\($0)`, " } ?? ""
            let uid = sender.uid.map { "uid \($0)" } ?? "uid ?"
            return
                "\(name) was sent to it directly by pid \(sender.pid.map(String.init) ?? "?") (\(command)\(uid)), not through probe-exec."
        case "kernel":
            return "\(name) came from the kernel (\(sender.codeName ?? "?"))."
        default:
            // From probe-exec, but not as received: rewritten (--map-signal), or its own stop.
            guard let last = report.signals.last(where: \.forwarded) else {
                return "probe-exec sent \(name) itself, to end the readiness check."
            }
            return "probe-exec delivered \(name), forwarding \(forwardedText(last))."
        }
    }

    /// Who sent a signal, as "pid 4242 (`kill`, uid 0)".
    package static func describe(_ signal: ReceivedSignal) -> String {
        if signal.senderPID == 0 { return "outside this PID namespace (the container runtime or the kernel)" }
        let command = signal.senderCommand.map { "`\($0)`, " } ?? ""
        return "pid \(signal.senderPID) (\(command)uid \(signal.senderUID))"
    }
}
