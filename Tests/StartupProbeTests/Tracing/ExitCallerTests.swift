import ProbeTracing
import Testing

/// Whether main() returned, from an exit backtrace (innermost frame first).
@Suite struct ExitCallerTests {
    static let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"

    static func frame(_ symbol: String, _ module: String) -> BacktraceFrame {
        BacktraceFrame(ip: 1, module: module, symbol: symbol)
    }

    @Test func mainReturningEndsInTheCLibrarysStart() {
        let frames = [
            Self.frame("_exit", Self.libc), Self.frame("__run_exit_handlers", Self.libc), Self.frame("exit", Self.libc),
            Self.frame("__libc_start_call_main", Self.libc),
        ]
        #expect(Tracer.mainReturned(frames) == true)
    }

    @Test func anAtexitHandlerThatCallsExitItselfIsNotMainReturning() {
        // main returned 0; its atexit handler called _exit(1): the status is the handler's.
        let frames = [
            Self.frame("_exit", Self.libc), Self.frame("handler", "/tmp/program"),
            Self.frame("__run_exit_handlers", Self.libc), Self.frame("exit", Self.libc),
            Self.frame("__libc_start_call_main", Self.libc),
        ]
        #expect(Tracer.mainReturned(frames) == nil)
    }

    @Test func exitCalledFromTheProgramIsNotMainReturning() {
        let frames = [
            Self.frame("_exit", Self.libc), Self.frame("exit", Self.libc), Self.frame("finish_job", "/tmp/program"),
            Self.frame("main", "/tmp/program"),
        ]
        #expect(Tracer.mainReturned(frames) == false)
    }
}
