import ProbeCore
import ProbeTrace

/// Shortens a fully demangled Swift name the way `swift demangle --simplified` does:
/// `static probe_fixture.Crashes.loadConfiguration(path: Swift.String) -> Swift.Int` becomes
/// `static Crashes.loadConfiguration(path:)`. The Swift runtime's `swift_demangle` only gives the
/// full form; the full form is kept in the trace's `symbol` field (mangled) for tools.
package enum SwiftNameSimplifier {
    package static func simplify(_ full: String) -> String {
        // The pieces the compiler splits an async function into, and thunks, are named after the
        // function a person wrote (as `swift demangle --simplified` does): "(2) suspend resume
        // partial function for closure #6 (…) in static App.routes(…)" → "closure #6 in static
        // App.routes(router:)".
        var full = Substring(full)
        var stripped = true
        while stripped {
            stripped = false
            if full.hasPrefix("("), let close = full.firstIndex(of: ")"),
                full[full.index(after: full.startIndex)..<close].allSatisfy(\.isNumber),
                full[close...].hasPrefix(") ")
            {
                full = full[full.index(close, offsetBy: 2)...]
                stripped = true
            }
            for wrapper in SwiftNameSimplifier.wrappers where full.hasPrefix(wrapper) {
                full = full.dropFirst(wrapper.count)
                stripped = true
            }
            // "function signature specialization <Arg[0] = Dead> of X", "generic specialization
            // <Swift.Int> of X": X, compiled for particular arguments.
            for kind in ["function signature specialization <", "generic specialization <"] where full.hasPrefix(kind) {
                var depth = 0
                for i in full.indices[full.index(full.startIndex, offsetBy: kind.count - 1)...] {
                    if full[i] == "<" { depth += 1 }
                    if full[i] == ">" && !isArrow(full, i) { depth -= 1 }
                    if depth == 0 {
                        let rest = full[full.index(after: i)...]
                        if rest.hasPrefix(" of ") {
                            full = rest.dropFirst(4)
                            stripped = true
                        }
                        break
                    }
                }
            }
        }
        return simplifyName(String(full))
    }

    /// What the compiler's own pieces of a function are called before the function's name.
    static let wrappers = [
        "suspend resume partial function for ", "await resume partial function for ", "partial apply forwarder for ",
        "partial apply for ", "async function pointer to ", "dispatch thunk of ", "outlined copy of ",
    ]

    private static func simplifyName(_ full: String) -> String {
        // "closure #1 (…) -> () in X" → "closure #1 in X'"
        if full.hasPrefix("closure #") || full.hasPrefix("implicit closure #"), let inIndex = firstTopLevelIn(full) {
            let head = full[..<inIndex]
            let label = head.split(separator: " ").prefix(while: { !$0.hasPrefix("(") }).joined(separator: " ")
            return label + " in " + simplify(String(full[full.index(inIndex, offsetBy: 4)...]))
        }
        var text = Substring(full)
        var prefix = ""
        for keyword in ["static ", "merged ", "generic specialization ", "@objc "] where text.hasPrefix(keyword) {
            prefix += keyword
            text = text.dropFirst(keyword.count)
        }
        // Name up to the first top-level "(" (generic arguments may hold parentheses).
        var depth = 0
        var open: Substring.Index?
        for i in text.indices {
            let c = text[i]
            if c == "<" {
                depth += 1
            } else if c == ">" && !isArrow(text, i) {
                depth -= 1
            } else if c == "(" && depth == 0 {
                open = i
                break
            }
        }
        guard let open else { return prefix + dropModule(String(text)) }
        let name = dropModule(String(text[..<open]))
        // Matching ")" of the parameter list.
        depth = 0
        var close: Substring.Index?
        for i in text[open...].indices {
            if text[i] == "(" || text[i] == "<" || text[i] == "[" { depth += 1 }
            if text[i] == ")" || (text[i] == ">" && !isArrow(text, i)) || text[i] == "]" {
                depth -= 1
                if depth == 0 {
                    close = i
                    break
                }
            }
        }
        guard let close else { return prefix + name }
        let parameters = splitTopLevel(text[text.index(after: open)..<close])
        let labels = parameters.map { parameter -> String in
            if let colon = parameter.firstIndex(of: ":"), !parameter[..<colon].contains(where: { "<([".contains($0) }) {
                return parameter[..<colon].trimmingCharacters() + ":"
            }
            return "_:"
        }
        return prefix + name + "(" + labels.joined() + ")"
    }

    /// Whether the ">" at `i` is the head of a function arrow "->", not a closing bracket.
    package static func isArrow<S: StringProtocol>(_ text: S, _ i: S.Index) -> Bool {
        i > text.startIndex && text[text.index(before: i)] == "-"
    }

    /// Where " in " first appears outside brackets (the closure's context follows it).
    package static func firstTopLevelIn(_ text: String) -> String.Index? {
        var depth = 0
        var i = text.startIndex
        while i < text.endIndex {
            switch text[i] {
            case "(", "<", "[": depth += 1
            case ">" where isArrow(text, i): break
            case ")", ">", "]": depth -= 1
            case " " where depth == 0 && text[i...].hasPrefix(" in "): return i
            default: break
            }
            i = text.index(after: i)
        }
        return nil
    }

    /// "probe_fixture.Crashes.f" → "Crashes.f" (the module is the first dotted component).
    package static func dropModule(_ name: String) -> String {
        let parts = name.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, !parts[0].contains(where: { " <(".contains($0) }) else { return name }
        return String(parts[1])
    }

    package static func splitTopLevel(_ text: Substring) -> [Substring] {
        var result: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for i in text.indices {
            switch text[i] {
            case "(", "<", "[": depth += 1
            case ">" where isArrow(text, i): break
            case ")", ">", "]": depth -= 1
            case "," where depth == 0:
                result.append(text[start..<i])
                start = text.index(after: i)
            default: break
            }
        }
        if start < text.endIndex || !result.isEmpty { result.append(text[start...]) }
        return result.filter { !$0.allSatisfy(\.isWhitespace) }
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
