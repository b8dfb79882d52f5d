import Foundation
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `show --json` answers without walking events (verdict, program, timings, signals, backtraces, exit),
/// and matches `docs/show.schema.json`: its field lists, and real output checked by a JSON Schema
/// validator (python3's `jsonschema`).
@Suite struct ShowJSONTests {
    static let root = "/" + String(#filePath).split(separator: "/").dropLast(4).joined(separator: "/")
    static let schemaPath = root + "/docs/show.schema.json"

    /// `probe-exec show --json PATH`, parsed.
    static func shown(_ path: String) throws -> JSONValue {
        let r = try run([Binaries.probeExec, "show", "--json", path])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONParser.parse(r.stdout)
    }

    /// Runs `argv` under probe-exec with its trace at a fresh path; the trace's `show --json`.
    static func traced(
        _ argv: [String],
        options: [String] = [],
        environment: [String: String] = [:]
    ) throws -> (status: Int32, json: JSONValue, text: String) {
        let trace = Binaries.freshDirectory("show-json") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-q", "-o", trace] + options + ["--"] + argv, environment: environment)
        let text = try run([Binaries.probeExec, "show", "--json", trace]).stdout
        return (r.status, try JSONParser.parse(text), text)
    }

    /// A shell that execs a program that crashes: every part of the summary.
    @Test func aCrashIsAnsweredWithoutWalkingEvents() throws {
        let r = try Self.traced(["/bin/sh", "-c", "echo up; exec \(Binaries.fixture) segv"])
        #expect(r.status == 139)
        let json = r.json
        #expect(json["complete"] == .bool(true))
        #expect(json["verdict"]?["category"] == "crash")
        #expect(json["verdict"]?["status"] == 139)
        #expect(json["verdict"]?["main_reached"] == .bool(true))
        let cause = try #require(json["verdict"]?["cause"]?.stringValue)
        #expect(cause.contains("was killed by SIGSEGV") && cause.hasSuffix("`main`."), "\(cause)")
        #expect(json["program"]?["argv"]?.arrayValue?.first == "/bin/sh")
        #expect(json["program"]?["path"]?.stringValue == Binaries.fixture, "after a shell's exec, the final image")
        #expect(json["program"]?["name"] == "fixture")
        #expect(json["program"]?["images"]?.arrayValue?.count == 2)
        #expect(json["program"]?["pid"]?.intValue == json["exit"]?["pid"]?.intValue)
        let timings = try #require(json["timings"])
        let exec = try #require(timings["exec_ms"]?.doubleValue)
        let entry = try #require(timings["entry_ms"]?.doubleValue)
        let main = try #require(timings["main_ms"]?.doubleValue)
        let exit = try #require(timings["exit_ms"]?.doubleValue)
        #expect(exec <= entry && entry <= main && main <= exit)
        #expect(timings["first_output_ms"]?["stdout"]?.doubleValue != nil)
        #expect(timings["first_output_ms"]?["stderr"] == .null)
        #expect(timings["duration_ms"]?.doubleValue != nil)
        let segv = try #require(json["signals"]?.arrayValue?.first { $0["name"] == "SIGSEGV" })
        #expect(segv["event"] == "target_signal" && segv["sender_kind"] == "kernel")
        #expect(segv["fault_address"] == "0x10")
        let crash = try #require(json["backtraces"]?.arrayValue?.first { $0["crashed"] == .bool(true) })
        #expect(crash["source"] == "ptrace" && crash["reason"] == "crash")
        #expect(crash["frames"]?.arrayValue?.first?["function"] == "main")
        #expect(json["exit"]?["signal"] == 11 && json["exit"]?["code"] == .null)
        #expect(json["exit"]?["signal_name"] == "SIGSEGV" && json["exit"]?["status"] == 139)
        #expect(json["exit"]?["core_dumped"]?.boolValue != nil)
        #expect(json["events"]?.arrayValue?.first?["event"] == "start", "the events are still there")
    }

    /// A SIGTERM that probe-exec received from this test and forwarded: its sender and where it went.
    @Test func aForwardedSignalNamesItsSenderAndTarget() throws {
        let trace = Binaries.freshDirectory("show-json-term") + "/t.ndjson"
        let child = try ChildProcess([Binaries.probeExec, "-q", "-o", trace, Binaries.fixture, "trapterm"])
        #expect(child.readLine() == "ready")
        child.signal(SIGTERM)
        _ = try child.finish()
        let json = try Self.shown(trace)
        let received = try #require(json["signals"]?.arrayValue?.first { $0["event"] == "signal" })
        #expect(received["name"] == "SIGTERM")
        #expect(received["sender_pid"]?.intValue == Int(getpid()))
        #expect(received["forwarded_to"]?.intValue == json["program"]?["pid"]?.intValue)
        #expect(received["sender_kind"] == .null)
        let delivered = try #require(json["signals"]?.arrayValue?.first { $0["event"] == "target_signal" })
        #expect(delivered["sender_kind"] == "probe-exec")
    }

    /// main_reached: unknown untraced, false when it never started or died before main().
    @Test func whetherMainWasReachedIsTrueFalseOrUnknown() throws {
        let untraced = try Self.traced([Binaries.fixture, "exit", "3"], options: ["--no-ptrace"])
        #expect(untraced.json["verdict"]?["main_reached"] == .null, "--no-ptrace: unknown")
        #expect(untraced.json["program"]?["images"] == .array([]))
        #expect(untraced.json["exit"]?["code"] == 3 && untraced.json["verdict"]?["status"] == 3)
        let failed = try Self.traced(["/nonexistent/program"])
        #expect(failed.status == 127)
        #expect(failed.json["verdict"]?["main_reached"] == .bool(false), "it never started")
        #expect(failed.json["exit"] == .null && failed.json["verdict"]?["status"] == 127)
        let early = try Self.traced([Binaries.tracee(["-DCRASH_IN_CONSTRUCTOR"]), "return", "0"])
        #expect(early.status == 139)
        #expect(early.json["verdict"]?["main_reached"] == .bool(false), "died in a constructor")
        #expect(early.json["timings"]?["main_ms"] == .null && early.json["timings"]?["entry_ms"] != .null)
    }

    /// The recorded runtime error is the cause; the traces of probe-exec 0.1 (format 1) read alike.
    @Test func theProgramErrorIsTheCause() throws {
        let json = try Self.shown(Self.root + "/Tests/Fixtures/traces-v1/program-error.ndjson")
        #expect(json["verdict"]?["cause"] == "IllegalStateException: pool exhausted")
        #expect(json["verdict"]?["main_reached"] == .bool(true))
        let exit = try #require(json["backtraces"]?.arrayValue?.first { $0["reason"] == "exit" })
        #expect(exit["main_returned"] == .bool(true) && exit["code"] == 1)
        let library = try Self.shown(Self.root + "/Tests/Fixtures/traces-v1/library-crash.ndjson")
        #expect(library["verdict"]?["main_reached"] == .bool(true), "the library's main_reached event")
        #expect(library["verdict"]?["cause"] == "crashed with SIGSEGV")
        let report = try #require(library["backtraces"]?.arrayValue?.first)
        #expect(report["source"] == "in_process" && report["signal_name"] == "SIGSEGV")
    }

    /// The first sentence ends at a full stop outside backticks, quotes and parentheses.
    @Test func theCauseIsTheVerdictsFirstSentence() {
        let first = ShowSummary.firstSentence
        #expect(
            first("`./a.b` exited with code 1 after 0.4 s. main() was reached.")
                == "`./a.b` exited with code 1 after 0.4 s."
        )
        #expect(first("It printed \"x. y\" (e.g. this). Then.") == "It printed \"x. y\" (e.g. this).")
        #expect(first("no full stop") == "no full stop")
    }

    /// The verdict's sentence `show --json` reads as "main() was not reached" is the one the diagnosis writes.
    @Test func theNotReachedSentenceIsTheDiagnosis() {
        var findings = TracingFindings()
        findings.state = "on"
        findings.execCount = 1
        findings.milestonesArmed = true
        findings.mainLocated = true
        findings.entryReachedMilliseconds = 1
        var report = RunReport(command: ["x"], cause: .exited(code: 1), durationMilliseconds: 1)
        report.tracing = findings
        #expect(Diagnose.startupStory(RunFacts(report)).first?.contains(ShowSummary.mainNotReached) == true)
        report.tracing.entryReachedMilliseconds = nil
        #expect(Diagnose.startupStory(RunFacts(report)).first?.contains(ShowSummary.mainNotReached) == true)
    }

    /// Each part's field list is what the schema says: every key required, its type, null where the
    /// field may be unknown; and the top level's keys are the schema's, in its order.
    @Test func theFieldListsAreTheSchemas() throws {
        let schema = try JSONParser.parse(try #require(readFile(Self.schemaPath)))
        /// Compares the field list of `T` with the schema object `schemaObject`.
        func check<T: TraceObject>(_ type: T.Type, _ schemaObject: JSONValue?, _ name: String) {
            guard let schemaObject, let properties = schemaObject["properties"] else {
                Issue.record("no schema for \(name)")
                return
            }
            let required = schemaObject["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(required == T.fields.map(\.name), "\(name): required keys in order")
            #expect(schemaObject["additionalProperties"] == .bool(false), "\(name)")
            for field in T.fields {
                let declared = properties[field.name]?["type"]
                let types = declared?.arrayValue?.compactMap(\.stringValue) ?? [declared?.stringValue].compactMap { $0 }
                if field.name == "event" || field.name == "source" || field.name == "reason" {
                    #expect(properties[field.name]?["enum"] != nil, "\(name).\(field.name)")
                    continue
                }
                var expected = [field.type.rawValue]
                if field.presence == .nullWhenNil { expected.append("null") }
                #expect(Set(types) == Set(expected), "\(name).\(field.name): \(types) vs \(expected)")
            }
        }
        let top = schema["properties"]
        check(ShowSummary.Verdict.self, top?["verdict"], "verdict")
        check(ShowSummary.Program.self, top?["program"], "program")
        check(ShowSummary.Timings.self, top?["timings"], "timings")
        check(ShowSummary.FirstOutput.self, top?["timings"]?["properties"]?["first_output_ms"], "first_output_ms")
        check(ShowSummary.Signal.self, schema["$defs"]?["signal"], "signal")
        check(ShowSummary.Backtrace.self, schema["$defs"]?["backtrace"], "backtrace")
        check(ShowSummary.Exit.self, schema["$defs"]?["exit"], "exit")
        let frame = try #require(schema["$defs"]?["frame"]?["properties"])
        guard case .object(let framePairs) = frame else { throw TestFailure("frame") }
        #expect(framePairs.map(\.0) == TraceEvent.Frame.fields.map(\.name))
        let document = ShowSummary(TraceReader.parse(Array(ShowTests.good.utf8), path: "t")).json
        guard case .object(let pairs) = document else { throw TestFailure("not an object") }
        #expect(pairs.map(\.0) == schema["required"]?.arrayValue?.compactMap(\.stringValue))
    }

    /// Real output against the schema, by a JSON Schema validator: runs of each kind, and every trace of
    /// probe-exec 0.1 in Tests/Fixtures/traces-v1.
    @Test func realOutputIsValidAgainstTheSchema() throws {
        let ensure = try run([Self.root + "/scripts/ensure-python-module.sh", "jsonschema", "jsonschema"])
        try #require(ensure.status == 0, "python3 jsonschema: \(ensure.stderr)")
        let dir = Binaries.freshDirectory("show-schema")
        var outputs: [String] = []
        for (argv, options) in [
            (["/bin/sh", "-c", "echo up; exec \(Binaries.fixture) segv"], []),
            ([Binaries.fixture, "exit", "3"], ["--no-ptrace"]), (["/nonexistent/program"], []),
            ([Binaries.fixture, "abort"], []), (["/bin/sh", "-c", "echo out; echo err >&2; exit 0"], []),
        ] {
            outputs.append(try Self.traced(argv, options: options).text)
        }
        let fixtures = Self.root + "/Tests/Fixtures/traces-v1"
        for name in try listDirectory(fixtures) + (try listDirectory(fixtures + "/history")).map({ "history/" + $0 })
        where name.hasSuffix(".ndjson") {
            outputs.append(try run([Binaries.probeExec, "show", "--json", fixtures + "/" + name]).stdout)
        }
        for (index, output) in outputs.enumerated() { try writeFile("\(dir)/\(index).json", output, mode: 0o644) }
        let validate = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
            bad = 0
            for path in sys.argv[2:]:
                for error in validator.iter_errors(json.load(open(path))):
                    bad += 1
                    print(path, list(error.absolute_path), error.message)
            sys.exit(1 if bad else 0)
            """
        let files = outputs.indices.map { "\(dir)/\($0).json" }
        let r = try run(["/usr/bin/env", "python3", "-c", validate, Self.schemaPath] + files)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(outputs.count >= 20)
    }
}
