/// Plain substring search and split, used where `firstRange(of:)` would pull in the generic
/// `_StringProcessing` machinery on probe-exec's start-up path (measured: its first use costs a
/// generic-metadata instantiation per run).
extension StringProtocol {
    /// A plain substring search (no Foundation in the library).
    package func find(_ needle: String, backwards: Bool = false) -> Range<Index>? {
        let n = Array(needle)
        guard !n.isEmpty, count >= n.count else { return nil }
        var positions = Array(indices)
        if backwards { positions.reverse() }
        for start in positions {
            var i = start
            var matched = true
            for c in n {
                guard i < endIndex, self[i] == c else {
                    matched = false
                    break
                }
                i = index(after: i)
            }
            if matched { return start..<i }
        }
        return nil
    }

    /// Splits on a separator string.
    package func split(separatorText separator: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let r = rest.find(separator) {
            result.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
