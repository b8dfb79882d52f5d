/// A module's debug information kept in a file of its own, as `objcopy --only-keep-debug` makes
/// it and Debian's `-dbgsym` packages install it (and as probe-exec's release binary ships):
/// found by the module's build-id under `/usr/lib/debug/.build-id/`, or by its `.gnu_debuglink`
/// name beside it, in its `.debug/` folder, or under `/usr/lib/debug` — where gdb looks.
package enum SeparateDebugFile {
    /// The debug file of the module at `path` (opened as `elf`), when the module itself has no
    /// readable DWARF and one is found whose build-id, when both have one, is the module's.
    package static func open(for path: String, _ elf: ELFFile) -> ELFFile? {
        guard !hasDWARF(elf) else { return nil }
        let buildID = elf.buildID
        var candidates: [String] = []
        if let id = buildID, id.utf8.count > 2 {
            candidates.append("/usr/lib/debug/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug")
        }
        if let link = elf.section(named: ".gnu_debuglink", limit: 4096) {
            let name = String(decoding: link.prefix { $0 != 0 }, as: UTF8.self)
            if !name.isEmpty, !name.contains("/") {
                let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                    .joined(separator: "/")
                candidates += [
                    directory + "/" + name, directory + "/.debug/" + name, "/usr/lib/debug" + directory + "/" + name,
                ]
            }
        }
        for candidate in candidates where candidate != path {
            guard let debug = ELFFile(path: candidate) else { continue }
            if hasDWARF(debug), buildID == nil || debug.buildID == nil || debug.buildID == buildID {
                return debug
            }
            debug.close()
        }
        return nil
    }

    /// Whether `elf` has line tables or debug information that can be read.
    static func hasDWARF(_ elf: ELFFile) -> Bool {
        elf.hasReadableSection(".debug_line") || elf.hasReadableSection(".debug_info")
    }
}
