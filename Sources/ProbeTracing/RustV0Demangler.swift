import ProbeCore
import ProbeTrace

/// Demangles Rust's v0 symbol names (`_R…`, RFC 2603), as used by the Rust standard library:
/// `_RNvNtCsjrHSEGnQ3l9_3std7process4exit` → `std::process::exit`. Crate disambiguators and
/// hashes are dropped (as `rustc-demangle`'s alternate form does); const generics and a few
/// rare types are shown as `_`. Malformed input gives nil, never a trap.
package struct RustV0Demangler {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    /// Lifetimes bound by enclosing `for<…>` binders, for naming `'a`, `'b`…
    private var boundLifetimes = 0

    /// The readable path of a `_R` symbol, or nil.
    package static func demangle(_ symbol: String) -> String? {
        var text = Substring(symbol)
        if text.hasPrefix("_R") {
            text = text.dropFirst(2)
        } else if text.hasPrefix("R") {
            text = text.dropFirst(1)
        } else {
            return nil
        }
        var demangler = RustV0Demangler(bytes: Array(text.utf8))
        if let first = demangler.peek(), first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") {
            _ = demangler.decimal()  // encoding version
        }
        return demangler.path(inValue: true)
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func eat(_ c: Character) -> Bool {
        if peek() == c.asciiValue {
            index += 1
            return true
        }
        return false
    }

    /// `<decimal-number>`: "0", or digits not starting with 0.
    private mutating func decimal() -> Int? {
        if peek() == UInt8(ascii: "0") {
            index += 1
            return 0
        }
        var value = 0
        var any = false
        while let c = peek(), c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
            value = value * 10 + Int(c - UInt8(ascii: "0"))
            guard value < 1 << 20 else { return nil }
            index += 1
            any = true
        }
        return any ? value : nil
    }

    /// `<base-62-number>`: digits then `_`; a lone `_` is 0, else the value plus one. Crate
    /// disambiguators are 64-bit hashes: the arithmetic wraps, and only backrefs use the value
    /// (checked against the current position).
    private mutating func base62() -> Int? {
        if eat("_") { return 0 }
        var value: UInt64 = 0
        while let c = next() {
            if c == UInt8(ascii: "_") { return Int(truncatingIfNeeded: (value &+ 1) & 0x7FFF_FFFF_FFFF_FFFF) }
            let digit: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(c - UInt8(ascii: "A")) + 36
            default: return nil
            }
            value = value &* 62 &+ digit
        }
        return nil
    }

    /// `[s <base-62-number>]`: the value (0 when absent), or nil when malformed.
    private mutating func disambiguator() -> Int? {
        if eat("s") { return base62().map { $0 &+ 1 } }
        return 0
    }

    /// `<identifier>`: a disambiguator, then `[u] <decimal> [_] <bytes>`.
    private mutating func identifier() -> String? {
        identifierWithDisambiguator()?.name
    }

    private mutating func identifierWithDisambiguator() -> (name: String, disambiguator: Int)? {
        guard let disambiguator = disambiguator() else { return nil }
        let punycode = eat("u")
        guard let length = decimal() else { return nil }
        _ = eat("_")
        guard index + length <= bytes.count else { return nil }
        let text = String(decoding: bytes[index..<(index + length)], as: UTF8.self)
        index += length
        return (punycode ? "{punycode}" + text : text, disambiguator)
    }

    private mutating func backref<T>(_ body: (inout RustV0Demangler) -> T?) -> T? {
        guard let target = base62(), target < index else { return nil }
        var copy = self
        copy.index = target
        copy.depth += 1
        guard copy.depth < 64 else { return nil }
        return body(&copy)
    }

    /// A path; `inValue` paths spell generic arguments `::<…>`, type paths `<…>`.
    private mutating func path(inValue: Bool = false) -> String? {
        depth += 1
        defer { depth -= 1 }
        guard depth < 64, let tag = next() else { return nil }
        switch tag {
        case UInt8(ascii: "C"):
            return identifier()
        case UInt8(ascii: "N"):
            guard let namespace = next(), let parent = path(inValue: inValue),
                let (name, n) = identifierWithDisambiguator()
            else {
                return nil
            }
            if namespace >= UInt8(ascii: "A") && namespace <= UInt8(ascii: "Z") {
                let kind =
                    namespace == UInt8(ascii: "C")
                    ? "closure" : namespace == UInt8(ascii: "S") ? "shim" : String(UnicodeScalar(namespace))
                return parent + "::{" + kind + (name.isEmpty ? "" : ":" + name) + "#\(n)}"
            }
            return name.isEmpty ? parent : parent + "::" + name
        case UInt8(ascii: "M"):
            guard disambiguator() != nil, path() != nil, let type = type() else { return nil }
            return "<" + type + ">"
        case UInt8(ascii: "X"):
            guard disambiguator() != nil, path() != nil, let type = type(), let trait = path() else { return nil }
            return "<" + type + " as " + trait + ">"
        case UInt8(ascii: "Y"):
            guard let type = type(), let trait = path() else { return nil }
            return "<" + type + " as " + trait + ">"
        case UInt8(ascii: "I"):
            guard let base = path(inValue: inValue) else { return nil }
            var arguments: [String] = []
            while !eat("E") {
                guard let argument = genericArgument() else { return nil }
                arguments.append(argument)
            }
            return base + (inValue ? "::<" : "<") + arguments.joined(separator: ", ") + ">"
        case UInt8(ascii: "B"):
            return backref { $0.path(inValue: inValue) }
        default:
            return nil
        }
    }

    /// `'_` for an erased lifetime, else its name from the enclosing binders.
    private mutating func lifetime() -> String? {
        guard let i = base62() else { return nil }
        if i == 0 { return "'_" }
        let position = boundLifetimes - i
        guard position >= 0, position < 26 else { return "'_" }
        return "'" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(position)))
    }

    /// `G <n>`: a `for<'a, …>` binder of n+1 lifetimes, or nil when there is none.
    private mutating func binder() -> String?? {
        guard eat("G") else { return .some(nil) }
        guard let count = base62() else { return nil }
        var names: [String] = []
        for _ in 0...count {
            boundLifetimes += 1
            names.append("'" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(min(boundLifetimes - 1, 25)))))
        }
        return .some("for<" + names.joined(separator: ", ") + "> ")
    }

    private mutating func genericArgument() -> String? {
        if eat("L") { return lifetime() }
        if eat("K") { return constant() }
        return type()
    }

    private mutating func constant() -> String? {
        if eat("p") { return "_" }
        if eat("B") { return backref { $0.constant() } }
        guard let type = type() else { return nil }
        let negative = eat("n")
        var value: UInt64 = 0
        var digits = 0
        while let c = next(), c != UInt8(ascii: "_") {
            guard let digit = c.hexValue else { return nil }
            value = value &* 16 &+ UInt64(digit)
            digits += 1
        }
        switch type {
        case "bool": return value == 0 ? "false" : "true"
        case "char": return UnicodeScalar(UInt32(truncatingIfNeeded: value)).map { "'\($0)'" } ?? "_"
        default:
            guard digits <= 16 else { return "_" }
            return (negative ? "-" : "") + String(value) + ": " + type
        }
    }

    private static let basicTypes: [UInt8: String] = [
        UInt8(ascii: "a"): "i8", UInt8(ascii: "b"): "bool", UInt8(ascii: "c"): "char", UInt8(ascii: "d"): "f64",
        UInt8(ascii: "e"): "str", UInt8(ascii: "f"): "f32", UInt8(ascii: "h"): "u8", UInt8(ascii: "i"): "isize",
        UInt8(ascii: "j"): "usize", UInt8(ascii: "l"): "i32", UInt8(ascii: "m"): "u32", UInt8(ascii: "n"): "i128",
        UInt8(ascii: "o"): "u128", UInt8(ascii: "s"): "i16", UInt8(ascii: "t"): "u16", UInt8(ascii: "u"): "()",
        UInt8(ascii: "v"): "...", UInt8(ascii: "x"): "i64", UInt8(ascii: "y"): "u64", UInt8(ascii: "z"): "!",
        UInt8(ascii: "p"): "_",
    ]

    private mutating func type() -> String? {
        depth += 1
        defer { depth -= 1 }
        guard depth < 64, let tag = peek() else { return nil }
        if let basic = RustV0Demangler.basicTypes[tag] {
            index += 1
            return basic
        }
        index += 1
        switch tag {
        case UInt8(ascii: "R"), UInt8(ascii: "Q"):
            var lifetimeText = ""
            if eat("L") {
                guard let name = lifetime() else { return nil }
                if name != "'_" { lifetimeText = name + " " }
            }
            guard let inner = type() else { return nil }
            return "&" + lifetimeText + (tag == UInt8(ascii: "R") ? "" : "mut ") + inner
        case UInt8(ascii: "P"), UInt8(ascii: "O"):
            guard let inner = type() else { return nil }
            return (tag == UInt8(ascii: "P") ? "*const " : "*mut ") + inner
        case UInt8(ascii: "A"):
            guard let inner = type(), constant() != nil else { return nil }
            return "[" + inner + "; _]"
        case UInt8(ascii: "S"):
            guard let inner = type() else { return nil }
            return "[" + inner + "]"
        case UInt8(ascii: "T"):
            var items: [String] = []
            while !eat("E") {
                guard let item = type() else { return nil }
                items.append(item)
            }
            return "(" + items.joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case UInt8(ascii: "F"):
            let saved = boundLifetimes
            defer { boundLifetimes = saved }
            guard let forBinder = binder() else { return nil }
            var prefix = forBinder ?? ""
            if eat("U") { prefix += "unsafe " }
            if eat("K") {
                if eat("C") {
                    prefix += "extern \"C\" "
                } else {
                    guard let abi = identifier() else { return nil }
                    prefix += "extern \"" + abi.replacingUnderscores() + "\" "
                }
            }
            var parameters: [String] = []
            while !eat("E") {
                guard let parameter = type() else { return nil }
                parameters.append(parameter)
            }
            guard let result = type() else { return nil }
            return prefix + "fn(" + parameters.joined(separator: ", ") + ")" + (result == "()" ? "" : " -> " + result)
        case UInt8(ascii: "D"):
            let saved = boundLifetimes
            guard let forBinder = binder() else { return nil }
            var traits: [String] = []
            while !eat("E") {
                guard var text = path() else { return nil }
                // Associated-type bindings join the trait's own generic arguments: Fn<(A,), Output = R>.
                var bindings: [String] = []
                while eat("p") {
                    guard let name = identifier(), let bound = type() else { return nil }
                    bindings.append(name + " = " + bound)
                }
                if !bindings.isEmpty {
                    if text.hasSuffix(">") {
                        text.removeLast()
                        text += ", " + bindings.joined(separator: ", ") + ">"
                    } else {
                        text += "<" + bindings.joined(separator: ", ") + ">"
                    }
                }
                traits.append(text)
            }
            boundLifetimes = saved
            guard eat("L"), lifetime() != nil else { return nil }
            return "dyn " + (forBinder ?? "") + traits.joined(separator: " + ")
        case UInt8(ascii: "B"):
            return backref { $0.type() }
        default:
            index -= 1
            return path()
        }
    }
}

extension UInt8 {
    /// The value of an ASCII hex digit.
    fileprivate var hexValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return self - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

extension String {
    /// ABI names are mangled with `_` for `-` (`C_unwind` → `C-unwind`).
    fileprivate func replacingUnderscores() -> String { String(self.map { $0 == "_" ? "-" : $0 }) }
}
