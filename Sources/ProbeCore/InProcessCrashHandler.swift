import CStartupProbe

/// The StartupProbe library's C side (crash handler, relay thread, inotify), behind ProbeCore's
/// door: the library calls these, not the C shims.
package enum InProcessCrashHandler {
    /// Installs the fatal-signal handler (see spr_crash.h). Returns 0 or an errno value.
    package static func install(traceFD: Int32, reportFD: Int32, startNanoseconds: Int64) -> Int32 {
        spr_crash_install(traceFD, reportFD, startNanoseconds)
    }

    /// Gives the calling thread an alternate signal stack. Returns 0 or an errno value.
    package static func installAlternateStack() -> Int32 { spr_crash_install_altstack() }

    /// Starts loading libunwind on a short-lived thread of its own.
    package static func loadUnwinderInBackground() { _ = spr_crash_load_unwinder_async() }

    /// Waits for that loading; whether crash reports carry backtraces.
    package static var backtracesAvailable: Bool { spr_crash_unwinder_wait() == 1 }
}

/// A thread of the library's (every signal blocked but SIGPROF) and inotify, behind ProbeCore's door.
package enum LibraryThread {
    /// Starts a detached thread named `name` running `body(argument)`. Returns 0 or an errno value.
    package static func start(
        name: String,
        body: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
        argument: UnsafeMutableRawPointer?
    ) -> Int32 {
        spr_relay_thread_start(name, body, argument)
    }

    /// An inotify descriptor watching `path` for changes, or -1 with errno set.
    package static func watch(_ path: String) -> Int32 { spr_watch_file(path) }

    /// Blocks until the watched file changes. Returns 0, or an errno value.
    package static func waitForChange(_ fd: Int32) -> Int32 { spr_wait_for_change(fd) }
}
