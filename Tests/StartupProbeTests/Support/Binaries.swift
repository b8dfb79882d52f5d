#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Paths of the programs the tests run: the package's executables, built next to the test
/// binary, and the C fixture, compiled once per test run with `cc`.
enum Binaries {
    /// The folder that holds the test binary and the package's executables.
    static let buildDirectory: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        var parts = exe.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        // …/debug/StartupProbePackageTests.xctest is a file on Linux; executables sit beside it.
        return parts.joined(separator: "/")
    }()

    static var probeExec: String { buildDirectory + "/probe-exec" }
    static var swiftFixture: String { buildDirectory + "/probe-fixture" }

    /// A scratch directory for this test run.
    static let scratch: String = {
        var template = Array("/tmp/startupprobe-tests-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return dir
    }()

    /// The C fixture (`Tests/Fixtures/fixture.c`), compiled on first use.
    static let fixture: String = {
        let source = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let output = scratch + "/fixture"
        let result = try? run(["/usr/bin/env", "cc", "-O1", "-o", output, "/" + source + "/Fixtures/fixture.c"])
        precondition(result?.status == 0, "cannot compile the C fixture: \(result?.stderr ?? "cc did not run")")
        return output
    }()

    /// A fresh empty directory under the scratch directory.
    static func freshDirectory(_ name: String) -> String {
        let dir = scratch + "/" + name + "-" + String(UInt32.random(in: 0...UInt32.max))
        mkdir(dir, 0o755)
        return dir
    }
}
