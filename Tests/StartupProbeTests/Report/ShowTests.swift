import Foundation
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

/// `probe-exec show` renders damaged traces as far as they go and never crashes on them.
@Suite struct ShowTests {
    static let good = """
        {"v":1,"event":"start","t_ms":0.5,"argv":["./server","--port","2000"],"pid":10,"uid":0}
        {"v":1,"event":"exec","t_ms":1.2,"ok":true,"pid":11,"path":"/app/server"}
        {"v":1,"event":"exit","t_ms":1200,"pid":11,"code":0,"status":0}
        {"v":1,"event":"verdict","t_ms":1201,"category":"clean_exit","status":0,"summary":"`./server` exited normally"}

        """

    @Test func rendersVerdictFirstThenTimeline() throws {
        let document = TraceReader.parse(Array(Self.good.utf8), path: "t")
        #expect(document.problems.isEmpty)
        let text = ReportRenderer.render(document)
        let verdict = try #require(text.range(of: "VERDICT (clean_exit)"))
        let timeline = try #require(text.range(of: "timeline:"))
        #expect(verdict.lowerBound < timeline.lowerBound)
        #expect(text.contains("+1200.0 ms  exit: code 0"))
        #expect(text.contains("command:  ./server --port 2000"))
    }

    @Test func truncatedLastLineIsNoted() {
        let cut = String(Self.good.dropLast(40))
        let document = TraceReader.parse(Array(cut.utf8), path: "t")
        #expect(document.events.count == 3)
        #expect(document.problems.contains { $0.contains("cut short") })
    }

    @Test func garbageLinesAreSkippedWithANote() {
        let text = "garbage\n\u{1}\u{2}\n" + Self.good + "{\"no_event\":1}\n[1,2\n"
        let document = TraceReader.parse(Array(text.utf8), path: "t")
        #expect(document.events.count == 4)
        #expect(document.problems.count == 4)
        _ = ReportRenderer.render(document)
    }

    /// A 200 MiB trace with lines over the 4 MiB line limit: `show` reads the first 64 MiB only,
    /// skips the long lines, says both, and stays far below the file's size in memory.
    @Test func oversizedTraceIsReadWithinBounds() throws {
        let path = Binaries.freshDirectory("oversized") + "/big.ndjson"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        let head = Array((Self.good.split(separator: "\n").prefix(2).joined(separator: "\n") + "\n").utf8)
        var long = [UInt8](repeating: UInt8(ascii: "x"), count: (5 << 20))
        long.append(0x0A)
        _ = head.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        for _ in 0..<40 { _ = long.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } }
        close(fd)
        let result = try run([Binaries.probeExec, "show", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("only the first 64 MiB were read"))
        #expect(result.stdout.contains("is longer than 4 MiB and was skipped"))
        #expect(result.stdout.contains("/app/server") || result.stdout.contains("./server"))
        // Peak RSS of `show` alone: python's only child, measured by the kernel (ru_maxrss, KiB).
        let measure =
            "import resource,subprocess,sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            + "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        let peak = try run(["/usr/bin/python3", "-c", measure, Binaries.probeExec, "show", path])
        let kib = try #require(Int(peak.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kib < 200 << 10, "peak RSS \(kib) KiB for a 200 MiB trace")
        print("show of a 200 MiB trace: peak RSS \(kib) KiB")
    }

    @Test func randomMutationsNeverCrashTheReader() {
        var generator = SystemRandomNumberGenerator()
        let base = Array(Self.good.utf8)
        for _ in 0..<10_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let i = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: i)
                default: bytes.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "["), count: 100), at: i)
                }
            }
            let document = TraceReader.parse(bytes, path: "fuzz")
            _ = ReportRenderer.render(document)
            _ = document.json.serialized
        }
    }

    @Test func childOutputCannotDriveTheTerminal() {
        let line =
            #"{"v":1,"event":"tail","t_ms":1,"stream":"stderr","bytes_total":9,"tail_bytes":9,"truncated":false,"text":"\u001b[2Jboom\rVERDICT fake"}"#
        let document = TraceReader.parse(Array((Self.good + line + "\n").utf8), path: "t")
        let text = ReportRenderer.render(document)
        #expect(!text.contains("\u{1b}"))
        #expect(text.contains("\\x1b[2Jboom\\x0dVERDICT fake"))
    }

    @Test func showOnGarbageFileExitsZeroWithNotes() throws {
        let dir = Binaries.freshDirectory("show")
        try writeFile(dir + "/junk.ndjson", "not json at all\n\u{0}\u{0}\n", mode: 0o600)
        let result = try run([Binaries.probeExec, "show", dir + "/junk.ndjson"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("no events could be read"))
        let missing = try run([Binaries.probeExec, "show", dir + "/absent.ndjson"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot read the trace"))
    }
}
