/// One option of the run form, `probe-exec [OPTIONS] PROGRAM [ARGS…]`: what a person types, what `--help`
/// says, the environment variable that sets it too, and what the option does to ``EntrypointArguments``.
///
/// ``RunOptions`` lists every one; the entrypoint fast path (``EntrypointArguments/parse(_:environment:)``)
/// is driven by that list, and ``RunCommand`` takes the names and help of its ArgumentParser properties
/// from it (`RunOption+ArgumentParser.swift`). This file stays free of ArgumentParser and Foundation:
/// it is on the fast path.
struct RunOption: Sendable {
    /// The spellings, as typed: `-o`, `--trace`. The last is the long name.
    let names: [String]
    /// What `--help` calls the value (`SECONDS`), in capitals as the help sentences name it; nil for a
    /// flag, which takes no value.
    let valueName: String?
    /// The help line, without the default.
    let help: String
    /// The default as `--help` shows it (`20`), when the option has one that is a value; nil when the
    /// option is off, empty or unset unless given (the help sentence then says what happens instead).
    let defaultValue: String?
    /// Whether each use adds a value (`-e`, `--map-signal`) instead of replacing the earlier one; in the
    /// environment such an option takes a comma-separated list.
    let repeatable: Bool
    /// The environment variable that sets the option when the command line does not: `PROBE_EXEC_` and
    /// the long name in capitals, `-` as `_` (`--no-ptrace`: `PROBE_EXEC_NO_PTRACE`).
    let environmentVariable: String
    /// Records the option in `arguments`, from its value ("" for a flag); false when the value is not
    /// accepted (the fast path then leaves the whole command line to ArgumentParser, which says why).
    /// Given twice, a later value replaces an earlier one unless the option is ``repeatable``.
    let apply: @Sendable (inout EntrypointArguments, String) -> Bool
    /// For a flag that is on by default: what its variable's off-word (`PROBE_EXEC_SUBREAPER=0`) does;
    /// nil for a flag that is off unless given (its off-word changes nothing).
    let unset: (@Sendable (inout EntrypointArguments) -> Void)?

    /// Whether the option takes a value.
    var takesValue: Bool { valueName != nil }

    /// The long name, `--trace`.
    var longName: String { names.last ?? "" }

    /// The help line as `--help` prints it: with `(default: …)` when there is a default value.
    var helpWithDefault: String {
        defaultValue.map { "\(help) (default: \($0))" } ?? help
    }

    /// An option that takes a value named `valueName`.
    init(
        _ names: String...,
        value valueName: String,
        default defaultValue: String? = nil,
        repeatable: Bool = false,
        environment: String? = nil,
        help: String,
        apply: @escaping @Sendable (inout EntrypointArguments, String) -> Bool
    ) {
        self.names = names
        self.valueName = valueName
        self.defaultValue = defaultValue
        self.repeatable = repeatable
        self.help = help
        self.environmentVariable = environment ?? RunOption.environmentVariable(longName: names.last ?? "")
        self.apply = apply
        self.unset = nil
    }

    /// A flag: given, `set` turns its field on (a closure, not a key path: key paths are built at
    /// run time, at every start).
    /// `unset`, for a flag on by default, is what its variable's off-word does.
    init(
        _ names: String...,
        help: String,
        sets set: @escaping @Sendable (inout EntrypointArguments) -> Void,
        unsets unset: (@Sendable (inout EntrypointArguments) -> Void)? = nil
    ) {
        self.unset = unset
        self.names = names
        self.valueName = nil
        self.defaultValue = nil
        self.repeatable = false
        self.help = help
        self.environmentVariable = RunOption.environmentVariable(longName: names.last ?? "")
        self.apply = { arguments, _ in
            set(&arguments)
            return true
        }
    }

    /// A number of seconds as `--help` shows a default: `2`, `0.5`.
    static func text(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// `--no-ptrace` → `PROBE_EXEC_NO_PTRACE`.
    static func environmentVariable(longName: String) -> String {
        // Bytes: option names are ASCII (no generic collection algorithms on the start-up path).
        let name = longName.utf8.drop { $0 == UInt8(ascii: "-") }.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "-"): return UInt8(ascii: "_")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - 32
            default: return byte
            }
        }
        return "PROBE_EXEC_" + String(decoding: name, as: UTF8.self)
    }
}
