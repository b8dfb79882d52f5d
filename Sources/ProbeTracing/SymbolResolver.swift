import ProbeCore
import ProbeTrace

/// Names code addresses from a module's ELF symbol tables (.symtab, else .dynsym).
///
/// An address is named only when it lies inside a function symbol's extent: Debian strips its
/// libraries to .dynsym, where internal functions have no symbol, and naming them after the
/// nearest export (as `unw_get_proc_name` does) misleads; such frames keep module+offset.
///
/// The table is streamed (``ELFFile/forEachSymbol(in:_:)``): one pass per module and batch of
/// addresses, nothing of the table kept but the few symbols that name them, so memory does not grow
/// with the program (a sorted copy of a 30 MB `.symtab` did). Answers are kept per module, so the
/// threads of one crash, which share most frames, cost one pass.
package final class SymbolResolver {
    /// An empty cache: modules are read on first use.
    package init() {}

    /// Per module path: each address looked up, and its name (nil: none).
    private var answers: [String: [UInt64: Named?]] = [:]

    /// A symbol's name and the address's offset into it.
    package typealias Named = (name: String, offset: UInt64)

    /// Names for module-relative virtual addresses: (symbol, offset into it), or nil each.
    package func names(module path: String, elf: ELFFile, addresses: [UInt64]) -> [UInt64: Named] {
        var known = answers[path] ?? [:]
        let unknown = Array(Set(addresses.filter { known[$0] == nil })).sorted()
        if !unknown.isEmpty {
            let found = SymbolResolver.lookUp(unknown, in: elf)
            for (i, address) in unknown.enumerated() { known[address] = .some(found[i]) }
            answers[path] = known
        }
        var result: [UInt64: Named] = [:]
        for address in addresses {
            if let named = known[address] ?? nil { result[address] = named }
        }
        return result
    }

    /// The best candidate so far for one address: the function symbol that starts last at or
    /// before it (the largest of aliases at the same start).
    private struct Candidate {
        var start: UInt64
        var size: UInt64
        var nameOffset: UInt32
        var aliases: Int
        /// Whether one of the aliases has size 0, as Swift's `main` has.
        var sizelessAlias: Bool
    }

    /// One pass over the first table that has functions; `sorted` ascending.
    private static func lookUp(_ sorted: [UInt64], in elf: ELFFile) -> [Named?] {
        for table in elf.symbolTables {
            var best = [Candidate](
                repeating: Candidate(start: 0, size: 0, nameOffset: 0, aliases: 0, sizelessAlias: false),
                count: sorted.count
            )
            var sawFunction = false
            elf.forEachSymbol(in: table) { symbol in
                guard symbol.isDefinedFunction, symbol.value <= sorted[sorted.count - 1] else {
                    sawFunction = sawFunction || symbol.isDefinedFunction
                    return true
                }
                sawFunction = true
                // The addresses at or after its start: the first by binary search.
                var low = 0
                var high = sorted.count
                while low < high {
                    let mid = (low + high) / 2
                    if sorted[mid] < symbol.value { low = mid + 1 } else { high = mid }
                }
                for i in low..<sorted.count {
                    if best[i].aliases > 0 {
                        if symbol.value < best[i].start { break }  // later addresses have it too
                        if symbol.value == best[i].start {
                            // Aliases: the largest gives the extent.
                            best[i].aliases += 1
                            best[i].sizelessAlias = best[i].sizelessAlias || symbol.size == 0
                            if symbol.size > best[i].size
                                || (symbol.size == best[i].size
                                    && plainer(symbol.nameOffset, than: best[i].nameOffset, in: table, of: elf))
                            {
                                best[i].size = symbol.size
                                best[i].nameOffset = symbol.nameOffset
                            }
                            continue
                        }
                    }
                    best[i] = Candidate(
                        start: symbol.value,
                        size: symbol.size,
                        nameOffset: symbol.nameOffset,
                        aliases: 1,
                        sizelessAlias: symbol.size == 0
                    )
                }
                return true
            }
            // The first table with functions wins: .symtab includes everything .dynsym has.
            guard sawFunction else { continue }
            return sorted.indices.map { i -> Named? in
                let candidate = best[i]
                guard candidate.aliases > 0, sorted[i] < candidate.start &+ max(candidate.size, 1) else { return nil }
                // Swift's `main` is a zero-size alias of `<module>_main`: `main` is the name people
                // know (looked for again only where a zero-size alias is: not for the C
                // library's many sized aliases, each of which cost another pass over its table).
                if candidate.aliases > 1, candidate.sizelessAlias,
                    aliasNamedMain(at: candidate.start, in: table, of: elf)
                {
                    return ("main", sorted[i] - candidate.start)
                }
                return (elf.symbolName(in: table, at: candidate.nameOffset) ?? "?", sorted[i] - candidate.start)
            }
        }
        return [Named?](repeating: nil, count: sorted.count)
    }

    /// Between aliases of one size, the name people call: fewer leading underscores (`quick_exit`,
    /// not `__new_quick_exit`), then the shorter (`__libc_start_main`, not `__libc_start_main_impl`);
    /// on a full tie the first in the table keeps it (`_exit`, not `_Exit`).
    private static func plainer(
        _ offset: UInt32,
        than current: UInt32,
        in table: ELFFile.SymbolTable,
        of elf: ELFFile
    ) -> Bool {
        guard let name = elf.symbolName(in: table, at: offset), let other = elf.symbolName(in: table, at: current)
        else { return false }
        let underscores = name.utf8.prefix(while: { $0 == UInt8(ascii: "_") }).count
        let otherUnderscores = other.utf8.prefix(while: { $0 == UInt8(ascii: "_") }).count
        if underscores != otherUnderscores { return underscores < otherUnderscores }
        return name.utf8.count < other.utf8.count
    }

    /// Whether a function symbol at `address` is called `main`.
    private static func aliasNamedMain(at address: UInt64, in table: ELFFile.SymbolTable, of elf: ELFFile) -> Bool {
        var found = false
        elf.forEachSymbol(in: table) { symbol in
            if symbol.isDefinedFunction, symbol.value == address,
                elf.symbolName(in: table, at: symbol.nameOffset) == "main"
            {
                found = true
                return false
            }
            return true
        }
        return found
    }
}
