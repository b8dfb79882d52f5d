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

/// Paths of the programs the tests run: the package's executables, built next to the test
/// binary, and the C fixture, compiled once per test run with `cc`.
enum Binaries {
    /// The folder that holds the test binary and the package's executables.
    static let buildDirectory: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe =
            n > 0
            ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
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

    /// The package's `Tests` directory (its `Fixtures` hold the fixtures' sources).
    static let testsDirectory = "/" + String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")

    /// The C fixture (`Tests/Fixtures/fixture.c`), compiled on first use.
    static let fixture: String = {
        let output = scratch + "/fixture"
        let result = try? run([
            "/usr/bin/env", "cc", "-O1", "-o", output, Binaries.testsDirectory + "/Fixtures/fixture.c",
        ])
        precondition(result?.status == 0, "cannot compile the C fixture: \(result?.stderr ?? "cc did not run")")
        return output
    }()

    /// `Tests/Fixtures/tracee.c` built with `flags` (debug info and frame pointers by default), once
    /// per distinct set of flags.
    static func tracee(_ flags: [String] = []) -> String {
        traceeLock.lock()
        defer { traceeLock.unlock() }
        let key = flags.joined(separator: " ")
        if let built = traceeBuilds[key] { return built }
        let source =
            Binaries.testsDirectory + "/Fixtures/tracee.c"
        let output = scratch + "/tracee-\(traceeBuilds.count)"
        let result = try? run(
            ["/usr/bin/env", "cc", "-O0", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", output, source] + flags
        )
        precondition(result?.status == 0, "cannot compile tracee.c \(key): \(result?.stderr ?? "cc did not run")")
        traceeBuilds[key] = output
        return output
    }
    nonisolated(unsafe) private static var traceeBuilds: [String: String] = [:]
    private static let traceeLock = NSLock()

    /// `Tests/Fixtures/ServiceGroupServer`, a package of its own (so that users of the library never
    /// resolve swift-service-lifecycle), built on first use into `.build-servicegroup`.
    static let serviceGroupServer: String = {
        let root = Binaries.testsDirectory
        let scratchPath = root + "/../.build-servicegroup"
        // SwiftPM keeps the plan of an earlier build of this package and does not see source files
        // added to StartupProbe (a path dependency) since: dropping the plan makes it look again,
        // and the object files it has stay.
        unlink(scratchPath + "/debug.yaml")
        unlink(scratchPath + "/\(HostArchitecture.swiftTriple)/debug/description.json")
        let result = try? run(
            [
                "/usr/bin/env", "swift", "build", "--package-path", root + "/Fixtures/ServiceGroupServer",
                "--scratch-path", scratchPath,
            ],
            timeout: 900
        )
        precondition(
            result?.status == 0,
            "cannot build the ServiceGroup fixture: \(result?.stdout ?? "") \(result?.stderr ?? "")"
        )
        return scratchPath + "/debug/servicegroup-server"
    }()

    /// The fully static release binary, built on first use with `scripts/build-release.sh` into
    /// `.build-static` (kept between runs; what `make release` and the benchmark build).
    static let releaseBinary: String = {
        let root = Binaries.testsDirectory + "/.."
        let result = try? run([root + "/scripts/build-release.sh"], timeout: 1800)
        precondition(result?.status == 0, "cannot build the release binary: \(result?.stderr.suffix(2000) ?? "")")
        return result!.stdout.split(separator: "\n").last.map(String.init) ?? ""
    }()

    /// A fresh empty directory under the scratch directory.
    static func freshDirectory(_ name: String) -> String {
        let dir = scratch + "/" + name + "-" + String(UInt32.random(in: 0...UInt32.max))
        mkdir(dir, 0o755)
        return dir
    }
}
