#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CStartupProbe

/// Turns mangled symbol names into what a person reads: Swift (the runtime's own demangler),
/// C++ and Rust legacy (`__cxa_demangle`, minus Rust's `::h<hash>`); others are left as they are.
public enum Demangle {
    /// The readable form of `symbol` (Swift names simplified: module prefixes, parameter types
    /// and return types dropped).
    public static func name(_ symbol: String) -> String {
        if isSwift(symbol) {
            return swift(symbol).map(SwiftNameSimplifier.simplify) ?? symbol
        }
        if symbol.hasPrefix("_Z") {
            return cxx(symbol).map(strippingRustHash) ?? symbol
        }
        return symbol
    }

    /// Rust legacy mangling is Itanium-compatible but ends in a hash: `foo::bar::h0123456789abcdef`.
    static func strippingRustHash(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > 19 else { return text }
        let tail = bytes.suffix(19)
        let isHex = { (b: UInt8) in (0x30...0x39).contains(b) || (0x61...0x66).contains(b) }
        guard tail.starts(with: Array("::h".utf8)), tail.dropFirst(3).allSatisfy(isHex) else { return text }
        return String(decoding: bytes.dropLast(19), as: UTF8.self)
    }

    /// Whether `symbol` is a mangled Swift name.
    static func isSwift(_ symbol: String) -> Bool {
        symbol.hasPrefix("$s") || symbol.hasPrefix("_$s") || symbol.hasPrefix("$S") || symbol.hasPrefix("_T0")
    }

    static func swift(_ symbol: String) -> String? {
        symbol.withCString { pointer in
            guard let result = spr_swift_demangle(pointer) else { return nil }
            defer { free(result) }
            return String(cString: result)
        }
    }

    static func cxx(_ symbol: String) -> String? {
        symbol.withCString { pointer in
            guard let result = spr_cxx_demangle(pointer) else { return nil }
            defer { free(result) }
            return String(cString: result)
        }
    }
}

