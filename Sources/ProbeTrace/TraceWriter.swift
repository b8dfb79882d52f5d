import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Appends events to a trace file, one `write(2)` per line, so that a supervisor killed at any
/// moment leaves a readable prefix.
///
/// It fails open: when the file cannot be created or a write fails (read-only directory, disk
/// full), it stops recording and reports the problem once through `warn`; the caller goes on.
package final class TraceWriter {
    /// Where the trace goes, or nil when nothing is recorded (none asked for, the file could not be
    /// created, or its first write failed: ``notKeptReason`` says which).
    package private(set) var path: String?
    private var fd: Int32 = -1
    private let warn: (String) -> Void
    private var warned = false
    /// The events appended so far (at most ``keptEventLimit``), when asked for at init: what an
    /// export (OTLP) sends, even when the file could not be written.
    package private(set) var keptEvents: [TraceRecord] = []
    private let keepsEvents: Bool
    /// How many events are kept in memory at most.
    package static let keptEventLimit = 20_000
    /// How many events reached the file.
    package private(set) var eventsWritten = 0
    /// How many bytes this writer put in the file.
    private var bytesWritten = 0

    /// Whether the file holds more than this writer put there: events another process appended
    /// (the program's StartupProbe library writes into the same trace). False when it cannot tell
    /// (no file); the trace is then read only by those who need it to be.
    package var othersWrote: Bool {
        guard fd >= 0 else { return false }
        var status = stat()
        return fstat(fd, &status) != 0 || Int(status.st_size) != bytesWritten
    }
    /// Why no trace was kept, in a few words (`cannot create /t/x.ndjson (Read-only file system, EROFS)`):
    /// the file could not be created, or its first write failed. Nil while there is a trace to show.
    package private(set) var notKeptReason: String?
    /// Why the trace ends early (`writing stopped after 12 events (No space left on device, ENOSPC)`):
    /// a write failed after some events had reached the file. Nil while every write succeeded.
    package private(set) var incompleteReason: String?

    /// Opens (creating with mode 0600, never through a symbolic link) the trace at `path`.
    /// - Parameters:
    ///   - path: the trace file, or nil to record nothing.
    ///   - unavailable: with a nil `path`, why there is no trace file (the trace directory could not be
    ///     used), for ``notKeptReason``.
    ///   - keepEvents: also keep the events in memory (``keptEvents``).
    ///   - warn: called at most once with a sentence saying what could not be recorded.
    package init(
        path: String?,
        unavailable: String? = nil,
        keepEvents: Bool = false,
        warn: @escaping (String) -> Void
    ) {
        self.warn = warn
        self.keepsEvents = keepEvents
        guard let path else {
            notKeptReason = unavailable
            return
        }
        var before = stat()
        let existed = lstat(path, &before) == 0
        let fd = SystemIO.openTrace(path)
        if fd < 0 {
            let error = SystemError.current
            let reason =
                error.code == ELOOP
                ? "it is a symbolic link, which probe-exec refuses to follow" : error.description
            self.fail("cannot create the trace \(path): \(reason); the program runs, but nothing is recorded")
            notKeptReason =
                error.code == ELOOP
                ? "\(path) is a symbolic link, which probe-exec refuses to follow"
                : "cannot create \(path) (\(Self.briefly(error)))"
            return
        }
        self.fd = fd
        self.path = path
        var made = stat()
        createdHere = !existed && fstat(fd, &made) == 0 && (made.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether the trace file is a regular file this writer created (not one given with `-o` that
    /// existed, nor a device such as /dev/full): only such a file is removed when nothing reached it.
    private var createdHere = false

    /// An errno in a few words for a parenthesis: `Read-only file system, EROFS`.
    package static func briefly(_ error: SystemError) -> String {
        "\(error.message), \(error.name)"
    }

    /// Whether events still reach the file.
    package var isRecording: Bool { fd >= 0 }

    /// Appends one event as one line.
    package func append(_ event: TraceRecord) {
        if keepsEvents && (keptEvents.count < Self.keptEventLimit || ["exit", "tail", "verdict"].contains(event.kind)) {
            keptEvents.append(event)
        }
        guard fd >= 0 else { return }
        let line = event.lineBytes
        let error = SystemIO.writeAll(fd, line)
        guard error != 0 else {
            eventsWritten += 1
            bytesWritten += line.count
            return
        }
        let failure = SystemError(error)
        let lost = eventsWritten == 0 ? "nothing is recorded" : "the rest of its trace is lost"
        fail("cannot write the trace \(path ?? ""): \(failure.description); the program runs on, but \(lost)")
        if eventsWritten == 0 {
            notKeptReason = "cannot write \(path ?? "") (\(Self.briefly(failure)))"
            // An empty file would read as a start with nothing recorded (`show --history`) and
            // take a --keep-traces place: it goes.
            if let path, createdHere { _ = unlink(path) }
            path = nil
        } else {
            incompleteReason = "writing stopped after \(eventsWritten) events (\(Self.briefly(failure)))"
        }
        close(fd)
        fd = -1
    }

    /// Reports a problem once (later ones are dropped so stderr is not flooded).
    package func fail(_ message: String) {
        guard !warned else { return }
        warned = true
        warn(message)
    }

    deinit {
        if fd >= 0 { close(fd) }
    }
}
