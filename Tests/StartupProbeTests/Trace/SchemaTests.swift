import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

/// Real traces match docs/trace.schema.json: every event kind is declared and carries the fields
/// the schema requires of it.
@Suite struct SchemaTests {
    static let schemaPath =
        String(#filePath).split(separator: "/").dropLast(4).map(String.init).joined(separator: "/")
        + "/docs/trace.schema.json"

    @Test func realTracesCarryEveryRequiredField() throws {
        let schema = try JSONParser.parse(try #require(readFile("/" + Self.schemaPath)))
        let kinds = try #require(schema["properties"]?["event"]?["enum"]?.arrayValue).compactMap(\.stringValue)
        let dir = Binaries.freshDirectory("schema")
        let child = try ChildProcess(
            [Binaries.probeExec, "--", Binaries.fixture, "trapterm"],
            environment: ["PROBE_EXEC_TRACE_DIR": dir]
        )
        #expect(child.readLine() == "ready")
        child.signal(15)
        _ = try child.wait()
        _ = try run([Binaries.probeExec, "--", "/nonexistent"], environment: ["PROBE_EXEC_TRACE_DIR": dir])
        var seen: Set<String> = []
        for name in try listDirectory(dir) where name.hasSuffix(".ndjson") {
            for event in try TraceReader.read(path: dir + "/" + name).events {
                seen.insert(event.kind)
                #expect(kinds.contains(event.kind), "undeclared event kind \(event.kind)")
                let required = schema["$defs"]?[event.kind]?["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
                for field in required {
                    #expect(event[field] != nil, "\(event.kind) lacks \(field)")
                }
            }
        }
        #expect(seen.isSuperset(of: ["start", "exec", "signal", "output", "exit", "tail", "verdict"]))
    }
}

/// The names in a directory, hidden ones included (without `.` and `..`).
func listDirectory(_ path: String) throws -> [String] {
    let r = try run(["/bin/ls", "-1A", path])
    return r.stdout.split(separator: "\n").map(String.init)
}
