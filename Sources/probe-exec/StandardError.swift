import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// Writes diagnostics to fd 2 with one write(2) per message, unbuffered.
enum StandardError {
    /// Writes `probe-exec: <message>` and a newline.
    static func say(_ message: String) {
        say(message, onNewLine: false)
    }

    /// Writes `probe-exec: <message>` and a newline, first ending the program's last line when
    /// `onNewLine` (its stderr did not end in a newline), so the paragraph starts a line.
    static func say(_ message: String, onNewLine: Bool) {
        let line = (onNewLine ? "\n" : "") + "probe-exec: " + message + "\n"
        SystemIO.writeAll(2, line)
    }
}
