#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Listening TCP sockets and who holds them, read from /proc — no syscall interception, so
/// nothing is left in the program if probe-exec dies (a seccomp filter would outlive it and
/// turn the program's later bind/listen into ENOSYS).
package enum Sockets {
    /// A listening socket.
    package struct Listener: Sendable, Equatable, Hashable {
        /// "0.0.0.0", "127.0.0.1", "::" …
        package var address: String
        package var port: Int
        package var inode: UInt64

        /// A listener on `address`:`port`, socket inode `inode`.
        package init(address: String, port: Int, inode: UInt64) {
            self.address = address
            self.port = port
            self.inode = inode
        }
    }

    /// `pid` and its descendants (at most `limit` processes).
    package static func processTree(_ pid: Int32, limit: Int = 64) -> [Int32] {
        var result: [Int32] = []
        var queue = [pid]
        while let next = queue.first, result.count < limit {
            queue.removeFirst()
            result.append(next)
            queue += ProcessFacts.children(of: next)
        }
        return result
    }

    /// The socket inodes open in process `pid`.
    package static func socketInodes(of pid: Int32) -> Set<UInt64> {
        guard let dir = opendir("/proc/\(pid)/fd") else { return [] }
        defer { closedir(dir) }
        var inodes: Set<UInt64> = []
        var buffer = [CChar](repeating: 0, count: 64)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard Int(name) != nil else { continue }
            let n = readlink("/proc/\(pid)/fd/\(name)", &buffer, buffer.count - 1)
            guard n > 8 else { continue }
            let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()) { inodes.insert(inode) }
        }
        return inodes
    }

    /// Every listening TCP socket in the network namespace of `pid`.
    package static func listeners(namespaceOf pid: Int32) -> [Listener] {
        var result: [Listener] = []
        for (file, v6) in [("tcp", false), ("tcp6", true)] {
            guard let text = ProcessFacts.readSmallFile("/proc/\(pid)/net/\(file)", limit: 4 << 20) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A" else { continue }  // TCP_LISTEN
                let local = fields[1].split(separator: ":")
                guard local.count == 2, let port = Int(local[1], radix: 16), let inode = UInt64(fields[9]) else {
                    continue
                }
                result.append(Listener(address: address(String(local[0]), v6: v6), port: port, inode: inode))
            }
        }
        return result
    }

    /// The listening sockets owned by the processes `pids` (one network namespace: the first's).
    package static func listeners(ownedBy pids: [Int32]) -> [Listener] {
        guard let first = pids.first else { return [] }
        var inodes: Set<UInt64> = []
        for pid in pids { inodes.formUnion(socketInodes(of: pid)) }
        guard !inodes.isEmpty else { return [] }
        return listeners(namespaceOf: first).filter { inodes.contains($0.inode) }
    }

    /// Processes (pid, command) holding a listening socket on `port`, seen from `pid`'s namespace.
    package static func holders(ofPort port: Int, namespaceOf pid: Int32) -> [(pid: Int32, command: String?)] {
        let inodes = Set(listeners(namespaceOf: pid).filter { $0.port == port }.map(\.inode))
        guard !inodes.isEmpty, let proc = opendir("/proc") else { return [] }
        defer { closedir(proc) }
        var result: [(pid: Int32, command: String?)] = []
        var scanned = 0
        while let entry = readdir(proc), scanned < 10_000 {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let other = Int32(name) else { continue }
            scanned += 1
            if !socketInodes(of: other).isDisjoint(with: inodes) {
                result.append((other, ProcessFacts.command(of: other)))
            }
        }
        return result
    }

    /// /proc/net/tcp's hex address (network order words, little-endian host) as text.
    package static func address(_ hex: String, v6: Bool) -> String {
        let bytes = stride(from: 0, to: hex.count - 1, by: 2).compactMap { i -> UInt8? in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
        // Each 32-bit word is printed in host (little-endian) order.
        var ordered: [UInt8] = []
        for word in stride(from: 0, to: bytes.count, by: 4) where word + 4 <= bytes.count {
            ordered += bytes[word..<(word + 4)].reversed()
        }
        return address(networkOrder: ordered, v6: v6)
    }

    /// An address in network byte order (4 or 16 bytes) as text: `127.0.0.1`, `::`, `::ffff:…`
    /// as dotted IPv4, else colon-separated groups.
    package static func address(networkOrder ordered: [UInt8], v6: Bool) -> String {
        if !v6 { return ordered.prefix(4).map(String.init).joined(separator: ".") }
        guard ordered.count >= 16 else { return "?" }
        if ordered.allSatisfy({ $0 == 0 }) { return "::" }
        if ordered.prefix(10).allSatisfy({ $0 == 0 }) && ordered[10] == 0xFF && ordered[11] == 0xFF {
            return ordered[12..<16].map(String.init).joined(separator: ".")  // ::ffff:a.b.c.d
        }
        var groups: [String] = []
        for g in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(ordered[g]) << 8 | UInt16(ordered[g + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }

    /// The port the program could not bind, and where it was named: the program's failing line
    /// (`Address already in use`, `EADDRINUSE`, `Errno 98`, on stderr or stdout) when it names one;
    /// else a port named before it — an earlier line of the same output, an argument (`--port 8000`,
    /// `:8000`, `port=8000`), or an environment variable whose name says port (`PORT=8000`: only its
    /// name and the number are ever written) — that a listener holds now. nil without a failing line.
    package static func portInUse(
        outputs: [String],
        command: [String],
        environment: [(name: String, value: String)] = [],
        listening: Set<Int>? = nil
    ) -> (port: Int, source: String)? {
        var earlier: [Int] = []
        var failed = false
        for output in outputs {
            // One pass over the whole output first (a tail may hold 64 KiB of short lines).
            let lowered = output.lowercased()
            guard
                lowered.find("address already in use") != nil || lowered.find("eaddrinuse") != nil
                    || lowered.find("errno 98") != nil
            else { continue }
            let lines = output.split(separator: "\n")
            guard let last = lines.lastIndex(where: isAddressInUse) else { continue }
            failed = true
            for line in lines[...last].reversed() where isAddressInUse(line) {
                if let port = lastPort(in: String(line)) { return (port, "its error line") }
            }
            for line in lines[..<last].suffix(20).reversed() {
                if let port = lastPort(in: String(line)) { earlier.append(port) }
            }
        }
        guard failed else { return nil }
        var candidates: [(port: Int, source: String)] = earlier.map { ($0, "an earlier line of its output") }
        let arguments = Array(command.dropFirst())
        for (i, argument) in arguments.enumerated() {
            var text = Substring(argument)
            if let eq = text.firstIndex(of: "="), text[..<eq].lowercased().contains("port") {
                text = text[text.index(after: eq)...]
            } else if let colon = text.lastIndex(of: ":") {
                text = text[text.index(after: colon)...]
            } else if i > 0, ["--port", "-p", "--listen-port", "--http-port"].contains(arguments[i - 1]) {
                // the value of a port option
            } else if !text.allSatisfy(\.isNumber) {
                continue
            }
            if let port = Int(text), (1...65535).contains(port) { candidates.append((port, "its arguments")) }
        }
        for variable in environment where variable.name.uppercased().contains("PORT") {
            if let port = Int(variable.value), (1...65535).contains(port) {
                candidates.append((port, "its environment variable \(variable.name)"))
            }
        }
        guard !candidates.isEmpty else { return nil }
        let held = listening ?? Set(listeners(namespaceOf: getpid()).map(\.port))
        return candidates.first(where: { held.contains($0.port) })
    }

    private static func isAddressInUse(_ line: Substring) -> Bool {
        line.localizedLowercaseContains("address already in use") || line.contains("EADDRINUSE")
            || line.contains("Errno 98")
    }

    /// The last number in 1…65535 that follows ':', "port " or ", " in `text`.
    package static func lastPort(in text: String) -> Int? {
        let chars = Array(text)
        var found: Int? = nil
        var i = 0
        while i < chars.count {
            guard chars[i].isNumber else {
                i += 1
                continue
            }
            var j = i
            while j < chars.count && chars[j].isNumber { j += 1 }
            let before = String(chars[max(0, i - 5)..<i]).lowercased()
            if before.hasSuffix(":") || before.hasSuffix("port ") || before.hasSuffix(", "),
                let n = Int(String(chars[i..<j])),
                (1...65535).contains(n), j == chars.count || !chars[j].isLetter
            {
                found = n
            }
            i = j
        }
        return found
    }
}

extension Substring {
    fileprivate func localizedLowercaseContains(_ text: String) -> Bool {
        let lower = self.lowercased()
        return lower.contains(text)
    }
}
