import Foundation
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

/// A terminal on stdout/stderr is passed through to the child (it sees a terminal, as without
/// probe-exec); --pipe-tty gives it pipes instead.
@Suite(.serialized) struct TerminalTests {
    static var hasScript: Bool { access("/usr/bin/script", X_OK) == 0 }
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-tty"]

    @Test(.enabled(if: hasScript, "needs script(1) from util-linux for a pseudo-terminal"))
    func terminalIsPassedThrough() throws {
        // script runs the command on a new pseudo-terminal: stdin, stdout and stderr are the tty.
        let probe = "\(Binaries.probeExec) -- /bin/sh -c 'test -t 1 && echo out-is-tty; test -t 2 && echo err-is-tty'"
        let result = try run(["/usr/bin/script", "-qec", probe, "/dev/null"], environment: env)
        #expect(result.status == 0)
        #expect(result.stdout.contains("out-is-tty"))
        #expect(result.stdout.contains("err-is-tty"))
        let piped = try run(["/usr/bin/script", "-qec", probe.replacingDashDash(), "/dev/null"], environment: env)
        #expect(!piped.stdout.contains("out-is-tty"))
    }

    @Test(.enabled(if: hasScript, "needs script(1) from util-linux for a pseudo-terminal"))
    func childBecomesTheForegroundProcessGroup() throws {
        // The child's process group owns the terminal, so Ctrl-C and Ctrl-Z reach it directly.
        let probe =
            "\(Binaries.probeExec) -- /bin/sh -c 'test \"$(ps -o tpgid= -p $$ | tr -d \" \")\" = \"$(ps -o pgid= -p $$ | tr -d \" \")\" && echo foreground'"
        let result = try run(["/usr/bin/script", "-qec", probe, "/dev/null"], environment: env)
        #expect(result.stdout.contains("foreground"), "\(result.stdout)")
    }
}

extension String {
    fileprivate func replacingDashDash() -> String {
        guard let r = range(of: " -- ") else { return self }
        return replacingCharacters(in: r, with: " --pipe-tty -- ")
    }
}
