import Logging
import StartupProbe

// A tiny Swift server that uses the StartupProbe library: the README's example, and the
// library's test fixture (it crashes on request).
//
//   example-server serve PORT       listen on 127.0.0.1:PORT until stopped
//   example-server null | forceunwrap | overflow | abort | exit N
#if canImport(Glibc)
import Glibc
#endif

LoggingSystem.bootstrap(StreamLogHandler.standardError)  // the application's choice, not the library's
let logger = Logger(label: "example-server")
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
case "null": Failures.writeThroughNull()
case "forceunwrap": print(Failures.loadPort(nil))
case "overflow": print(Failures.recurse(0))
case "abort": abort()
case "exit": exit(Int32(arguments.dropFirst().first ?? "0") ?? 0)
case "env":
    // The channel is removed once read, so this program's own children never write into it.
    print("PROBE_EXEC_TRACE=\(getenv("PROBE_EXEC_TRACE").map { String(cString: $0) } ?? "unset")")
case "info":
    print(
        "trace=\(probe.tracePath ?? "none") under=\(probe.underProbeExec) handler=\(probe.crashHandlerInstalled) backtraces=\(probe.backtracesAvailable)"
    )
default:
    logger.error("unknown mode")
    exit(64)
}
