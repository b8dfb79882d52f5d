import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Before anything else, and before any thread exists: every signal that arrives from now on
// stays pending until the supervisor loop forwards it to the child.
ProbeExecProcess.blockSupervisedSignals()
// Then, before any file is opened: hold the standard descriptors we were started without, so the
// trace or a pipe can never become "stdout".
ProbeExecProcess.reserveStandardDescriptors()

// The arguments as the kernel passed them, kept by a constructor: CommandLine.arguments reads
// /proc/self/cmdline in a static binary (a file read at every start; empty without /proc).
var processArguments = ProbeExecProcess.argumentStrings
if processArguments.isEmpty { processArguments = CommandLine.arguments }  // a C library without them

// The entrypoint form is parsed directly (start-up cost); everything else goes to ArgumentParser.
if let arguments = EntrypointArguments.parse(Array(processArguments.dropFirst())) {
    // _exit: every byte probe-exec writes went out with write(2) as it happened; exit() would only
    // add the runtimes' teardown (measured: 0.2 ms of a 1.9 ms start-to-exit, scripts/bench.sh).
    _exit(Runner.run(arguments))
}
// A cluster of short options with a letter none of them has (`-dash`): ArgumentParser would read
// its `h` as --help and exit 0; it is an unknown option, as `-x` is.
if let unknown = EntrypointArguments.unknownShortCluster(Array(processArguments.dropFirst())) {
    SystemIO.writeAll(
        2,
        "Error: unknown option \(unknown) (a program whose name begins with `-` goes after `--`)\n"
            + "Usage: probe-exec run [<options>] [<program> ...]\n  See 'probe-exec run --help' for more information.\n"
    )
    _exit(64)
}
ProbeExec.main(Array(processArguments.dropFirst()))
