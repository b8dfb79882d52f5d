import CProbeExec
import ProbeCore
import ProbeTrace
import ProbeTracing

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
}

/// Forks and execs `command` through `spr_spawn` (C: only async-signal-safe calls in the child).
package enum Spawn {
    /// - Parameters:
    ///   - command: argv; `command[0]` is resolved through `PATH`.
    ///   - stdoutFD: the pipe end to become the child's fd 1, or -1 to pass fd 1 through.
    ///   - stderrFD: the pipe end to become the child's fd 2, or -1 to pass fd 2 through.
    /// - Throws: ``SystemError`` when fork or the status pipe fails.
    ///   - traceOptions: PTRACE_O_* options to seize the child with before it execs, or 0.
    ///   - environment: the child's environment as NAME=value entries.
    ///   - parentDeathSignal: the signal the child gets when probe-exec dies (`-p`), or 0.
    package static func run(
        command: [String],
        stdoutFD: Int32,
        stderrFD: Int32,
        traceOptions: Int32,
        environment: [String],
        parentDeathSignal: Int32 = 0
    )
        throws(SystemError) -> SpawnOutcome
    {
        let candidates = CommandResolver.candidates(
            for: command[0],
            searchPath: getenv("PATH").map { String(cString: $0) }
        )
        var result = spr_spawn_result_t()
        let error: Int32 = withCStrings(candidates) { candidatePointers in
            withCStrings(command) { argvPointers in
                withCStrings(environment) { environmentPointers in
                    var config = spr_spawn_config_t(
                        candidates: candidatePointers,
                        argv: argvPointers,
                        envp: environmentPointers,
                        stdout_fd: stdoutFD,
                        stderr_fd: stderrFD,
                        take_terminal: Spawn.shouldTakeTerminal ? 1 : 0,
                        trace_options: traceOptions,
                        parent_death_signal: parentDeathSignal,
                        parent_pid: getpid()
                    )
                    return spr_spawn(&config, &result)
                }
            }
        }
        guard error == 0 else { throw SystemError(error) }
        let traceError = result.trace_errno == 0 ? nil : SystemError(result.trace_errno)
        if result.exec_errno != 0 {
            let index = Int(result.candidate_index)
            var path = candidates.indices.contains(index) ? candidates[index] : command[0]
            if result.exec_errno == ENOENT && !command[0].contains("/") {
                path = command[0]  // not found anywhere in PATH: name the command, not the last directory
            }
            return SpawnOutcome(
                pid: result.pid,
                execFailure: (SystemError(result.exec_errno), path),
                path: nil,
                traceError: traceError
            )
        }
        return SpawnOutcome(pid: result.pid, execFailure: nil, path: resolvedPath(candidates), traceError: traceError)
    }

    /// The first candidate that is an executable regular file: the one execve ran.
    private static func resolvedPath(_ candidates: [String]) -> String? {
        if candidates.count == 1 { return candidates[0] }
        return candidates.first { path in
            var info = stat()
            return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
        }
    }

    /// Hand the terminal to the child's process group when stdin is a terminal whose
    /// foreground group is ours (we run in the foreground), as tini does.
    private static var shouldTakeTerminal: Bool {
        isatty(STDIN_FILENO) == 1 && tcgetpgrp(STDIN_FILENO) == getpgrp()
    }
}

/// Calls `body` with a NULL-terminated array of C strings that lives for the call.
package func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer {
        for pointer in duplicates { free(pointer) }
    }
    var pointers: [UnsafePointer<CChar>?] = duplicates.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
