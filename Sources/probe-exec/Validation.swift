import ArgumentParser

/// Checks shared by the subcommands' `validate()`.
enum Validation {
    /// Throws a ValidationError naming `option` when `pattern` is not a valid regular expression.
    static func regularExpression(_ pattern: String?, option: String) throws {
        guard let pattern else { return }
        do { _ = try Regex(pattern) } catch {
            throw ValidationError("\(option) is not a valid regular expression: \(error)")
        }
    }
}
