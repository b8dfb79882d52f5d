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

/// --service flags exits nobody asked for; --unbuffered makes output arrive before a crash.
@Suite(.serialized) struct ServiceTests {
    func runTraced(_ arguments: [String]) throws -> (status: Int32, stdout: String, events: [TraceRecord]) {
        let trace = Binaries.freshDirectory("service") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace] + arguments)
        return (r.status, r.stdout, try TraceReader.read(path: trace).events)
    }

    @Test func placeholderCommandIsNamed() throws {
        let r = try runTraced(["--service", "--", "/bin/true"])
        #expect(r.status == 0)
        let v = try #require(r.events.last { $0.kind == "verdict" })
        #expect(v["category"]?.stringValue == "service_exited")
        #expect(v["summary"]?.stringValue?.contains("is this a placeholder command") == true)
    }

    @Test func echoUnderServiceIsAPlaceholder() throws {
        let r = try runTraced(["--service", "--", "/bin/echo", "ok"])
        #expect(r.stdout == "ok\n")
        let summary = r.events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? ""
        #expect(
            summary.contains("never listened on a port and left nothing running: is this a placeholder command"),
            "\(summary)"
        )
    }

    @Test func daemonizingIsNamed() throws {
        let r = try runTraced(["--service", "--", "/bin/sh", "-c", "(exec sleep 3 &) ; echo forked; exit 0"])
        #expect(r.status == 0)
        let summary = r.events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? ""
        #expect(summary.contains("It daemonized: it left pid"), "\(summary)")
        #expect(summary.contains("(`sleep`)"))
        let exit = try #require(r.events.first { $0.kind == "exit" })
        let pid = try #require(exit["left_running"]?.arrayValue?.first?["pid"]?.intValue)
        kill(Int32(pid), SIGKILL)
    }

    @Test func serviceStoppedBySignalIsNotFlagged() throws {
        let child = try ChildProcess([Binaries.probeExec, "--service", "-q", "--", Binaries.fixture, "trapterm"])
        #expect(child.readLine() == "ready")
        child.signal(SIGTERM)
        #expect(try child.wait() == 42)
    }

    @Test func unbufferedMakesOutputArriveBeforeACrash() throws {
        let dir = Binaries.freshDirectory("unbuffered")
        try writeFile(
            dir + "/c.c",
            "#include <stdio.h>\n#include <stdlib.h>\nint main(void) { printf(\"ready\\n\"); abort(); }\n",
            mode: 0o644
        )
        #expect(try run(["/usr/bin/env", "cc", "-o", dir + "/c", dir + "/c.c"]).status == 0)
        let buffered = try run([Binaries.probeExec, "-q", "--", dir + "/c"])
        #expect(buffered.stdout == "")  // fully buffered into a pipe: lost (the trace recovers it)
        if access("/usr/libexec/coreutils/libstdbuf.so", R_OK) == 0 {
            let unbuffered = try run([Binaries.probeExec, "-q", "--unbuffered", "--", dir + "/c"])
            #expect(unbuffered.stdout == "ready\n")
        }
        if has("python3") {
            let script = ["python3", "-c", "print('ready'); import os; os._exit(3)"]
            #expect(try run([Binaries.probeExec, "-q", "--"] + script, removing: ["PYTHONUNBUFFERED"]).stdout == "")
            #expect(
                try run([Binaries.probeExec, "-q", "--unbuffered", "--"] + script, removing: ["PYTHONUNBUFFERED"])
                    .stdout == "ready\n"
            )
        }
    }
}
