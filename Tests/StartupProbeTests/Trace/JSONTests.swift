import StartupProbe
import Testing

@Suite struct JSONTests {
    @Test func roundTripsEscapesAndUnicode() throws {
        let value = JSONValue.object([
            ("s", .string("a\"b\\c\n\t\u{0}\u{1b}é😀\u{2028}")), ("n", .number(-12.5)),
            ("i", .int(9_007_199_254_740_991)),
            ("b", .bool(true)), ("z", .null), ("a", .array([.number(1), .string("x")])),
        ])
        let text = value.serialized
        #expect(!text.contains("\n"))
        #expect(try JSONParser.parse(text) == value)
    }

    @Test func rejectsMalformedInputWithoutTrapping() {
        for bad in ["", "{", "[1,", "{\"a\"}", "\"\\u12\"", "tru", "1e", "-", "{\"a\":1,}", "\"a\u{1}\"", "[] x"] {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(bad) }
        }
    }

    @Test func limitsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }
}
