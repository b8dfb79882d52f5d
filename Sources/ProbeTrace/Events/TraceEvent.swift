/// What one line of a startup trace records: a case per kind of event, each with a typed payload.
///
/// Encoding and decoding live here and in the payloads' field lists (``TraceObject``); every
/// `switch` over it is exhaustive, so a new event breaks the build wherever it is not handled.
/// `docs/trace.schema.json` describes the same fields; a test checks every case against it.
package enum TraceEvent: Sendable {
    /// probe-exec (or the library, `source` = `in_process`) started recording.
    case start(Start)
    /// `execve` of the program: it runs, or why it could not start.
    case exec(Exec)
    /// Whether ptrace tracing is on.
    case tracing(Tracing)
    /// A signal probe-exec received and forwarded.
    case signal(Signal)
    /// An output milestone (the first byte on a stream).
    case output(Output)
    /// Forwarding a stream failed.
    case outputError(OutputError)
    /// How the program ended.
    case exit(Exit)
    /// The last bytes of a stream.
    case tail(Tail)
    /// The verdict.
    case verdict(Verdict)
    /// Something probe-exec could not do or record.
    case warning(Warning)
    /// The traced program exec'd an image.
    case targetExec(TargetExec)
    /// A signal delivered to the traced program.
    case targetSignal(TargetSignal)
    /// A backtrace of a traced thread at a crash or at exit.
    case backtrace(Backtrace)
    /// A start-up milestone proven by a breakpoint (entry point, main).
    case milestone(Milestone)
    /// The runtime error the program reported.
    case programError(ProgramError)
    /// Shared libraries the dynamic loader could not find.
    case missingLibraries(MissingLibraries)
    /// Bytes left in the program's stdio buffers when it died.
    case lostOutput(LostOutput)
    /// A listening socket of the program's process tree.
    case listen(Listen)
    /// The port the program could not bind, and who holds it.
    case portInUse(PortInUse)
    /// A readiness check passed.
    case ready(Ready)
    /// A readiness check timed out.
    case notReady(NotReady)
    /// The grace period after SIGTERM ran out; probe-exec sent SIGKILL.
    case graceExpired(GraceExpired)
    /// Processes left running were stopped (--kill-leftovers).
    case leftovers(Leftovers)
    /// The program's memory cgroup at spawn and after its exit: limit, peak, OOM kills.
    case memoryCgroup(MemoryCgroup)
    /// The library reported main() reached from inside the program.
    case mainReached(MainReached)
    /// The program's executable mappings, for symbolising in-process crash reports.
    case modules(Modules)
    /// The library's crash handler report (written by C in the signal handler).
    case crash(Crash)
    /// A signal the program received, logged by the library.
    case programSignal(ProgramSignal)
    /// The run was exported as OpenTelemetry logs.
    case otlpExport(OTLPExport)
    /// An event this version does not know (written by a newer one): kept as it was read.
    case unknown(kind: String, fields: [(String, JSONValue)])

    /// The `event` name written in the trace.
    package var kind: String {
        switch self {
        case .start: return "start"
        case .exec: return "exec"
        case .tracing: return "tracing"
        case .signal: return "signal"
        case .output: return "output"
        case .outputError: return "output_error"
        case .exit: return "exit"
        case .tail: return "tail"
        case .verdict: return "verdict"
        case .warning: return "warning"
        case .targetExec: return "target_exec"
        case .targetSignal: return "target_signal"
        case .backtrace: return "backtrace"
        case .milestone: return "milestone"
        case .programError: return "program_error"
        case .missingLibraries: return "missing_libraries"
        case .lostOutput: return "lost_output"
        case .listen: return "listen"
        case .portInUse: return "port_in_use"
        case .ready: return "ready"
        case .notReady: return "not_ready"
        case .graceExpired: return "grace_expired"
        case .leftovers: return "leftovers"
        case .memoryCgroup: return "memory_cgroup"
        case .mainReached: return "main_reached"
        case .modules: return "modules"
        case .crash: return "crash"
        case .programSignal: return "program_signal"
        case .otlpExport: return "otlp_export"
        case .unknown(let kind, _): return kind
        }
    }

    /// The event's own fields (without `v`, `event`, `t_ms`), in the order they are written.
    package var fields: [(String, JSONValue)] {
        switch self {
        case .start(let payload): return payload.encodedFields
        case .exec(let payload): return payload.encodedFields
        case .tracing(let payload): return payload.encodedFields
        case .signal(let payload): return payload.encodedFields
        case .output(let payload): return payload.encodedFields
        case .outputError(let payload): return payload.encodedFields
        case .exit(let payload): return payload.encodedFields
        case .tail(let payload): return payload.encodedFields
        case .verdict(let payload): return payload.encodedFields
        case .warning(let payload): return payload.encodedFields
        case .targetExec(let payload): return payload.encodedFields
        case .targetSignal(let payload): return payload.encodedFields
        case .backtrace(let payload): return payload.encodedFields
        case .milestone(let payload): return payload.encodedFields
        case .programError(let payload): return payload.encodedFields
        case .missingLibraries(let payload): return payload.encodedFields
        case .lostOutput(let payload): return payload.encodedFields
        case .listen(let payload): return payload.encodedFields
        case .portInUse(let payload): return payload.encodedFields
        case .ready(let payload): return payload.encodedFields
        case .notReady(let payload): return payload.encodedFields
        case .graceExpired(let payload): return payload.encodedFields
        case .leftovers(let payload): return payload.encodedFields
        case .memoryCgroup(let payload): return payload.encodedFields
        case .mainReached(let payload): return payload.encodedFields
        case .modules(let payload): return payload.encodedFields
        case .crash(let payload): return payload.encodedFields
        case .programSignal(let payload): return payload.encodedFields
        case .otlpExport(let payload): return payload.encodedFields
        case .unknown(_, let fields): return fields
        }
    }

    /// Reads the event named `kind` from a trace line's JSON object.
    package init(kind: String, json: JSONValue) {
        switch kind {
        case "start": self = .start(Start(json: json))
        case "exec": self = .exec(Exec(json: json))
        case "tracing": self = .tracing(Tracing(json: json))
        case "signal": self = .signal(Signal(json: json))
        case "output": self = .output(Output(json: json))
        case "output_error": self = .outputError(OutputError(json: json))
        case "exit": self = .exit(Exit(json: json))
        case "tail": self = .tail(Tail(json: json))
        case "verdict": self = .verdict(Verdict(json: json))
        case "warning": self = .warning(Warning(json: json))
        case "target_exec": self = .targetExec(TargetExec(json: json))
        case "target_signal": self = .targetSignal(TargetSignal(json: json))
        case "backtrace": self = .backtrace(Backtrace(json: json))
        case "milestone": self = .milestone(Milestone(json: json))
        case "program_error": self = .programError(ProgramError(json: json))
        case "missing_libraries": self = .missingLibraries(MissingLibraries(json: json))
        case "lost_output": self = .lostOutput(LostOutput(json: json))
        case "listen": self = .listen(Listen(json: json))
        case "port_in_use": self = .portInUse(PortInUse(json: json))
        case "ready": self = .ready(Ready(json: json))
        case "not_ready": self = .notReady(NotReady(json: json))
        case "grace_expired": self = .graceExpired(GraceExpired(json: json))
        case "leftovers": self = .leftovers(Leftovers(json: json))
        case "memory_cgroup": self = .memoryCgroup(MemoryCgroup(json: json))
        case "main_reached": self = .mainReached(MainReached(json: json))
        case "modules": self = .modules(Modules(json: json))
        case "crash": self = .crash(Crash(json: json))
        case "program_signal": self = .programSignal(ProgramSignal(json: json))
        case "otlp_export": self = .otlpExport(OTLPExport(json: json))
        default:
            guard case .object(let pairs) = json else {
                self = .unknown(kind: kind, fields: [])
                return
            }
            self = .unknown(kind: kind, fields: pairs.filter { !TraceRecord.envelopeKeys.contains($0.0) })
        }
    }

    /// Every kind this version writes, with its field list: what the schema test checks.
    package static let schemas: [(kind: String, fields: [(name: String, type: String, presence: String)])] = [
        schema("start", Start.self), schema("exec", Exec.self), schema("tracing", Tracing.self),
        schema("signal", Signal.self), schema("output", Output.self), schema("output_error", OutputError.self),
        schema("exit", Exit.self), schema("tail", Tail.self), schema("verdict", Verdict.self),
        schema("warning", Warning.self), schema("target_exec", TargetExec.self),
        schema("target_signal", TargetSignal.self), schema("backtrace", Backtrace.self),
        schema("milestone", Milestone.self), schema("program_error", ProgramError.self),
        schema("missing_libraries", MissingLibraries.self), schema("lost_output", LostOutput.self),
        schema("listen", Listen.self), schema("port_in_use", PortInUse.self), schema("ready", Ready.self),
        schema("not_ready", NotReady.self), schema("grace_expired", GraceExpired.self),
        schema("leftovers", Leftovers.self), schema("memory_cgroup", MemoryCgroup.self),
        schema("main_reached", MainReached.self),
        schema("modules", Modules.self), schema("crash", Crash.self), schema("program_signal", ProgramSignal.self),
        schema("otlp_export", OTLPExport.self),
    ]

    private static func schema<T: TraceObject>(
        _ kind: String,
        _ type: T.Type
    ) -> (kind: String, fields: [(name: String, type: String, presence: String)]) {
        (kind, T.fields.map { ($0.name, $0.type.rawValue, "\($0.presence)") })
    }
}
