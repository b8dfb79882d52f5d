// A tiny Swift server that uses the StartupProbe library: the README's example, and the
// library's test fixture (it crashes on request).
//
//   example-server serve PORT       listen on 127.0.0.1:PORT until stopped
//   example-server null | c-null | forceunwrap | overflow | abort | exit N
//   example-server signals          own SIGUSR1 handler, SIGTERM left at its default; waits
//   example-server dispatch [N]     a DispatchSource for SIGUSR2 in dispatchMain(); exits 0 after N
//   example-server info | sigign    what start() set up | what a child inherits (SigIgn)
//   example-server unwinder         the library `_Unwind_RaiseException` binds to
//   example-server overflow-thread [bare]   stack overflow on a second thread (bare: no altstack)
import Dispatch
import Logging
import StartupProbe

#if canImport(Glibc)
import Glibc
#endif

func say(_ text: String) {
    var line = text + "\n"
    _ = line.withUTF8 { write(1, $0.baseAddress!, $0.count) }
}

LoggingSystem.bootstrap(StreamLogHandler.standardError)  // the application's choice, not the library's
var logger = Logger(label: "example-server")
if getenv("LOG_LEVEL").map({ String(cString: $0) }) == "debug" { logger.logLevel = .debug }
let probe = StartupProbe.start(logger: logger)

enum Failures {
    @inline(never) static func writeThroughNull() {
        UnsafeMutablePointer<Int>(bitPattern: 0x8).unsafelyUnwrapped.pointee = 1
    }
    @inline(never) static func loadPort(_ text: String?) -> Int { Int(text!)! }
    @inline(never) static func recurse(_ depth: Int) -> Int {
        var pad = [Int](repeating: depth, count: 64)
        pad.withUnsafeMutableBufferPointer { _ = $0 }
        return recurse(depth + 1) + pad[0]
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first ?? "serve" {
case "serve":
    let port = UInt16(arguments.dropFirst().first ?? "8080") ?? 8080
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else {
        logger.error("cannot bind port \(port): \(String(cString: strerror(errno)))")
        exit(1)
    }
    listen(socketFD, 16)
    logger.info("listening on 127.0.0.1:\(port)")
    while true { pause() }
case "signals":
    // The program's own handler, installed after StartupProbe.start: it still runs.
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in
        let text = "own SIGUSR1 handler ran\n"
        _ = text.withCString { write(1, $0, strlen($0)) }
    }
    sigaction(SIGUSR1, &action, nil)
    say("ready")
    while true { pause() }
case "dispatch":
    let wanted = UInt(arguments.dropFirst().first ?? "1") ?? 1
    let source = DispatchSource.makeSignalSource(signal: SIGUSR2, queue: .main)
    nonisolated(unsafe) var received: UInt = 0
    source.setEventHandler {
        received += source.data
        say("dispatch source: \(received) so far")
        if received >= wanted { exit(0) }
    }
    source.resume()
    say("ready")
    dispatchMain()
case "overflow-thread":
    let bare = arguments.dropFirst().first == "bare"
    var thread = pthread_t()
    let body: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { bare in
        if bare == nil { StartupProbe.installAlternateSignalStack() }
        print(Failures.recurse(0))
        return nil
    }
    pthread_create(&thread, nil, body, bare ? UnsafeMutableRawPointer(bitPattern: 1) : nil)
    pthread_join(thread, nil)
case "unwinder":
    // Which library the process's global scope binds the exception unwinder to, after start()
    // loaded libunwind: it must still be libgcc_s (no `_Unwind_*` interposition).
    let address = UInt(bitPattern: dlsym(nil, "_Unwind_RaiseException"))
    var owner = "unresolved"
    if let maps = fopen("/proc/self/maps", "r") {
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), maps) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let range = text.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
            if range.count == 2, range[0] <= address, address < range[1] {
                owner = String(text.split(separator: " ", omittingEmptySubsequences: true).last ?? "")
            }
        }
        fclose(maps)
    }
    print(owner)
case "null": Failures.writeThroughNull()
case "c-null":
    // A null pointer handed to C: the fault is inside the C library's strlen.
    typealias CStrlen = @convention(c) (UnsafeRawPointer?) -> Int
    let strlenC = unsafeBitCast(dlsym(nil, "strlen"), to: CStrlen.self)  // RTLD_DEFAULT
    print(strlenC(nil))
case "forceunwrap": print(Failures.loadPort(nil))
case "overflow": print(Failures.recurse(0))
case "abort": abort()
case "exit": exit(Int32(arguments.dropFirst().first ?? "0") ?? 0)
case "env":
    // The channel is removed once read, so this program's own children never write into it.
    print("PROBE_EXEC_TRACE=\(getenv("PROBE_EXEC_TRACE").map { String(cString: $0) } ?? "unset")")
case "info":
    print(
        "trace=\(probe.tracePath ?? "none") under=\(probe.underProbeExec) handler=\(probe.crashHandlerInstalled) backtraces=\(probe.backtracesAvailable) logged=\(probe.loggedSignalNames.joined(separator: ","))"
    )
case "sigign":
    // What a child of the program inherits: an ignored signal stays ignored.
    system("printf 'SigIgn of a child: '; grep SigIgn /proc/self/status | cut -f2")
default:
    logger.error("unknown mode")
    exit(64)
}
