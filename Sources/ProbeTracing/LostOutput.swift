import CProbeExec
import ProbeCore
import ProbeTrace

/// Output a dying program had written into its C library's stdio buffers but not yet to the
/// pipe — what a crash or `_exit` throws away — read from the process while it is stopped at
/// PTRACE_EVENT_EXIT.
///
/// `stdout`/`stderr` are `FILE *` variables in both C libraries of Linux programs, 64-bit on x86_64
/// and aarch64; a FILE's pending bytes end at its write pointer (offset 40 in both) and begin at
/// glibc's `_IO_write_base` (offset 32) or musl's `wbase` (offset 56, `struct _IO_FILE` of musl's
/// src/internal/stdio_impl.h). musl is known by its module (`ld-musl-*.so.1`, a `musl` path) or, in
/// a static program, by its FILE objects' symbol (`__stdout_FILE`).
package enum LostOutput {
    /// The most bytes recovered per stream.
    package static let maximumBytes = 64 * 1024

    /// Where a process's `stdout` and `stderr` variables are, and which C library's FILE layout
    /// they point to: static facts of its image, looked up once per image.
    package struct Streams {
        var stdout: UInt64?
        var stderr: UInt64?
        var musl: Bool
    }

    /// Unflushed bytes of stdout and stderr of process `pid` (its `streams`, from ``locate``), by
    /// stream name. `read` gets the streams whose buffer could be read (held bytes or not): what is
    /// known.
    package static func recover(
        pid: Int32,
        streams: Streams,
        read: inout [String]
    ) -> [(stream: String, bytes: [UInt8])] {
        let writeBase: UInt64 = streams.musl ? 56 : 32
        var found: [(stream: String, bytes: [UInt8])] = []
        for (stream, address) in [("stdout", streams.stdout), ("stderr", streams.stderr)] {
            guard let address, let file = readWord(pid, address), file != 0,
                let base = readWord(pid, file &+ writeBase), let pointer = readWord(pid, file &+ 40)
            else { continue }
            guard pointer > base else {
                read.append(stream)  // read, and empty
                continue
            }
            let count = Int(min(pointer - base, UInt64(maximumBytes)))
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes {
                spr_read_memory(pid, pointer &- UInt64(count), $0.baseAddress!, count)
            }
            if n == count {
                found.append((stream, bytes))
                read.append(stream)
            }
        }
        return found
    }

    /// Where `stdout` and `stderr` are in the process mapped as `map` whose program file is
    /// `executable`: from the symbol tables of the C library and the executable.
    package static func locate(map: MemoryMap, executable: String?) -> Streams {
        // The C library, or a static executable carrying its own.
        var paths: [String] = []
        for region in map.regions where region.path.hasPrefix("/") && !paths.contains(region.path) {
            if RemoteBacktrace.isCLibrary(region.path) || region.path == executable {
                paths.append(region.path)
            }
        }
        // Each stream from the first module that defines it: an executable may carry a copy
        // relocation of one (gcc's `stderr`) and take the other from the C library, which is then
        // opened; when the executable has both, it is not.
        var stdoutAddress: UInt64? = nil
        var stderrAddress: UInt64? = nil
        var musl = paths.contains { $0 != executable && $0.find("musl") != nil }  // the C library's module
        for path in paths where stdoutAddress == nil || stderrAddress == nil {
            guard let elf = ELFFile(path: path) else { continue }
            defer { elf.close() }
            guard let region = map.regions.first(where: { $0.path == path }), let bias = elf.loadBias(of: region) else {
                continue
            }
            if stdoutAddress == nil { stdoutAddress = elf.objectAddress(named: "stdout").map { bias &+ $0 } }
            if stderrAddress == nil { stderrAddress = elf.objectAddress(named: "stderr").map { bias &+ $0 } }
            if !musl && path == executable && !elf.segments.contains(where: { $0.type == 3 }) {  // static: no PT_INTERP
                musl =
                    elf.objectAddress(named: "__stdout_FILE") != nil || elf.objectAddress(named: "__stderr_FILE") != nil
            }
        }
        return Streams(stdout: stdoutAddress, stderr: stderrAddress, musl: musl)
    }

    private static func readWord(_ pid: Int32, _ address: UInt64) -> UInt64? {
        var word: UInt64 = 0
        return spr_read_memory(pid, address, &word, 8) == 8 ? word : nil
    }
}
