import ArgumentParser

/// What ArgumentParser's `@Option` and `@Flag` take, read from the option table, so that
/// ``RunCommand`` declares each option with the names and help of its ``RunOptions`` entry.
extension RunOption {
    /// The names, as ArgumentParser reads `-o --trace`.
    var name: NameSpecification {
        NameSpecification(names.map { NameSpecification.Element(stringLiteral: $0) })
    }

    /// The help line (with the default: ArgumentParser is given none of its own, so each option's default
    /// is said once) and the value name.
    var argumentHelp: ArgumentHelp {
        ArgumentHelp(helpWithDefault, valueName: valueName)
    }
}
