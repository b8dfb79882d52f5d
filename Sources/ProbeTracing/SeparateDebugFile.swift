import ProbeCore

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
        var linkCRC: UInt32?
        if let link = elf.section(named: ".gnu_debuglink", limit: 4096) {
            let name = String(decoding: link.prefix { $0 != 0 }, as: UTF8.self)
            // The name, NUL-padded to 4 bytes, then the CRC-32 of the debug file.
            let crcAt = (name.utf8.count + 4) & ~3
            if crcAt + 4 <= link.count { linkCRC = ELFFile.u32(link, crcAt) }
            if !name.isEmpty, !name.contains("/") {
                let directory = path.pathDirectory
                candidates += [
                    directory + "/" + name, directory + "/.debug/" + name, "/usr/lib/debug" + directory + "/" + name,
                ]
            }
        }
        for candidate in candidates where candidate != path {
            guard let debug = ELFFile(path: candidate) else { continue }
            if hasDWARF(debug), belongs(debug, to: buildID, linkCRC: linkCRC), sameLayout(debug, elf) { return debug }
            debug.close()
        }
        return nil
    }

    /// Whether `debug` is the module's: the same build-id when both have one, else the CRC-32 its
    /// debug link names (as gdb checks it); a file of another build would give wrong lines.
    static func belongs(_ debug: ELFFile, to buildID: String?, linkCRC: UInt32?) -> Bool {
        if let buildID, let other = debug.buildID { return buildID == other }
        guard let linkCRC, let crc = debug.crc32(limit: maximumCheckedBytes) else { return false }
        return crc == linkCRC
    }

    /// Whether `debug` describes the same code as `module`: `.text` in both, and every loaded
    /// section they both name at the same address with the same size. A debug link's CRC is taken
    /// when it is added: a stale debug file linked into a new build passes it, and would give the
    /// old build's lines.
    static func sameLayout(_ debug: ELFFile, _ module: ELFFile) -> Bool {
        let mine = module.allocatedSections
        let theirs = debug.allocatedSections
        guard mine[".text"] != nil, theirs[".text"] != nil else { return false }
        for (name, place) in mine {
            if let other = theirs[name], other.address != place.address || other.size != place.size { return false }
        }
        return true
    }

    /// The largest debug file checked by its CRC (one without a build-id to compare).
    static let maximumCheckedBytes = 256 << 20

    /// Whether `elf` has line tables or debug information that can be read.
    static func hasDWARF(_ elf: ELFFile) -> Bool {
        elf.hasReadableSection(".debug_line") || elf.hasReadableSection(".debug_info")
    }
}
