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

    /// The environment as a dictionary (the first of duplicate names wins, as getenv does).
    public static var current: [String: String] {
        var result: [String: String] = [:]
        for entry in entries {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<eq])
            if result[name] == nil { result[name] = String(entry[entry.index(after: eq)...]) }
        }
        return result
    }

    /// Only the variable names: what a trace may record.
    public static var names: [String] {
        entries.map { entry in entry.firstIndex(of: "=").map { String(entry[..<$0]) } ?? entry }
    }
}
