import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

/// `probe-exec --help` is the manual: its examples must work as written, and the completion
/// scripts ArgumentParser generates must be valid shell.
@Suite struct HelpTests {
    /// Every `probe-exec … -- PROGRAM` example in the help runs, with the program replaced by /bin/true.
    @Test func everyRunExampleInTheHelpIsAccepted() throws {
        var examples: [[String]] = []
        for page in [["--help"], ["help", "run"]] {
            let help = try run([Binaries.probeExec] + page).stdout
            #expect(help.contains("EXAMPLES:"))
            for line in help.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard words.first == "probe-exec", let dashes = words.firstIndex(of: "--") else { continue }
                examples.append(Array(words[1..<dashes]))
            }
        }
        #expect(examples.count >= 10)
        let dir = Binaries.freshDirectory("help-examples")
        for options in examples {
            let r = try run(
                [Binaries.probeExec] + options + ["--", "/bin/true"],
                environment: ["PROBE_EXEC_TRACE_DIR": dir],
                timeout: 30
            )
            let shown = "probe-exec \(options.joined(separator: " ")) -- /bin/true: \(r.stderr)"
            if options.first == "check" {
                #expect(r.status == 1 && r.stderr.contains("NOT ready"), "accepted, and true never listens: \(shown)")
            } else {
                #expect(r.status == 0, "\(shown)")
            }
        }
    }

    @Test(arguments: ["bash", "zsh", "fish"]) func completionScriptIsValidShell(shell: String) throws {
        let script = try run([Binaries.probeExec, "--generate-completion-script", shell])
        #expect(script.status == 0)
        #expect(script.stdout.contains("--otlp-endpoint"), "the run options are completed")
        if shell == "bash" {
            let path = Binaries.freshDirectory("completion") + "/probe-exec.bash"
            try writeFile(path, script.stdout, mode: 0o644)
            #expect(try run(["/bin/bash", "-n", path]).status == 0)
        }
    }
}
