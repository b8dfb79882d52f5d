import ArgumentParser
import Foundation
import ProbeCore
import ProbeSupervisor
import Testing

@testable import probe_exec

/// The option table (``RunOptions``) against ArgumentParser: the entrypoint fast path and
/// ``RunCommand`` must accept the same options and read every value the same way, or a flag would
/// mean one thing in `ENTRYPOINT ["probe-exec", …]` and another once ArgumentParser took over.
@Suite struct RunOptionsTests {
    /// Two values each option accepts, by its last name: the second checks that a repeated option adds
    /// (`-e`) or replaces (`--trace`) the way ArgumentParser does. None is the default.
    static let acceptedValues: [String: [String]] = [
        "--trace": ["/var/log/probe/run.ndjson", "b.ndjson"], "--remap-exit": ["0", "255"],
        "--keep-traces": ["1", "50"],
        "--termination-log": ["/dev/termination-log", "log"], "--grace-period": ["0", "2.5"],
        "--signal-delay": ["0", "5000"], "--parent-death-signal": ["KILL", "15"],
        "--map-signal": ["TERM:QUIT", "INT:9"],
        "--redact": [#"token=\w+"#, ""], "--otlp-file": ["/var/log/probe/runs.jsonl", "runs.jsonl"],
        "--otlp-endpoint": ["http://localhost:4318", "http://collector:4318/v1/logs"], "--otlp-timeout": ["0.5", "3"],
        "--service-name": ["api", ""],
    ]

    /// Values each option rejects, by its last name: both parsers must refuse them (ArgumentParser takes
    /// a value that begins with `-` for an option, so the fast path must not take it as a value).
    static let rejectedValues: [String: [String]] = [
        "--trace": ["-x"], "--remap-exit": ["256", "x", "-1"], "--keep-traces": ["0", "1.5", "-1"],
        "--termination-log": ["--"], "--grace-period": ["-1", "x", "-0"], "--signal-delay": ["-1", "1.5", "-0"],
        "--parent-death-signal": ["NOPE", "-9"], "--map-signal": ["TERM", "TERM:NOPE", "-1:2"],
        "--redact": ["(", "-x"],
        "--otlp-file": ["-x"], "--otlp-endpoint": ["https://collector:4318", "collector:4318"],
        "--otlp-timeout": ["0", "-1"], "--service-name": ["-x"],
    ]

    /// One option of ArgumentParser's view of `probe-exec run`, as `_dumpHelp()` describes it.
    struct DumpedArgument: Decodable {
        /// One of its names.
        struct Name: Decodable {
            /// `short`, `long` or `longWithSingleDash`.
            let kind: String
            /// The name without dashes.
            let name: String
        }

        /// `option`, `flag` or `positional`.
        let kind: String
        /// Its names; none for a positional argument.
        let names: [Name]?
        /// The value's name in help.
        let valueName: String?
        /// The help line.
        let abstract: String?
        /// The default ArgumentParser shows on its own (none: the table's is in the help line).
        let defaultValue: String?

        /// The names as typed: `-o`, `--trace`.
        var spellings: [String] {
            (names ?? []).map { ($0.kind == "long" ? "--" : "-") + $0.name }
        }
    }

    /// The `_dumpHelp()` document, as far as these tests read it.
    struct Dump: Decodable {
        /// The command.
        struct Command: Decodable {
            /// Its options, flags and positional arguments.
            let arguments: [DumpedArgument]
        }

        /// The command.
        let command: Command
    }

    /// The options and flags ArgumentParser knows for `probe-exec run`, but for its own `--help`.
    static func argumentParserOptions() throws -> [DumpedArgument] {
        let dump = try JSONDecoder().decode(Dump.self, from: Data(RunCommand._dumpHelp().utf8))
        return dump.command.arguments.filter { $0.kind != "positional" && !$0.spellings.contains("--help") }
    }

    /// What a run with `arguments` and `environment` gets through ArgumentParser, as `probe-exec` parses
    /// it (`run` being the default subcommand); nil when ArgumentParser rejects them.
    static func viaArgumentParser(
        _ arguments: [String],
        environment: [String: String] = [:]
    ) -> EntrypointArguments? {
        (try? ProbeExec.parseAsRoot(arguments) as? RunCommand)?.entrypointArguments { environment[$0] }
    }

    /// Both parsers' reading of `arguments` with `environment` (the options' variables, nothing else),
    /// and a sentence for a failed expectation.
    static func both(
        _ arguments: [String],
        environment: [String: String] = [:]
    ) -> (fast: EntrypointArguments?, full: EntrypointArguments?, shown: String) {
        let shown = environment.map { "\($0.key)=\($0.value) " }.sorted().joined() + arguments.joined(separator: " ")
        return (
            EntrypointArguments.parse(arguments) { environment[$0] },
            viaArgumentParser(arguments, environment: environment), shown
        )
    }

    @Test func everyOptionArgumentParserKnowsIsInTheTableAndTheOtherWayRound() throws {
        let known = try Self.argumentParserOptions()
        #expect(Set(known.map(\.spellings)) == Set(RunOptions.all.map(\.names)))
        #expect(known.count == RunOptions.all.count, "an option is declared twice")
        for argument in known {
            let option = try #require(RunOptions.named(argument.spellings[0]), "\(argument.spellings)")
            #expect(argument.spellings == option.names)
            #expect(argument.kind == (option.takesValue ? "option" : "flag"), "\(option.names)")
            #expect(argument.abstract == option.helpWithDefault, "\(option.names)")
            #expect(argument.defaultValue == nil, "one default per option, the table's: \(option.names)")
            if option.takesValue { #expect(argument.valueName == option.valueName, "\(option.names)") }
        }
    }

    @Test func everySpellingIsOneOption() {
        let spellings = RunOptions.all.flatMap(\.names)
        #expect(Set(spellings).count == spellings.count)
    }

    @Test func bothStartFromTheSameDefaults() throws {
        var expected = EntrypointArguments()
        expected.command = ["./server"]
        let (fast, full, _) = Self.both(["--", "./server"])
        #expect(fast == expected)
        #expect(full == expected)
    }

    @Test(arguments: RunOptions.all.map { $0.names.last ?? "" })
    func bothReadTheOptionAlike(name: String) throws {
        let option = try #require(RunOptions.named(name))
        let baseline = try #require(EntrypointArguments.parse(["--", "x"]) { _ in nil })
        for spelling in option.names {
            guard option.takesValue else {
                // A flag on by default (`-s`) changes nothing when given; others turn something on.
                let onByDefault = option.unset != nil
                for argv in [[spelling, "--", "x"], [spelling, spelling, "--", "x"]] {
                    let (fast, full, shown) = Self.both(argv)
                    #expect(fast != nil && (fast != baseline) != onByDefault, "the fast path takes \(shown)")
                    #expect(fast == full, "\(shown)")
                }
                let (fast, full, shown) = Self.both([spelling, "value", "--", "x"])
                #expect(fast?.command == ["value", "--", "x"] && fast == full, "a flag takes no value: \(shown)")
                continue
            }
            let accepted = try #require(Self.acceptedValues[name], "no accepted values for \(name) in this test")
            let rejected = try #require(Self.rejectedValues[name], "no rejected values for \(name) in this test")
            #expect(accepted.count >= 2 && !rejected.isEmpty)
            var lines = accepted.map { [spelling, $0, "--", "x"] }
            lines.append([spelling, accepted[0], spelling, accepted[1], "--", "x"])
            for argv in lines {
                let (fast, full, shown) = Self.both(argv)
                #expect(fast != nil && fast != baseline, "the fast path takes \(shown)")
                #expect(fast == full, "\(shown)")
            }
            for argv in rejected.map({ [spelling, $0, "--", "x"] }) + [[spelling, "--", "x"], [spelling]] {
                let (fast, full, shown) = Self.both(argv)
                #expect(fast == nil, "the fast path takes \(shown)")
                #expect(full == nil, "ArgumentParser takes \(shown)")
            }
        }
    }

    @Test func bothReadEveryOptionTogetherAlike() throws {
        var argv: [String] = []
        for option in RunOptions.all {
            argv.append(option.names[0])
            if let name = option.names.last, option.takesValue { argv.append(Self.acceptedValues[name]?.first ?? "") }
        }
        argv += ["--", "./server", "-g", "--"]
        let (fast, full, shown) = Self.both(argv)
        #expect(fast != nil, "\(shown)")
        #expect(fast == full, "\(shown)")
    }

    /// Whatever the fast path takes, ArgumentParser takes too, and reads the same; what it leaves
    /// (combined flags, `--name=value`, `run`) is ArgumentParser's alone.
    @Test func theFastPathNeverTakesWhatArgumentParserReadsOtherwise() {
        let lines: [[String]] = [
            ["-gs", "--", "x"], ["--trace=/t", "--", "x"], ["-e3", "--", "x"], ["run", "-g", "--", "x"],
            ["-o", "show", "--", "x"], ["--service-name", "check", "--", "x"], ["-q", "--", "-g"], ["-q", "--", "--"],
            ["-g", "x", "--", "y"], ["--", "x", "--grace-period", "-1"], ["-o", "-", "--", "x"], ["--help"], ["-h"],
            ["--version"], ["show"], ["-g", "--help", "--", "x"], ["--pipe-tty", "--no-ptrace", "-q", "--", "x"],
            ["---", "--", "x"], ["-", "--", "x"], ["", "--", "x"], ["--trace", "", "--", "x"],
        ]
        for argv in lines {
            let (fast, full, shown) = Self.both(argv)
            if fast != nil { #expect(fast == full, "\(shown)") }
        }
    }
}
