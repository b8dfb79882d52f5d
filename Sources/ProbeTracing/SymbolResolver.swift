import ProbeCore
import ProbeTrace

/// Names code addresses from a module's ELF symbol tables (.symtab, else .dynsym).
///
/// An address is named only when it lies inside a function symbol's extent: Debian strips its
/// libraries to .dynsym, where internal functions have no symbol, and naming them after the
/// nearest export (as `unw_get_proc_name` does) misleads; such frames keep module+offset.
package final class SymbolResolver {
    /// An empty cache: modules are read on first use.
    package init() {}

    private struct Function {
        package var address: UInt64
        package var size: UInt64
        package var nameOffset: UInt32
    }
    private struct Module {
        package var functions: [Function]
        package var strings: [UInt8]
    }
    /// Per module path: its function symbols sorted by address (nil: none readable).
    private var modules: [String: Module?] = [:]
    /// The largest symbol table read.
    package static let maximumTableBytes = 64 << 20

    /// Names for module-relative virtual addresses: (symbol, offset into it), or nil each.
    package func names(
        module path: String,
        elf: ELFFile,
        addresses: [UInt64]
    ) -> [UInt64: (name: String, offset: UInt64)] {
        if modules[path] == nil { modules[path] = .some(SymbolResolver.functions(elf)) }
        guard let module = modules[path] ?? nil, !module.functions.isEmpty else { return [:] }
        let functions = module.functions
        var result: [UInt64: (name: String, offset: UInt64)] = [:]
        for address in addresses {
            // The last function starting at or before the address.
            var low = 0
            var high = functions.count
            while low < high {
                let mid = (low + high) / 2
                if functions[mid].address <= address { low = mid + 1 } else { high = mid }
            }
            guard low > 0 else { continue }
            // Aliases share an address (Swift's `main` is a zero-size alias of `<module>_main`):
            // the largest gives the extent (sorted last), and `main` is the name people know.
            let f = functions[low - 1]
            guard address < f.address &+ max(f.size, 1) else { continue }
            var name = DWARFReader.string(in: module.strings, at: UInt64(f.nameOffset))
            var k = low - 2
            while k >= 0 && functions[k].address == f.address {
                if DWARFReader.string(in: module.strings, at: UInt64(functions[k].nameOffset)) == "main" {
                    name = "main"
                }
                k -= 1
            }
            result[address] = (name, address - f.address)
        }
        return result
    }

    private static func functions(_ elf: ELFFile) -> Module? {
        for (symbols, strings) in elf.symbolTables(limit: maximumTableBytes) {
            var list: [Function] = []
            list.reserveCapacity(symbols.count / 24)
            var i = 0
            while i + 24 <= symbols.count {
                defer { i += 24 }
                // STT_FUNC (2) or STT_GNU_IFUNC (10), defined.
                let type = symbols[i + 4] & 0xF
                guard type == 2 || type == 10, ELFFile.u16(symbols, i + 6) != 0 else { continue }
                let value = ELFFile.u64(symbols, i + 8)
                guard value != 0 else { continue }
                list.append(
                    Function(address: value, size: ELFFile.u64(symbols, i + 16), nameOffset: ELFFile.u32(symbols, i))
                )
            }
            // The first table with functions wins: .symtab includes everything .dynsym has.
            if !list.isEmpty {
                list.sort { ($0.address, $0.size) < ($1.address, $1.size) }
                return Module(functions: list, strings: strings)
            }
        }
        return nil
    }
}
