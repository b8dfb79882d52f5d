import ProbeCore

/// Keeps secrets out of traces: command-line arguments that look like secrets are masked by
/// default, and output tails can be redacted with a pattern (`--redact`).
package enum Redaction {
    /// The mask written in place of a secret.
    package static let mask = "***"

    /// Words that make an option's value a secret: `--password=x`, `--api-key x`, `TOKEN=x`.
    package static let secretWords = [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api-key", "api_key",
        "access-key", "access_key", "private-key", "private_key", "credential", "auth",
    ]

    package static func isSecretName(_ name: Substring) -> Bool {
        let lower = name.lowercased().drop(while: { $0 == "-" })
        return secretWords.contains { lower.contains($0) }
    }

    /// `argv` with secret values masked: `--password=x` and `--token x` (the value after a
    /// secret-named option), `NAME=value` where NAME is secret-like, and the password of URLs
    /// (`postgres://user:***@host`).
    package static func arguments(_ argv: [String]) -> [String] {
        var result: [String] = []
        var maskNext = false
        for (i, argument) in argv.enumerated() {
            if maskNext {
                result.append(mask)
                maskNext = false
                continue
            }
            if i > 0, argument.hasPrefix("-"), !argument.contains("="), isSecretName(Substring(argument)) {
                maskNext = true
                result.append(argument)
                continue
            }
            if let eq = argument.firstIndex(of: "="), isSecretName(argument[..<eq]) {
                result.append(String(argument[...eq]) + mask)
                continue
            }
            result.append(maskingURLPassword(argument))
        }
        return result
    }

    /// `scheme://user:password@host` → `scheme://user:***@host`.
    package static func maskingURLPassword(_ text: String) -> String {
        guard let scheme = text.find("://") else { return text }
        let rest = text[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<rest.index(after: colon)]) + mask + String(rest[at...])
    }

    /// `text` with every match of `pattern` replaced by the mask.
    package static func output(_ text: String, pattern: TextPattern?) -> String {
        guard let pattern else { return text }
        return pattern.replacingMatches(in: text, with: mask)
    }
}
