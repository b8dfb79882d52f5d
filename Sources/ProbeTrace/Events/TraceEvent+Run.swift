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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("source", &source)
            v.string("probe_exec_version", &probeExecVersion)
            v.string("time", &time)
            v.strings("argv", &argv)
            v.objectsUnlessEmpty("argv_base64", &argvBase64)
            v.string("cwd", &cwd)
            v.int("pid", &pid)
            v.int("ppid", &ppid)
            v.int("uid", &uid)
            v.int("gid", &gid)
            v.strings("env_names", &envNames)
            v.string("host", &host)
            v.string("kernel", &kernel)
            v.object("clock", &clock)
            v.object("options", &options)
            v.object("streams", &streams)
        }

        /// An empty start, filled by decoding or by its producer.
        package init() {}
    }

    /// An argument that is not valid UTF-8, kept reversibly.
    package struct ArgumentBytes: TraceObject {
        /// Its position in argv.
        package var index = 0
        /// Its bytes, base64.
        package var base64 = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("index", &index)
            v.string("base64", &base64)
        }

        /// An empty entry.
        package init() {}
    }

    /// The clocks at start: wall clock and monotonic, in seconds.
    package struct Clock: TraceObject {
        package var realtimeSeconds = 0.0
        package var monotonicSeconds = 0.0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.number("realtime_s", &realtimeSeconds)
            v.number("monotonic_s", &monotonicSeconds)
        }

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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.bool("forward_to_group", &forwardToGroup)
            v.bool("subreaper", &subreaper)
            v.bool("pid1", &pid1)
            v.bool("pipe_terminals", &pipeTerminals)
            v.bool("unbuffered", &unbuffered)
            v.bool("service", &service)
        }

        /// Every option off.
        package init() {}
    }

    /// What probe-exec's standard descriptors were (`terminal`, `pipe`, `file`, `closed`, …).
    package struct Streams: TraceObject {
        package var stdin = ""
        package var stdout = ""
        package var stderr = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("stdin", &stdin)
            v.string("stdout", &stdout)
            v.string("stderr", &stderr)
        }

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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.bool("ok", &ok)
            v.int("pid", &pid)
            v.string("path", &path, .nullWhenNil)
            v.int("errno", &errno)
            v.string("errno_name", &errnoName)
            v.string("error", &error)
            v.int("exit_status", &exitStatus)
            v.string("explanation", &explanation)
        }

        /// An empty exec record.
        package init() {}
    }

    /// `tracing`: `on`, `off` (--no-ptrace) or `unavailable`, and why.
    package struct Tracing: TraceObject {
        package var state = ""
        package var reason: String?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("state", &state)
            v.string("reason", &reason, .nullWhenNil)
        }

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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("signal", &signal)
            v.string("name", &name)
            v.int("code", &code)
            v.string("code_name", &codeName)
            v.int("sender_pid", &senderPID)
            v.int("sender_uid", &senderUID)
            v.string("sender_comm", &senderCommand, .nullWhenNil)
            v.int("forwarded_to", &forwardedTo)
            v.string("forwarded_as", &forwardedAs)
            v.int("delayed_ms", &delayedMilliseconds)
            v.string("sender_note", &senderNote)
            v.string("forward_error", &forwardError)
        }

        /// An empty signal record.
        package init() {}
    }

    /// `output`: a milestone of a stream (`first_byte`).
    package struct Output: TraceObject {
        package var stream = ""
        package var milestone = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("stream", &stream)
            v.string("milestone", &milestone)
        }

        /// An empty output record.
        package init() {}
    }

    /// `output_error`: forwarding a stream failed.
    package struct OutputError: TraceObject {
        package var stream = ""
        package var errno: Int32 = 0
        package var errnoName = ""
        package var explanation = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("stream", &stream)
            v.int("errno", &errno)
            v.string("errno_name", &errnoName)
            v.string("explanation", &explanation)
        }

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
        /// Traced runs: the stops handled, and the longest time the program was held at one.
        package var stops: Int?
        package var longestStopMilliseconds: Double?
        /// Traced to its end: processes it started as fork events showed them (0: none; more: at
        /// least that many, as each thread reports only its first after main()).
        package var processesStarted: Int?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("pid", &pid)
            v.int("code", &code)
            v.int("signal", &signal)
            v.string("signal_name", &signalName)
            v.bool("core_dumped", &coreDumped)
            v.int("status", &status)
            v.number("duration_ms", &durationMilliseconds)
            v.int("orphans_reaped", &orphansReaped)
            v.objectsUnlessEmpty("left_running", &leftRunning)
            v.int("stops", &stops)
            v.number("longest_stop_ms", &longestStopMilliseconds)
            v.int("processes_started", &processesStarted)
        }

        /// An empty exit record.
        package init() {}
    }

    /// A process: its pid and command name.
    package struct Process: TraceObject {
        package var pid: Int32 = 0
        package var command: String?
        /// When it started (ISO 8601 UTC, from /proc/PID/stat), where recorded.
        package var started: String?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("pid", &pid)
            v.string("command", &command, .nullWhenNil)
            v.string("started", &started)
        }

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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("stream", &stream)
            v.int("bytes_total", &bytesTotal)
            v.int("tail_bytes", &tailBytes)
            v.string("transport", &transport, .nullWhenNil)
            v.bool("truncated", &truncated)
            v.string("text", &text)
        }

        /// An empty tail.
        package init() {}
    }

    /// `warning`: something probe-exec could not do or record.
    package struct Warning: TraceObject {
        package var message = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("message", &message)
        }

        /// An empty warning.
        package init() {}

        /// A warning saying `message`.
        package init(_ message: String) { self.message = message }
    }

    /// `listen`: a socket the program's process tree listens on.
    package struct Listen: TraceObject {
        package var address = ""
        package var port = 0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("address", &address)
            v.int("port", &port)
        }

        /// An empty listen record.
        package init() {}
    }

    /// `ready`: a readiness check passed, by port or by a line of output.
    package struct Ready: TraceObject {
        package var port: Int?
        package var line: String?
        package var stream: String?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("port", &port)
            v.string("line", &line)
            v.string("stream", &stream)
        }

        /// An empty ready record.
        package init() {}
    }

    /// `not_ready`: a readiness check timed out.
    package struct NotReady: TraceObject {
        package var port: Int?
        package var line: String?
        package var timeoutSeconds = 0.0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("port", &port, .nullWhenNil)
            v.string("line", &line, .nullWhenNil)
            v.number("timeout_s", &timeoutSeconds)
        }

        /// An empty not-ready record.
        package init() {}
    }

    /// `grace_expired`: the program did not stop within the grace period; probe-exec sent `sent` to `to`.
    package struct GraceExpired: TraceObject {
        package var sent = ""
        package var to: Int32 = 0
        /// The grace period that ran out, in seconds (--grace-period, or a readiness check's stop).
        package var graceSeconds: Double?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("sent", &sent)
            v.int("to", &to)
            v.number("grace_s", &graceSeconds)
        }

        /// An empty record.
        package init() {}
    }

    /// `leftovers`: processes left running, stopped by SIGTERM or killed (--kill-leftovers).
    package struct Leftovers: TraceObject {
        package var terminated: [Int32] = []
        package var killed: [Int32] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.ints("terminated", &terminated)
            v.ints("killed", &killed)
        }

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
        /// The cgroup's peak usage after the exit: since the cgroup was made, not this run's alone.
        package var peakBytes: UInt64?
        /// OOM kills counted by the cgroup at spawn.
        package var oomKillBefore: UInt64?
        /// OOM kills counted by the cgroup after the exit.
        package var oomKillAfter: UInt64?
        /// v2: whole-cgroup OOM kills (`memory.oom.group`) at spawn.
        package var oomGroupKillBefore: UInt64?
        /// v2: whole-cgroup OOM kills after the exit.
        package var oomGroupKillAfter: UInt64?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("version", &version)
            v.string("path", &path)
            v.int("limit_bytes", &limitBytes)
            v.int("peak_bytes", &peakBytes)
            v.int("oom_kill_before", &oomKillBefore)
            v.int("oom_kill_after", &oomKillAfter)
            v.int("oom_group_kill_before", &oomGroupKillBefore)
            v.int("oom_group_kill_after", &oomGroupKillAfter)
        }

        /// An empty record.
        package init() {}
    }
}
