import ProbeCore
import ProbeTrace
import Testing

@testable import probe_exec

/// Every option from the environment: one variable per option, named after its long name, read by
/// both parsers alike when the command line does not give the option.
extension RunOptionsTests {
    /// One variable per option, `PROBE_EXEC_` and its long name, none of them a hand-over variable.
    @Test func everyOptionHasOneVariableNamedAfterItsLongName() {
        let variables = RunOptions.all.map(\.environmentVariable)
        #expect(Set(variables).count == variables.count)
        for option in RunOptions.all {
            #expect(option.longName.hasPrefix("--"), "every option has a long name: \(option.names)")
            let derived = "PROBE_EXEC_" + option.longName.dropFirst(2).uppercased().replacingOccurrences("-", "_")
            if option.longName == "--trace" {
                // PROBE_EXEC_TRACE is the hand-over to the program: a probe-exec it runs must not take it.
                #expect(option.environmentVariable == "PROBE_EXEC_TRACE_FILE")
            } else {
                #expect(option.environmentVariable == derived)
            }
        }
        let reserved = [
            HandOver.traceVariable, HandOver.startVariable, HandOver.pidVariable, TraceLocation.directoryVariable,
        ]
        #expect(Set(variables).isDisjoint(with: reserved))
        #expect(RunOptions.subreaper.environmentVariable == "PROBE_EXEC_SUBREAPER")
        #expect(RunOptions.noPtrace.environmentVariable == "PROBE_EXEC_NO_PTRACE")
    }

    /// Each option's variable: the values the command line accepts are accepted and read as the command
    /// line reads them, in both parsers; the values it rejects are rejected by both; the command line wins.
    @Test(arguments: RunOptions.all.map { $0.longName })
    func bothReadTheVariableAlike(name: String) throws {
        let option = try #require(RunOptions.named(name))
        let variable = option.environmentVariable
        let baseline = try #require(EntrypointArguments.parse(["--", "x"]) { _ in nil })
        guard option.takesValue else {
            // A flag on by default (`-s`): its on-words change nothing, its off-words turn it off.
            let onByDefault = option.unset != nil
            for word in EnvironmentOptions.onWords + ["TRUE", "Yes"] {
                let (fast, full, shown) = Self.both(["x"], environment: [variable: word])
                #expect(fast == Self.both([name, "x"]).fast && (fast != baseline) != onByDefault, "\(shown)")
                #expect(fast == full, "\(shown)")
            }
            for word in EnvironmentOptions.offWords + [""] {
                let (fast, full, shown) = Self.both(["x"], environment: [variable: word])
                let off = onByDefault && !word.isEmpty
                #expect((fast == baseline && full == baseline) != off, "\(shown)")
                #expect(fast == full, "\(shown)")
            }
            for word in ["2", "maybe", " 1"] {
                let (fast, full, shown) = Self.both(["x"], environment: [variable: word])
                #expect(fast == nil && full == nil, "\(shown)")
            }
            let (fast, full, shown) = Self.both([name, "x"], environment: [variable: "0"])
            #expect(fast == Self.both([name, "x"]).fast && fast == full, "the command line wins: \(shown)")
            return
        }
        let accepted = try #require(Self.acceptedValues[name]).filter { !$0.isEmpty }
        for value in accepted {
            let (fast, full, shown) = Self.both(["x"], environment: [variable: value])
            #expect(fast != nil && fast == Self.both([name, value, "x"]).fast, "read as the command line: \(shown)")
            #expect(fast == full, "\(shown)")
            // The command line wins, and an option it gives is not read from the variable at all.
            let other = accepted.first { $0 != value } ?? value
            let given = Self.both([name, other, "--", "x"], environment: [variable: value])
            #expect(given.fast == Self.both([name, other, "x"]).fast && given.fast == given.full, "\(given.shown)")
            let wrong = Self.both([name, other, "x"], environment: [variable: "(-: not a value :-)"])
            #expect(wrong.fast != nil && wrong.fast == wrong.full, "\(wrong.shown)")
        }
        // A value that begins with `-` is refused on the command line for that alone; a variable may hold it.
        for value in try #require(Self.rejectedValues[name]) {
            let (fast, full, shown) = Self.both(["x"], environment: [variable: value])
            if value.hasPrefix("-") {
                #expect(fast == full, "\(shown)")
            } else {
                #expect(fast == nil && full == nil, "\(shown)")
            }
        }
        let (fast, full, shown) = Self.both(["x"], environment: [variable: ""])
        #expect(fast == baseline && full == baseline, "empty is unset: \(shown)")
    }

    /// `-e` and `--map-signal` take a comma-separated list; a wrong item names the variable.
    @Test func aRepeatableOptionTakesAList() throws {
        let (fast, full, shown) = Self.both(["x"], environment: ["PROBE_EXEC_REMAP_EXIT": "1, 143,255"])
        #expect(fast?.remapExitCodes == [1, 143, 255] && fast == full, "\(shown)")
        let maps = Self.both(["x"], environment: ["PROBE_EXEC_MAP_SIGNAL": "TERM:QUIT,INT:9"])
        #expect(maps.fast == Self.both(["--map-signal", "TERM:QUIT", "--map-signal", "INT:9", "x"]).fast)
        #expect(maps.fast == maps.full)
        #expect(Self.both(["x"], environment: ["PROBE_EXEC_REMAP_EXIT": "1,x"]).full == nil)
        var scratch = EntrypointArguments()
        let problem = EnvironmentOptions.apply(RunOptions.remapExitCode, value: "1,x", to: &scratch)
        #expect(problem?.hasPrefix("PROBE_EXEC_REMAP_EXIT=1,x:") == true, "\(problem ?? "")")
    }

    /// Every variable set at once: both parsers read them alike.
    @Test func everyVariableTogetherIsReadAlike() throws {
        var environment: [String: String] = [:]
        for option in RunOptions.all {
            environment[option.environmentVariable] =
                option.takesValue ? Self.acceptedValues[option.longName]?.last(where: { !$0.isEmpty }) : "1"
        }
        let (fast, full, shown) = Self.both(["./server", "-g"], environment: environment)
        #expect(fast != nil && fast == full, "\(shown)")
        #expect(fast?.noPtrace == true && fast?.keepTraces == 50 && fast?.command == ["./server", "-g"])
    }

    /// `-s` and `--no-subreaper` decide one thing: either on the command line, neither variable counts.
    @Test func subreaperOnTheCommandLineWinsOverBothVariables() throws {
        let off = ["PROBE_EXEC_NO_SUBREAPER": "1", "PROBE_EXEC_SUBREAPER": "0"]
        let (fast, full, shown) = Self.both(["-s", "x"], environment: off)
        #expect(fast?.subreaper == true && fast == full, "\(shown)")
        let (fastOff, fullOff, shownOff) = Self.both(
            ["--no-subreaper", "x"],
            environment: ["PROBE_EXEC_SUBREAPER": "1"]
        )
        #expect(fastOff?.subreaper == false && fastOff == fullOff, "\(shownOff)")
        #expect(Self.both(["x"]).fast?.subreaper == true, "on by default")
        #expect(Self.both(["x"], environment: ["PROBE_EXEC_SUBREAPER": "0"]).fast?.subreaper == false)
    }
}

extension StringProtocol {
    /// The text with every `target` replaced by `replacement` (without Foundation's overload set).
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }

}
