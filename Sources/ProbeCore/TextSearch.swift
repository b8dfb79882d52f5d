/// Plain substring search and split, used where `firstRange(of:)` would pull in the generic
/// `_StringProcessing` machinery on probe-exec's start-up path (measured: its first use costs a
/// generic-metadata instantiation per run). The search compares UTF-8 bytes (a match of valid
/// UTF-8 starts and ends on scalar boundaries), on concrete types so nothing is generic at run time.
extension Substring {
    /// The first (or, `backwards`, the last) range where `needle` occurs; nil when it does not
    /// or `needle` is empty.
    package func find(_ needle: String, backwards: Bool = false) -> Range<String.Index>? {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty else { return nil }
        let hay = Array(utf8)
        guard hay.count >= pattern.count else { return nil }
        let last = hay.count - pattern.count
        var offset = backwards ? last : 0
        while offset >= 0 && offset <= last {
            var j = 0
            while j < pattern.count && hay[offset + j] == pattern[j] { j += 1 }
            if j == pattern.count {
                let lower = utf8.index(utf8.startIndex, offsetBy: offset)
                return lower..<utf8.index(lower, offsetBy: pattern.count)
            }
            offset += backwards ? -1 : 1
        }
        return nil
    }

    /// Splits on a separator string.
    package func split(separatorText separator: String) -> [String] {
        var result: [String] = []
        var rest = self
        while let r = rest.find(separator) {
            result.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}

extension String {
    /// The first (or, `backwards`, the last) range where `needle` occurs; nil when it does not
    /// or `needle` is empty.
    package func find(_ needle: String, backwards: Bool = false) -> Range<String.Index>? {
        self[...].find(needle, backwards: backwards)
    }

    /// Splits on a separator string.
    package func split(separatorText separator: String) -> [String] {
        self[...].split(separatorText: separator)
    }
}

extension String {
    /// The last component of a path (`/usr/lib/libc.so.6` → `libc.so.6`; trailing slashes
    /// ignored), found on its UTF-8 bytes: `split(separator: "/")` builds generic witness tables at
    /// its first use in each run, on the exit's naming path.
    package var lastPathComponent: String {
        var end = utf8.endIndex
        while end > utf8.startIndex, utf8[utf8.index(before: end)] == UInt8(ascii: "/") {
            end = utf8.index(before: end)
        }
        guard end > utf8.startIndex else { return self }
        let start = utf8[..<end].lastIndex(of: UInt8(ascii: "/")).map { utf8.index(after: $0) } ?? utf8.startIndex
        return String(self[start..<end])
    }

    /// What precedes the last `/` of a path (`/usr/bin/true` → `/usr/bin`; `/true` and `true` → ``).
    package var pathDirectory: String {
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(self[..<slash])
    }
}
