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

func has(_ tool: String) -> Bool { (try? run(["/usr/bin/env", "sh", "-c", "command -v \(tool)"]).status) == 0 }

/// Runtime errors reported on stderr, named in the verdict: real interpreters where installed.
@Suite(.serialized) struct ProgramErrorTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-program-errors"]

    func verdictOf(
        _ argv: [String],
        in directory: String? = nil,
        environment: [String: String] = [:],
        removing: [String] = []
    )
        throws -> (status: Int32, verdict: String, event: TraceRecord?)
    {
        let trace = Binaries.freshDirectory("perr") + "/t.ndjson"
        let command = directory.map { ["/bin/sh", "-c", "cd \($0) && exec \"$@\"", "sh"] } ?? []
        let r = try run(
            command + [Binaries.probeExec, "-o", trace, "--"] + argv,
            environment: env.merging(environment) { $1 },
            removing: removing
        )
        let events = try TraceReader.read(path: trace).events
        return (
            r.status, events.last { $0.kind == "verdict" }?["summary"]?.stringValue ?? "",
            events.first { $0.kind == "program_error" }
        )
    }

    @Test(.enabled(if: has("python3"), "needs python3"))
    func pythonImportChainFourDeep() throws {
        let dir = Binaries.freshDirectory("py")
        mkdir(dir + "/pkg", 0o755)
        try writeFile(dir + "/app.py", "import pkg.api\n", mode: 0o644)
        try writeFile(dir + "/pkg/__init__.py", "", mode: 0o644)
        try writeFile(dir + "/pkg/api.py", "from pkg import db\n", mode: 0o644)
        try writeFile(dir + "/pkg/db.py", "\nfrom pkg import models\n", mode: 0o644)
        try writeFile(dir + "/pkg/models.py", "import sqlalchemy_not_installed\n", mode: 0o644)
        let r = try verdictOf(["python3", "app.py"], in: dir)
        #expect(r.status == 1)
        #expect(
            r.verdict.contains(
                "It reported a Python ModuleNotFoundError: No module named 'sqlalchemy_not_installed' at \(dir)/pkg/models.py:1."
            )
        )
        #expect(
            r.verdict.contains(
                "Import chain: \(dir)/app.py:1 → \(dir)/pkg/api.py:1 → \(dir)/pkg/db.py:2 → \(dir)/pkg/models.py:1."
            )
        )
        #expect(r.event?["import_chain"]?.arrayValue?.count == 4)
    }

    @Test(.enabled(if: has("python3"), "needs python3"))
    func pythonMissingPackage() throws {
        let dir = Binaries.freshDirectory("pybackend")
        try writeFile(dir + "/main.py", "from backend.core.config import settings\n", mode: 0o644)
        let r = try verdictOf(["python3", "main.py"], in: dir)
        #expect(r.status == 1)
        #expect(
            r.verdict.contains(
                "It reported a Python ModuleNotFoundError: No module named 'backend' at \(dir)/main.py:1."
            )
        )
    }

    @Test(.enabled(if: has("python3"), "needs python3"))
    func pythonMissingEnvironmentVariable() throws {
        let dir = Binaries.freshDirectory("pyenv")
        try writeFile(dir + "/settings.py", "import os\n\nDATABASE = os.environ['DATABASE_URL']\n", mode: 0o644)
        let r = try verdictOf(["python3", dir + "/settings.py"], removing: ["DATABASE_URL"])
        #expect(r.verdict.contains("The environment variable DATABASE_URL is not set."))
        #expect(r.event?["environment_variable"]?.stringValue == "DATABASE_URL")
    }

    @Test(.enabled(if: has("node"), "needs node"))
    func nodeMissingModule() throws {
        let dir = Binaries.freshDirectory("node")
        try writeFile(dir + "/server.js", "const express = require('express-not-installed');\n", mode: 0o644)
        let r = try verdictOf(["node", dir + "/server.js"])
        #expect(r.status == 1)
        #expect(
            r.verdict.contains("It reported a Node.js Error: Cannot find module 'express-not-installed'"),
            "\(r.verdict)"
        )
    }

    /// `Main.java` holding `source`, compiled with javac in a fresh directory named after `name`.
    static func compileJava(_ source: String, in name: String) throws -> String {
        let dir = Binaries.freshDirectory(name)
        try writeFile(dir + "/Main.java", source, mode: 0o644)
        #expect(try run(["/bin/sh", "-c", "cd \(dir) && javac Main.java"]).status == 0)
        return dir
    }

    @Test(.enabled(if: has("javac") && has("java"), "needs a JDK"))
    func javaRootCause() throws {
        let dir = try Self.compileJava(
            """
            public class Main {
                static void connect() { throw new IllegalStateException("pool exhausted"); }
                public static void main(String[] a) {
                    try { connect(); } catch (Exception e) { throw new RuntimeException("startup failed", e); }
                }
            }
            """,
            in: "java"
        )
        let r = try verdictOf(["java", "-cp", dir, "Main"])
        #expect(r.status == 1)
        #expect(
            r.verdict.contains("It reported a Java IllegalStateException: pool exhausted at Main.java:2"),
            "\(r.verdict)"
        )
    }

    /// A root cause thrown inside the JDK (Integer.parseInt): the location is the application's frame
    /// that called it, not `NumberFormatException.java:67`.
    @Test(.enabled(if: has("javac") && has("java"), "needs a JDK"))
    func javaRootCauseInsideTheJDKPointsAtTheApplication() throws {
        let dir = try Self.compileJava(
            """
            public class Main {
                static int port(String text) { return Integer.parseInt(text); }
                public static void main(String[] a) {
                    try { port("80a"); } catch (Exception e) { throw new RuntimeException("startup failed", e); }
                }
            }
            """,
            in: "java-jdk"
        )
        let r = try verdictOf(["java", "-cp", dir, "Main"])
        #expect(r.status == 1)
        #expect(r.verdict.contains("It reported a Java NumberFormatException: For input string: "), "\(r.verdict)")
        #expect(r.verdict.contains(" at Main.java:2"), "\(r.verdict)")
        #expect(!r.verdict.contains("NumberFormatException.java"), "\(r.verdict)")
    }

    @Test func swiftFatalError() throws {
        let r = try verdictOf([Binaries.swiftFixture, "fatal"], environment: ["SWIFT_BACKTRACE": "enable=no"])
        #expect(
            r.verdict.contains("It reported a Swift Fatal error: configuration invalid: missing DATABASE_URL at "),
            "\(r.verdict)"
        )
        #expect(r.event?["location"]?.stringValue?.contains("main.swift:") == true)
    }

    @Test func cannedReports() {
        let rust = ProgramErrorParser.find(
            in:
                "thread 'main' (30773) panicked at src/main.rs:8:26:\nconfig path is empty\nnote: run with `RUST_BACKTRACE=1`\n"
        )
        #expect(
            rust
                == ProgramError(
                    language: "Rust",
                    kind: "panic",
                    message: "config path is empty",
                    location: "src/main.rs:8:26"
                )
        )
        let oldRust = ProgramErrorParser.find(in: "thread 'main' panicked at 'PORT must be set', src/main.rs:4:5\n")
        #expect(oldRust?.message == "PORT must be set")
        #expect(oldRust?.location == "src/main.rs:4:5")
        let go = ProgramErrorParser.find(
            in: """
                panic: missing environment variable "REDIS_URL"

                goroutine 1 [running]:
                main.mustEnv(...)
                \t/app/config.go:12 +0x1d
                main.main()
                \t/app/main.go:8 +0x25
                exit status 2
                """
        )
        #expect(go?.language == "Go")
        #expect(go?.location == "/app/config.go:12")
        #expect(go?.environmentVariable == "REDIS_URL")
        let ruby = ProgramErrorParser.find(
            in: "app.rb:3:in 'load_config': no such file (Errno::ENOENT)\n\tfrom app.rb:7:in '<main>'\n"
        )
        #expect(ruby?.kind == "Errno::ENOENT")
        #expect(ruby?.location == "app.rb:3")
        let last = ProgramErrorParser.find(
            in:
                "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nValueError: x\nFatal error: later\n"
        )
        #expect(last?.language == "Swift", "the report nearest the end wins")
        #expect(ProgramErrorParser.find(in: "all good\nlistening on :8080\n") == nil)
    }

    /// An uncaught C++ exception, from a real g++ program: its type and what() in the verdict.
    @Test(.enabled(if: has("g++"), "needs g++"))
    func uncaughtCPlusPlusExceptionIsNamed() throws {
        let dir = Binaries.freshDirectory("cpp-throw")
        try writeFile(
            dir + "/t.cpp",
            "#include <stdexcept>\nint main() { throw std::runtime_error(\"config /etc/app.yaml missing\"); }\n",
            mode: 0o644
        )
        #expect(try run(["/usr/bin/env", "g++", "-O1", "-o", dir + "/t", dir + "/t.cpp"]).status == 0)
        let r = try run([Binaries.probeExec, "--", dir + "/t"])
        #expect(r.status == 134)
        #expect(
            r.stderr.contains(
                "It reported a C++ uncaught exception std::runtime_error: config /etc/app.yaml missing."
            ),
            "\(r.stderr)"
        )
        let bare = ProgramErrorParser.find(in: "terminate called without an active exception\n")
        #expect(bare?.language == "C++" && bare?.kind == "std::terminate")
    }

    /// An optimised Swift build's trap, as its backtracer prints it (not `Fatal error:`).
    @Test func swiftRuntimeFailureIsRecognised() {
        let text = """
            💣 Program crashed: System trap at 0x0000555555556789

            *** Swift runtime failure: Unexpectedly found nil while unwrapping an Optional value ***

            Thread 0 crashed:
            """
        let error = ProgramErrorParser.find(in: text)
        #expect(error?.language == "Swift" && error?.kind == "runtime failure")
        #expect(error?.message.hasPrefix("Unexpectedly found nil while unwrapping an Optional value") == true)
    }
}
