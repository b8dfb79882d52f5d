extension Diagnose {
    /// "340 ms", "1.2 s", "3 min 20 s".
    package static func duration(_ ms: Double) -> String {
        if ms < 1 { return "\(Double(Int(ms * 100)) / 100) ms" }
        if ms < 1000 { return "\(Int(ms.rounded())) ms" }
        if ms < 60_000 { return "\(Double(Int(ms / 100)) / 10) s" }
        let seconds = Int(ms / 1000)
        return "\(seconds / 60) min \(seconds % 60) s"
    }

    /// A period given in seconds, as given: "2 s", "0.5 s".
    package static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? "\(Int(value)) s" : "\(value) s"
    }

    /// "96 MiB", "1.5 GiB", "512 KiB", "100 bytes".
    package static func bytes(_ count: UInt64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard count >= 1024 else { return "\(count) bytes" }
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = (value * 10).rounded() / 10
        let text = tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
        return "\(text) \(units[unit])"
    }
}

extension Substring {
    /// Without leading and trailing whitespace.
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}

extension String {
    /// "f ← g ← main" as "`f` ← `g` ← `main`".
    func backticked() -> String {
        var out = ""
        for part in self.split(separator: "←") {
            if !out.isEmpty { out += " ← " }
            var name = String(part.trimmingWhitespace())
            var count = ""
            // `recurse ×256` (a recursion, from RemoteBacktrace.summary): the count outside the name.
            if let mark = name.lastIndex(of: "×"), mark > name.startIndex,
                name[name.index(before: mark)] == " ", name[name.index(after: mark)...].allSatisfy(\.isNumber),
                name.index(after: mark) < name.endIndex
            {
                count = " ×" + name[name.index(after: mark)...]
                name = String(name[..<name.index(before: mark)])
            }
            out += "`" + name + "`" + count
        }
        return out
    }
}

extension Array where Element == String {
    /// Joined by hand: `joined(separator:)` instantiates generic metadata whose first
    /// conformance lookup scans the whole static binary (measured in the start-up profile).
    func concatenated(separator: String) -> String {
        var out = ""
        for item in self {
            if !out.isEmpty { out += separator }
            out += item
        }
        return out
    }

    /// Joined by spaces: sentences into a paragraph.
    func joinedWithSpaces() -> String { concatenated(separator: " ") }
    /// Joined by arrows: an import chain.
    func joinedWithArrows() -> String { concatenated(separator: " → ") }

    /// "a, b and c"
    func joinedWithCommas() -> String {
        var out = ""
        for (i, item) in enumerated() {
            if i > 0 { out += i == count - 1 ? " and " : ", " }
            out += item
        }
        return out
    }
}
