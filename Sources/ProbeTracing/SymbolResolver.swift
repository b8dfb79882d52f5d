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
    /// before it (the largest of aliases at the same start), and whether an alias there is `main`.
    private struct Candidate {
        var start: UInt64
        var size: UInt64
        var nameOffset: UInt32
        var aliasOffsets: [UInt32]
    }

    /// One pass over the first table that has functions; `sorted` ascending.
    private static func lookUp(_ sorted: [UInt64], in elf: ELFFile) -> [Named?] {
        for table in elf.symbolTables {
            var best = [Candidate?](repeating: nil, count: sorted.count)
            var sawFunction = false
            elf.forEachSymbol(in: table) { symbol in
                guard symbol.isDefinedFunction else { return true }
                sawFunction = true
                // The addresses at or after its start: the first by binary search.
                var low = 0
                var high = sorted.count
                while low < high {
                    let mid = (low + high) / 2
                    if sorted[mid] < symbol.value { low = mid + 1 } else { high = mid }
                }
                for i in low..<sorted.count {
                    if let current = best[i] {
                        if symbol.value < current.start { break }  // later addresses have it too
                        if symbol.value == current.start {
                            // Aliases: the largest gives the extent; all are kept to look for `main`.
                            best[i]!.aliasOffsets.append(symbol.nameOffset)
                            if symbol.size > current.size {
                                best[i]!.size = symbol.size
                                best[i]!.nameOffset = symbol.nameOffset
                            }
                            continue
                        }
                    }
                    best[i] = Candidate(
                        start: symbol.value,
                        size: symbol.size,
                        nameOffset: symbol.nameOffset,
                        aliasOffsets: [symbol.nameOffset]
                    )
                }
                return true
            }
            // The first table with functions wins: .symtab includes everything .dynsym has.
            guard sawFunction else { continue }
            return sorted.indices.map { i -> Named? in
                guard let candidate = best[i], sorted[i] < candidate.start &+ max(candidate.size, 1) else { return nil }
                // Swift's `main` is a zero-size alias of `<module>_main`: `main` is the name people know.
                let names =
                    candidate.aliasOffsets.count > 1
                    ? candidate.aliasOffsets.compactMap { elf.symbolName(in: table, at: $0) } : []
                let name = names.contains("main") ? "main" : elf.symbolName(in: table, at: candidate.nameOffset) ?? "?"
                return (name, sorted[i] - candidate.start)
            }
        }
        return [Named?](repeating: nil, count: sorted.count)
    }
}
