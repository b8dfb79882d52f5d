import CStartupProbe
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
        var line = "probe-exec: " + message + "\n"
        _ = line.withUTF8 { spr_write_all(2, $0.baseAddress!, $0.count) }
    }
}
