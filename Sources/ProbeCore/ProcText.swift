/// Byte-level reading of the kernel's text files (`/proc/PID/status`, `maps`, `mountinfo`, …).
///
/// Their fields are ASCII, so they are split as bytes: no grapheme breaking, and no generic
/// string algorithm from `_StringProcessing`, whose first use in a run costs probe-exec's
/// start-up a generic-metadata instantiation each (`perf record` of `probe-exec -- /bin/true`:
/// `String.split` and `trimmingPrefix` over `/proc` text were 8 % of its samples).
package enum ProcText {
    /// The lines of `bytes`, without their newlines (a last line without one included).
    package static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        split(bytes[...], at: UInt8(ascii: "\n"))
    }

    /// `text` split at each `separator`, empty pieces dropped.
    package static func split(_ text: ArraySlice<UInt8>, at separator: UInt8) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = text.startIndex
        var i = start
        while i < text.endIndex {
            if text[i] == separator {
                if i > start { pieces.append(text[start..<i]) }
                start = i + 1
            }
            i += 1
        }
        if start < text.endIndex { pieces.append(text[start..<text.endIndex]) }
        return pieces
    }

    /// The value of the `name:` line of a `status`-style file, spaces and tabs after the colon
    /// skipped; nil when no line has that name.
    package static func value(of name: String, in bytes: [UInt8]) -> ArraySlice<UInt8>? {
        let key = Array(name.utf8) + [UInt8(ascii: ":")]
        for line in lines(bytes) where line.starts(with: key) {
            var value = line.dropFirst(key.count)
            while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                value = value.dropFirst()
            }
            return value
        }
        return nil
    }

    /// A hexadecimal number (no `0x`), nil when empty, not hex or too large.
    package static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// A decimal number, optionally negative; nil when empty, not decimal or too large.
    package static func decimal(_ digits: ArraySlice<UInt8>) -> Int64? {
        var rest = digits
        let negative = rest.first == UInt8(ascii: "-")
        if negative { rest = rest.dropFirst() }
        guard !rest.isEmpty, rest.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in rest {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }

    /// An unsigned decimal number; nil when empty, not decimal or above `UInt64.max`.
    package static func unsigned(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// The bytes as a string (invalid UTF-8 repaired).
    package static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Where `needle` first occurs in `haystack`, or nil (nil for an empty needle).
    package static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let first = needle[0]
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
