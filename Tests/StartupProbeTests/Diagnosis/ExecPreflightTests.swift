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

/// Exec failures explained from the file itself, on real files that really fail to exec.
@Suite(.serialized) struct ExecPreflightTests {
    let env = ["PROBE_EXEC_TRACE_DIR": Binaries.scratch + "/traces-preflight"]

    func runBroken(_ path: String) throws -> (status: Int32, stderr: String) {
        let r = try run([Binaries.probeExec, "--", path], environment: env)
        return (r.status, r.stderr)
    }

    /// A copy of /bin/true with `patch` applied to its bytes.
    func patchedTrue(_ name: String, _ patch: (inout [UInt8]) -> Void) throws -> String {
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: "/bin/true")))
        patch(&bytes)
        let path = Binaries.freshDirectory("patched") + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o755])
        return path
    }

    @Test func scriptWithWindowsLineEndings() throws {
        let path = Binaries.freshDirectory("crlf") + "/start.sh"
        try writeFile(path, "#!/bin/sh\r\necho started\r\n", mode: 0o755)
        let r = try runBroken(path)
        #expect(r.status == 127)
        #expect(r.stderr.contains("carriage return"))
        #expect(r.stderr.contains("dos2unix"))
    }

    @Test func missingShebangInterpreter() throws {
        let path = Binaries.freshDirectory("shebang") + "/app.py"
        try writeFile(path, "#!/usr/bin/python9.9\nprint('hi')\n", mode: 0o755)
        let r = try runBroken(path)
        #expect(r.status == 127)
        #expect(r.stderr.contains("its #! interpreter /usr/bin/python9.9 does not exist"))
    }

    @Test func missingShebangInterpreterOfACommandFoundInPath() throws {
        // execve says ENOENT for a missing interpreter as for a missing file, and the PATH search
        // goes on: the explanation said the command was "not in any PATH directory" (it was).
        let dir = Binaries.freshDirectory("shebang-path")
        try writeFile(dir + "/app-server", "#!/usr/bin/python9.9\nprint('hi')\n", mode: 0o755)
        let environment = env.merging(["PATH": "/nonexistent-dir:" + dir + ":/usr/bin:/bin"]) { $1 }
        let bare = try run(["/bin/sh", "-c", "app-server"], environment: environment)
        for mode in [[], ["--no-ptrace"]] {
            let r = try run([Binaries.probeExec] + mode + ["--", "app-server"], environment: environment)
            #expect(r.status == bare.status, "\(mode)")  // 127, as a shell reports it
            #expect(r.stderr.contains("its #! interpreter /usr/bin/python9.9 does not exist"), "\(r.stderr)")
            #expect(!r.stderr.contains("not in any PATH directory"), "\(r.stderr)")
        }
    }

    @Test func aScriptWhoseInterpreterLacksItsOwnIsExplainedAsSuch() throws {
        // `#!/…/mid`, and mid's own #! interpreter is missing: mid was said not to exist (helper-24).
        let dir = Binaries.freshDirectory("shebang-nested")
        // app -> mid -> l1 … l4 -> python9.9: six files, within the kernel's reach (it says ELOOP
        // past five interpreters), each explained in turn.
        try writeFile(dir + "/l4", "#!/usr/bin/python9.9\n", mode: 0o755)
        for level in [3, 2, 1] { try writeFile(dir + "/l\(level)", "#!\(dir)/l\(level + 1)\n", mode: 0o755) }
        try writeFile(dir + "/mid", "#!\(dir)/l1\n", mode: 0o755)
        try writeFile(dir + "/app", "#!\(dir)/mid\necho hi\n", mode: 0o755)
        let bare = try run(["/bin/sh", "-c", "exec \(dir)/app"])
        let r = try runBroken(dir + "/app")
        #expect(r.status == bare.status)  // 127
        #expect(
            r.stderr.contains(
                "its #! interpreter \(dir)/mid is there, but \(dir)/mid's own #! interpreter \(dir)/l1 is there"
            )
        )
        #expect(r.stderr.contains("\(dir)/l4's own #! interpreter /usr/bin/python9.9 does not exist"), "\(r.stderr)")
    }

    @Test func aScriptWhoseInterpreterCannotRunIsNotSaidToBeTheOneThatCannot() throws {
        // The script is mode 755; its interpreter is not executable, or a directory: "`app` is not
        // executable by uid 0" was false of the script (helper-25).
        let dir = Binaries.freshDirectory("shebang-eacces")
        try writeFile(dir + "/interp", "#!/bin/sh\n", mode: 0o644)
        mkdir(dir + "/folder", 0o755)
        for (interpreter, why) in [
            (dir + "/interp", "\(dir)/interp has no execute permission"),
            (dir + "/folder", "\(dir)/folder is a directory"),
        ] {
            try writeFile(dir + "/app", "#!\(interpreter)\necho hi\n", mode: 0o755)
            let bare = try run(["/bin/sh", "-c", "exec \(dir)/app"])
            let r = try runBroken(dir + "/app")
            #expect(r.status == bare.status)  // 126
            #expect(r.stderr.contains("its #! interpreter \(interpreter) cannot be run: \(why)"), "\(r.stderr)")
        }
    }

    @Test func aTruncatedELFFileIsSaidToBeOne() throws {
        // It begins with ELF's magic: "neither a #! line nor an ELF header" was not true (helper-24).
        let path = Binaries.freshDirectory("elf-truncated") + "/program"
        try writeFile(path, "\u{7F}ELF\u{02}\u{01}\u{01}garbage", mode: 0o755)
        let bare = try run(["/bin/sh", "-c", "exec \(path)"])
        let r = try runBroken(path)
        #expect(r.status == bare.status)  // 126
        #expect(r.stderr.contains("begins as an ELF file but ends after 14 bytes"), "\(r.stderr)")
        // Cut after e_machine (30 bytes of /bin/true): still within the header (was "an ELF file
        // this kernel refuses", or a machine read from garbage).
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: "/bin/true")).prefix(30))
        let cut = Binaries.freshDirectory("elf-cut") + "/program"
        FileManager.default.createFile(atPath: cut, contents: Data(bytes), attributes: [.posixPermissions: 0o755])
        let cutRun = try runBroken(cut)
        #expect(cutRun.status == 126)
        #expect(cutRun.stderr.contains("begins as an ELF file but ends after 30 bytes"), "\(cutRun.stderr)")
    }

    @Test func binaryForAnotherArchitecture() throws {
        let foreign = HostArchitecture.foreignMachine
        let path = try patchedTrue("foreign-binary") { bytes in
            bytes[18] = UInt8(foreign.number & 0xFF)  // e_machine, little-endian
            bytes[19] = UInt8(foreign.number >> 8)
        }
        let r = try runBroken(path)
        #expect(r.status == 126)
        #expect(
            r.stderr.contains("is an ELF binary for \(foreign.name), and this machine is \(ExecPreflight.hostMachine)")
        )
    }

    @Test func missingDynamicLoader() throws {
        // /bin/true's glibc loader (/lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1) becomes
        // a musl loader (/lib/ld-musl-x86_64.so.7, /lib/ld-musl-aarch64.so.7), which is shorter:
        // NUL-padded in place. Not musl's real `.so.1`: musl-tools (MuslProgramTests) installs it.
        let elf = try #require(ELFFile(path: "/bin/true"))
        let glibcLoader = try #require(elf.interpreter)
        elf.close()
        let muslLoader = "/lib/ld-musl-\(ExecPreflight.hostMachine).so.7"
        let path = try patchedTrue("musl-binary") { bytes in
            let old = Array(glibcLoader.utf8)
            let new = Array(muslLoader.utf8) + [UInt8](repeating: 0, count: old.count - muslLoader.utf8.count)
            if let at = (0...(bytes.count - old.count)).first(where: { bytes[$0..<($0 + old.count)].elementsEqual(old) }
            ) {
                bytes.replaceSubrange(at..<(at + old.count), with: new)
            }
        }
        let r = try runBroken(path)
        #expect(r.status == 127)
        #expect(r.stderr.contains("its ELF interpreter (dynamic loader) \(muslLoader) does not exist"))
        #expect(r.stderr.contains("musl"))
    }

    @Test func misspelledCommandSuggestsTheNearName() throws {
        let dir = Binaries.freshDirectory("pathnames")
        try writeFile(dir + "/api-server", "#!/bin/sh\n", mode: 0o755)
        let r = try run([Binaries.probeExec, "--", "api-sever"], environment: env.merging(["PATH": dir]) { $1 })
        #expect(r.status == 127)
        #expect(r.stderr.contains("did you mean api-server (in \(dir))?"))
        let local = try run(
            ["/bin/sh", "-c", "cd \(dir) && PATH=/usr/bin:/bin \(Binaries.probeExec) -- api-server"],
            environment: env
        )
        #expect(local.stderr.contains("it is in the current directory: run it as ./api-server"))
    }

    @Test func editDistance() {
        #expect(ExecPreflight.editDistance(Array("server".utf8), Array("sever".utf8), limit: 2) == 1)
        #expect(ExecPreflight.editDistance(Array("abc".utf8), Array("xyz".utf8), limit: 2) == 3)
        #expect(ExecPreflight.editDistance(Array("".utf8), Array("ab".utf8), limit: 2) == 2)
    }
}

/// Exec failures that need root to reproduce (a noexec mount).
@Suite(.serialized) struct ExecPreflightRootTests {
    /// Whether this machine lets us mount a tmpfs (root with CAP_SYS_ADMIN).
    static let canMount: Bool = {
        let dir = Binaries.freshDirectory("mount-probe")
        guard (try? run(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]).status) == 0 else { return false }
        _ = try? run(["/bin/umount", dir])
        return true
    }()

    @Test(.enabled(if: canMount, "mounting a noexec tmpfs needs root with CAP_SYS_ADMIN"))
    func noexecMount() throws {
        let dir = Binaries.freshDirectory("noexec-mount")
        try #require(try run(["/bin/mount", "-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs", dir]).status == 0)
        defer { _ = try? run(["/bin/umount", dir]) }
        try writeFile(dir + "/server", "#!/bin/sh\necho hi\n", mode: 0o755)
        let r = try run([Binaries.probeExec, "--", dir + "/server"])
        #expect(r.status == 126)
        #expect(r.stderr.contains("\(dir)/server is on \(dir), which is mounted noexec"), "\(r.stderr)")
    }
}
