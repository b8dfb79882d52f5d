import CStartupProbe

/// The few system calls the layers above core make, behind one door (the C shims are called
/// only from ProbeCore, ProbeTracing and ProbeSupervisor).
package enum SystemIO {
    /// Writes all of `bytes` to `fd` with write(2), retrying short writes and EINTR.
    /// Returns 0 or an errno value.
    @discardableResult
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return spr_write_all(fd, base, buffer.count)
        }
    }

    /// Writes all of `text` (UTF-8) to `fd`. Returns 0 or an errno value.
    @discardableResult
    package static func writeAll(_ fd: Int32, _ text: String) -> Int32 {
        writeAll(fd, Array(text.utf8))
    }

    /// Creates (mode 0600, emptied) a trace file for appending, never through a symbolic link.
    /// Returns the fd, or -1 with errno set (ELOOP for a symbolic link).
    package static func openTrace(_ path: String) -> Int32 {
        spr_open_trace(path)
    }

    /// CLOCK_REALTIME in nanoseconds since the epoch.
    package static var realtimeNanoseconds: Int64 { spr_realtime_ns() }
}
