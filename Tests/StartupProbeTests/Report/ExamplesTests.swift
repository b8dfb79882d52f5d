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

/// The deployment examples are well-formed and use options probe-exec accepts (no container
/// engine here: the files are checked, the binary they copy is tested elsewhere).
@Suite struct ExamplesTests {
    static let root = "/" + String(#filePath).split(separator: "/").dropLast(4).joined(separator: "/")

    static let hasPyYAML: Bool = (try? run(["/usr/bin/env", "python3", "-c", "import yaml"]).status) == 0

    @Test(
        .enabled(if: hasPyYAML, "needs python3 with PyYAML"),
        arguments: ["kubernetes-pod.yaml", "docker-compose.yaml"]
    )
    func yamlParses(file: String) throws {
        let r = try run([
            "/usr/bin/env", "python3", "-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))",
            "\(Self.root)/examples/\(file)",
        ])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func dockerfileIsWellFormed() throws {
        let text = try #require(readFile(Self.root + "/examples/Dockerfile"))
        let instructions = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        let known: Set<String> = [
            "FROM", "RUN", "WORKDIR", "COPY", "ENV", "VOLUME", "ENTRYPOINT", "CMD", "ARG", "EXPOSE",
        ]
        #expect(instructions.first == "FROM")
        #expect(instructions.allSatisfy { known.contains($0) }, "\(instructions)")
        #expect(text.contains("COPY --from=build"))
    }

    /// Every probe-exec option the examples use is accepted.
    @Test func exampleOptionsAreAccepted() throws {
        for options in [
            ["--grace-period", "20"], ["--grace-period", "20", "--signal-delay", "2000"],
            ["--grace-period", "20", "--kill-leftovers", "-s"],
        ] {
            let r = try run([Binaries.probeExec, "-q"] + options + ["--", "/bin/true"])
            #expect(r.status == 0, "\(options): \(r.stderr)")
        }
    }
}
