#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Work run on a thread of its own while the caller goes on, and waited for before the caller
/// needs what it did: the trace directory's housekeeping runs beside the program's start, so the
/// supervisor is free to handle the program's stops. The work must share no mutable state with
/// the caller until ``wait()``; where no thread can be started (a pids limit), it runs in
/// ``wait()``, on the caller's thread, at the end of the run.
final class BackgroundWork {
    private let work: Work
    private var thread = pthread_t()
    private let started: Bool

    /// Starts `body` on a new thread.
    init(_ body: @escaping () -> Void) {
        work = Work(body)
        let context = Unmanaged<Work>.passRetained(work).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        started =
            pthread_create(
                &thread,
                &attributes,
                { raw in
                    Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().body()
                    return nil
                },
                context
            ) == 0
        pthread_attr_destroy(&attributes)
        if !started { Unmanaged<Work>.fromOpaque(context).release() }
    }

    /// Waits for the work (its thread joined: what it wrote is visible after), or does it here if
    /// its thread never started.
    func wait() {
        if started {
            pthread_join(thread, nil)
        } else {
            work.body()
        }
    }
}

/// The closure, in a class: a thread's C entry point takes one pointer.
private final class Work {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
