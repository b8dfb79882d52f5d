import ArgumentParser
import ProbeCore
import Testing

@testable import probe_exec

/// The program without `--`: the first argument that is not an option and not a subcommand name
/// starts the command, and everything after it is the program's. Both parsers read it alike.
extension RunOptionsTests {
    /// The program starts at the first argument that is not an option, with or without `--`.
    @Test func theProgramNeedsNoDoubleDash() throws {
        let lines: [(argv: [String], command: [String])] = [
            (["ls", "-l"], ["ls", "-l"]), (["-g", "ls", "-l"], ["ls", "-l"]),
            (["./server", "--port", "2000"], ["./server", "--port", "2000"]),
            (["-o", "t.ndjson", "-e", "3", "./server", "-g", "-e", "4"], ["./server", "-g", "-e", "4"]),
            (["./server", "--", "-x"], ["./server", "--", "-x"]), (["-q", "--", "ls", "-l"], ["ls", "-l"]),
            (["--", "--", "x"], ["--", "x"]), (["-g", "x", "--", "y"], ["x", "--", "y"]),
            (["/bin/sh", "-c", "exit 3"], ["/bin/sh", "-c", "exit 3"]), (["--", "show"], ["show"]),
            (["--", "-x"], ["-x"]), (["x", "--help"], ["x", "--help"]), (["x", "--version"], ["x", "--version"]),
        ]
        for (argv, command) in lines {
            let (fast, full, shown) = Self.both(argv)
            #expect(fast?.command == command, "\(shown)")
            #expect(fast == full, "\(shown)")
        }
        #expect(Self.both(["-g", "-e", "3", "ls"]).fast?.remapExitCodes == [3])
        #expect(Self.both(["-g", "ls", "-e", "3"]).fast?.remapExitCodes == [], "after the program: the program's")
    }

    /// `probe-exec show`, `check`, `run` and `help` stay subcommands; a program of such a name goes after
    /// `--`. Before the program, `--help`, `-h` and `--version` are probe-exec's.
    @Test(arguments: RunOptions.subcommandNames) func subcommandNamesAreNotPrograms(name: String) throws {
        for argv in [[name], [name, "x"], ["-g", name], ["-o", "t", name, "x"]] {
            #expect(EntrypointArguments.parse(argv) == nil, "the fast path leaves \(argv) to ArgumentParser")
            if argv.first != name {
                #expect(Self.viaArgumentParser(argv) == nil, "ArgumentParser does not run \(argv) as a program")
            }
        }
        let (fast, full, shown) = Self.both(["--", name, "x"])
        #expect(fast?.command == [name, "x"] && fast == full, "\(shown)")
        #expect(throws: (any Error).self) { try ProbeExec.parseAsRoot(["-g", name]) }
    }

    /// The fast path's list of subcommand names is ArgumentParser's (and `help`).
    @Test func theSubcommandNamesAreProbeExecs() {
        let names = ProbeExec.configuration.subcommands.map { $0.configuration.commandName ?? "" } + ["help"]
        #expect(Set(names) == Set(RunOptions.subcommandNames))
    }

    /// `--help`, `-h`, `--version` and unknown options before the program are not a run.
    @Test func helpAndVersionBeforeTheProgramAreProbeExecs() throws {
        for argv in [["-g", "--help"], ["--help"], ["-h"], ["run", "-h"], ["-q", "--version"]] {
            #expect(EntrypointArguments.parse(argv) == nil, "\(argv)")
            #expect(Self.viaArgumentParser(argv) == nil, "\(argv) is not a run")
        }
        #expect(Self.both(["--bogus", "x"]).fast == nil)
        #expect(Self.both(["--bogus", "x"]).full == nil, "an unknown option before the program is an error")
    }
}
