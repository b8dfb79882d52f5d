/// Makes untrusted text (a child's output) safe to show on a terminal.
package enum Escaping {
    /// Replaces control characters (including ESC, so no ANSI sequence survives) with visible
    /// escapes such as `\x1b`; tabs become spaces, newlines are kept only when `keepNewlines`.
    package static func visible(_ text: String, keepNewlines: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A where keepNewlines: out.unicodeScalars.append(scalar)
            case 0x09: out += "    "
            case 0x00..<0x20, 0x7F, 0x80..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
                let hex = String(scalar.value, radix: 16)
                out += scalar.value < 0x100 ? "\\x" + (hex.count == 1 ? "0" : "") + hex : "\\u{\(hex)}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
