import CProbeExec
import ProbeCore
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The pipes that carry the child's stdout and stderr, or nil for a stream passed through
/// untouched (a terminal, unless pipes are forced) or left closed (we were started without it).
package struct StandardStreams {
    package struct Pipe {
        package var read: Int32
        package var write: Int32
    }
    package var stdout: Pipe?
    package var stderr: Pipe?
    /// stdout and stderr are the same open file (`> log 2>&1`): the child gets one pipe for both,
    /// carried in ``stdout``, so the order of its writes is kept.
    package var merged = false
    /// Streams left to the program as they are because no pipe could be made (descriptors short).
    package var unpiped: [String] = []

    /// Makes the pipes for the streams that need one. Standard descriptors we were started without
    /// are held by CLOEXEC placeholders (`spr_reserve_standard_fds`, called first in `main`), so
    /// the child starts without them too.
    package static func prepare(pipeTerminals: Bool) -> StandardStreams {
        let closedMask = spr_reserve_standard_fds()
        var unpiped: [String] = []
        func makePipe(for fd: Int32) -> Pipe? {
            if closedMask & (1 << fd) != 0 { return nil }
            if !pipeTerminals && isatty(fd) == 1 { return nil }
            var fds: [Int32] = [-1, -1]
            let error = spr_pipe_cloexec(&fds)
            guard error == 0 else {
                unpiped.append("\(fd == STDOUT_FILENO ? "stdout" : "stderr") (\(SystemError(error)))")
                return nil
            }
            return Pipe(read: fds[0], write: fds[1])
        }
        let bothPiped =
            closedMask & 0b110 == 0 && (pipeTerminals || (isatty(STDOUT_FILENO) == 0 && isatty(STDERR_FILENO) == 0))
        if bothPiped && spr_same_open_file(STDOUT_FILENO, STDERR_FILENO) == 1 {
            let out = makePipe(for: STDOUT_FILENO)
            return StandardStreams(stdout: out, stderr: nil, merged: out != nil, unpiped: unpiped)
        }
        let out = makePipe(for: STDOUT_FILENO)
        let err = makePipe(for: STDERR_FILENO)
        return StandardStreams(stdout: out, stderr: err, unpiped: unpiped)
    }

    /// `pipe`, `terminal`, `closed`, `file`, `socket`, `character device`… for the start event.
    package static func describe(_ fd: Int32) -> String {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return "closed" }
        if isatty(fd) == 1 { return "terminal" }
        switch info.st_mode & S_IFMT {
        case S_IFIFO: return "pipe"
        case S_IFREG: return "file"
        case S_IFSOCK: return "socket"
        case S_IFCHR: return "character device"
        case S_IFDIR: return "directory"
        default: return "other"
        }
    }

    /// The descriptor the child gets as its stderr: its own pipe, the merged one, or -1 (ours).
    package var stderrWriteEnd: Int32 { merged ? (stdout?.write ?? -1) : (stderr?.write ?? -1) }

    /// After the fork: the child has its copies of the write ends.
    package func closeWriteEnds() {
        if let stdout { close(stdout.write) }
        if let stderr { close(stderr.write) }
    }

    /// When exec failed: no pump will own the read ends (the write ends are already closed).
    package func closeReadEnds() {
        if let stdout { close(stdout.read) }
        if let stderr { close(stderr.read) }
    }

    /// When the fork itself failed: nothing was handed to anyone.
    package func closeAll() {
        for p in [stdout, stderr].compactMap({ $0 }) {
            close(p.read)
            close(p.write)
        }
    }
}
