// The payloads probe-exec's supervisor writes: start, exec, signals, output, exit.

extension TraceEvent {
    /// `start`: who is recording, what runs, where, with which options.
    package struct Start: TraceObject {
        /// `in_process` when the StartupProbe library wrote the trace; nil for probe-exec.
        package var source: String?
        package var probeExecVersion: String?
        /// ISO 8601 UTC.
        package var time = ""
        /// The command, secrets masked.
        package var argv: [String] = []
        /// The arguments that are not valid UTF-8, as base64 of their bytes: `argv` shows them with
        /// U+FFFD in place of the invalid bytes, which cannot be reversed.
        package var argvBase64: [ArgumentBytes] = []
        package var cwd: String?
        package var pid: Int32 = 0
        package var ppid: Int32?
        package var uid: UInt32 = 0
        package var gid: UInt32 = 0
        /// The names of the environment variables (never their values).
        package var envNames: [String] = []
        package var host = ""
        package var kernel = ""
        package var clock: Clock?
        package var options: Options?
        package var streams: Streams?

        package static let fields: [TraceField<Start>] = [
            .string("source", \.source), .string("probe_exec_version", \.probeExecVersion), .string("time", \.time),
            .strings("argv", \.argv), .objectsUnlessEmpty("argv_base64", \.argvBase64),
            .string("cwd", \.cwd),
            .int("pid", \.pid), .int("ppid", \.ppid), .int("uid", \.uid), .int("gid", \.gid),
            .strings("env_names", \.envNames), .string("host", \.host), .string("kernel", \.kernel),
            .object("clock", \.clock), .object("options", \.options), .object("streams", \.streams),
        ]

        /// An empty start, filled by decoding or by its producer.
        package init() {}
    }

    /// An argument that is not valid UTF-8, kept reversibly.
    package struct ArgumentBytes: TraceObject {
        /// Its position in argv.
        package var index = 0
        /// Its bytes, base64.
        package var base64 = ""

        package static let fields: [TraceField<ArgumentBytes>] = [.int("index", \.index), .string("base64", \.base64)]

        /// An empty entry.
        package init() {}
    }

    /// The clocks at start: wall clock and monotonic, in seconds.
    package struct Clock: TraceObject {
        package var realtimeSeconds = 0.0
        package var monotonicSeconds = 0.0

        package static let fields: [TraceField<Clock>] = [
            .number("realtime_s", \.realtimeSeconds), .number("monotonic_s", \.monotonicSeconds),
        ]

        /// Zero clocks.
        package init() {}
    }

    /// The run options that change behaviour.
    package struct Options: TraceObject {
        package var forwardToGroup = false
        package var subreaper = false
        package var pid1 = false
        package var pipeTerminals = false
        package var unbuffered = false
        package var service = false

        package static let fields: [TraceField<Options>] = [
            .bool("forward_to_group", \.forwardToGroup), .bool("subreaper", \.subreaper), .bool("pid1", \.pid1),
            .bool("pipe_terminals", \.pipeTerminals), .bool("unbuffered", \.unbuffered), .bool("service", \.service),
        ]

        /// Every option off.
        package init() {}
    }

    /// What probe-exec's standard descriptors were (`terminal`, `pipe`, `file`, `closed`, …).
    package struct Streams: TraceObject {
        package var stdin = ""
        package var stdout = ""
        package var stderr = ""

        package static let fields: [TraceField<Streams>] = [
            .string("stdin", \.stdin), .string("stdout", \.stdout), .string("stderr", \.stderr),
        ]

        /// Unknown streams.
        package init() {}
    }

    /// `exec`: the program runs (`ok`), or why it could not start.
    package struct Exec: TraceObject {
        package var ok = false
        package var pid: Int32?
        /// The file exec'd (nil: probe-exec could not fork, or the path is unknown).
        package var path: String?
        package var errno: Int32?
        package var errnoName: String?
        package var error: String?
        /// The status probe-exec exits with (126/127).
        package var exitStatus: Int32?
        /// Why, in plain words, from the file system and PATH at the moment it failed.
        package var explanation: String?

        package static let fields: [TraceField<Exec>] = [
            .bool("ok", \.ok), .int("pid", \.pid), .string("path", \.path, .nullWhenNil), .int("errno", \.errno),
            .string("errno_name", \.errnoName), .string("error", \.error), .int("exit_status", \.exitStatus),
            .string("explanation", \.explanation),
        ]

        /// An empty exec record.
        package init() {}
    }

    /// `tracing`: `on`, `off` (--no-ptrace) or `unavailable`, and why.
    package struct Tracing: TraceObject {
        package var state = ""
        package var reason: String?

        package static let fields: [TraceField<Tracing>] = [
            .string("state", \.state), .string("reason", \.reason, .nullWhenNil),
        ]

        /// An empty tracing record.
        package init() {}
    }

    /// `signal`: a signal probe-exec received, who sent it, where it went.
    package struct Signal: TraceObject {
        package var signal: Int32 = 0
        package var name = ""
        package var code: Int32 = 0
        package var codeName = ""
        package var senderPID: Int32 = 0
        package var senderUID: UInt32 = 0
        package var senderCommand: String?
        /// The pid (or -pgid) it was forwarded to.
        package var forwardedTo: Int32 = 0
        /// The signal it was forwarded as (--map-signal).
        package var forwardedAs: String?
        /// --signal-delay.
        package var delayedMilliseconds: Int?
        package var senderNote: String?
        package var forwardError: String?

        package static let fields: [TraceField<Signal>] = [
            .int("signal", \.signal), .string("name", \.name), .int("code", \.code), .string("code_name", \.codeName),
            .int("sender_pid", \.senderPID), .int("sender_uid", \.senderUID),
            .string("sender_comm", \.senderCommand, .nullWhenNil), .int("forwarded_to", \.forwardedTo),
            .string("forwarded_as", \.forwardedAs), .int("delayed_ms", \.delayedMilliseconds),
            .string("sender_note", \.senderNote), .string("forward_error", \.forwardError),
        ]

        /// An empty signal record.
        package init() {}
    }

    /// `output`: a milestone of a stream (`first_byte`).
    package struct Output: TraceObject {
        package var stream = ""
        package var milestone = ""

        package static let fields: [TraceField<Output>] = [
            .string("stream", \.stream), .string("milestone", \.milestone),
        ]

        /// An empty output record.
        package init() {}
    }

    /// `output_error`: forwarding a stream failed.
    package struct OutputError: TraceObject {
        package var stream = ""
        package var errno: Int32 = 0
        package var errnoName = ""
        package var explanation = ""

        package static let fields: [TraceField<OutputError>] = [
            .string("stream", \.stream), .int("errno", \.errno), .string("errno_name", \.errnoName),
            .string("explanation", \.explanation),
        ]

        /// An empty output-error record.
        package init() {}
    }

    /// `exit`: how the program ended.
    package struct Exit: TraceObject {
        package var pid: Int32 = 0
        /// The exit code, when it exited.
        package var code: Int32?
        /// The signal that killed it.
        package var signal: Int32?
        package var signalName: String?
        package var coreDumped: Bool?
        /// What a shell would report: the code, or 128+N.
        package var status: Int32 = 0
        package var durationMilliseconds = 0.0
        package var orphansReaped = 0
        /// Processes still running when it exited (at most 20).
        package var leftRunning: [Process] = []

        package static let fields: [TraceField<Exit>] = [
            .int("pid", \.pid), .int("code", \.code), .int("signal", \.signal), .string("signal_name", \.signalName),
            .bool("core_dumped", \.coreDumped), .int("status", \.status),
            .number("duration_ms", \.durationMilliseconds), .int("orphans_reaped", \.orphansReaped),
            .objectsUnlessEmpty("left_running", \.leftRunning),
        ]

        /// An empty exit record.
        package init() {}
    }

    /// A process: its pid and command name.
    package struct Process: TraceObject {
        package var pid: Int32 = 0
        package var command: String?
        /// When it started (ISO 8601 UTC, from /proc/PID/stat), where recorded.
        package var started: String?

        package static let fields: [TraceField<Process>] = [
            .int("pid", \.pid), .string("command", \.command, .nullWhenNil), .string("started", \.started),
        ]

        /// An empty process record.
        package init() {}

        /// Process `pid`, running `command`.
        package init(pid: Int32, command: String?) {
            self.pid = pid
            self.command = command
        }
    }

    /// `tail`: the last bytes of a stream.
    package struct Tail: TraceObject {
        package var stream = ""
        package var bytesTotal: UInt64 = 0
        package var tailBytes = 0
        /// `splice` or `copy`.
        package var transport: String?
        package var truncated = false
        package var text = ""

        package static let fields: [TraceField<Tail>] = [
            .string("stream", \.stream), .int("bytes_total", \.bytesTotal), .int("tail_bytes", \.tailBytes),
            .string("transport", \.transport, .nullWhenNil), .bool("truncated", \.truncated), .string("text", \.text),
        ]

        /// An empty tail.
        package init() {}
    }

    /// `warning`: something probe-exec could not do or record.
    package struct Warning: TraceObject {
        package var message = ""

        package static let fields: [TraceField<Warning>] = [.string("message", \.message)]

        /// An empty warning.
        package init() {}

        /// A warning saying `message`.
        package init(_ message: String) { self.message = message }
    }

    /// `listen`: a socket the program's process tree listens on.
    package struct Listen: TraceObject {
        package var address = ""
        package var port = 0

        package static let fields: [TraceField<Listen>] = [.string("address", \.address), .int("port", \.port)]

        /// An empty listen record.
        package init() {}
    }

    /// `ready`: a readiness check passed, by port or by a line of output.
    package struct Ready: TraceObject {
        package var port: Int?
        package var line: String?
        package var stream: String?

        package static let fields: [TraceField<Ready>] = [
            .int("port", \.port), .string("line", \.line), .string("stream", \.stream),
        ]

        /// An empty ready record.
        package init() {}
    }

    /// `not_ready`: a readiness check timed out.
    package struct NotReady: TraceObject {
        package var port: Int?
        package var line: String?
        package var timeoutSeconds = 0.0

        package static let fields: [TraceField<NotReady>] = [
            .int("port", \.port, .nullWhenNil), .string("line", \.line, .nullWhenNil),
            .number("timeout_s", \.timeoutSeconds),
        ]

        /// An empty not-ready record.
        package init() {}
    }

    /// `grace_expired`: the program did not stop within the grace period; probe-exec sent `sent` to `to`.
    package struct GraceExpired: TraceObject {
        package var sent = ""
        package var to: Int32 = 0
        /// The grace period that ran out, in seconds (--grace-period, or a readiness check's stop).
        package var graceSeconds: Double?

        package static let fields: [TraceField<GraceExpired>] = [
            .string("sent", \.sent), .int("to", \.to), .number("grace_s", \.graceSeconds),
        ]

        /// An empty record.
        package init() {}
    }

    /// `leftovers`: processes left running, stopped by SIGTERM or killed (--kill-leftovers).
    package struct Leftovers: TraceObject {
        package var terminated: [Int32] = []
        package var killed: [Int32] = []

        package static let fields: [TraceField<Leftovers>] = [
            .ints("terminated", \.terminated), .ints("killed", \.killed),
        ]

        /// An empty record.
        package init() {}
    }
}

extension TraceEvent {
    /// `memory_cgroup`: the program's memory cgroup, read at spawn (`_before`) and after its exit.
    package struct MemoryCgroup: TraceObject {
        /// 1 (the v1 memory controller) or 2 (the unified hierarchy).
        package var version = 0
        /// The cgroup's path in its hierarchy (`/proc/PID/cgroup`).
        package var path = ""
        /// The limit after the exit; left out when there is none.
        package var limitBytes: UInt64?
        /// The cgroup's peak usage after the exit.
        package var peakBytes: UInt64?
        /// OOM kills counted by the cgroup at spawn.
        package var oomKillBefore: UInt64?
        /// OOM kills counted by the cgroup after the exit.
        package var oomKillAfter: UInt64?
        /// v2: whole-cgroup OOM kills (`memory.oom.group`) at spawn.
        package var oomGroupKillBefore: UInt64?
        /// v2: whole-cgroup OOM kills after the exit.
        package var oomGroupKillAfter: UInt64?

        package static let fields: [TraceField<MemoryCgroup>] = [
            .int("version", \.version), .string("path", \.path), .int("limit_bytes", \.limitBytes),
            .int("peak_bytes", \.peakBytes), .int("oom_kill_before", \.oomKillBefore),
            .int("oom_kill_after", \.oomKillAfter), .int("oom_group_kill_before", \.oomGroupKillBefore),
            .int("oom_group_kill_after", \.oomGroupKillAfter),
        ]

        /// An empty record.
        package init() {}
    }
}
