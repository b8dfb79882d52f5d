import ArgumentParser
import ProbeCore
import ProbeSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// `probe-exec detach PID`: ends the tracing of a running program so a debugger can attach.
struct DetachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detach",
        abstract: "End the tracing of a running program, so gdb, py-spy or a crash reporter can attach.",
        discussion: """
            PID is the program's pid or probe-exec's (for example through `kubectl exec`); a stopped \
            program (and so a stopped probe-exec) is answered once continued. The program \
            runs on untraced and the run still ends with its true status; the trace records when and \
            why tracing ended. Only probe-exec's own user or root may ask.
            """
    )

    @Argument(help: ArgumentHelp("The pid of the traced program, or of the probe-exec that runs it.", valueName: "pid"))
    var pid: Int32

    func run() throws {
        ProbeExecProcess.unblockSupervisedSignals()
        // Its own pid, or the program's parent: probe-exec listens on a socket named after its pid.
        var fd = ProbeExecProcess.connectControl(to: pid)
        if fd < 0, let parent = ProcessFacts.statusField("PPid", of: String(pid)).flatMap({ Int32($0) }) {
            fd = ProbeExecProcess.connectControl(to: parent)
        }
        guard fd >= 0 else {
            throw ValidationError(
                "no probe-exec answers for pid \(pid) (neither it nor its parent runs probe-exec with tracing)"
            )
        }
        defer { close(fd) }
        let request = "detach"
        _ = request.withCString { write(fd, $0, strlen($0)) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buffer, buffer.count)
        let reply = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : "no answer"
        print(reply)
        if !reply.hasPrefix("ok") { throw ExitCode(1) }
    }
}
