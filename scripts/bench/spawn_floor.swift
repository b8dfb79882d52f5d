// The floor under probe-exec's start-up: a fully static Swift program (the same runtime, linked
// the same way) that only spawns its arguments as a child, waits, and exits with the child's
// status. scripts/bench.py times it beside tini and probe-exec in each start-up round.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.dropFirst().map { strdup($0) } + [nil]
var pid: pid_t = 0
guard let program = argv[0], posix_spawn(&pid, program, nil, nil, &argv, environ) == 0 else { _exit(127) }
var status: Int32 = 0
_ = waitpid(pid, &status, 0)
_exit((status >> 8) & 0xff)
