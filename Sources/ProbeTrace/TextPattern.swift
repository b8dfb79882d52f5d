/// A regular expression the user gave (`--redact`, `--ready-line`), compiled once.
///
/// A class, so the types that hold one (the tracer, the supervisor loop) keep a fixed layout: a
/// `Regex<AnyRegexOutput>` field makes each of them build `Regex`'s generic metadata when its own
/// metadata is completed, at every start, whether or not a pattern was given (`perf record` of
/// `probe-exec -- /bin/true`: 2 % of its samples).
package final class TextPattern: @unchecked Sendable {  // Regex is immutable once compiled
    private let regex: Regex<AnyRegexOutput>

    /// Compiles `pattern`; nil when it is not a valid regular expression.
    package init?(_ pattern: String) {
        guard let regex = try? Regex(pattern) else { return nil }
        self.regex = regex
    }

    /// `text` with every match replaced by `replacement`.
    package func replacingMatches(in text: String, with replacement: String) -> String {
        text.replacing(regex, with: replacement)
    }

    /// Whether `line` holds a match.
    package func matches(_ line: String) -> Bool {
        (try? regex.firstMatch(in: line)) != nil
    }
}
