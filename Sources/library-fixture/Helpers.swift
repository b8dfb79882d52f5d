#if canImport(Glibc)
import Glibc
#endif

// Outside main.swift: callable from any thread (main.swift's globals belong to the main actor).

/// Writes a line to stdout with one write(2).
func say(_ text: String) {
    var line = text + "\n"
    _ = line.withUTF8 { write(1, $0.baseAddress!, $0.count) }
}

/// Counters the scenarios' signal handlers update.
nonisolated(unsafe) var handlerRuns: Int32 = 0
nonisolated(unsafe) var nestedDepth: Int32 = 0
nonisolated(unsafe) var maximumDepth: Int32 = 0

/// Installs a plain handler for `signal` with `flags`.
func install(_ signal: Int32, flags: Int32, _ handler: @convention(c) (Int32) -> Void) {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = handler
    action.sa_flags = flags
    sigemptyset(&action.sa_mask)
    sigaction(signal, &action, nil)
}

/// Sleeps `ms` milliseconds, through signals.
func sleepMilliseconds(_ ms: Int) {
    var remaining = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    while true {
        let asked = remaining
        guard withUnsafePointer(to: asked, { nanosleep($0, &remaining) }) != 0, errno == EINTR else { return }
    }
}

/// A thread that writes through a null pointer after 50 ms (two of them crash at once).
let crashingThread: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { _ in
    sleepMilliseconds(50)
    UnsafeMutablePointer<Int32>(bitPattern: 16)!.pointee = 1
    return nil
}

/// A handler that counts its runs.
let countingHandler: @convention(c) (Int32) -> Void = { _ in handlerRuns += 1 }

/// The address of ``countingHandler``, to tell whether it is still the installed disposition.
var ownHandlerAddress: Int { unsafeBitCast(countingHandler, to: Int.self) }
