// The library's differential fixture: each scenario runs without StartupProbe, or with
// `StartupProbe.start` before or after the program's own signal setup, and prints what a program
// can observe. LibraryDifferentialTests compares the three.
//
//   library-fixture SCENARIO none|before|after
import CLibraryFixture
import Dispatch
import Logging
import StartupProbe

#if canImport(Glibc)
import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
let scenario = arguments.first ?? ""
let when = arguments.dropFirst().first ?? "none"
let logger = Logger(label: "library-fixture") { _ in SwiftLogNoOpLogHandler() }

/// Calls StartupProbe.start at the requested moment.
func probe(_ moment: String) {
    if when == moment { StartupProbe.start(logger: logger) }
}

probe("before")
switch scenario {
case "dispatch-recreate":
    // The reload pattern: a SIGHUP source cancelled and made again; the new one must fire.
    signal(SIGHUP, SIG_IGN)
    let first = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .main)
    first.setEventHandler { say("first source fired") }
    first.resume()
    first.cancel()
    let second = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .main)
    nonisolated(unsafe) var fired: UInt = 0
    second.setEventHandler {
        fired += second.data
        say("second source fired \(fired)")
        if fired >= 2 { exit(0) }
    }
    second.resume()
    probe("after")
    DispatchQueue.global().async {
        sleepMilliseconds(100)
        kill(getpid(), SIGHUP)
        sleepMilliseconds(100)
        kill(getpid(), SIGHUP)
        sleepMilliseconds(2000)
        say("timed out")
        exit(1)
    }
    dispatchMain()
case "sigaction-after-source":
    // A DispatchSource for SIGUSR1 exists; then the program's own handler for it.
    let source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .main)
    nonisolated(unsafe) var sourceCount: UInt = 0
    source.setEventHandler { sourceCount += source.data }
    source.resume()
    install(SIGUSR1, flags: 0, countingHandler)
    probe("after")
    // libdispatch registers the source on its own thread, and then replaces any sigaction
    // handler for the signal: wait until it has (2 s at most) in every variant, so the outcome is
    // libdispatch's, not a race with `start` or with the machine's load.
    var current = sigaction()
    for _ in 0..<200 {
        sigaction(SIGUSR1, nil, &current)
        if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) != ownHandlerAddress { break }
        sleepMilliseconds(10)
    }
    for _ in 0..<3 {
        kill(getpid(), SIGUSR1)
        sleepMilliseconds(50)
    }
    // Which of the program's handler and the source gets each signal is libdispatch's affair; the
    // library must not change it: print both counts once things have settled.
    DispatchQueue.main.asyncAfter(deadline: .now() + 0.5) {
        say("handler runs: \(handlerRuns), source saw: \(sourceCount)")
        exit(0)
    }
    dispatchMain()
case "resethand":
    install(SIGINT, flags: Int32(bitPattern: UInt32(SA_RESETHAND))) { _ in handlerRuns += 1 }
    probe("after")
    kill(getpid(), SIGINT)
    say("after the first SIGINT: handler ran \(handlerRuns)")
    kill(getpid(), SIGINT)
    say("still alive after the second SIGINT")
case "nodefer":
    install(SIGUSR1, flags: Int32(bitPattern: UInt32(SA_NODEFER))) { _ in
        nestedDepth += 1
        maximumDepth = max(maximumDepth, nestedDepth)
        if nestedDepth == 1 { kill(getpid(), SIGUSR1) }
        nestedDepth -= 1
    }
    probe("after")
    kill(getpid(), SIGUSR1)
    say("deepest nesting: \(maximumDepth)")
case "ignored":
    for signal in [SIGTRAP, SIGHUP, SIGPIPE] { Glibc.signal(signal, SIG_IGN) }
    probe("after")
    for signal in [SIGTRAP, SIGHUP, SIGPIPE] { kill(getpid(), signal) }
    sleepMilliseconds(50)
    say("alive after SIGTRAP, SIGHUP, SIGPIPE")
case "sigtimedwait":
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGUSR1)
    pthread_sigmask(SIG_BLOCK, &set, nil)
    probe("after")
    kill(getpid(), SIGUSR1)
    var info = siginfo_t()
    var timeout = timespec(tv_sec: 2, tv_nsec: 0)
    let got = sigtimedwait(&set, &info, &timeout)
    say("sigtimedwait: \(got == SIGUSR1 ? "SIGUSR1" : "nothing") from self: \(info._sifields._kill.si_pid == getpid())")
case "signalfd":
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGUSR2)
    pthread_sigmask(SIG_BLOCK, &set, nil)
    let fd = fixture_signalfd(SIGUSR2)
    probe("after")
    kill(getpid(), SIGUSR2)
    say("signalfd: signal \(fixture_signalfd_read(fd))")
case "int3":
    probe("after")
    say("trapping")
    raiseBreakpoint()
    say("went on after int3")
case "two-threads-crash":
    probe("after")
    var threads: [pthread_t] = []
    for _ in 0..<2 {
        var thread = pthread_t()
        pthread_create(&thread, nil, crashingThread, nil)
        threads.append(thread)
    }
    sleepMilliseconds(2000)
    say("no crash")
case "start-twice-crash":
    // start called twice (two libraries, say): a crash still ends the process, reported once.
    if when != "none" { StartupProbe.start(logger: logger) }
    probe("after")
    UnsafeMutablePointer<Int32>(bitPattern: 16)!.pointee = 1
case "recover":
    // The program's own SIGSEGV handler recovers from a fault: nothing crashed.
    let value = fixture_recovered_fault()
    probe("after")
    say("recovered: wrote \(value)")
case "crash":
    // One thread faults (the library's own thread, under probe-exec, is there too).
    probe("after")
    UnsafeMutablePointer<Int32>(bitPattern: 16)!.pointee = 1
case "fork-exec":
    probe("after")
    // What a program's own child gets: no hand-over variables, the signal state unchanged.
    let status = system(
        "printf 'child: trace=%s pid=%s\\n' \"${PROBE_EXEC_TRACE-unset}\" \"${PROBE_EXEC_PID-unset}\"; grep -E '^Sig(Blk|Ign)' /proc/self/status"
    )
    say("child exited \(status)")
default:
    say("unknown scenario \(scenario)")
    exit(2)
}
exit(0)
