import ProbeCore
import ProbeTrace
import Testing

@testable import probe_exec

#if canImport(Glibc)
import Glibc
#endif

/// The run form on the real binary: the program without `--`, subcommands kept, the top-level help,
/// and options from the environment — through the fast path and through ArgumentParser (a line with a
/// combined flag, `-qg`, which only ArgumentParser reads).
@Suite struct EntrypointFormTests {
    /// The fast path's form and ArgumentParser's form of the same options.
    static let optionForms: [[String]] = [["-q", "-g"], ["-qg"]]

    /// `/bin/sh -c 'echo "$@"; exit 3' sh ARGS…`: prints its arguments, exits 3.
    static func echoArguments(_ arguments: [String]) -> [String] {
        ["/bin/sh", "-c", #"echo "$@"; exit 3"#, "sh"] + arguments
    }

    /// `probe-exec PROGRAM ARGS…` runs PROGRAM with ARGS, options included.
    @Test(arguments: optionForms) func theProgramRunsWithoutDoubleDash(options: [String]) throws {
        let dir = Binaries.freshDirectory("no-dashes")
        let environment = ["PROBE_EXEC_TRACE_DIR": dir]
        let r = try run(
            [Binaries.probeExec] + options + Self.echoArguments(["-g", "--", "--help", "-e", "3"]),
            environment: environment
        )
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stdout == "-g -- --help -e 3\n", "everything after the program is the program's")
        let ls = try run([Binaries.probeExec] + options + ["/bin/ls", "-l", dir], environment: environment)
        #expect(ls.status == 0 && ls.stdout.hasPrefix("total "), "`probe-exec ls -l` runs `ls -l`: \(ls.stdout)")
        let remapped = try run(
            [Binaries.probeExec] + options + ["-e", "3"] + Self.echoArguments([]),
            environment: environment
        )
        #expect(remapped.status == 0)
        let dashes = try run([Binaries.probeExec] + options + ["--", "/bin/echo", "--"], environment: environment)
        #expect(dashes.stdout == "--\n", "the `--` that ends probe-exec's options is not the program's")
    }

    /// `show`, `check`, `run`, `help` stay subcommands; after `--` they are programs.
    @Test func subcommandsStaySubcommands() throws {
        let dir = Binaries.freshDirectory("subcommands")
        let environment = ["PROBE_EXEC_TRACE_DIR": dir]
        _ = try run([Binaries.probeExec, "/bin/true"], environment: environment)
        let show = try run([Binaries.probeExec, "show"], environment: environment)
        #expect(show.status == 0 && show.stdout.contains("VERDICT (clean_exit)"), "\(show.stderr)")
        for argv in [["-g", "show"], ["-q", "check", "x"], ["run", "show"]] {
            let r = try run([Binaries.probeExec] + argv, environment: environment)
            #expect(r.status == 64, "\(argv): \(r.stderr)")
            #expect(r.stderr.contains("is a subcommand, not a program"), "\(argv): \(r.stderr)")
        }
        let program = try run([Binaries.probeExec, "-q", "--", "show"], environment: environment)
        #expect(program.status == 127, "after `--`, `show` is a program (here: none)")
        for argv in [["-g", "--help"], ["run", "-h"]] {
            let help = try run([Binaries.probeExec] + argv, environment: environment)
            #expect(help.status == 0 && help.stdout.contains("OVERVIEW: Run PROGRAM"), "\(argv)")
        }
        let unknown = try run([Binaries.probeExec, "--bogus", "/bin/true"], environment: environment)
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown option --bogus"), "\(unknown.stderr)")
        // A cluster with a letter no short option has is unknown too (ArgumentParser read its `h` as
        // --help); a cluster of known ones (`-qs`) still runs the program.
        for argv in [["-dash"], ["-dash", "ls"]] {
            let cluster = try run([Binaries.probeExec] + argv, environment: environment)
            #expect(cluster.status == 64 && cluster.stderr.hasPrefix("Error: unknown option -dash"), "\(argv)")
        }
        let known = try run([Binaries.probeExec, "-qs", "/bin/sh", "-c", "exit 5"], environment: environment)
        #expect(known.status == 5, "\(known.stderr)")
    }

    /// `probe-exec --help` says the rule for the program and lists every run option with its value name
    /// and variable, within 80 columns.
    @Test func theTopLevelHelpListsTheRunOptions() throws {
        let help = try run([Binaries.probeExec, "--help"]).stdout
        #expect(help.contains("The first argument that is not an option is the program"))
        for option in RunOptions.all {
            let spelling = option.names.joined(separator: ", ") + (option.valueName.map { " " + $0 } ?? "")
            #expect(help.contains("  \(spelling)  $\(option.environmentVariable)\n"), "\(spelling)")
        }
        for line in help.split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
        let run = try run([Binaries.probeExec, "help", "run"]).stdout
        #expect(run.contains("-e, --remap-exit <CODE>") && run.contains("-p, --parent-death-signal <SIGNAL>"))
        #expect(run.contains("--keep-traces <COUNT>"))
        #expect(run.components(separatedBy: "(default: ").count == 3, "keep-traces and otlp-timeout, once each")
    }

    /// Options from the environment; the command line wins.
    @Test(arguments: optionForms) func optionsComeFromTheEnvironment(options: [String]) throws {
        let dir = Binaries.freshDirectory("environment")
        var environment = ["PROBE_EXEC_TRACE_DIR": dir, "PROBE_EXEC_REMAP_EXIT": "1,3"]
        let remapped = try run([Binaries.probeExec] + options + Self.echoArguments([]), environment: environment)
        #expect(remapped.status == 0, "PROBE_EXEC_REMAP_EXIT=1,3: \(remapped.stderr)")
        let given = try run(
            [Binaries.probeExec] + options + ["-e", "1"] + Self.echoArguments([]),
            environment: environment
        )
        #expect(given.status == 3, "the command line wins over the environment")
        // --no-ptrace and the trace file from the environment; the program sees the variables too.
        environment["PROBE_EXEC_NO_PTRACE"] = "1"
        environment["PROBE_EXEC_TRACE_FILE"] = dir + "/env.ndjson"
        let untraced = try run(
            [Binaries.probeExec] + options + ["/bin/sh", "-c", "echo $PROBE_EXEC_NO_PTRACE"],
            environment: environment
        )
        #expect(untraced.status == 0 && untraced.stdout == "1\n", "\(untraced.stderr)")
        let tracing = try TraceReader.read(path: dir + "/env.ndjson").events.compactMap {
            if case .tracing(let t) = $0.event { t.state } else { nil }
        }
        #expect(tracing == ["off"])
        environment["PROBE_EXEC_NO_PTRACE"] = "0"
        _ = try run(
            [Binaries.probeExec] + options + ["-o", dir + "/cli.ndjson", "/bin/true"],
            environment: environment
        )
        #expect(access(dir + "/cli.ndjson", F_OK) == 0, "-o wins over PROBE_EXEC_TRACE_FILE")
        let traced = try TraceReader.read(path: dir + "/cli.ndjson").events.compactMap {
            if case .tracing(let t) = $0.event { t.state } else { nil }
        }
        #expect(traced == ["on"], "PROBE_EXEC_NO_PTRACE=0 leaves tracing on")
    }

    /// A variable its option does not accept: a usage error (64) naming the variable.
    @Test(arguments: optionForms) func aWrongVariableIsAUsageError(options: [String]) throws {
        for (variable, value) in [("PROBE_EXEC_KEEP_TRACES", "0"), ("PROBE_EXEC_SUBREAPER", "maybe")] {
            let r = try run(
                [Binaries.probeExec] + options + ["/bin/true"],
                environment: ["PROBE_EXEC_TRACE_DIR": Binaries.freshDirectory("env-wrong"), variable: value]
            )
            #expect(r.status == 64, "\(variable)=\(value): \(r.stderr)")
            #expect(r.stderr.contains("\(variable)=\(value)"), "the message names the variable: \(r.stderr)")
        }
    }
}
