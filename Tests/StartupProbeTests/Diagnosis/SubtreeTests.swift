import ProbeTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// probe-exec watches the program's subtree by default (a child subreaper when not PID 1): what
/// the program left running is named in every verdict; a clean exit that left nothing and never
/// listened says so; `--no-subreaper` opts out, and the verdict then says what is not known.
@Suite(.serialized) struct SubtreeTests {
    func traced(_ arguments: [String]) throws -> (status: Int32, stderr: String, summary: String, events: [TraceRecord])
    {
        let trace = Binaries.freshDirectory("subtree") + "/t.ndjson"
        let r = try run([Binaries.probeExec, "-o", trace] + arguments)
        let events = try TraceReader.read(path: trace).events
        let summary = events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? ""
        return (r.status, r.stderr, summary, events)
    }

    /// The pids a run left running (they are killed here: a test leaves nothing behind).
    func killLeftRunning(_ events: [TraceRecord]) -> [Int32] {
        let exit = events.first { $0.kind == "exit" }
        let pids = (exit?["left_running"]?.arrayValue ?? []).compactMap { $0["pid"]?.intValue }.map { Int32($0) }
        for pid in pids { kill(pid, SIGKILL) }
        return pids
    }

    @Test func whatTheProgramLeftRunningIsNamedWithoutService() throws {
        // nginx-like: the program forks a daemon and exits 0.
        let r = try traced(["--", "/bin/sh", "-c", "(exec sleep 5 &); sleep 0.2; exit 0"])
        let left = killLeftRunning(r.events)
        #expect(r.status == 0)
        #expect(left.count == 1)
        #expect(r.events.first { $0.kind == "start" }?["options"]?["subreaper"]?.boolValue == true, "on by default")
        #expect(r.summary.contains("When it exited it left pid \(left.first ?? 0) (`sleep`) running"), "\(r.summary)")
        #expect(r.stderr.isEmpty, "a clean exit without --service prints nothing: \(r.stderr)")
    }

    @Test func aCrashThatLeftProcessesRunningNamesThemToo() throws {
        let r = try traced(["--", "/bin/sh", "-c", "(exec sleep 5 &); sleep 0.2; kill -SEGV $$"])
        let left = killLeftRunning(r.events)
        #expect(r.status == 139)
        #expect(r.summary.contains("When it exited it left pid \(left.first ?? 0) (`sleep`) running"), "\(r.summary)")
    }

    @Test func aCleanExitThatStartedNothingAndNeverListenedSaysSo() throws {
        // The placeholder incident: `true` (or a shell running only builtins) "succeeds".
        for program in [["/bin/true"], ["/bin/sh", "-c", "echo ok; exit 0"]] {
            let r = try traced(["--"] + program)
            #expect(r.status == 0)
            #expect(r.summary.contains("It started no processes and never listened on a port."), "\(r.summary)")
            #expect(r.events.first { $0.kind == "exit" }?["processes_started"]?.intValue == 0)
        }
    }

    @Test(arguments: [
        ["/bin/sh", "-c", "/bin/true; exit 0"],  // fork + exec
        ["/usr/bin/env", "python3", "-c", "import subprocess; subprocess.run(['/bin/true'])"],  // vfork (posix_spawn)
    ])
    func aCleanExitThatStartedProcessesDoesNotSayItStartedNone(_ program: [String]) throws {
        let r = try traced(["--"] + program)
        #expect(r.status == 0)
        #expect((r.events.first { $0.kind == "exit" }?["processes_started"]?.intValue ?? 0) >= 1)
        #expect(!r.summary.contains("started no processes"), "\(r.summary)")
        #expect(r.summary.contains("It left no process running and never listened on a port."), "\(r.summary)")
    }

    @Test func untracedTheProcessesItStartedAreNotKnown() throws {
        let r = try traced(["--no-ptrace", "--", "/bin/true"])
        #expect(r.events.first { $0.kind == "exit" }?["processes_started"] == nil)
        #expect(!r.summary.contains("started no processes"), "\(r.summary)")
        #expect(r.summary.contains("It left no process running and never listened on a port."), "\(r.summary)")
    }

    @Test func withoutSubreaperWhatWasLeftIsNotKnown() throws {
        let r = try traced(["--no-subreaper", "--", "/bin/sh", "-c", "(exec sleep 5 &); sleep 0.2; exit 0"])
        #expect(r.status == 0)
        #expect(r.events.first { $0.kind == "start" }?["options"]?["subreaper"]?.boolValue == false)
        #expect(r.summary.contains("Whether it left processes running is not known"), "\(r.summary)")
        #expect(!r.summary.contains("left no process running"))
        _ = try run(["/usr/bin/env", "pkill", "-KILL", "-f", "^sleep 5$"])
    }

    @Test func orphansAreReparentedToProbeExecAndReaped() throws {
        // A grandchild that outlives its parent but not the program: reaped by probe-exec.
        let r = try traced(["--", "/bin/sh", "-c", "(exec sleep 0.1 &); sleep 0.5"])
        #expect(r.status == 0)
        #expect(r.events.first { $0.kind == "exit" }?["orphans_reaped"]?.intValue == 1)
    }

    @Test func aServiceThatDaemonizesPrintsItsParagraphThoughItsStatusIs0() throws {
        let r = try traced(["--service", "--", "/bin/sh", "-c", "(exec sleep 5 &); sleep 0.2; exit 0"])
        _ = killLeftRunning(r.events)
        #expect(r.status == 0, "the status stays the program's")
        #expect(r.stderr.contains("It daemonized: it left pid"), "\(r.stderr)")
    }
}
