// The payloads the StartupProbe library writes from inside the program.

extension TraceEvent {
    /// `main_reached`: the library's `start` ran at the top of main.
    package struct MainReached: TraceObject {
        package var source = "in_process"
        package var pid: Int32 = 0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("source", &source)
            v.int("pid", &pid)
        }

        /// An empty record.
        package init() {}
    }

    /// `modules`: the program's executable mappings when main was reached.
    package struct Modules: TraceObject {
        package var pid: Int32 = 0
        package var modules: [Module] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("pid", &pid)
            v.objects("modules", &modules)
        }

        /// An empty record.
        package init() {}
    }

    /// An executable mapping: a file mapped at `start..<end` from `offset`.
    package struct Module: TraceObject {
        package var path = ""
        package var start: UInt64 = 0
        package var end: UInt64 = 0
        package var offset: UInt64 = 0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("path", &path)
            v.hex("start", &start)
            v.hex("end", &end)
            v.hex("offset", &offset)
        }

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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("source", &source)
            v.int("pid", &pid)
            v.int("signal", &signal)
            v.string("signal_name", &signalName)
            v.int("code", &code)
            v.hex("fault_address", &faultAddress)
            v.hexes("frames", &frames)
        }

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

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("source", &source)
            v.int("pid", &pid)
            v.int("tid", &tid)
            v.int("signal", &signal)
            v.string("name", &name)
            v.int("code", &code)
            v.string("code_name", &codeName)
            v.string("sender_kind", &senderKind)
            v.int("sender_pid", &senderPID)
            v.int("sender_uid", &senderUID)
            v.string("sender_comm", &senderCommand)
            v.string("disposition", &disposition)
        }

        /// An empty record.
        package init() {}
    }
}
