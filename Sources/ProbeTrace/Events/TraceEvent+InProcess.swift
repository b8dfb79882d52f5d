// The payloads the StartupProbe library writes from inside the program.

extension TraceEvent {
    /// `main_reached`: the library's `start` ran at the top of main.
    package struct MainReached: TraceObject {
        package var source = "in_process"
        package var pid: Int32 = 0

        package static let fields: [TraceField<MainReached>] = [.string("source", \.source), .int("pid", \.pid)]

        /// An empty record.
        package init() {}
    }

    /// `modules`: the program's executable mappings when main was reached.
    package struct Modules: TraceObject {
        package var pid: Int32 = 0
        package var modules: [Module] = []

        package static let fields: [TraceField<Modules>] = [.int("pid", \.pid), .objects("modules", \.modules)]

        /// An empty record.
        package init() {}
    }

    /// An executable mapping: a file mapped at `start..<end` from `offset`.
    package struct Module: TraceObject {
        package var path = ""
        package var start: UInt64 = 0
        package var end: UInt64 = 0
        package var offset: UInt64 = 0

        package static let fields: [TraceField<Module>] = [
            .string("path", \.path), .hex("start", \.start), .hex("end", \.end), .hex("offset", \.offset),
        ]

        /// An empty record.
        package init() {}
    }

    /// `crash`: the library's crash handler report, written by C inside the signal handler.
    package struct Crash: TraceObject {
        package var source = "in_process"
        package var pid: Int32 = 0
        package var signal: Int32 = 0
        package var signalName = ""
        package var code: Int32 = 0
        package var faultAddress: UInt64?
        /// Raw instruction pointers, innermost first (named later from `modules`).
        package var frames: [UInt64] = []

        package static let fields: [TraceField<Crash>] = [
            .string("source", \.source), .int("pid", \.pid), .int("signal", \.signal),
            .string("signal_name", \.signalName), .int("code", \.code), .hex("fault_address", \.faultAddress),
            .hexes("frames", \.frames),
        ]

        /// An empty record.
        package init() {}
    }

    /// `program_signal`: a signal the program received, logged by the library with its sender.
    package struct ProgramSignal: TraceObject {
        package var source = "in_process"
        package var pid: Int32 = 0
        /// The thread that took it; 0 when read ahead of a DispatchSource.
        package var tid: Int32 = 0
        package var signal: Int32 = 0
        package var name = ""
        package var code: Int32 = 0
        package var codeName = ""
        /// `kernel`, `self`, `outside` or `process`.
        package var senderKind = ""
        package var senderPID: Int32?
        package var senderUID: UInt32?
        package var senderCommand: String?
        /// `handler`, `default_ends`, `default_stops` or `default_ignores`.
        package var disposition = ""

        package static let fields: [TraceField<ProgramSignal>] = [
            .string("source", \.source), .int("pid", \.pid), .int("tid", \.tid), .int("signal", \.signal),
            .string("name", \.name), .int("code", \.code), .string("code_name", \.codeName),
            .string("sender_kind", \.senderKind), .int("sender_pid", \.senderPID), .int("sender_uid", \.senderUID),
            .string("sender_comm", \.senderCommand), .string("disposition", \.disposition),
        ]

        /// An empty record.
        package init() {}
    }
}
