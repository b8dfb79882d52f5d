import ProbeCore

/// A fault that is a stack overflow, as the memory map shows it: the fault address, next to the
/// stack pointer, lies in the guard below a stack — the unmapped gap the kernel keeps below the
/// main thread's `[stack]`, or the inaccessible (`---p`) page below a thread's stack mapping.
package struct StackOverflow: Sendable, Equatable {
    /// Which guard: `gap` (below the main thread's `[stack]`) or `page` (below a thread's stack).
    package var guardKind: String
    /// The fault address.
    package var fault: UInt64
    /// The faulting thread's stack pointer.
    package var stackPointer: UInt64

    /// How far the fault lies from the stack pointer, in bytes.
    package var distance: UInt64 { Self.distance(fault, stackPointer) }

    /// The most a fault may lie from the stack pointer to be the stack's own (a large frame's
    /// locals, or the kernel's 1 MiB gap below the main stack).
    package static let reach: UInt64 = (1 << 20) + (64 << 10)

    /// The distance between two addresses.
    static func distance(_ a: UInt64, _ b: UInt64) -> UInt64 { a <= b ? b - a : a - b }

    /// Whether a fault at `fault` lies within ``reach`` of the stack pointer `sp`: worth reading the
    /// memory map for (``detect(fault:stackPointer:map:)``).
    package static func isNear(fault: UInt64, stackPointer sp: UInt64) -> Bool { distance(fault, sp) <= reach }

    /// The overflow a fault at `fault` is, with the stack pointer `sp`, in `map`; nil when it is not one.
    package static func detect(fault: UInt64, stackPointer sp: UInt64, map: MemoryMap) -> StackOverflow? {
        guard isNear(fault: fault, stackPointer: sp) else { return nil }
        let regions = map.regions.sorted { $0.start < $1.start }
        if let index = regions.firstIndex(where: { $0.start <= fault && fault < $0.end }) {
            // In a mapping: only an inaccessible guard right below a writable stack mapping.
            let guardRegion = regions[index]
            guard !guardRegion.accessible, index + 1 < regions.count else { return nil }
            let above = regions[index + 1]
            guard above.start == guardRegion.end, above.writable, above.path.isEmpty || above.path == "[stack]" else {
                return nil
            }
            return StackOverflow(guardKind: above.path == "[stack]" ? "gap" : "page", fault: fault, stackPointer: sp)
        }
        // Unmapped: the gap below the main thread's stack.
        guard let above = regions.first(where: { $0.start > fault }), above.path == "[stack]",
            above.start - fault <= reach
        else { return nil }
        return StackOverflow(guardKind: "gap", fault: fault, stackPointer: sp)
    }

    /// The function that recurs most in `frames` (named ones), with how often, when it recurs at
    /// least `minimum` times: the recursion that used the stack up.
    package static func recursingFunction(_ frames: [BacktraceFrame], minimum: Int = 3) -> (name: String, count: Int)? {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for frame in frames {
            guard let name = frame.demangled ?? frame.symbol else { continue }
            if counts[name] == nil { order.append(name) }
            counts[name, default: 0] += 1
        }
        guard let best = order.max(by: { counts[$0, default: 0] < counts[$1, default: 0] }),
            let count = counts[best], count >= minimum
        else { return nil }
        return (best, count)
    }
}
