import ProbeCore
import ProbeSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The shortcuts probe-exec's start takes give the answers of the longer ways they replace.
@Suite struct StartPathTests {
    /// `hasName(withPrefix:except:)` scans the C strings; the names the trace records say the same.
    @Test func environmentPrefixScanAgreesWithTheNames() {
        let names = ProcessEnvironment.names
        #expect(names.contains("PATH"), "the test needs PATH set")
        let cases: [(String, [String])] = [
            ("PATH", []), ("PATH", ["PATH"]), ("P", []), ("PROBE_EXEC_", ["PROBE_EXEC_TRACE_DIR"]),
            ("SPR_NO_SUCH_VARIABLE_", []), ("", []), ("", names),
        ]
        for (prefix, except) in cases {
            let expected = names.contains { $0.hasPrefix(prefix) && !except.contains($0) }
            #expect(
                ProcessEnvironment.hasName(withPrefix: prefix, except: except) == expected,
                "\(prefix) except \(except)"
            )
        }
        #expect(ProcessEnvironment.hasName(withPrefix: "PATH"))
        #expect(!ProcessEnvironment.hasName(withPrefix: "SPR_NO_SUCH_VARIABLE_"))
    }

    /// argv as the constructor kept it is what the Swift runtime gives.
    @Test func keptArgumentsAreTheProcessArguments() {
        #expect(ProbeExecProcess.argumentStrings == CommandLine.arguments)
        #expect(ProbeExecProcess.arguments.map { String(decoding: $0, as: UTF8.self) } == CommandLine.arguments)
    }

    /// The C strings handed to execve: every byte, each terminated, the array ended by NULL.
    @Test func cStringsHoldEveryByte() {
        let strings: [[UInt8]] = [[], Array("A=1".utf8), [0xFF, 0x80, 0x41], Array(repeating: 0x61, count: 5000), []]
        let back: [[UInt8]] = withCStrings(strings) { pointers in
            var result: [[UInt8]] = []
            var index = 0
            while let string = pointers[index] {
                result.append(cStringBytes(string))
                index += 1
            }
            return result
        }
        #expect(back == strings)
        #expect(withCStrings([]) { $0[0] == nil })
    }
}
