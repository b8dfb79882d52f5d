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

/// Sends one OTLP/HTTP JSON request (`POST …/v1/logs`) to a Collector, with bounded retries, and
/// never for longer than a deadline: the program has already exited when probe-exec exports, and
/// its exit must not wait on a slow or dead Collector.
///
/// Plain HTTP only (a Collector or agent beside the service, as in a pod); the whole attempt —
/// name lookup included — runs on a thread of its own that is abandoned at the deadline.
package struct OTLPHTTPExporter: Sendable {
    /// Where a request goes.
    package struct Endpoint: Sendable, Equatable {
        /// Host name or address (an IPv6 address without brackets).
        package var host: String
        /// TCP port (4318, OTLP/HTTP's, when the URL names none).
        package var port: UInt16
        /// Request path (`/v1/logs` when the URL has none).
        package var path: String

        /// Parses `http://HOST[:PORT][/PATH]`; nil for anything else (https is not supported).
        package init?(url: String) {
            guard url.hasPrefix("http://") else { return nil }
            let rest = url.dropFirst("http://".count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let authority = rest[..<slash]
            let path = String(rest[slash...])
            self.path = path.isEmpty || path == "/" ? "/v1/logs" : path
            var hostPart = Substring(authority)
            var portText: Substring? = nil
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                hostPart = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
            } else if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard !hostPart.isEmpty else { return nil }
            host = String(hostPart)
            if let portText {
                guard let port = UInt16(portText), port > 0 else { return nil }
                self.port = port
            } else {
                port = 4318
            }
        }
    }

    /// How an export ended.
    package enum Outcome: Sendable, Equatable {
        /// The Collector answered 2xx.
        case delivered(attempts: Int)
        /// It did not: why, in words, after how many attempts.
        case failed(String, attempts: Int)
    }

    /// The endpoint.
    package var endpoint: Endpoint
    /// The whole export, retries included, ends within this many seconds.
    package var timeoutSeconds: Double
    /// Extra request headers (from `OTEL_EXPORTER_OTLP_HEADERS`, e.g. an API key).
    package var headers: [(String, String)]
    /// Attempts at most (the first and its retries).
    package var maximumAttempts = 3
    /// `User-Agent`.
    package var userAgent: String

    /// Makes an exporter.
    package init(endpoint: Endpoint, timeoutSeconds: Double, headers: [(String, String)] = [], userAgent: String) {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.headers = headers
        self.userAgent = userAgent
    }

    /// Sends `body` (an ExportLogsServiceRequest in JSON). Returns within `timeoutSeconds`.
    package func export(_ body: String) -> Outcome {
        let deadline = Double(TraceClock.nowNanoseconds) / 1e9 + timeoutSeconds
        let attempt = Attempts(exporter: self, body: Array(body.utf8), deadline: deadline)
        return DeadlineThread.run(until: deadline, attempt.run)
            ?? .failed("no answer within \(timeoutSeconds) s", attempts: attempt.attempted)
    }

    /// `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,…`, values percent-encoded) as pairs.
    package static func headers(fromEnvironment text: String?) -> [(String, String)] {
        OTLPLogs.resourceAttributes(fromEnvironment: text)
    }
}

/// What one request came to.
private enum AttemptResult {
    case status(Int)
    case problem(String)
}

/// The attempts of one export, run on a thread that may be abandoned at the deadline.
private final class Attempts: @unchecked Sendable {  // `attempted` is read only after run returned or as a hint
    package let exporter: OTLPHTTPExporter
    package let request: [UInt8]
    package let deadline: Double
    package var attempted = 0

    package init(exporter: OTLPHTTPExporter, body: [UInt8], deadline: Double) {
        self.exporter = exporter
        self.deadline = deadline
        let e = exporter.endpoint
        let hostHeader = e.host.contains(":") ? "[\(e.host)]:\(e.port)" : "\(e.host):\(e.port)"
        var head = "POST \(e.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nContent-Type: application/json\r\n"
        head += "Content-Length: \(body.count)\r\nConnection: close\r\nUser-Agent: \(exporter.userAgent)\r\n"
        for (key, value) in exporter.headers { head += "\(key): \(value)\r\n" }
        request = Array((head + "\r\n").utf8) + body
    }

    package func run() -> OTLPHTTPExporter.Outcome {
        var lastProblem = ""
        var backoff = 0.1
        while attempted < exporter.maximumAttempts {
            attempted += 1
            switch once() {
            case .status(let status) where (200..<300).contains(status):
                return .delivered(attempts: attempted)
            case .status(let status) where [429, 502, 503, 504].contains(status):
                lastProblem = "the Collector answered HTTP \(status)"
            case .status(let status):
                return .failed("the Collector answered HTTP \(status), not retried", attempts: attempted)
            case .problem(let problem):
                lastProblem = problem
            }
            let left = deadline - now()
            if left <= backoff { break }
            usleep(UInt32(backoff * 1_000_000))
            backoff *= 4
        }
        return .failed(lastProblem, attempts: attempted)
    }

    private func now() -> Double { Double(TraceClock.nowNanoseconds) / 1e9 }

    /// One request: the HTTP status, or what went wrong.
    private func once() -> AttemptResult {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>? = nil
        let e = exporter.endpoint
        let rc = getaddrinfo(e.host, String(e.port), &hints, &found)
        guard rc == 0, let first = found else {
            return .problem("cannot resolve \(e.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(found) }
        // Each address in turn (`localhost` is ::1 and 127.0.0.1; a Collector may listen on one).
        var fd: Int32 = -1
        var problem = ""
        var address: UnsafeMutablePointer<addrinfo>? = first
        while let candidate = address, fd < 0 {
            address = candidate.pointee.ai_next
            switch connected(candidate.pointee) {
            case .success(let socketFD): fd = socketFD
            case .failure(let error): problem = error.reason
            }
        }
        guard fd >= 0 else { return .problem(problem) }
        defer { close(fd) }
        var sent = 0
        while sent < request.count {
            guard wait(fd, for: Int16(POLLOUT)) else { return .problem("sending timed out") }
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno != EAGAIN && errno != EINTR { return .problem("send: \(SystemError.current)") }
            if n > 0 { sent += n }
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !response.containsHeaderEnd {
            guard wait(fd, for: Int16(POLLIN)) else { return .problem("no answer from \(e.host):\(e.port) in time") }
            let n = read(fd, &chunk, chunk.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .problem("reading the answer: \(SystemError.current)")
            }
            response += chunk[0..<n]
            if response.count > 65536 { break }
        }
        // "HTTP/1.1 200 OK"
        let statusLine = String(decoding: response.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            return .problem("not an HTTP answer from \(e.host):\(e.port)")
        }
        return .status(status)
    }

    private struct ConnectFailure: Error {
        package let reason: String
    }

    /// A connected non-blocking socket to `address`, or why not.
    private func connected(_ address: addrinfo) -> Result<Int32, ConnectFailure> {
        let e = exporter.endpoint
        let fd = socket(address.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(ConnectFailure(reason: "socket: \(SystemError.current)")) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var error: Int32 = 0
        if connect(fd, address.ai_addr, address.ai_addrlen) != 0 {
            if errno != EINPROGRESS {
                error = errno
            } else if !wait(fd, for: Int16(POLLOUT)) {
                close(fd)
                return .failure(ConnectFailure(reason: "connecting to \(e.host):\(e.port) timed out"))
            } else {
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            }
        }
        guard error == 0 else {
            close(fd)
            return .failure(ConnectFailure(reason: "cannot connect to \(e.host):\(e.port): \(SystemError(error))"))
        }
        return .success(fd)
    }

    /// Polls until `fd` is ready or the deadline passes.
    private func wait(_ fd: Int32, for events: Int16) -> Bool {
        while true {
            let left = deadline - now()
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&p, 1, Int32(left * 1000) + 1)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return false }
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4)
        where self[i] == 0x0D && self[i + 1] == 0x0A && self[i + 2] == 0x0D && self[i + 3] == 0x0A {
            return true
        }
        return false
    }
}
