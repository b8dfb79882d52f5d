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

/// The line-table reader runs inside the supervisor on whatever binary the user runs: damaged
/// debug info must give fewer answers, never a crash or a hang.
@Suite struct DWARFLinesTests {
    @Test func mutatedLineTablesNeverTrap() throws {
        let binary = Binaries.tracee()
        let header = try run(["/bin/sh", "-c", "readelf -SW \(binary) | awk '$2 == \".debug_line\" {print $5, $6}'"])
            .stdout
        let fields = header.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        let offset = try #require(Int(fields.first ?? "", radix: 16))
        let size = try #require(Int(fields.last ?? "", radix: 16))
        let original = try #require(FileManager.default.contents(atPath: binary))
        let copy = Binaries.scratch + "/tracee-mutated"
        let elf = try #require(ELFFile(path: binary))
        let main = try #require(elf.functionAddress(named: ["main"]))
        let intact = DWARFLines.lookup(elf, addresses: [main, main + 4])
        elf.close()
        #expect(intact[main]?.file.hasSuffix("tracee.c") == true)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var bytes = [UInt8](original)
            for _ in 0..<Int.random(in: 1...16, using: &generator) {
                bytes[offset + Int.random(in: 0..<size, using: &generator)] = UInt8.random(
                    in: 0...255,
                    using: &generator
                )
            }
            FileManager.default.createFile(atPath: copy, contents: Data(bytes))
            let mutated = try #require(ELFFile(path: copy))
            _ = DWARFLines.lookup(mutated, addresses: [main, main + 4, 0, UInt64.max])
            mutated.close()
        }
    }
}
