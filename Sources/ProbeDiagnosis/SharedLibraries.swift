import ProbeCore
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which shared libraries a program needs and cannot get, found by reading ELF dynamic sections
/// and resolving each DT_NEEDED the way glibc's loader does — never by running `ldd` or the
/// program: DT_RPATH (when there is no DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH,
/// /etc/ld.so.cache, then the default directories.
package enum SharedLibraries {
    /// A library that could not be found, and who needs it.
    package struct Missing: Sendable, Equatable {
        /// The DT_NEEDED name, such as `libssl.so.3`.
        package var name: String
        /// The file that needs it (the program or one of its libraries).
        package var neededBy: String

        /// `name`, needed by `neededBy`, was not found.
        package init(name: String, neededBy: String) {
            self.name = name
            self.neededBy = neededBy
        }
    }

    /// Every missing library of `program` and, transitively, of the libraries that were found.
    package static func missing(program: String, libraryPath: String?) -> [Missing] {
        let cache = LoaderCache.names()
        var missing: [Missing] = []
        var queue = [program]
        var seen: Set<String> = [program]
        while let file = queue.first, seen.count < 300 {
            queue.removeFirst()
            guard let elf = ELFFile(path: file) else { continue }
            let dynamic = elf.dynamicEntries()
            elf.close()
            let origin = file.split(separator: "/").dropLast().joined(separator: "/")
            func directories(_ list: String?) -> [String] {
                (list ?? "").split(separator: ":").map {
                    String($0).replacingOrigin(with: "/" + origin)
                }
            }
            let searchPaths =
                (dynamic.runpath == nil ? directories(dynamic.rpath) : []) + directories(libraryPath)
                + directories(dynamic.runpath)
            for name in dynamic.needed {
                if let found = resolve(name, searchPaths: searchPaths, cache: cache) {
                    if seen.insert(found).inserted { queue.append(found) }
                } else if !missing.contains(where: { $0.name == name }) {
                    missing.append(Missing(name: name, neededBy: file))
                }
            }
        }
        return missing
    }

    /// The default directories of glibc's loader on this machine (multiarch first).
    package static var defaultDirectories: [String] {
        let arch = ExecPreflight.hostMachine
        return ["/lib/\(arch)-linux-gnu", "/usr/lib/\(arch)-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    }

    package static func resolve(_ name: String, searchPaths: [String], cache: [String: String]) -> String? {
        if name.contains("/") { return access(name, F_OK) == 0 ? name : nil }
        for directory in searchPaths where !directory.isEmpty {
            let candidate = directory + "/" + name
            if access(candidate, F_OK) == 0 { return candidate }
        }
        if let cached = cache[name], access(cached, F_OK) == 0 { return cached }
        for directory in defaultDirectories {
            let candidate = directory + "/" + name
            if access(candidate, F_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// The library names and paths in glibc's /etc/ld.so.cache ("glibc-ld.so.cache1.1" format).
package enum LoaderCache {
    package static func names(path: String = "/etc/ld.so.cache") -> [String: String] {
        guard let bytes = ProcessFacts.readSmallFileBytes(path, limit: 16 << 20) else { return [:] }
        let magic = Array("glibc-ld.so.cache1.1".utf8)
        // The new format stands alone, or follows an old-format table ("ld.so-1.7.0").
        guard
            let start = (0...max(0, min(bytes.count - magic.count, 1 << 20))).first(where: {
                bytes[$0..<($0 + magic.count)].elementsEqual(magic)
            })
        else { return [:] }
        var result: [String: String] = [:]
        let count = Int(ELFFile.u32(bytes, start + 20))
        let entries = start + 48
        for i in 0..<min(count, 1 << 16) {
            let entry = entries + i * 24
            guard entry + 24 <= bytes.count else { break }
            let key = UInt64(ELFFile.u32(bytes, entry + 4))
            let value = UInt64(ELFFile.u32(bytes, entry + 8))
            // String offsets of the new format are from the start of the new-format header.
            let name = DWARFReader.string(in: bytes, at: UInt64(start) + key)
            if result[name] == nil { result[name] = DWARFReader.string(in: bytes, at: UInt64(start) + value) }
        }
        return result
    }
}

extension String {
    fileprivate func replacingOrigin(with origin: String) -> String {
        var text = self
        for token in ["${ORIGIN}", "$ORIGIN"] {
            while let range = text.find(token) { text.replaceSubrange(range, with: origin) }
        }
        return text
    }
}
