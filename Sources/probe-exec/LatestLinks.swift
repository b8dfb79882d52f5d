import ProbeCore
import ProbeTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `latest` links of one run in its trace directory: `latest`, and `latest-<program>` under the
/// name of the executable that ran (``TraceLocation/programName(command:finalImage:)``).
///
/// Once the program runs, both point at this run's trace, `latest-<program>` by the command's name. When
/// the run is over and the traced program exec'd another image (a shell's `exec`), the trace is filed
/// under the final image's name instead, and the command's link gets back what it held before. Untraced
/// (`--no-ptrace`, ptrace refused), the images are not known and the command's name stays.
///
/// Used by one thread: the supervisor runs `afterSpawn` on the thread that called it, which then
/// calls ``settle(finalImage:)``.
final class LatestLinks: @unchecked Sendable {
    /// The trace directory.
    let directory: String
    /// This run's trace, in `directory`.
    let fileName: String
    /// The program as given (`argv[0]` of the command).
    let command: String
    /// What `latest-<command>` held before this run.
    private var previous: String?
    /// The run's trace writer: no link is pointed at a trace that nothing reached (set before the spawn).
    var writer: TraceWriter?

    /// The links for the trace `fileName` in `directory` of a run of `command`.
    init(directory: String, fileName: String, command: String) {
        self.directory = directory
        self.fileName = fileName
        self.command = command
    }

    /// Points `latest` and `latest-<command>` at this run (after the spawn: off the program's start path).
    func pointAtThisRun() {
        guard writer?.path != nil else { return }  // no trace kept: the links keep the last one that was
        previous = TraceLocation.linkTarget(TraceLocation.latestName(program: command), in: directory)
        TraceLocation.updateLatest(directory: directory, fileName: fileName, program: command)
    }

    /// When the run is over: `finalImage` is the image the program ended in when it exec'd another one
    /// (nil when it did not, or it was not traced).
    func settle(finalImage: String?) {
        guard let finalImage, writer?.path != nil else { return }
        let commandLink = TraceLocation.latestName(program: command)
        let finalLink = TraceLocation.latestName(
            program: TraceLocation.programName(command: command, finalImage: finalImage)
        )
        guard finalLink != commandLink else { return }
        TraceLocation.pointLink(finalLink, in: directory, at: fileName)
        // Unless a later run of the same command has taken it since.
        guard TraceLocation.linkTarget(commandLink, in: directory) == fileName else { return }
        if let previous {
            TraceLocation.pointLink(commandLink, in: directory, at: previous)
        } else {
            unlink("\(directory)/\(commandLink)")
        }
    }
}
