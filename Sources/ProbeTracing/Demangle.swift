import CProbeExec
import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns mangled symbol names into what a person reads: Swift (the runtime's own demangler),
/// C++ and Rust legacy (`__cxa_demangle`, minus Rust's `::h<hash>`), Rust v0 (`_R…`, our own
/// ``RustV0Demangler``); others are left as they are.
package enum Demangle {
    /// The readable form of `symbol` (Swift names simplified: module prefixes, parameter types
    /// and return types dropped).
    package static func name(_ symbol: String) -> String {
        if isSwift(symbol) {
            return swift(symbol).map(SwiftNameSimplifier.simplify) ?? symbol
        }
        if symbol.hasPrefix("_R") {
            return RustV0Demangler.demangle(symbol) ?? symbol
        }
        if symbol.hasPrefix("_Z") {
            return cxx(symbol).map(strippingRustHash) ?? symbol
        }
        return symbol
    }

    /// Rust legacy mangling is Itanium-compatible but ends in a hash: `foo::bar::h0123456789abcdef`.
    package static func strippingRustHash(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > 19 else { return text }
        let tail = bytes.suffix(19)
        let isHex = { (b: UInt8) in (0x30...0x39).contains(b) || (0x61...0x66).contains(b) }
        guard tail.starts(with: Array("::h".utf8)), tail.dropFirst(3).allSatisfy(isHex) else { return text }
        return unescapingRustLegacy(String(decoding: bytes.dropLast(19), as: UTF8.self))
    }

    /// Rust legacy names spell punctuation as `$…$` escapes: `{{closure}}` is `$u7b$$u7b$closure$u7d$$u7d$`.
    package static func unescapingRustLegacy(_ text: String) -> String {
        guard text.contains("$") else { return text }
        // An identifier that starts with an escape is prefixed with "_" by rustc.
        var text = text
        while let range = text.find("::_$") {
            text.replaceSubrange(range, with: "::$")
        }
        if text.hasPrefix("_$") { text.removeFirst() }
        let named: [String: String] = [
            "SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ",",
        ]
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            guard let close = after.firstIndex(of: "$") else {
                out += rest[dollar...]
                return out
            }
            let code = String(after[..<close])
            if let symbol = named[code] {
                out += symbol
            } else if code.hasPrefix("u"), let value = UInt32(code.dropFirst(), radix: 16),
                let scalar = UnicodeScalar(value)
            {
                out.unicodeScalars.append(scalar)
            } else {
                out += "$" + code + "$"
            }
            rest = after[after.index(after: close)...]
        }
        return out + rest
    }

    /// Whether `symbol` is a mangled Swift name.
    package static func isSwift(_ symbol: String) -> Bool {
        symbol.hasPrefix("$s") || symbol.hasPrefix("_$s") || symbol.hasPrefix("$S") || symbol.hasPrefix("_T0")
    }

    package static func swift(_ symbol: String) -> String? {
        symbol.withCString { pointer in
            guard let result = spr_swift_demangle(pointer) else { return nil }
            defer { free(result) }
            return String(cString: result)
        }
    }

    package static func cxx(_ symbol: String) -> String? {
        symbol.withCString { pointer in
            guard let result = spr_cxx_demangle(pointer) else { return nil }
            defer { free(result) }
            return String(cString: result)
        }
    }
}
