import ProbeCore
import ProbeTrace
import Testing

/// The path helpers the exit's naming uses instead of `split(separator: "/")`: the same answers.
@Suite struct PathTextTests {
    @Test(arguments: [
        "/usr/lib/x86_64-linux-gnu/libc.so.6", "/true", "true", "/usr/bin/", "//a//b", "/", "", "[vdso]", "/é/ü.so",
    ])
    func lastComponentAndDirectoryAreWhatSplitGives(path: String) {
        #expect(path.lastPathComponent == (path.split(separator: "/").last.map(String.init) ?? path))
        #expect(
            path.pathDirectory
                == path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        )
    }

    @Test func aTraceIsNamedAfterTheLastComponentOrProgramWhenThereIsNone() {
        #expect(TraceLocation.safeName("/usr/bin/") == "bin")
        #expect(TraceLocation.safeName("//a//b") == "b")
        #expect(TraceLocation.safeName("/") == "program")
        #expect(TraceLocation.safeName("") == "program")
        #expect(TraceLocation.programName(command: "sh", finalImage: "/usr/bin/python3.11") == "python3.11")
    }
}
