import CStartupProbe
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

/// Ports: listening recorded as it happens, a held port's holder named, readiness checks.
@Suite(.serialized) struct PortTests {
    static func freePort() -> Int { unusedPort() }

    @Test func listeningIsRecorded() throws {
        let port = Self.freePort()
        let trace = Binaries.freshDirectory("listen") + "/t.ndjson"
        let server = try ChildProcess([
            Binaries.probeExec, "-q", "-o", trace, "--", Binaries.tracee(), "serve", String(port),
        ])
        #expect(server.readLine() == "listening")
        usleep(100_000)
        server.signal(SIGTERM)
        _ = try server.wait()
        let events = try TraceReader.read(path: trace).events
        let listen = try #require(events.first { $0.kind == "listen" })
        #expect(listen["port"]?.intValue == port)
        #expect(listen["address"]?.stringValue == "127.0.0.1")
        #expect(
            events.last { $0.kind == "verdict" }?["summary"]?.stringValue?.contains(
                "It was listening on 127.0.0.1:\(port)"
            ) == true
        )
    }

    @Test func secondServerOnTheSamePortNamesTheHolder() throws {
        let port = Self.freePort()
        let first = try ChildProcess([Binaries.tracee(), "serve", String(port)])
        #expect(first.readLine() == "listening")
        let trace = Binaries.freshDirectory("held") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace, "--", Binaries.tracee(), "serve", String(port)])
        #expect(r.status == 1)
        let name = String(Binaries.tracee().split(separator: "/").last!.prefix(15))
        let year = Timestamp.iso8601(realtimeNanoseconds: spr_realtime_ns()).prefix(4)
        #expect(
            r.stderr.contains(
                "Port \(port) (named by its arguments) was already in use: held by pid \(first.pid) (`\(name)`), running since \(year)-"
            ),
            "\(r.stderr)"
        )
        let holder = try #require(
            try TraceReader.read(path: trace).events.first { $0.kind == "port_in_use" }?["holders"]?.arrayValue?.first
        )
        #expect(holder["started"]?.stringValue?.hasSuffix("Z") == true)
        first.signal(SIGKILL)
        _ = try first.wait()
    }

    @Test func checkSaysReadyAndStopsTheServer() throws {
        let port = Self.freePort()
        let r = try run([
            Binaries.probeExec, "check", "--ready-port", String(port), "--timeout", "10", "--", Binaries.tracee(),
            "serve", String(port), "200",
        ])
        #expect(r.status == 0)
        #expect(r.stderr.contains("ready: "))
        #expect(r.stderr.contains("listened on port \(port) after"))
    }

    /// check reads the run options it shares from the environment, as the run form does.
    @Test func checkTakesItsOptionsFromTheEnvironment() throws {
        let port = Self.freePort()
        let trace = Binaries.freshDirectory("check-env") + "/t.ndjson"
        let r = try run(
            [
                Binaries.probeExec, "check", "--ready-port", String(port), "--timeout", "10", "--", Binaries.tracee(),
                "serve", String(port), "200",
            ],
            environment: ["PROBE_EXEC_NO_PTRACE": "1", "PROBE_EXEC_QUIET": "1", "PROBE_EXEC_TRACE_FILE": trace]
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("ready: "), "quiet: \(r.stderr)")
        let text = try #require(readFile(trace))
        #expect(text.contains("\"state\":\"off\""), "not traced: \(text)")
        let bad = try run(
            [Binaries.probeExec, "check", "--ready-port", String(port), "--", "/bin/true"],
            environment: ["PROBE_EXEC_NO_PTRACE": "banana"]
        )
        #expect(bad.status == 64 && bad.stderr.contains("PROBE_EXEC_NO_PTRACE=banana"), "\(bad.stderr)")
    }

    /// The incidents of issue 15: python names no port in its error (the port is in PORT); redis
    /// logs the failure on stdout. Both name the port, where it was named, and the holder.
    @Test func portNamedOnlyByTheEnvironmentOrOnStdoutIsFound() throws {
        let port = Self.freePort()
        let first = try ChildProcess([Binaries.tracee(), "serve", String(port)])
        #expect(first.readLine() == "listening")
        defer {
            first.signal(SIGKILL)
            _ = try? first.wait()
        }
        let trace = Binaries.freshDirectory("port-env") + "/t.ndjson"
        let python = try run(
            [
                Binaries.probeExec, "-o", trace, "--", "python3", "-c",
                "import os, socket\nsocket.socket().bind(('127.0.0.1', int(os.environ['PORT'])))",
            ],
            environment: ["PORT": String(port)]
        )
        #expect(python.status == 1)
        #expect(python.stderr.contains("OSError: [Errno 98] Address already in use"))
        #expect(
            python.stderr.contains(
                "Port \(port) (named by its environment variable PORT) was already in use: held by pid \(first.pid)"
            ),
            "\(python.stderr)"
        )
        let event = try #require(try TraceReader.read(path: trace).events.first { $0.kind == "port_in_use" })
        #expect(event["source"]?.stringValue == "its environment variable PORT")
        let redis = try run([
            Binaries.probeExec, "--", "/bin/sh", "-c",
            "echo '# Could not create server TCP listening socket *:\(port): bind: Address already in use'; exit 1",
        ])
        #expect(redis.status == 1)
        #expect(redis.stderr.contains("Port \(port) was already in use: held by pid \(first.pid)"), "\(redis.stderr)")
    }

    @Test func checkAgainstACrashingServerGivesTheDiagnosis() throws {
        let r = try run([
            Binaries.probeExec, "check", "--ready-port", String(Self.freePort()), "--", Binaries.tracee(), "segv3",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("NOT ready: "))
        #expect(r.stderr.contains("was killed by SIGSEGV"))
        #expect(r.stderr.contains("`level3` ← `level2` ← `level1` ← `main`"))
    }

    @Test func checkByOutputLine() throws {
        let port = Self.freePort()
        let r = try run([
            Binaries.probeExec, "check", "--ready-line", "^listen(ing)?$", "--", Binaries.tracee(), "serve",
            String(port), "100",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("printed a line matching ^listen(ing)?$"))
        let never = try run([
            Binaries.probeExec, "check", "--ready-line", "^accepting", "--timeout", "1", "--", Binaries.tracee(),
            "serve", String(port + 1),
        ])
        #expect(never.status == 1)
        #expect(never.stderr.contains("did not print a line matching ^accepting within 1.0 s"))
        let invalid = try run([Binaries.probeExec, "check", "--ready-line", "(", "--", "/bin/true"])
        #expect(invalid.status != 0 && invalid.stderr.contains("not a valid regular expression"))
    }

    @Test func checkTimesOut() throws {
        let port = Self.freePort()
        let r = try run([
            Binaries.probeExec, "check", "--ready-port", String(port), "--timeout", "1", "--", Binaries.tracee(),
            "wait",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("did not listen on port \(port) within 1.0 s"))
    }

    @Test(.enabled(if: has("python3"), "needs python3"))
    func checkAgainstPythonHTTPServer() throws {
        let port = Self.freePort()
        let r = try run([
            Binaries.probeExec, "check", "--ready-port", String(port), "--", "python3", "-m", "http.server",
            String(port), "--bind", "127.0.0.1",
        ])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func portParsing() {
        #expect(Sockets.lastPort(in: "Error: listen EADDRINUSE: address already in use :::3000") == 3000)
        #expect(Sockets.lastPort(in: "listen tcp :8080: bind: address already in use") == 8080)
        #expect(
            Sockets.lastPort(
                in: "[Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address already in use"
            ) == 8000
        )
        let failing = "bind: Address already in use"
        let argument = Sockets.portInUse(
            outputs: [failing],
            command: ["srv", "--port", "9000", "--host", "127.0.0.1"],
            listening: [9000]
        )
        #expect(argument?.port == 9000 && argument?.source == "its arguments")
        #expect(Sockets.portInUse(outputs: [failing], command: ["srv", "127.0.0.1"], listening: [1]) == nil)
        #expect(Sockets.portInUse(outputs: ["all fine"], command: ["srv", "9000"], listening: [9000]) == nil)
        // redis logs on stdout: the failing line is looked for in both streams.
        let redis = Sockets.portInUse(
            outputs: ["", "# Could not create server TCP listening socket *:6379: bind: Address already in use\n"],
            command: ["redis-server"],
            listening: []
        )
        #expect(redis?.port == 6379 && redis?.source == "its error line")
        // python names no port in its error: an earlier line did, confirmed by a listener.
        let python = Sockets.portInUse(
            outputs: ["Starting server on port 8000\nTraceback …\nOSError: [Errno 98] Address already in use\n"],
            command: ["python3", "app.py"],
            listening: [8000]
        )
        #expect(python?.port == 8000 && python?.source == "an earlier line of its output")
        // Only in the environment: the variable's name is the source (its value is the port).
        let environment = Sockets.portInUse(
            outputs: ["OSError: [Errno 98] Address already in use"],
            command: ["python3", "app.py"],
            environment: [("HOME", "/root"), ("PORT", "8123"), ("DB_PORT", "not-a-number")],
            listening: [8123]
        )
        #expect(environment?.port == 8123 && environment?.source == "its environment variable PORT")
        let unconfirmed = Sockets.portInUse(
            outputs: ["OSError: [Errno 98] Address already in use"],
            command: ["python3"],
            environment: [("PORT", "8123")],
            listening: [9999]
        )
        #expect(unconfirmed == nil, "a port nobody listens on is not the one in use")
        #expect(Sockets.address("0100007F", v6: false) == "127.0.0.1")
        #expect(Sockets.address("00000000000000000000000000000000", v6: true) == "::")
    }
}
