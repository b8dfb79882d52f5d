import ProbeCore
import ProbeTrace

/// Names the raw addresses an in-process crash report recorded (the signal handler cannot read
/// symbol tables), using the module map the `modules` event recorded at start.
package struct CrashSymbolizer {
    private let regions: [MemoryMap.Region]
    private let symbols = SymbolResolver()

    /// From the `modules` event's list.
    package init(modules: [TraceEvent.Module]) {
        regions = modules.map {
            MemoryMap.Region(start: $0.start, end: $0.end, fileOffset: $0.offset, path: $0.path, executable: true)
        }
    }

    /// Frames as the trace records them: module, offset, name, file:line where the files allow.
    package func frames(_ ips: [UInt64]) -> [TraceEvent.Frame] {
        backtraceFrames(ips).map(\.traceFrame)
    }

    /// Frames located and named (for ``RemoteBacktrace/summary(_:limit:)``).
    package func backtraceFrames(_ ips: [UInt64]) -> [BacktraceFrame] {
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
