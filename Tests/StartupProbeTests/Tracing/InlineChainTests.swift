import Foundation
import ProbeTrace
import ProbeTracing
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Optimised builds: the line a person wrote comes from the inline chain in `.debug_info` when
/// the faulting address's own line is compiler-generated, and the compiler's named trap is said.
@Suite(.serialized) struct InlineChainTests {
    static let fixtures = Binaries.testsDirectory + "/Fixtures"

    /// The 1-based line of `marker` in a fixture.
    static func line(of marker: String, in file: String) throws -> Int {
        let text = try String(contentsOfFile: fixtures + "/" + file, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.contains(marker) }) + 1
    }

    /// Runs `program` bare and traced; the same status both ways; the trace's crash frames and verdict.
    func crash(
        _ program: String,
        environment: [String: String] = [:]
    ) throws -> (
        status: Int32, frames: [JSONValue], verdict: String
    ) {
        let bare = try run([program], environment: environment)
        let r = try underProbeExec([program], environment: environment)
        #expect(r.status == bare.status, "traced \(r.status), bare \(bare.status)")
        let crash = r.events.first { $0.kind == "backtrace" && $0["crashed"]?.boolValue == true }
        return (r.status, crash?["frames"]?.arrayValue ?? [], verdict(r.events))
    }

    @Test(arguments: ["4", "5"])
    func swiftForceUnwrapInAnAsyncClosureIsPlacedByItsInlineChain(dwarfVersion: String) throws {
        let output = Binaries.freshDirectory("swift-O") + "/app"
        let built = try run(
            [
                "/usr/bin/env", "swiftc", "-O", "-g", "-dwarf-version=\(dwarfVersion)", "-parse-as-library",
                "-module-name", "app", "-o", output, Self.fixtures + "/optimized_async.swift",
            ],
            timeout: 300
        )
        try #require(built.status == 0, "\(built.stderr)")
        let line = try Self.line(of: "CRASH-LINE", in: "optimized_async.swift")
        // The runtime's backtracer off, as in an image without the toolchain.
        let r = try crash(output, environment: ["SWIFT_BACKTRACE": "enable=no"])
        #expect(r.status == 128 + SIGILL || r.status == 128 + SIGTRAP)
        let top = try #require(r.frames.first)
        #expect(top["function"]?.stringValue == "closure #1 in static App.routes(_:)", "\(top)")
        #expect(
            top["file"]?.stringValue?.hasSuffix("/optimized_async.swift") == true && top["line"]?.intValue == line,
            "\(top)"
        )
        let inlined = top["inlined"]?.arrayValue ?? []
        #expect(
            inlined.first?["function"]?.stringValue
                == "Swift runtime failure: Unexpectedly found nil while unwrapping an Optional value",
            "\(top)"
        )
        #expect(
            r.verdict.contains("in `closure #1 in static App.routes(_:)` (optimized_async.swift:\(line))"),
            "\(r.verdict)"
        )
        #expect(
            r.verdict.contains("the compiler's trap for “Swift runtime failure: Unexpectedly found nil"),
            "\(r.verdict)"
        )
        #expect(!r.verdict.contains("compiler-generated"), "\(r.verdict)")
    }

    @Test(arguments: ["-gdwarf-4", "-gdwarf-5"])
    func clangVerboseTrapIsNamedWithItsLine(dwarf: String) throws {
        let output = Binaries.freshDirectory("verbose-trap") + "/trap"
        let built = try run(
            ["/usr/bin/env", "clang", "-O2", "-g", dwarf, "-o", output, Self.fixtures + "/verbose_trap.c"]
        )
        try #require(built.status == 0, "\(built.stderr)")
        let line = try Self.line(of: "TRAP-LINE", in: "verbose_trap.c")
        let r = try crash(output)
        #expect(r.status == 128 + SIGILL || r.status == 128 + SIGTRAP)
        let top = try #require(r.frames.first)
        #expect(top["line"]?.intValue == line, "\(top)")
        let names = (top["inlined"]?.arrayValue ?? []).compactMap { $0["function"]?.stringValue }
        #expect(names == ["__clang_trap_msg$bounds$index out of range", "element"], "\(top)")
        #expect(r.verdict.contains("(verbose_trap.c:\(line))"), "\(r.verdict)")
        #expect(r.verdict.contains("the compiler's trap for “bounds: index out of range”"), "\(r.verdict)")
    }
}

/// Debug information that is damaged, or kept in a file of its own.
@Suite(.serialized) struct DebugFileTests {
    /// `tracee.c` built with debug info into a fresh directory, as `name`.
    func build(_ name: String) throws -> (directory: String, program: String) {
        let directory = Binaries.freshDirectory("debug-file")
        let program = directory + "/" + name
        let source = InlineChainTests.fixtures + "/tracee.c"
        let built = try run(["/usr/bin/env", "cc", "-O0", "-g", "-pthread", "-o", program, source])
        try #require(built.status == 0, "\(built.stderr)")
        return (directory, program)
    }

    @Test(arguments: [".debug_info", ".debug_line", ".debug_abbrev"])
    func damagedDebugInformationChangesNothing(section: String) throws {
        // A unit length of 0xffffffff then 2^64-1 (before: probe-exec trapped on the overflow and
        // exited 132 where the program exited 0 or 139).
        let (directory, program) = try build("damaged")
        let garbage = directory + "/garbage"
        try Data(repeating: 0xFF, count: 64).write(to: URL(fileURLWithPath: garbage))
        let patched = try run(["/usr/bin/env", "objcopy", "--update-section", "\(section)=\(garbage)", program])
        try #require(patched.status == 0, "\(patched.stderr)")
        for arguments in [["return", "0"], ["segv3"]] {
            let bare = try run([program] + arguments)
            let r = try underProbeExec([program] + arguments)
            #expect(r.status == bare.status, "\(section) \(arguments): traced \(r.status), bare \(bare.status)")
            #expect(r.events.contains { $0.kind == "exit" }, "\(section) \(arguments)")
            #expect(!verdict(r.events).contains(":0)"), "\(verdict(r.events))")
        }
    }

    @Test func aDirectoryIndexPast2To63InALineTableChangesNothing() throws {
        // A DWARF 4 file entry whose directory index is a 10-byte ULEB ≥ 2^63 (before: probe-exec
        // trapped converting it, exit 132 where the program exits 139; helper-19).
        let directory = Binaries.freshDirectory("dirindex")
        let program = directory + "/program"
        let source = InlineChainTests.fixtures + "/tracee.c"
        let built = try run(["/usr/bin/env", "cc", "-O0", "-g", "-gdwarf-4", "-pthread", "-o", program, source])
        try #require(built.status == 0, "\(built.stderr)")
        let dumped = directory + "/line"
        #expect(try run(["/usr/bin/env", "objcopy", "--dump-section", ".debug_line=" + dumped, program]).status == 0)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dumped)))
        let name = Array("tracee.c".utf8) + [0]
        let at = try #require(
            (0...(bytes.count - name.count)).first { Array(bytes[$0..<($0 + name.count)]) == name }
        )
        bytes.replaceSubrange((at + name.count)..<(at + name.count + 1), with: [UInt8](repeating: 0xFF, count: 9) + [1])
        try Data(bytes).write(to: URL(fileURLWithPath: dumped))
        #expect(try run(["/usr/bin/env", "objcopy", "--update-section", ".debug_line=" + dumped, program]).status == 0)
        let bare = try run([program, "segv3"])
        let r = try underProbeExec([program, "segv3"])
        #expect(r.status == bare.status && r.status == 128 + SIGSEGV, "traced \(r.status), bare \(bare.status)")
        #expect(verdict(r.events).contains("level3"))
    }

    @Test(arguments: ["beside", ".debug"])
    func aSeparateDebugFileGivesTheLines(place: String) throws {
        // objcopy --only-keep-debug, then --strip-debug --add-gnu-debuglink: the lines come from
        // the debug file the program names (beside it, or in its .debug folder).
        let (directory, program) = try build("stripped")
        let debugDirectory = place == ".debug" ? directory + "/.debug" : directory
        mkdir(debugDirectory, 0o755)
        let debug = debugDirectory + "/stripped.debug"
        for step in [
            ["--only-keep-debug", program, debug], ["--strip-debug", "--add-gnu-debuglink=" + debug, program],
        ] {
            let r = try run(["/usr/bin/env", "objcopy"] + step)
            try #require(r.status == 0, "\(step): \(r.stderr)")
        }
        let level3 = try InlineChainTests.line(of: "void level3(", in: "tracee.c")
        let r = try underProbeExec([program, "segv3"])
        #expect(r.status == 128 + SIGSEGV)
        let summary = verdict(r.events)
        #expect(summary.contains("(tracee.c:\(level3))"), "\(summary)")
        // Without it, no line is made up.
        unlink(debug)
        #expect(!verdict(try underProbeExec([program, "segv3"]).events).contains("tracee.c:"))
    }
}

/// Compressed debug sections (`-gz`): zlib streams inflated by probe-exec itself.
@Suite(.serialized) struct CompressedDebugSectionTests {
    @Test func inflateGivesBackWhatZlibCompressed() throws {
        // Stored (level 0), fixed and dynamic Huffman blocks, from python3's zlib; a damaged
        // stream gives nil, never a trap.
        let directory = Binaries.freshDirectory("inflate")
        let script = """
            import os, random, zlib
            random.seed(7)
            text = b"".join(b"line %d of a debug section, %s\\n" % (i, b"x" * (i % 40)) for i in range(20000))
            noise = bytes(random.getrandbits(8) for _ in range(70000))
            cases = {"text": text, "noise": noise, "short": b"abc", "empty": b"", "mixed": text[:5000] + noise[:5000] + text}
            for name, data in cases.items():
                for level in (0, 1, 9):
                    open(os.path.join("\(directory)", "%s.%d.z" % (name, level)), "wb").write(zlib.compress(data, level))
                open(os.path.join("\(directory)", name), "wb").write(data)
            """
        let made = try run(["/usr/bin/env", "python3", "-c", script])
        try #require(made.status == 0, "\(made.stderr)")
        for name in ["text", "noise", "short", "empty", "mixed"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
            for level in [0, 1, 9] {
                let compressed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/\(name).\(level).z")))
                let inflated = Inflate.zlib(compressed, from: 0, expectedSize: original.count, limit: 1 << 24)
                #expect(inflated == original, "\(name) level \(level)")
                // Damaged: nothing, or the original itself (a flip the checksum cannot see),
                // never other bytes (before the Adler-32 was checked, wrong lines were stated).
                for position in stride(from: 2, to: compressed.count, by: max(1, compressed.count / 40)) {
                    var damaged = compressed
                    damaged[position] ^= 0x10
                    let result = Inflate.zlib(damaged, from: 0, expectedSize: original.count, limit: 1 << 24)
                    #expect(result == nil || result == original, "\(name) level \(level) flip at \(position)")
                }
                // Past its deadline, it gives up.
                #expect(
                    original.count < 1 << 16
                        || Inflate.zlib(compressed, from: 0, expectedSize: original.count, limit: 1 << 24, deadline: 1)
                            == nil
                )
                #expect(Inflate.zlib(compressed, from: 0, expectedSize: original.count + 1, limit: 1 << 24) == nil)
            }
        }
    }

    @Test(arguments: [["gcc", "-gz=zlib"], ["clang", "-gz"]])
    func compressedDebugSectionsGiveTheLines(compiler: [String]) throws {
        let directory = Binaries.freshDirectory("gz")
        let program = directory + "/compressed"
        let built = try run(
            ["/usr/bin/env", compiler[0], "-O0", "-g", compiler[1], "-pthread", "-o", program]
                + [InlineChainTests.fixtures + "/tracee.c"]
        )
        try #require(built.status == 0, "\(built.stderr)")
        let sections = try run(["/usr/bin/env", "readelf", "-S", "-W", program])
        // Compressed indeed: readelf's flag C on .debug_line.
        let lineSection = sections.stdout.split(separator: "\n").first { $0.contains(".debug_line ") } ?? ""
        #expect(lineSection.split(separator: " ").contains("C"), "\(lineSection)")
        let level3 = try InlineChainTests.line(of: "void level3(", in: "tracee.c")
        let r = try underProbeExec([program, "segv3"])
        #expect(r.status == 128 + SIGSEGV)
        let summary = verdict(r.events)
        #expect(summary.contains("(tracee.c:\(level3))"), "\(summary)")
    }
}
