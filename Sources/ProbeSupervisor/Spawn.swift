import CProbeExec
import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The outcome of forking and exec'ing the child.
package struct SpawnOutcome {
    /// The child's pid (it exits 126/127 by itself when exec failed).
    package var pid: Int32
    /// nil when execve succeeded; else the error and the path it concerns.
    package var execFailure: (error: SystemError, path: String)?
    /// The path that was exec'd, when it succeeded and is known.
    package var path: String?
    /// Why PTRACE_SEIZE failed (the child then runs untraced), when tracing was asked for.
    package var traceError: SystemError?
    /// A wait status of the traced child already taken while waiting for its exec (its exec
    /// stop, or its end): to be handled before waiting again.
    package var pendingStatus: Int32?
    /// A signal delivered to the traced child between fork and execve (or the one that killed it
    /// there: a SIGKILL reaches no tracer), and whether it died of it: then no program ran.
    package var signalBeforeExec: (signal: Int32, died: Bool)?
}

/// Forks and execs `command` through `spr_spawn` (C: only async-signal-safe calls in the child).
package enum Spawn {
    /// Room for the pid the child writes into its pid variable (digits and a NUL).
    package static let pidSlotCapacity = 16

    /// - Parameters:
    ///   - command: argv as bytes, exactly as given; `command[0]` is resolved through `PATH`.
    ///   - stdoutFD: the pipe end to become the child's fd 1, or -1 to pass fd 1 through.
    ///   - stderrFD: the pipe end to become the child's fd 2, or -1 to pass fd 2 through.
    ///   - traceOptions: PTRACE_O_* options to seize the child with before it execs, or 0.
    ///   - environment: the child's environment as `NAME=value` bytes.
    ///   - pidVariable: a variable the child sets to its own pid before execve (nil: none).
    ///   - parentDeathSignal: the signal the child gets when probe-exec dies (`-p`), or 0.
    /// - Throws: ``SystemError`` when fork or the status pipe fails.
    package static func run(
        command: [[UInt8]],
        stdoutFD: Int32,
        stderrFD: Int32,
        traceOptions: Int32,
        environment: [[UInt8]],
        pidVariable: String? = nil,
        parentDeathSignal: Int32 = 0
    )
        throws(SystemError) -> SpawnOutcome
    {
        let candidates = CommandResolver.candidates(
            for: command[0],
            searchPath: ProcessEnvironment.valueBytes(of: "PATH")
        )
        var environment = environment
        var slotIndex: Int? = nil
        if let pidVariable {
            let prefix = Array((pidVariable + "=").utf8)
            environment.removeAll { $0.starts(with: prefix) }
            slotIndex = environment.count
            environment.append(prefix + [UInt8](repeating: UInt8(ascii: "0"), count: pidSlotCapacity - 1))
        }
        var result = spr_spawn_result_t()
        let error: Int32 = withCStrings(candidates) { candidatePointers in
            withCStrings(command) { argvPointers in
                withCStrings(environment) { environmentPointers in
                    var slot: UnsafeMutablePointer<CChar>? = nil
                    if let slotIndex, let entry = environmentPointers[slotIndex] {
                        slot = UnsafeMutablePointer(mutating: entry) + (pidVariable!.utf8.count + 1)
                    }
                    var config = spr_spawn_config_t(
                        candidates: candidatePointers,
                        argv: argvPointers,
                        envp: environmentPointers,
                        stdout_fd: stdoutFD,
                        stderr_fd: stderrFD,
                        take_terminal: Spawn.shouldTakeTerminal ? 1 : 0,
                        trace_options: traceOptions,
                        parent_death_signal: parentDeathSignal,
                        parent_pid: getpid(),
                        pid_slot: slot,
                        pid_slot_size: Int32(pidSlotCapacity)
                    )
                    return spr_spawn(&config, &result)
                }
            }
        }
        guard error == 0 else { throw SystemError(error) }
        let traceError = result.trace_errno == 0 ? nil : SystemError(result.trace_errno)
        var outcome = SpawnOutcome(pid: result.pid, execFailure: nil, path: nil, traceError: traceError)
        if result.has_pending_status != 0 { outcome.pendingStatus = result.pending_status }
        if result.signal_before_exec != 0 {
            outcome.signalBeforeExec = (result.signal_before_exec, result.died_before_exec != 0)
        }
        if result.exec_errno != 0 {
            let index = Int(result.candidate_index)
            var path = candidates.indices.contains(index) ? candidates[index] : command[0]
            if result.exec_errno == ENOENT && !command[0].contains(UInt8(ascii: "/")) {
                // ENOENT from every PATH entry: the command is in none of them (name it, not the last
                // directory), unless a file by its name is in one. Then what is missing is that
                // file's #! interpreter or dynamic loader (execve says ENOENT for those too).
                path = candidates.first(where: Spawn.isRegularFile) ?? command[0]
            }
            outcome.execFailure = (SystemError(result.exec_errno), String(decoding: path, as: UTF8.self))
            return outcome
        }
        outcome.path = resolvedPath(candidates).map { String(decoding: $0, as: UTF8.self) }
        return outcome
    }

    /// The file execve would run for `command` (the first executable candidate through PATH), or nil.
    package static func executablePath(for command: [UInt8]) -> String? {
        let candidates = CommandResolver.candidates(for: command, searchPath: ProcessEnvironment.valueBytes(of: "PATH"))
        let found = candidates.count == 1 ? candidates.first : resolvedPath(candidates)
        return found.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `path` names a regular file (following symbolic links).
    private static func isRegularFile(_ path: [UInt8]) -> Bool {
        var info = stat()
        return withCString(path) { stat($0, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG }
    }

    /// The first candidate that is an executable regular file: the one execve ran.
    private static func resolvedPath(_ candidates: [[UInt8]]) -> [UInt8]? {
        if candidates.count == 1 { return candidates[0] }
        return candidates.first { path in isRegularFile(path) && withCString(path) { access($0, X_OK) == 0 } }
    }

    /// Hand the terminal to the child's process group when stdin is a terminal whose
    /// foreground group is ours (we run in the foreground), as tini does.
    private static var shouldTakeTerminal: Bool {
        isatty(STDIN_FILENO) == 1 && tcgetpgrp(STDIN_FILENO) == getpgrp()
    }
}

/// Calls `body` with `bytes` as a NUL-terminated C string (bytes after an embedded NUL are cut,
/// as the kernel would).
package func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    var terminated = bytes
    terminated.append(0)
    return terminated.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { body($0) }
    }
}

/// Calls `body` with a NULL-terminated array of C strings that lives for the call: one block
/// holds them all (the environment is copied at every start: one allocation, not one per string).
package func withCStrings<R>(_ strings: [[UInt8]], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let size = strings.reduce(0) { $0 + $1.count + 1 }
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 1)
    defer { block.deallocate() }
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(strings.count + 1)
    var offset = 0
    for bytes in strings {
        let start = block.baseAddress! + offset
        bytes.withUnsafeBytes { source in
            if let from = source.baseAddress { start.copyMemory(from: from, byteCount: source.count) }
        }
        start.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
        pointers.append(UnsafePointer(start.assumingMemoryBound(to: CChar.self)))
        offset += bytes.count + 1
    }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
