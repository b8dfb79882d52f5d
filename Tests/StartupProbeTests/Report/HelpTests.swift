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

/// `probe-exec --help` is the manual: its examples must work as written, and the completion
/// scripts ArgumentParser generates must be valid shell.
@Suite struct HelpTests {
    /// The example lines of every help page: `probe-exec …`, or `VARIABLE=value … probe-exec …`.
    static func examples() throws -> [String] {
        var examples: [String] = []
        for page in [["--help"], ["help", "run"], ["help", "show"], ["help", "check"]] {
            let help = try run([Binaries.probeExec] + page).stdout
            #expect(help.contains("EXAMPLES:") || page == ["help", "check"], "\(page)")
            var inExamples = false
            for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
                if line == "EXAMPLES:" { inExamples = true }
                if line.isEmpty || !line.hasPrefix(" ") { inExamples = inExamples && line == "EXAMPLES:" }
                guard inExamples else { continue }
                let text = String(line.drop { $0 == " " })
                let words = text.split(separator: " ")
                guard let command = words.firstIndex(where: { !$0.contains("=") }), words[command] == "probe-exec"
                else { continue }
                examples.append(text)
            }
        }
        return examples
    }

    /// Every example in the help runs as written, in bash (`set -o pipefail`, so a `| jq` example fails when
    /// `show` does), in a directory whose programs (`./server`, `./app`, `./api`, `./worker`, and `nginx`
    /// on PATH) exit 0 at once, with /var/log/probe a scratch directory that is also the trace directory.
    /// The `show` examples run last, on the trace of a `server` that crashed; a `jq` example prints
    /// something, and not `null`.
    @Test func everyExampleInTheHelpRuns() throws {
        #expect(try run(["/bin/sh", "-c", "\(Self.root)/scripts/ensure-deps.sh jq:jq"]).status == 0)
        let dir = Binaries.freshDirectory("help-examples")
        mkdir(dir + "/bin", 0o755)
        mkdir(dir + "/log", 0o755)
        for program in ["server", "app", "api", "worker", "bin/nginx"] {
            try writeFile(dir + "/" + program, "#!/bin/sh\nexit 0\n", mode: 0o755)
        }
        symlink(Binaries.probeExec, dir + "/bin/probe-exec")
        let examples = try Self.examples()
        #expect(examples.count >= 20, "\(examples)")
        let runs = examples.filter { !$0.contains("probe-exec show") }
        let shows = examples.filter { $0.contains("probe-exec show") }
        #expect(shows.contains { $0.contains("| jq") }, "the --json examples use jq")
        /// Runs an example line in bash, in the examples' directory.
        func shell(_ example: String) throws -> (status: Int32, stdout: String, stderr: String) {
            let line = example.replacingOccurrences(of: "/var/log/probe", with: dir + "/log")
            return try run(
                ["/bin/bash", "-c", "set -o pipefail; cd \(dir) && \(line)"],
                environment: ["PATH": "\(dir)/bin:/usr/bin:/bin", "PROBE_EXEC_TRACE_DIR": dir + "/log"],
                timeout: 60
            )
        }
        for example in runs {
            let r = try shell(example)
            if example.contains("probe-exec check") {
                #expect(r.status == 1 && r.stderr.contains("NOT ready"), "accepted, and it never listens: \(example)")
            } else {
                #expect(r.status == 0, "\(example): \(r.stderr)")
            }
        }
        // The latest run: a `server` that crashes (the fixture, as ./server).
        unlink(dir + "/server")
        #expect(link(Binaries.fixture, dir + "/server") == 0 || symlink(Binaries.fixture, dir + "/server") == 0)
        #expect(try shell("probe-exec -q ./server segv").status == 139)
        for example in shows {
            let r = try shell(example)
            #expect(r.status == 0, "\(example): \(r.stderr)")
            if example.contains("| jq") {
                let out = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(!out.isEmpty && out != "null", "\(example) printed \(r.stdout)")
            }
        }
    }

    static let root = "/" + String(#filePath).split(separator: "/").dropLast(4).joined(separator: "/")

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

    /// `run --help`'s example writes with `-o` into /var/log/probe and shows the directory: without a
    /// `latest` link there, `show DIRECTORY` reads its newest trace.
    @Test func showOfADirectoryWithoutLatestReadsItsNewestTrace() throws {
        let dir = Binaries.freshDirectory("show-dir")
        _ = try run([Binaries.probeExec, "-q", "-o", dir + "/a.ndjson", "--", "/bin/sh", "-c", "exit 3"])
        usleep(20_000)
        _ = try run([Binaries.probeExec, "-q", "-o", dir + "/b.ndjson", "--", "/bin/sh", "-c", "exit 4"])
        let shown = try run([Binaries.probeExec, "show", dir])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("probe-exec trace \(dir)/b.ndjson"), "\(shown.stdout)")
        #expect(shown.stdout.contains("exited with code 4"))
    }
}
