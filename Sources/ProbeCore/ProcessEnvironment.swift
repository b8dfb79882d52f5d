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
                let end = strchr(entry, Int32(UInt8(ascii: "="))).map { $0 - entry } ?? strlen(entry)
                let name = entry.withMemoryRebound(to: UInt8.self, capacity: end) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: end), as: UTF8.self)
                }
                if !except.contains(name) { return true }
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
            let length = strchr(entry, Int32(UInt8(ascii: "="))).map { $0 - entry } ?? strlen(entry)
            result.append(
                entry.withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                }
            )
            pointer += 1
        }
        return result
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
