import ProbeCore

/// DEFLATE decoding (RFC 1951) of a zlib stream (RFC 1950): the compressed debug sections that
/// `-gz` (`SHF_COMPRESSED`, `ELFCOMPRESS_ZLIB`) writes. Written here, after Mark Adler's `puff`,
/// rather than linking zlib: about 150 lines against the release binary's size budget.
///
/// Bounded and total: the output never exceeds its limit, malformed input gives nil, nothing traps.
package enum Inflate {
    /// The bytes a zlib stream starting at `start` inflates to, when they are exactly
    /// `expectedSize` (at most `limit`); nil otherwise.
    /// Past `deadline` (CLOCK_MONOTONIC nanoseconds) it gives up. The stream's Adler-32 must match.
    package static func zlib(
        _ input: [UInt8],
        from start: Int,
        expectedSize: Int,
        limit: Int,
        deadline: Int64 = .max
    ) -> [UInt8]? {
        guard expectedSize >= 0, expectedSize <= limit, start + 2 <= input.count else { return nil }
        let method = input[start]
        let flags = input[start + 1]
        // Deflate with a window of at most 32 KiB, no preset dictionary, a valid check.
        guard method & 0x0F == 8, method >> 4 <= 7, flags & 0x20 == 0,
            (UInt16(method) << 8 | UInt16(flags)) % 31 == 0
        else { return nil }
        var state = State(input: input, position: start + 2, limit: expectedSize, deadline: deadline)
        guard state.run(), state.output.count == expectedSize else { return nil }
        // The Adler-32 of the output follows, big-endian, at the next byte (a damaged stream
        // that still decodes must not give wrong lines).
        let at = state.position
        guard at + 4 <= input.count else { return nil }
        let stored =
            UInt32(input[at]) << 24 | UInt32(input[at + 1]) << 16 | UInt32(input[at + 2]) << 8
            | UInt32(input[at + 3])
        return adler32(state.output) == stored ? state.output : nil
    }

    /// The Adler-32 checksum (RFC 1950) of `bytes`.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var i = 0
        while i < bytes.count {
            // 5552 bytes at most between reductions keeps the sums within 32 bits.
            let end = min(i + 5552, bytes.count)
            while i < end {
                a &+= UInt32(bytes[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }

    /// A canonical Huffman code: how many codes of each length, and the symbols in code order.
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int]

        /// From each symbol's code length (0: unused); nil when the lengths over-subscribe.
        init?(lengths: ArraySlice<Int>) {
            symbols = [Int](repeating: 0, count: lengths.count)
            for length in lengths { counts[length] += 1 }
            var left = 1
            for length in 1..<16 {
                left = left * 2 - counts[length]
                if left < 0 { return nil }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
        }
    }

    static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtra = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    /// The fixed codes (RFC 1951 3.2.6), built once: literal/length lengths 8, 9, 7, 8 by range;
    /// 30 distance codes of length 5.
    static let fixedLiterals: Huffman = {
        var lengths = [Int](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        return Huffman(lengths: lengths[...])!
    }()
    static let fixedDistances = Huffman(lengths: [Int](repeating: 5, count: 30)[...])!

    /// The order code-length code lengths come in (dynamic blocks).
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    struct State {
        let input: [UInt8]
        var position: Int
        let limit: Int
        var output: [UInt8] = []
        var bitBuffer = 0
        var bitCount = 0
        var failed = false

        let deadline: Int64

        init(input: [UInt8], position: Int, limit: Int, deadline: Int64) {
            self.input = input
            self.position = position
            self.limit = limit
            self.deadline = deadline
            output.reserveCapacity(limit)
        }

        /// `count` bits, least significant first (0 and `failed` past the end).
        mutating func bits(_ count: Int) -> Int {
            while bitCount < count {
                guard position < input.count else {
                    failed = true
                    return 0
                }
                bitBuffer |= Int(input[position]) << bitCount
                position += 1
                bitCount += 8
            }
            let value = bitBuffer & ((1 << count) - 1)
            bitBuffer >>= count
            bitCount -= count
            return value
        }

        mutating func decode(_ code: Huffman) -> Int {
            var value = 0
            var first = 0
            var index = 0
            for length in 1..<16 {
                value |= bits(1)
                let count = code.counts[length]
                if value - count < first { return failed ? -1 : code.symbols[index + value - first] }
                index += count
                first = (first + count) << 1
                value <<= 1
            }
            return -1
        }

        /// Every block, to the last one.
        mutating func run() -> Bool {
            var last = 0
            while last == 0 {
                if deadline != .max, TraceClock.nowNanoseconds >= deadline { return false }
                last = bits(1)
                let ok: Bool
                switch bits(2) {
                case 0: ok = stored()
                case 1: ok = fixed()
                case 2: ok = dynamic()
                default: ok = false
                }
                if !ok || failed { return false }
            }
            return true
        }

        mutating func stored() -> Bool {
            bitBuffer = 0
            bitCount = 0
            guard position + 4 <= input.count else { return false }
            let length = Int(input[position]) | Int(input[position + 1]) << 8
            let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
            position += 4
            guard length == ~complement & 0xFFFF, position + length <= input.count, output.count + length <= limit
            else { return false }
            output.append(contentsOf: input[position..<(position + length)])
            position += length
            return true
        }

        mutating func fixed() -> Bool {
            codes(Inflate.fixedLiterals, Inflate.fixedDistances)
        }

        mutating func dynamic() -> Bool {
            let literalCount = bits(5) + 257
            let distanceCount = bits(5) + 1
            let codeLengthCount = bits(4) + 4
            guard literalCount <= 286, distanceCount <= 30, !failed else { return false }
            var lengths = [Int](repeating: 0, count: 320)
            for i in 0..<codeLengthCount { lengths[Inflate.codeLengthOrder[i]] = bits(3) }
            guard let lengthCode = Huffman(lengths: lengths[0..<19]) else { return false }
            var index = 0
            while index < literalCount + distanceCount {
                var symbol = decode(lengthCode)
                if symbol < 0 { return false }
                if symbol < 16 {
                    lengths[index] = symbol
                    index += 1
                    continue
                }
                var repeated = 0
                if symbol == 16 {
                    guard index > 0 else { return false }
                    repeated = lengths[index - 1]
                    symbol = 3 + bits(2)
                } else if symbol == 17 {
                    symbol = 3 + bits(3)
                } else {
                    symbol = 11 + bits(7)
                }
                guard index + symbol <= literalCount + distanceCount else { return false }
                for _ in 0..<symbol {
                    lengths[index] = repeated
                    index += 1
                }
            }
            guard lengths[256] != 0,
                let literals = Huffman(lengths: lengths[0..<literalCount]),
                let distances = Huffman(lengths: lengths[literalCount..<(literalCount + distanceCount)])
            else { return false }
            return codes(literals, distances)
        }

        /// A block's literals and copies, to its end code.
        mutating func codes(_ literals: Huffman, _ distances: Huffman) -> Bool {
            var decoded = 0
            while true {
                decoded += 1
                if decoded & 0xFFFF == 0, deadline != .max, TraceClock.nowNanoseconds >= deadline { return false }
                var symbol = decode(literals)
                if symbol < 0 || failed { return false }
                if symbol < 256 {
                    guard output.count < limit else { return false }
                    output.append(UInt8(symbol))
                    continue
                }
                if symbol == 256 { return true }
                symbol -= 257
                guard symbol < 29 else { return false }
                let length = Inflate.lengthBase[symbol] + bits(Inflate.lengthExtra[symbol])
                let distanceSymbol = decode(distances)
                guard distanceSymbol >= 0, distanceSymbol < 30 else { return false }
                let distance = Inflate.distanceBase[distanceSymbol] + bits(Inflate.distanceExtra[distanceSymbol])
                guard distance <= output.count, output.count + length <= limit, !failed else { return false }
                let from = output.count - distance
                for i in 0..<length { output.append(output[from + i]) }
            }
        }
    }
}
