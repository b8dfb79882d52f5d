// The payloads written after the program has gone: what the post-mortem collectors found, the
// verdict, and the export.

extension TraceEvent {
    /// `verdict`: the category tools switch on, the status, the paragraph.
    package struct Verdict: TraceObject {
        package var category = ""
        package var status: Int32 = 0
        package var summary = ""

        package static let fields: [TraceField<Verdict>] = [
            .string("category", \.category), .int("status", \.status), .string("summary", \.summary),
        ]

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

        package static let fields: [TraceField<ProgramError>] = [
            .string("language", \.language), .string("kind", \.kind), .string("message", \.message),
            .string("location", \.location, .nullWhenNil), .strings("import_chain", \.importChain),
            .string("environment_variable", \.environmentVariable, .nullWhenNil),
        ]

        /// An empty record.
        package init() {}
    }

    /// `missing_libraries`: what the dynamic loader could not find.
    package struct MissingLibraries: TraceObject {
        package var program: String?
        package var libraries: [Library] = []

        package static let fields: [TraceField<MissingLibraries>] = [
            .string("program", \.program, .nullWhenNil), .objects("libraries", \.libraries),
        ]

        /// An empty record.
        package init() {}
    }

    /// A shared library that was not found, and the file that needs it.
    package struct Library: TraceObject {
        package var name = ""
        package var neededBy = ""

        package static let fields: [TraceField<Library>] = [
            .string("name", \.name), .string("needed_by", \.neededBy),
        ]

        /// An empty record.
        package init() {}
    }

    /// `port_in_use`: the port the program could not bind, and the processes holding it.
    package struct PortInUse: TraceObject {
        package var port = 0
        package var holders: [Process] = []

        package static let fields: [TraceField<PortInUse>] = [.int("port", \.port), .objects("holders", \.holders)]

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

        package static let fields: [TraceField<OTLPExport>] = [
            .int("records", \.records), .string("file", \.file), .string("file_error", \.fileError),
            .string("endpoint", \.endpoint), .bool("delivered", \.delivered), .int("attempts", \.attempts),
            .string("endpoint_error", \.endpointError), .number("duration_ms", \.durationMilliseconds),
        ]

        /// An empty record.
        package init() {}
    }
}
