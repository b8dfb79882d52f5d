import Logging
import ServiceLifecycle
import StartupProbe

#if canImport(Glibc)
import Glibc
#endif

// A ServiceGroup that shuts down gracefully on SIGTERM (its signal source is a DispatchSource),
// with StartupProbe started first (or, with START_PROBE_LATE set, after the group's signal source). Each line the test looks for is written straight to stdout.
func say(_ text: String) {
    var line = text + "\n"
    _ = line.withUTF8 { write(1, $0.baseAddress!, $0.count) }
}

struct Worker: Service {
    let logger: Logger
    let startProbeLate: Bool

    func run() async throws {
        if startProbeLate {
            // The group's DispatchSource for SIGTERM exists already: StartupProbe comes second.
            try? await Task.sleep(for: .milliseconds(100))
            StartupProbe.start(logger: logger)
        }
        say("worker: running")
        try? await gracefulShutdown()  // returns when the group begins its graceful shutdown
        try? await Task.sleep(for: .milliseconds(50))  // some work to finish, as a server would
        say("worker: shutdown hook ran")
    }
}

@main
enum ServiceGroupServer {
    static func main() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "servicegroup-server")
        logger.logLevel = .debug
        let startProbeLate = getenv("START_PROBE_LATE") != nil
        if !startProbeLate { StartupProbe.start(logger: logger) }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: Worker(logger: logger, startProbeLate: startProbeLate))],
                gracefulShutdownSignals: [.sigterm],
                logger: logger
            )
        )
        try await group.run()
        say("servicegroup-server: group finished")
    }
}
