import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--otlp-file` and `--otlp-endpoint`: the run as OpenTelemetry logs, checked with the
/// OpenTelemetry proto definitions (Tests/Fixtures/otlp_receiver.py), against a local receiver.
@Suite(.serialized) struct OTLPTests {
    static let receiver =
        Binaries.testsDirectory + "/Fixtures/otlp_receiver.py"

    /// A receiver serving on a free port: (port, process, directory with its requests).
    static func startReceiver(_ mode: [String] = ["ok"]) throws -> (port: Int, process: ChildProcess, dir: String) {
        let dir = Binaries.freshDirectory("otlp-receiver")
        let process = try ChildProcess(["/usr/bin/env", "python3", receiver, "serve", dir] + mode)
        let port = try #require(process.readLine(timeout: 30).flatMap { Int($0) }, "the receiver did not start")
        return (port, process, dir)
    }

    static func requests(in dir: String) throws -> [String] {
        try listDirectory(dir).filter { $0.hasSuffix(".txt") }.sorted().map { try #require(readFile(dir + "/" + $0)) }
    }

    /// The value of a resource or record attribute in an OTLP/JSON document.
    static func attribute(_ key: String, in list: JSONValue?) -> JSONValue? {
        list?.arrayValue?.first { $0["key"]?.stringValue == key }?["value"]
    }

    @Test func fileHoldsOneValidRequestPerRun() throws {
        let dir = Binaries.freshDirectory("otlp-file")
        let file = dir + "/runs.otlp.jsonl"
        for code in ["3", "0"] {
            _ = try run(
                [
                    Binaries.probeExec, "-q", "-o", dir + "/t\(code).ndjson", "--otlp-file", file, "--",
                    Binaries.fixture, "exit", code,
                ],
                environment: ["OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod%2Ceu,team=core"],
                removing: ["OTEL_SERVICE_NAME"]
            )
        }
        let check = try run(["/usr/bin/env", "python3", Self.receiver, "validate", file])
        #expect(check.stdout == "valid 2\n", "\(check.stdout)\(check.stderr)")
        let lines = try #require(readFile(file)).split(separator: "\n")
        let first = try JSONParser.parse(String(lines[0]))
        let resource = first["resourceLogs"]?.arrayValue?.first?["resource"]?["attributes"]
        #expect(Self.attribute("service.name", in: resource)?["stringValue"]?.stringValue == "fixture")
        #expect(Self.attribute("deployment.environment.name", in: resource)?["stringValue"]?.stringValue == "prod,eu")
        let exec = try #require(try TraceReader.read(path: dir + "/t3.ndjson").events.first { $0.kind == "exec" })
        #expect(
            Self.attribute("process.pid", in: resource)?["intValue"]?.stringValue
                == exec["pid"]?.intValue.map(String.init)
        )
        let records =
            first["resourceLogs"]?.arrayValue?.first?["scopeLogs"]?.arrayValue?.first?["logRecords"]?.arrayValue ?? []
        let verdict = try #require(
            records.first {
                Self.attribute("event.name", in: $0["attributes"])?["stringValue"]?.stringValue == "probe_exec.verdict"
            }
        )
        #expect(verdict["severityNumber"]?.intValue == 17)
        #expect(verdict["body"]?["stringValue"]?.stringValue?.contains("exited with code 3") == true)
        #expect((verdict["timeUnixNano"]?.stringValue?.count ?? 0) == 19, "nanoseconds since 1970, as a string")
    }

    @Test func endpointReceivesExactlyOneBatch() throws {
        let receiver = try Self.startReceiver()
        let dir = Binaries.freshDirectory("otlp-endpoint")
        let r = try run(
            [
                // A host name, resolved in the export thread (where localhost is ::1 first, the
                // receiver on 127.0.0.1 is reached by the next address).
                Binaries.probeExec, "-o", dir + "/t.ndjson", "--otlp-endpoint", "http://localhost:\(receiver.port)",
                "--service-name", "api", "--", Binaries.fixture, "exit", "0",
            ]
        )
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        #expect(try Self.requests(in: receiver.dir) == ["POST /v1/logs application/json valid\n"])
        let body = try JSONParser.parse(try #require(readFile(receiver.dir + "/request-1.json")))
        let resource = body["resourceLogs"]?.arrayValue?.first?["resource"]?["attributes"]
        #expect(Self.attribute("service.name", in: resource)?["stringValue"]?.stringValue == "api")
        let export = try #require(
            try TraceReader.read(path: dir + "/t.ndjson").events.first { $0.kind == "otlp_export" }
        )
        #expect(export["delivered"]?.boolValue == true)
        #expect(export["attempts"]?.intValue == 1)
    }

    /// 503 is retried (bounded), and only the accepted batch counts.
    @Test func busyCollectorIsRetried() throws {
        let receiver = try Self.startReceiver(["busy", "1"])
        let dir = Binaries.freshDirectory("otlp-busy")
        let r = try run(
            [
                Binaries.probeExec, "-q", "-o", dir + "/t.ndjson", "--otlp-endpoint",
                "http://127.0.0.1:\(receiver.port)/custom/path", "--", Binaries.fixture, "exit", "5",
            ]
        )
        #expect(r.status == 5)
        #expect(
            try Self.requests(in: receiver.dir) == [
                "POST /custom/path application/json refused\n", "POST /custom/path application/json valid\n",
            ]
        )
        let export = try #require(
            try TraceReader.read(path: dir + "/t.ndjson").events.first { $0.kind == "otlp_export" }
        )
        #expect(export["attempts"]?.intValue == 2)
    }

    /// Nothing listening, or a Collector that never answers: same exit status, exit within the
    /// timeout (1 s here; the bound checked is generous, it guards against waiting unbounded).
    @Test(arguments: ["refused", "blackhole"]) func deadEndpointChangesNothing(kind: String) throws {
        var port = 0
        var blackhole: (port: Int, process: ChildProcess, dir: String)? = nil
        if kind == "blackhole" {
            blackhole = try Self.startReceiver(["blackhole"])
            port = blackhole!.port
        } else {
            port = unusedPort()
        }
        let dir = Binaries.freshDirectory("otlp-dead")
        let started = now()
        let r = try run(
            [
                Binaries.probeExec, "-q", "-o", dir + "/t.ndjson", "--otlp-endpoint", "http://127.0.0.1:\(port)",
                "--otlp-timeout", "1", "--", Binaries.fixture, "exit", "7",
            ]
        )
        let elapsed = now() - started
        #expect(r.status == 7)
        #expect(r.stderr.contains("could not export the run to http://127.0.0.1:\(port)"), "\(r.stderr)")
        #expect(r.stderr.contains("the exit status is unchanged"))
        #expect(elapsed < 2.5, "exit waited \(elapsed) s for a dead Collector (timeout 1 s)")
        let export = try #require(
            try TraceReader.read(path: dir + "/t.ndjson").events.first { $0.kind == "otlp_export" }
        )
        #expect(export["delivered"]?.boolValue == false)
        #expect((export["duration_ms"]?.doubleValue ?? 0) <= 1100)
        _ = blackhole
    }

    @Test func badEndpointIsRefusedBeforeTheProgramRuns() throws {
        let r = try run([
            Binaries.probeExec, "--otlp-endpoint", "https://collector:4318", "--", Binaries.fixture, "exit", "0",
        ])
        #expect(r.status == 64)
        #expect(r.stderr.contains("https is not supported"))
    }
}
