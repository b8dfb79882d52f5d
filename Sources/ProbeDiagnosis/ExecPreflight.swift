import ProbeCore
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Explains an exec failure by looking at the file the way the kernel and the loader do: the
/// `#!` line, the ELF header's machine and interpreter, permissions and mount options — read
/// directly, never by running `ldd` or the file.
package enum ExecPreflight {
    /// One sentence saying why `path` could not be executed with `error`, or nil when nothing
    /// more specific than the errno is known.
    package static func explain(path: String, command: String, error: Int32, searchPath: String?) -> String? {
        switch error {
        case ENOENT:
            // A bare command: not in PATH, unless the search found a file by its name (`path`, see
            // Spawn), whose interpreter is what is missing.
            if !command.contains("/") && (path == command || access(path, F_OK) != 0) {
                return notInPath(command, searchPath: searchPath)
            }
            guard access(path, F_OK) == 0 else { return missingFile(path) }
            return missingInterpreter(path)
        case EACCES: return notExecutable(path)
        case ENOEXEC: return notRunnable(path)
        default: return nil
        }
    }

    /// The machine a binary is for, by ELF e_machine.
    package static let machines: [UInt16: String] = [
        3: "i386", 8: "mips", 20: "powerpc", 21: "ppc64", 22: "s390x", 40: "arm (32-bit)", 62: "x86_64",
        183: "aarch64", 243: "riscv64", 258: "loongarch64",
    ]

    /// This machine, as uname reports it.
    package static var hostMachine: String {
        var u = utsname()
        guard uname(&u) == 0 else { return "this machine" }
        return withUnsafeBytes(of: u.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    private static func head(_ path: String, _ count: Int = 256) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = read(fd, &bytes, count)
        return n > 0 ? Array(bytes[0..<n]) : []
    }

    /// The `#!` line's interpreter as written (with any trailing CR), or nil.
    package static func shebang(_ bytes: [UInt8]) -> String? {
        guard bytes.starts(with: [0x23, 0x21]) else { return nil }  // "#!"
        let line = bytes.dropFirst(2).prefix(while: { $0 != 0x0A })
        let text = String(decoding: line, as: UTF8.self).drop(while: { $0 == " " || $0 == "\t" })
        return String(text.prefix(while: { $0 != " " && $0 != "\t" }))
    }

    /// How deep a chain of #! interpreters is followed to explain it (the kernel says ELOOP past
    /// five interpreters).
    static let interpreterLevels = 8

    private static func missingInterpreter(_ path: String, depth: Int = 0) -> String? {
        let bytes = head(path)
        if let interpreter = shebang(bytes) {
            if interpreter.hasSuffix("\r") {
                return
                    "its #! line names `\(interpreter.dropLast())` followed by a carriage return: the script has Windows (CRLF) line endings; convert it with `dos2unix` or `sed -i 's/\\r$//'`"
            }
            // The interpreter is there: what is missing is its own interpreter (the kernel follows
            // #! lines several levels deep, and says ELOOP past them), or its dynamic loader.
            if access(interpreter, F_OK) == 0 {
                guard depth < interpreterLevels, let inner = missingInterpreter(interpreter, depth: depth + 1),
                    inner.hasPrefix("its ")
                else { return "its #! interpreter \(interpreter) is there, but running it failed with ENOENT" }
                return "its #! interpreter \(interpreter) is there, but \(interpreter)'s own \(inner.dropFirst(4))"
            }
            return "its #! interpreter \(interpreter) does not exist on this system"
        }
        if let elf = ELFFile(path: path) {
            defer { elf.close() }
            if let interpreter = elf.interpreter, access(interpreter, F_OK) != 0 {
                let hint =
                    interpreter.contains("musl")
                    ? " (a binary built for musl libc, e.g. on Alpine, on a glibc system)"
                    : interpreter.contains("ld-linux")
                        ? " (a binary built for glibc on a system without it, e.g. Alpine/musl, or for another architecture)"
                        : ""
                return "its ELF interpreter (dynamic loader) \(interpreter) does not exist\(hint)"
            }
        }
        return nil
    }

    private static func missingFile(_ path: String) -> String {
        var text = "\(path) does not exist"
        let slash = path.lastIndex(of: "/")!
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        if access(directory, F_OK) != 0 {
            text += " (nor does its directory \(directory))"
        } else if let similar = similarNames(to: name, in: directory).first {
            text += "; did you mean \(directory == "." ? "./" : directory + "/")\(similar)?"
        }
        return text
    }

    private static func notInPath(_ command: String, searchPath: String?) -> String {
        let path = searchPath ?? CommandResolver.defaultSearchPath
        let text = "`\(command)` is not in any PATH directory (PATH=\(shown(path)))"
        if access(command, X_OK) == 0 {
            return text + "; it is in the current directory: run it as ./\(command)"
        }
        for directory in path.split(separator: ":").map(String.init) {
            if let similar = similarNames(to: command, in: directory).first {
                return text + "; did you mean \(similar) (in \(directory))?"
            }
        }
        return text
    }

    /// PATH as the explanation shows it: whole, unless it is long (a paragraph on stderr is read
    /// by a person): then its first entries and how many there are.
    static func shown(_ path: String) -> String {
        guard path.utf8.count > 400 else { return path }
        let entries = path.split(separator: ":", omittingEmptySubsequences: false)
        return entries.prefix(8).joined(separator: ":") + ":… (\(entries.count) entries)"
    }

    private static func notExecutable(_ path: String, depth: Int = 0) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if (info.st_mode & S_IFMT) == S_IFDIR { return "\(path) is a directory" }
        if info.st_mode & 0o111 == 0 {
            return
                "\(path) has no execute permission (mode \(String(info.st_mode & 0o777, radix: 8))): `chmod +x \(path)`"
        }
        if let mount = MountTable.mountPoint(containing: path), mount.options.contains("noexec") {
            return "\(path) is on \(mount.point), which is mounted noexec"
        }
        // The script may run; its #! interpreter is what cannot (a directory, no execute bit).
        if access(path, X_OK) == 0, let interpreter = shebang(head(path)), access(interpreter, F_OK) == 0,
            depth < interpreterLevels,
            let inner = notExecutable(interpreter, depth: depth + 1)
        {
            return "its #! interpreter \(interpreter) cannot be run: \(inner)"
        }
        return "\(path) is not executable by uid \(getuid()) (permissions of the file or a directory on its path)"
    }

    private static func notRunnable(_ path: String) -> String? {
        let bytes = head(path, 64)
        // ELF's header is 52 bytes (32-bit) or 64 (64-bit, or an unknown class): a file ending
        // inside it is a truncated copy, whatever the bytes it has say.
        if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]), bytes.count < (bytes.count > 4 && bytes[4] == 1 ? 52 : 64) {
            return
                "\(path) begins as an ELF file but ends after \(bytes.count) bytes, within its header: a truncated copy"
        }
        if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]), bytes.count >= 20 {
            let machine = UInt16(bytes[18]) | UInt16(bytes[19]) << 8
            let name = machines[machine] ?? "machine \(machine)"
            let host = hostMachine
            if name != host {
                return
                    "\(path) is an ELF binary for \(name), and this machine is \(host): build or pull the \(host) variant (e.g. docker --platform)"
            }
            return "\(path) is an ELF file this kernel refuses (corrupt, or a core file / object, not an executable)"
        }
        if bytes.isEmpty { return "\(path) is empty" }
        return
            "\(path) has neither a #! line nor an ELF header: add `#!/bin/sh` (or the right interpreter) as its first line"
    }

    /// Names in `directory` within edit distance 2 of `name` (or sharing its first 4 characters).
    package static func similarNames(to name: String, in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [(Int, String)] = []
        var seen = 0
        while let entry = readdir(dir), seen < 20_000 {
            seen += 1
            let candidate = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard candidate != ".", candidate != "..", candidate != name else { continue }
            let distance = editDistance(Array(candidate.utf8), Array(name.utf8), limit: 2)
            if distance <= 2 { found.append((distance, candidate)) }
        }
        return found.sorted { $0 < $1 }.map(\.1)
    }

    /// Levenshtein distance, or `limit + 1` as soon as it must exceed `limit`.
    package static func editDistance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            var best = current[0]
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                best = min(best, current[j])
            }
            if best > limit { return limit + 1 }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Mount points and their options, from /proc/self/mountinfo.
package enum MountTable {
    /// The mount holding `path` (longest mount point that prefixes its real path).
    package static func mountPoint(containing path: String) -> (point: String, options: [String])? {
        guard let real = realpath(path, nil) else { return nil }
        let resolved = String(cString: real)
        free(real)
        guard let text = ProcessFacts.readSmallFile("/proc/self/mountinfo", limit: 1 << 20) else { return nil }
        var best: (point: String, options: [String])? = nil
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 5 else { continue }
            let point = String(fields[4])
            let matches = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            if matches && point.count >= (best?.point.count ?? -1) {
                best = (point, fields[5].split(separator: ",").map(String.init))
            }
        }
        return best
    }
}
