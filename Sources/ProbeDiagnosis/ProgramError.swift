import ProbeCore
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// An error a program's runtime reported on stderr before it exited: a Python traceback, a
/// Node.js uncaught exception, a Java exception, a Rust or Go panic, a Swift fatal error, a Ruby
/// exception — reduced to what an on-call engineer needs first.
package struct ProgramError: Sendable, Equatable {
    /// "Python", "Node.js", "Java", "Rust", "Go", "Swift", "Ruby".
    package var language: String
    /// The exception type, or "panic" / "Fatal error".
    package var kind: String
    /// The message.
    package var message: String
    /// The program's own innermost location, "app/db.py:12", when given.
    package var location: String?
    /// For import errors: the chain of imports that led there, outermost first ("app.py:3").
    package var importChain: [String] = []
    /// A missing environment variable the error names (KeyError on os.environ, getenv panics).
    package var environmentVariable: String?

    /// An error as the program reported it.
    package init(
        language: String,
        kind: String,
        message: String,
        location: String? = nil,
        importChain: [String] = [],
        environmentVariable: String? = nil
    ) {
        self.language = language
        self.kind = kind
        self.message = message
        self.location = location
        self.importChain = importChain
        self.environmentVariable = environmentVariable
    }

    /// The error as the trace records it.
    package var traceEvent: TraceEvent.ProgramError {
        var event = TraceEvent.ProgramError()
        event.language = language
        event.kind = kind
        event.message = message
        event.location = location
        event.importChain = importChain
        event.environmentVariable = environmentVariable
        return event
    }
}

/// Finds the last runtime error report in a program's stderr.
package enum ProgramErrorParser {
    /// The error report nearest the end of `text`, or nil.
    package static func find(in text: String) -> ProgramError? {
        guard !text.isEmpty else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        // The report closest to the end wins: scan parsers from the bottom up.
        var best: (index: Int, error: ProgramError)? = nil
        for parser in [python, node, java, rust, go, swift, ruby, cplusplus] {
            if let found = parser(lines), found.index >= (best?.index ?? -1) { best = found }
        }
        return best?.error
    }

    // MARK: Python

    package static func python(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        guard let start = lines.lastIndex(where: { $0.hasPrefix("Traceback (most recent call last):") }) else {
            return nil
        }
        var frames: [(file: String, line: String)] = []
        var code: [String] = []
        var i = start + 1
        while i < lines.count, lines[i].hasPrefix(" ") || lines[i].isEmpty {
            let trimmed = lines[i].drop(while: { $0 == " " })
            if trimmed.hasPrefix("File \""), let close = trimmed.dropFirst(6).firstIndex(of: "\"") {
                let file = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 6)..<close])
                let rest = trimmed[close...]
                let line =
                    rest.split(separator: " ").drop(while: { $0 != "line" }).dropFirst().first.map {
                        String($0.filter(\.isNumber))
                    } ?? "?"
                frames.append((file, line))
            } else if !trimmed.isEmpty && !trimmed.allSatisfy({ "^~ ".contains($0) }) {
                code.append(String(trimmed))
            }
            i += 1
        }
        guard i < lines.count, let colon = lines[i].firstIndex(of: ":") ?? Optional(lines[i].endIndex) else {
            return nil
        }
        let kind = String(lines[i][..<colon])
        let message =
            colon < lines[i].endIndex
            ? String(lines[i][lines[i].index(after: colon)...].drop(while: { $0 == " " })) : ""
        var error = ProgramError(
            language: "Python",
            kind: kind.split(separator: ".").last.map(String.init) ?? kind,
            message: message
        )
        let own = frames.filter {
            !$0.file.contains("/site-packages/") && !$0.file.contains("/lib/python") && !$0.file.hasPrefix("<frozen")
        }
        if let last = own.last ?? frames.last { error.location = "\(last.file):\(last.line)" }
        if error.kind == "ModuleNotFoundError" || error.kind == "ImportError" {
            error.importChain = own.map { "\($0.file):\($0.line)" }
        }
        if error.kind == "KeyError", code.contains(where: { $0.contains("environ") || $0.contains("getenv") }) {
            error.environmentVariable = String(message.filter { $0 != "'" && $0 != "\"" })
        }
        return (i, error)
    }

    // MARK: Node.js

    package static func node(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        // "Error: message" (or TypeError…) followed by "    at …" frames.
        guard let at = lines.lastIndex(where: { $0.hasPrefix("    at ") }) else { return nil }
        var head = at
        while head > 0 && lines[head - 1].hasPrefix("    at ") { head -= 1 }
        // The "TypeError: …" / "Error [ERR_X]: …" line is a few lines above the frames (a
        // "Require stack:" list may sit between).
        var headerIndex: Int? = nil
        for i in stride(from: head - 1, through: max(0, head - 12), by: -1) where Self.nodeErrorKind(lines[i]) != nil {
            headerIndex = i
            break
        }
        guard let headerIndex, let (kind, message) = Self.nodeErrorKind(lines[headerIndex]) else { return nil }
        var error = ProgramError(language: "Node.js", kind: kind, message: message)
        for frame in lines[head...at] where !frame.contains("node:internal") && !frame.contains("(node:") {
            if let open = frame.lastIndex(of: "("), let close = frame.lastIndex(of: ")"), open < close {
                error.location = String(frame[frame.index(after: open)..<close])
            } else {
                error.location = String(frame.dropFirst(7))
            }
            break
        }
        return (at, error)
    }

    /// ("Error", "Cannot find module 'x'") from "Error: Cannot find module 'x'" or
    /// "Error [ERR_MODULE_NOT_FOUND]: …"; nil for other lines.
    package static func nodeErrorKind(_ line: Substring) -> (String, String)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        var kind = line[..<colon]
        if let bracket = kind.firstIndex(of: " "), kind.hasSuffix("]") { kind = kind[..<bracket] }
        guard kind.hasSuffix("Error") || kind.hasSuffix("Exception"), !kind.contains(" "),
            kind.first.map({ $0.isLetter }) == true
        else { return nil }
        return (String(kind), String(line[line.index(after: colon)...].drop(while: { $0 == " " })))
    }

    // MARK: Java

    package static func java(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        guard let start = lines.lastIndex(where: { $0.hasPrefix("Exception in thread \"") }) else { return nil }
        // The root cause is the last "Caused by:" of the report.
        var causeIndex = start
        var i = start + 1
        while i < lines.count,
            lines[i].hasPrefix("\t") || lines[i].hasPrefix("Caused by: ") || lines[i].hasPrefix("\t...")
        {
            if lines[i].hasPrefix("Caused by: ") { causeIndex = i }
            i += 1
        }
        var text = lines[causeIndex]
        if causeIndex == start, let quote = text.dropFirst(21).firstIndex(of: "\"") {
            text = text[text.index(after: quote)...].drop(while: { $0 == " " })
        } else {
            text = text.dropFirst(11)
        }
        let colon = text.firstIndex(of: ":") ?? text.endIndex
        let type = String(text[..<colon])
        var error = ProgramError(
            language: "Java",
            kind: type.split(separator: ".").last.map(String.init) ?? type,
            message: colon < text.endIndex ? String(text[text.index(after: colon)...].drop(while: { $0 == " " })) : ""
        )
        // The cause's frames, innermost first: the first one of the application's own code (not the
        // JDK's: `NumberFormatException.java:67` says nothing about the program), else the innermost.
        var frames: [Substring] = []
        var j = causeIndex + 1
        while j < lines.count, lines[j].hasPrefix("\tat ") {
            frames.append(lines[j].dropFirst(4))
            j += 1
        }
        let jdk = ["java.", "javax.", "jdk.", "sun.", "com.sun."]
        let frame =
            frames.first { frame in
                let method = frame.split(separator: "/").last ?? frame  // `java.base/java.lang.Integer…`
                return !jdk.contains { method.hasPrefix($0) }
            } ?? frames.first
        if let frame, let open = frame.lastIndex(of: "("), frame.hasSuffix(")") {
            error.location = String(frame[frame.index(after: open)...].dropLast())
        }
        return (i - 1, error)
    }

    // MARK: Rust

    package static func rust(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        guard let i = lines.lastIndex(where: { $0.hasPrefix("thread '") && $0.contains(" panicked at ") }) else {
            return nil
        }
        let line = lines[i]
        let after = line[line.find(" panicked at ")!.upperBound...]
        var error = ProgramError(language: "Rust", kind: "panic", message: "")
        if after.hasPrefix("'") {  // old format: panicked at 'message', src/main.rs:8:26
            let body = after.dropFirst()
            if let end = body.find("', ", backwards: true) {
                error.message = String(body[..<end.lowerBound])
                error.location = String(body[end.upperBound...])
            }
        } else {  // panicked at src/main.rs:8:26:\nmessage
            error.location = String(after.hasSuffix(":") ? after.dropLast() : after)
            if i + 1 < lines.count { error.message = String(lines[i + 1]) }
        }
        if error.message.contains("NotPresent") || error.message.contains("environment variable") {
            error.environmentVariable = ProgramErrorParser.quotedName(in: error.message)
        }
        return (i, error)
    }

    // MARK: Go

    package static func go(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        guard let i = lines.lastIndex(where: { $0.hasPrefix("panic: ") || $0.hasPrefix("fatal error: ") }) else {
            return nil
        }
        let isPanic = lines[i].hasPrefix("panic: ")
        var error = ProgramError(
            language: "Go",
            kind: isPanic ? "panic" : "fatal error",
            message: String(lines[i].dropFirst(isPanic ? 7 : 13))
        )
        // The first frame of the main package: "main.f(...)" then "\t/path/main.go:12 +0x1d".
        var j = i + 1
        while j + 1 < lines.count {
            if lines[j].hasPrefix("main.") && lines[j + 1].hasPrefix("\t") {
                error.location = String(lines[j + 1].dropFirst().split(separator: " ").first ?? "")
                break
            }
            j += 1
        }
        if error.message.contains("environment variable") || error.message.lowercased().contains("env") {
            error.environmentVariable = ProgramErrorParser.quotedName(in: error.message)
        }
        return (i, error)
    }

    // MARK: Swift

    package static func swift(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        // An optimised build's trap, as the runtime's backtracer reports it.
        let failure = "*** Swift runtime failure: "
        let runtimeFailure = lines.lastIndex(where: { $0.find(failure) != nil })
        let fatal = lines.lastIndex(where: { $0.contains("Fatal error: ") || $0.hasPrefix("Fatal error") })
        if let r = runtimeFailure, r > (fatal ?? -1), let marker = lines[r].find(failure) {
            var message = lines[r][marker.upperBound...]
            if message.hasSuffix(" ***") { message = message.dropLast(4) }
            return (r, ProgramError(language: "Swift", kind: "runtime failure", message: String(message)))
        }
        guard let i = fatal else {
            return nil
        }
        let line = lines[i]
        let marker = line.find("Fatal error: ")!
        var error = ProgramError(language: "Swift", kind: "Fatal error", message: String(line[marker.upperBound...]))
        let prefix = line[..<marker.lowerBound]
        if prefix.hasSuffix(": ") { error.location = String(prefix.dropLast(2)) }  // main.swift:37: Fatal error: …
        return (i, error)
    }

    // MARK: C++

    /// libstdc++'s report of an uncaught exception: "terminate called after throwing an instance of
    /// 'std::runtime_error'" and, for std::exception types, "  what():  message" on the next line.
    package static func cplusplus(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        let throwing = "terminate called after throwing an instance of '"
        guard let i = lines.lastIndex(where: { $0.find("terminate called") != nil }) else { return nil }
        guard let marker = lines[i].find(throwing) else {
            let message = lines[i].find("terminate called ").map { String(lines[i][$0.upperBound...]) } ?? ""
            return (i, ProgramError(language: "C++", kind: "std::terminate", message: message))
        }
        let type = lines[i][marker.upperBound...].prefix { $0 != "'" }
        var message = ""
        if i + 1 < lines.count, let what = lines[i + 1].find("what():") {
            message = String(lines[i + 1][what.upperBound...].trimmingWhitespace())
        }
        return (i, ProgramError(language: "C++", kind: "uncaught exception \(type)", message: message))
    }

    // MARK: Ruby

    package static func ruby(_ lines: [Substring]) -> (index: Int, error: ProgramError)? {
        // app.rb:3:in 'load': message (RuntimeError)   (older Rubies quote with `…')
        guard let i = lines.lastIndex(where: { $0.contains(":in ") && $0.hasSuffix(")") && $0.contains(" (") }) else {
            return nil
        }
        let line = lines[i]
        guard let open = line.find(" (", backwards: true), let inRange = line.find(":in ") else { return nil }
        let kind = String(line[open.upperBound...].dropLast())
        guard kind.first?.isUppercase == true, !kind.contains(" ") else { return nil }
        let afterIn = line[inRange.upperBound...]
        guard let messageStart = afterIn.find("': ") else { return nil }
        var error = ProgramError(
            language: "Ruby",
            kind: kind,
            message: String(line[messageStart.upperBound..<open.lowerBound])
        )
        let location = line[..<inRange.lowerBound]
        error.location = String(location)
        return (i, error)
    }

    /// The first quoted name in `text` ('X', "X" or `X`).
    package static func quotedName(in text: String) -> String? {
        for quote in ["\"", "'", "`"] {
            let parts = text.split(separatorText: quote)
            if parts.count >= 3, !parts[1].isEmpty, !parts[1].contains(" ") { return parts[1] }
        }
        return nil
    }
}
