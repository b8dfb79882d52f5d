#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the process environment without Foundation.
package enum ProcessEnvironment {
    /// The environment as `NAME=value` strings, in order.
    package static var entries: [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    /// The environment as `NAME=value` bytes, in order, exactly as inherited (values need not be
    /// UTF-8): what the program is given.
    package static var entryBytes: [[UInt8]] {
        var result: [[UInt8]] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(cStringBytes(entry))
            pointer += 1
        }
        return result
    }

    /// The raw bytes of one variable's value, or nil when it is unset.
    package static func valueBytes(of name: String) -> [UInt8]? {
        getenv(name).map { cStringBytes($0) }
    }

    /// The value of one variable, or nil when it is unset or empty.
    package static func value(of name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }

    /// Whether a variable's name begins with `prefix` and is none of `except`. A scan of the C
    /// strings: only a name that begins so becomes a String (run at every start).
    package static func hasName(withPrefix prefix: String, except: [String] = []) -> Bool {
        prefix.withCString { start in
            let length = strlen(start)
            var pointer = environ
            while let entry = pointer.pointee {
                pointer += 1
                guard strncmp(entry, start, length) == 0 else { continue }
                if !except.contains(name(of: entry)) { return true }
            }
            return false
        }
    }

    /// Only the variable names: what a trace may record.
    package static var names: [String] {
        // Straight from the C strings: only the bytes before `=` become a String (the values,
        // possibly long, are never copied). Runs before every start: kept cheap.
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(name(of: entry))
            pointer += 1
        }
        return result
    }

    /// The name of a `NAME=value` entry: the bytes before the first `=` (all of it without one).
    private static func name(of entry: UnsafePointer<CChar>) -> String {
        let length = strchr(entry, Int32(UInt8(ascii: "="))).map { UnsafePointer($0) - entry } ?? strlen(entry)
        return entry.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

/// The bytes of a NUL-terminated C string, without the NUL (no UTF-8 check: environment values
/// and arguments need not be text).
package func cStringBytes(_ string: UnsafePointer<CChar>) -> [UInt8] {
    let length = strlen(string)
    return string.withMemoryRebound(to: UInt8.self, capacity: length) {
        Array(UnsafeBufferPointer(start: $0, count: length))
    }
}
