/// One option of the run form, `probe-exec [OPTIONS] -- PROGRAM`: what a person types, what `--help`
/// says, and what the option does to ``EntrypointArguments``.
///
/// ``RunOptions`` lists every one; the entrypoint fast path (``EntrypointArguments/parse(_:)``) is
/// driven by that list, and ``RunCommand`` takes the names and help of its ArgumentParser properties
/// from it (`RunOption+ArgumentParser.swift`). This file stays free of ArgumentParser and Foundation:
/// it is on the fast path.
struct RunOption: Sendable {
    /// The spellings, as typed: `-o`, `--trace`.
    let names: [String]
    /// What `--help` calls the value (`<seconds>`); nil for a flag, which takes no value.
    let valueName: String?
    /// The help line.
    let help: String
    /// Records the option in `arguments`, from its value ("" for a flag); false when the value is not
    /// accepted (the fast path then leaves the whole command line to ArgumentParser, which says why).
    /// Given twice, a later value replaces an earlier one unless the option collects them (`-e`).
    let apply: @Sendable (inout EntrypointArguments, String) -> Bool

    /// Whether the option takes a value.
    var takesValue: Bool { valueName != nil }

    /// An option that takes a value named `valueName`.
    init(
        _ names: String...,
        value valueName: String,
        help: String,
        apply: @escaping @Sendable (inout EntrypointArguments, String) -> Bool
    ) {
        self.names = names
        self.valueName = valueName
        self.help = help
        self.apply = apply
    }

    /// A flag: given, it sets `field` to true.
    init(_ names: String..., help: String, sets field: WritableKeyPath<EntrypointArguments, Bool> & Sendable) {
        self.names = names
        self.valueName = nil
        self.help = help
        self.apply = { arguments, _ in
            arguments[keyPath: field] = true
            return true
        }
    }
}
