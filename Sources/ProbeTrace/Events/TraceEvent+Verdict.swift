// The payloads written after the program has gone: what the post-mortem collectors found, the
// verdict, and the export.

extension TraceEvent {
    /// `verdict`: the category tools switch on, the status, the paragraph.
    package struct Verdict: TraceObject {
        package var category = ""
        package var status: Int32 = 0
        package var summary = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("category", &category)
            v.int("status", &status)
            v.string("summary", &summary)
        }

        /// An empty verdict.
        package init() {}
    }

    /// `program_error`: the runtime error the program reported on its output.
    package struct ProgramError: TraceObject {
        package var language = ""
        package var kind = ""
        package var message = ""
        package var location: String?
        package var importChain: [String] = []
        package var environmentVariable: String?

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("language", &language)
            v.string("kind", &kind)
            v.string("message", &message)
            v.string("location", &location, .nullWhenNil)
            v.strings("import_chain", &importChain)
            v.string("environment_variable", &environmentVariable, .nullWhenNil)
        }

        /// An empty record.
        package init() {}
    }

    /// `missing_libraries`: what the dynamic loader could not find.
    package struct MissingLibraries: TraceObject {
        package var program: String?
        package var libraries: [Library] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("program", &program, .nullWhenNil)
            v.objects("libraries", &libraries)
        }

        /// An empty record.
        package init() {}
    }

    /// A shared library that was not found, and the file that needs it.
    package struct Library: TraceObject {
        package var name = ""
        package var neededBy = ""

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.string("name", &name)
            v.string("needed_by", &neededBy)
        }

        /// An empty record.
        package init() {}
    }

    /// `port_in_use`: the port the program could not bind, and the processes holding it.
    package struct PortInUse: TraceObject {
        package var port = 0
        /// Where the port was named: `its error line`, `an earlier line of its output`, `its
        /// arguments`, `its environment variable PORT` (the variable's name; never its value).
        package var source: String?
        package var holders: [Process] = []

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("port", &port)
            v.string("source", &source)
            v.objects("holders", &holders)
        }

        /// An empty record.
        package init() {}
    }

    /// `otlp_export`: the run was sent as OpenTelemetry logs to a file and/or a Collector.
    package struct OTLPExport: TraceObject {
        package var records = 0
        package var file: String?
        package var fileError: String?
        package var endpoint: String?
        package var delivered: Bool?
        package var attempts: Int?
        package var endpointError: String?
        package var durationMilliseconds = 0.0

        package mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V) {
            v.int("records", &records)
            v.string("file", &file)
            v.string("file_error", &fileError)
            v.string("endpoint", &endpoint)
            v.bool("delivered", &delivered)
            v.int("attempts", &attempts)
            v.string("endpoint_error", &endpointError)
            v.number("duration_ms", &durationMilliseconds)
        }

        /// An empty record.
        package init() {}
    }
}
