import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs work on a thread of its own and waits for it until a deadline, no longer: work that can
/// block in ways a timeout cannot reach (a DNS lookup in `getaddrinfo`) is abandoned, not waited
/// for, and the caller goes on (probe-exec then exits, taking the thread with it).
package enum DeadlineThread {
    /// The result of `body`, or nil when it did not finish by `deadline` (CLOCK_MONOTONIC seconds)
    /// or no thread could be started.
    package static func run<T>(until deadline: Double, _ body: @escaping () -> T) -> T? {
        let job = Job(body)
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        job.doneFD = ends[1]
        let context = Unmanaged<JobBase>.passRetained(job).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread,
            nil,
            { raw in
                Unmanaged<JobBase>.fromOpaque(raw!).takeRetainedValue().execute()
                return nil
            },
            context
        )
        guard rc == 0 else {
            Unmanaged<JobBase>.fromOpaque(context).release()
            close(ends[0])
            close(ends[1])
            return nil
        }
        pthread_detach(thread)
        while true {
            let left = deadline - Double(TraceClock.nowNanoseconds) / 1e9
            // Abandoned: the read end stays open so the thread's late write cannot raise SIGPIPE.
            if left <= 0 { return nil }
            var p = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(left * 1000) + 1) > 0 { break }
        }
        close(ends[0])
        return job.result
    }
}

/// A job the thread runs through a non-generic entry point (a C function pointer cannot capture).
private class JobBase {
    package var doneFD: Int32 = -1
    package func execute() {}
}

private final class Job<T>: JobBase {
    private let body: () -> T
    package private(set) var result: T?  // written by the thread before it writes doneFD, read after

    package init(_ body: @escaping () -> T) { self.body = body }

    package override func execute() {
        result = body()
        _ = write(doneFD, "x", 1)
        close(doneFD)
    }
}
