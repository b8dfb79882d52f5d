import ProbeCore
import ProbeTrace

// The parts of `show --json` (``ShowSummary``), each a typed object with one field list: what is
// written, in order, and what `docs/show.schema.json` describes (a test compares the two). Unknown
// values are written as null, so every key is always there.

extension ShowSummary {
    /// `verdict`: the trace's verdict, whether main() was reached, and the cause in one line.
    package struct Verdict: TraceObject {
        /// The trace verdict's category (`crash`, `exit_code`, …); nil without a verdict.
        package var category: String?
        /// The status the verdict explains; nil without a verdict.
        package var status: Int32?
        /// The diagnosis paragraph; nil without a verdict.
        package var summary: String?
        /// True when proven, false when disproven, nil when unknown.
        package var mainReached: Bool?
        /// The runtime error the program reported, else the verdict's first sentence.
        package var cause: String?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("category", &category, .nullWhenNil)
            v.int("status", &status, .nullWhenNil)
            v.string("summary", &summary, .nullWhenNil)
            v.bool("main_reached", &mainReached, .nullWhenNil)
            v.string("cause", &cause, .nullWhenNil)
        }

        /// Nothing known.
        package init() {}
    }

    /// `program`: what ran.
    package struct Program: TraceObject {
        /// The command as given (secrets masked).
        package var argv: [String] = []
        /// The final image (or the file executed, untraced).
        package var path: String?
        /// The name `show PROGRAM-NAME` knows it by (``TraceLocation/programName(command:images:)``).
        package var name: String?
        /// The program's process id.
        package var pid: Int32?
        /// Every image the traced program exec'd, in order.
        package var images: [String] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.strings("argv", &argv)
            v.string("path", &path, .nullWhenNil)
            v.string("name", &name, .nullWhenNil)
            v.int("pid", &pid, .nullWhenNil)
            v.strings("images", &images)
        }

        /// Nothing known.
        package init() {}
    }

    /// `timings`: when each step happened, as trace offsets (milliseconds).
    package struct Timings: TraceObject {
        /// When the program was executed (or failed to be).
        package var execMilliseconds: Double?
        /// When the final image reached its entry point.
        package var entryMilliseconds: Double?
        /// When the final image reached main().
        package var mainMilliseconds: Double?
        /// The first byte on each stream.
        package var firstOutput = FirstOutput()
        /// When the exit was seen.
        package var exitMilliseconds: Double?
        /// How long the program ran.
        package var durationMilliseconds: Double?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.number("exec_ms", &execMilliseconds, .nullWhenNil)
            v.number("entry_ms", &entryMilliseconds, .nullWhenNil)
            v.number("main_ms", &mainMilliseconds, .nullWhenNil)
            v.object("first_output_ms", &firstOutput)
            v.number("exit_ms", &exitMilliseconds, .nullWhenNil)
            v.number("duration_ms", &durationMilliseconds, .nullWhenNil)
        }

        /// Nothing known.
        package init() {}
    }

    /// `timings.first_output_ms`: the first byte on each stream.
    package struct FirstOutput: TraceObject {
        /// First byte on stdout.
        package var stdout: Double?
        /// First byte on stderr.
        package var stderr: Double?
        /// stdout and stderr carried by one pipe.
        package var merged: Double?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.number("stdout", &stdout, .nullWhenNil)
            v.number("stderr", &stderr, .nullWhenNil)
            v.number("merged", &merged, .nullWhenNil)
        }

        /// No output.
        package init() {}
    }

    /// One of `signals`: a signal probe-exec received, one delivered to the traced program, or one the
    /// library logged, in one shape.
    package struct Signal: TraceObject {
        /// The trace event it comes from: `signal`, `target_signal` or `program_signal`.
        package var event = ""
        /// When (t_ms).
        package var offsetMilliseconds = 0.0
        /// The signal number.
        package var signal: Int32 = 0
        /// Its name, `SIGTERM`.
        package var name = ""
        /// `si_code`.
        package var code: Int32?
        /// `si_code` in words.
        package var codeName: String?
        /// `kernel`, `self`, `probe-exec`, `process` or `outside`; nil for a signal probe-exec received.
        package var senderKind: String?
        /// The sender's pid (0: outside probe-exec's PID namespace).
        package var senderPID: Int32?
        /// The sender's uid.
        package var senderUID: UInt32?
        /// The sender's command name.
        package var senderCommand: String?
        /// The thread it was delivered to.
        package var tid: Int32?
        /// Where probe-exec forwarded it (a pid, or minus a process group).
        package var forwardedTo: Int32?
        /// The signal it was forwarded as (`--map-signal`).
        package var forwardedAs: String?
        /// Why forwarding failed.
        package var forwardError: String?
        /// The faulting address of a fault signal.
        package var faultAddress: UInt64?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("event", &event)
            v.number("t_ms", &offsetMilliseconds)
            v.int("signal", &signal)
            v.string("name", &name)
            v.int("code", &code, .nullWhenNil)
            v.string("code_name", &codeName, .nullWhenNil)
            v.string("sender_kind", &senderKind, .nullWhenNil)
            v.int("sender_pid", &senderPID, .nullWhenNil)
            v.int("sender_uid", &senderUID, .nullWhenNil)
            v.string("sender_comm", &senderCommand, .nullWhenNil)
            v.int("tid", &tid, .nullWhenNil)
            v.int("forwarded_to", &forwardedTo, .nullWhenNil)
            v.string("forwarded_as", &forwardedAs, .nullWhenNil)
            v.string("forward_error", &forwardError, .nullWhenNil)
            v.hex("fault_address", &faultAddress, .nullWhenNil)
        }

        /// An empty record.
        package init() {}
    }

    /// One of `backtraces`: the tracer's backtrace of a thread, or the library's crash report.
    package struct Backtrace: TraceObject {
        /// `ptrace` or `in_process`.
        package var source = ""
        /// When (t_ms).
        package var offsetMilliseconds = 0.0
        /// The thread.
        package var tid: Int32?
        /// `crash` or `exit`.
        package var reason = ""
        /// At a crash: whether this thread crashed.
        package var crashed: Bool?
        /// At exit: the exit code.
        package var code: Int32?
        /// At exit: whether main() had returned.
        package var mainReturned: Bool?
        /// At an in-process crash: the signal.
        package var signalName: String?
        /// Innermost first.
        package var frames: [TraceEvent.Frame] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("source", &source)
            v.number("t_ms", &offsetMilliseconds)
            v.int("tid", &tid, .nullWhenNil)
            v.string("reason", &reason)
            v.bool("crashed", &crashed, .nullWhenNil)
            v.int("code", &code, .nullWhenNil)
            v.bool("main_returned", &mainReturned, .nullWhenNil)
            v.string("signal_name", &signalName, .nullWhenNil)
            v.objects("frames", &frames)
        }

        /// An empty record.
        package init() {}
    }

    /// `exit`: how the program ended.
    package struct Exit: TraceObject {
        /// The program's pid.
        package var pid: Int32 = 0
        /// The exit code, when it exited.
        package var code: Int32?
        /// The signal that killed it.
        package var signal: Int32?
        /// That signal's name.
        package var signalName: String?
        /// What a shell reports: the code, or 128+N.
        package var status: Int32 = 0
        /// Whether a core was dumped.
        package var coreDumped = false
        /// How long it ran.
        package var durationMilliseconds = 0.0
        /// Orphans probe-exec reaped.
        package var orphansReaped = 0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("pid", &pid)
            v.int("code", &code, .nullWhenNil)
            v.int("signal", &signal, .nullWhenNil)
            v.string("signal_name", &signalName, .nullWhenNil)
            v.int("status", &status)
            v.bool("core_dumped", &coreDumped)
            v.number("duration_ms", &durationMilliseconds)
            v.int("orphans_reaped", &orphansReaped)
        }

        /// An empty record.
        package init() {}
    }
}
