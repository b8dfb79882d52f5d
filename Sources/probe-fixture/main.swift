// A small program for the README demo and the tests: it crashes, exits or waits on request.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

func say(_ text: String, to fd: Int32 = 1) {
    var line = text + "\n"
    _ = line.withUTF8 { write(fd, $0.baseAddress!, $0.count) }
}

/// Nested functions so a backtrace has named, mangled Swift frames to demangle.
enum Crashes {
    @inline(never) static func forceUnwrap(_ value: Int?) -> Int { value! + 1 }
    @inline(never) static func loadConfiguration(path: String) -> Int { forceUnwrap(path.isEmpty ? 1 : nil) }
    @inline(never) static func fatal(_ reason: String) -> Never { fatalError("configuration invalid: \(reason)") }
}

/// The README demo: looks like a server starting up, then follows a null connection pointer.
enum DemoServer {
    @inline(never) static func start() {
        say("demo-server: starting (pid \(getpid()))")
        say("demo-server: reading configuration from ./config.yaml", to: 2)
        usleep(20_000)
        Database.connect(url: "postgres://db:5432/app")
    }
}

enum Database {
    @inline(never) static func connect(url: String) {
        say("demo-server: connecting to the database...", to: 2)
        usleep(5_000)
        let connection = UnsafeMutablePointer<Int>(bitPattern: 0x10).unsafelyUnwrapped  // never set: "null"
        connection.pointee = url.count
    }
}

/// Work on the concurrency runtime's pool: `exit` from a task while the main thread sleeps.
enum Jobs {
    @inline(never) static func finish(code: Int32) async -> Never {
        await Task.yield()
        exit(code)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first ?? "demo" {
case "demo":
    DemoServer.start()
case "exit":
    exit(Int32(arguments.dropFirst().first ?? "0") ?? 0)
case "segv":
    UnsafeMutablePointer<Int>(bitPattern: 0x10).unsafelyUnwrapped.pointee = 1
case "abort":
    abort()
case "forceunwrap":
    exit(Int32(Crashes.loadConfiguration(path: "/etc/app.yaml")))
case "fatal":
    Crashes.fatal("missing DATABASE_URL")
case "sleep":
    usleep(UInt32((Double(arguments.dropFirst().first ?? "1") ?? 1) * 1_000_000))
case "async-exit":
    let code = Int32(arguments.dropFirst().first ?? "3") ?? 3
    Task.detached { await Jobs.finish(code: code) }  // not on the main actor: the main thread sleeps
    sleep(30)
default:
    say(
        "usage: probe-fixture [demo | exit N | segv | abort | forceunwrap | fatal | sleep SECONDS | async-exit N]",
        to: 2
    )
    exit(64)
}
