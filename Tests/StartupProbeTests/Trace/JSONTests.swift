import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

#if canImport(Glibc)
import Glibc
#endif

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

    /// Every character that could break a line or drive a terminal is escaped, everything else
    /// passes through; random strings over the tricky ranges read back unchanged.
    @Test func escapesExactlyTheDangerousCharacters() throws {
        #expect(
            JSONValue.string("\u{85}\u{9f}\u{a0}\u{7f}\u{2028}\u{2029}\u{2027}é").serialized
                == #""\u0085\u009f\#u{a0}\u007f\u2028\u2029\#u{2027}é""#
        )
        var generator = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = [
            "a", "\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "\u{80}", "\u{9f}", "\u{a0}", "é", "\u{2028}",
            "\u{2029}", "\u{202a}", "😀",
        ]
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                text.unicodeScalars.append(pool.randomElement(using: &generator)!)
            }
            let serialized = JSONValue.string(text).serialized
            #expect(
                !serialized.unicodeScalars.contains {
                    $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x2028 || $0.value == 0x2029
                }
            )
            #expect(try JSONParser.parse(serialized) == .string(text))
        }
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

/// UTC time stamps by arithmetic agree with the C library's gmtime_r, across centuries.
@Suite struct TimestampTests {
    @Test func civilDatesMatchGmtime() {
        var generator = SystemRandomNumberGenerator()
        let samples: [Int64] =
            [0, -1, 86_399, 86_400, 951_782_400, 4_107_542_399, -2_208_988_800]
            + (0..<5000).map { _ in Int64.random(in: -5_000_000_000...10_000_000_000, using: &generator) }
        for seconds in samples {
            var t = time_t(seconds)
            var expected = tm()
            gmtime_r(&t, &expected)
            let c = Timestamp.civil(secondsSinceEpoch: seconds)
            let got: [Int] = [c.year, c.month, c.day, c.secondOfDay]
            let hour = Int(expected.tm_hour) * 3600
            let minute = Int(expected.tm_min) * 60
            let want: [Int] = [
                Int(expected.tm_year) + 1900, Int(expected.tm_mon) + 1, Int(expected.tm_mday),
                hour + minute + Int(expected.tm_sec),
            ]
            #expect(got == want, "\(seconds)")
        }
    }
}
