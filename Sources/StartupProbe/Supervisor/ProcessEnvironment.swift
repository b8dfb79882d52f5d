#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the process environment without Foundation.
public enum ProcessEnvironment {
    /// The environment as `NAME=value` strings, in order.
    public static var entries: [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    /// The value of one variable, or nil when it is unset or empty.
    public static func value(of name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }

    /// Only the variable names: what a trace may record.
    public static var names: [String] {
        entries.map { entry in entry.firstIndex(of: "=").map { String(entry[..<$0]) } ?? entry }
    }
}
