import ProbeCore
import ProbeDiagnosis
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// Names the raw addresses an in-process crash report recorded (the signal handler cannot read
/// symbol tables), using the module map the `modules` event recorded at start.
package struct CrashSymbolizer {
    private let regions: [MemoryMap.Region]
    private let symbols = SymbolResolver()

    /// From the `modules` event's list.
    package init(modules: JSONValue?) {
        regions = (modules?.arrayValue ?? []).compactMap { module in
            guard let path = module["path"]?.stringValue, let start = Self.hex(module["start"]),
                let end = Self.hex(module["end"]), let offset = Self.hex(module["offset"])
            else { return nil }
            return MemoryMap.Region(start: start, end: end, fileOffset: offset, path: path, executable: true)
        }
    }

    private static func hex(_ value: JSONValue?) -> UInt64? {
        guard let text = value?.stringValue, text.hasPrefix("0x") else { return nil }
        return UInt64(text.dropFirst(2), radix: 16)
    }

    /// Frames as backtrace frames: module, offset, name, file:line where the files allow.
    package func frames(_ ips: [UInt64]) -> [BacktraceFrame] {
        let map = MemoryMap(regions: regions)
        var frames = ips.enumerated().map { i, ip -> BacktraceFrame in
            let lookup = i == 0 ? ip : ip &- 1
            let place = map.locate(lookup)
            return BacktraceFrame(
                ip: ip,
                module: place?.module,
                moduleOffset: place?.offset,
                symbol: nil,
                symbolOffset: lookup == ip ? 0 : 1,
                demangled: nil
            )
        }
        RemoteBacktrace.name(&frames, symbols: symbols)
        RemoteBacktrace.addSourceLines(&frames)
        return frames
    }
}
