// The payloads the ptrace tracer writes: images, signals, milestones, backtraces, lost output.

extension TraceEvent {
    /// `target_exec`: the traced program (or, with `child`, a followed child) exec'd an image.
    package struct TargetExec: TraceObject {
        package var pid: Int32 = 0
        package var path: String?
        /// A child followed with --follow-forks, not the program itself.
        package var child: Bool?
        /// The program's image number (a script that execs a binary: 2).
        package var count: Int?
        /// The image's GNU build-id (hex), when it has one: which build ran (`show --history` compares them).
        package var buildID: String?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("pid", &pid)
            v.string("path", &path, .nullWhenNil)
            v.bool("child", &child)
            v.int("count", &count)
            v.string("build_id", &buildID)
        }

        /// An empty record.
        package init() {}
    }

    /// `target_signal`: a signal delivered to a thread of the traced program, and its sender.
    package struct TargetSignal: TraceObject {
        package var tid: Int32 = 0
        package var signal: Int32 = 0
        package var name = ""
        package var code: Int32?
        package var codeName: String?
        /// `kernel`, `self`, `probe-exec` or `process`.
        package var senderKind: String?
        package var senderPID: Int32?
        package var senderUID: UInt32?
        package var senderCommand: String?
        /// The faulting address of a fault signal.
        package var faultAddress: UInt64?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("tid", &tid)
            v.int("signal", &signal)
            v.string("name", &name)
            v.int("code", &code)
            v.string("code_name", &codeName)
            v.string("sender_kind", &senderKind)
            v.int("sender_pid", &senderPID)
            v.int("sender_uid", &senderUID)
            v.string("sender_comm", &senderCommand)
            v.hex("fault_address", &faultAddress)
        }

        /// An empty record.
        package init() {}
    }

    /// `backtrace`: the frames of a traced thread at a crash (`reason` = `crash`) or exit.
    package struct Backtrace: TraceObject {
        package var tid: Int32 = 0
        /// `crash` or `exit`.
        package var reason = ""
        /// At a crash: whether this thread is the one that crashed.
        package var crashed: Bool?
        /// At exit: the exit code.
        package var code: Int32?
        /// At exit: whether main() returned (nil: unknown).
        package var mainReturned: Bool?
        package var frames: [Frame] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("tid", &tid)
            v.string("reason", &reason)
            v.bool("crashed", &crashed)
            v.int("code", &code)
            v.bool("main_returned", &mainReturned)
            v.objects("frames", &frames)
        }

        /// An empty record.
        package init() {}
    }

    /// One frame of a backtrace, located and named.
    package struct Frame: TraceObject {
        package var ip: UInt64 = 0
        package var module: String?
        package var moduleOffset: UInt64?
        package var buildID: String?
        /// The symbol as in the symbol table (mangled).
        package var symbol: String?
        /// The symbol demangled (or as is).
        package var function: String?
        package var functionOffset: UInt64?
        /// The source line a person wrote: the address's own line, or where it is compiler-generated
        /// (`<compiler-generated>`, line 0), the innermost call site of its inline chain that is not.
        package var file: String?
        package var line: Int?
        /// The functions inlined at this address, innermost first, each with its call site.
        package var inlined: [InlinedCall] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.hex("ip", &ip)
            v.string("module", &module)
            v.hex("module_offset", &moduleOffset)
            v.string("build_id", &buildID)
            v.string("symbol", &symbol)
            v.string("function", &function)
            v.int("function_offset", &functionOffset)
            v.string("file", &file)
            v.int("line", &line)
            v.objectsUnlessEmpty("inlined", &inlined)
        }

        /// An empty frame.
        package init() {}
    }

    /// One call inlined at a code address (from `.debug_info`): the function inlined and the
    /// place it was called from.
    package struct InlinedCall: TraceObject, Equatable {
        /// The inlined function, demangled; nil when the debug information names none.
        package var function: String?
        /// The call's source file, as the line table names it, and line.
        package var file = ""
        package var line = 0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("function", &function)
            v.string("file", &file)
            v.int("line", &line)
        }

        /// An empty record.
        package init() {}

        /// A call of `function` at `file`:`line`.
        package init(function: String?, file: String, line: Int) {
            self.function = function
            self.file = file
            self.line = line
        }
    }

    /// `milestone`: a start-up point proven by a breakpoint (`entry`, `main`).
    package struct Milestone: TraceObject {
        package var name = ""
        package var address: UInt64 = 0
        /// How the address was found (`AT_ENTRY`, `symbol table`, …).
        package var how = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("name", &name)
            v.hex("address", &address)
            v.string("how", &how)
        }

        /// An empty record.
        package init() {}
    }

    /// `lost_output`: bytes the program wrote into its C library's buffer that never came out.
    package struct LostOutput: TraceObject {
        package var stream = ""
        package var bytes = 0
        package var text = ""
        package var explanation = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("stream", &stream)
            v.int("bytes", &bytes)
            v.string("text", &text)
            v.string("explanation", &explanation)
        }

        /// An empty record.
        package init() {}
    }
}
