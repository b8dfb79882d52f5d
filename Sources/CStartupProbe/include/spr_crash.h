#ifndef SPR_CRASH_H
#define SPR_CRASH_H

// Provided in C because it runs in a signal handler: only async-signal-safe calls (write, raise,
// sigaction, clock_gettime, libunwind's local unwinder), preallocated memory, no Swift.

#include <stdint.h>

#pragma clang assume_nonnull begin

/// Loads libunwind's local unwinder (dlopen, RTLD_LOCAL: its _Unwind_* never interpose the
/// C++/Swift runtime's). Call outside any signal handler. Returns 1 when available.
int spr_crash_load_unwinder(void);

/// Loads libunwind's local unwinder on a short-lived thread of its own (every signal blocked but
/// SIGPROF), so `start` does not wait for dlopen: a crash before it is loaded is reported with
/// the faulting address only. Returns 0.
int spr_crash_load_unwinder_async(void);

/// Waits for the loading started by spr_crash_load_unwinder_async (or loads now if none was
/// started). Returns 1 when backtraces are available.
int spr_crash_unwinder_wait(void);

/// Installs the fatal-signal handler (SEGV, BUS, ILL, FPE, ABRT, TRAP; never over SIG_IGN; in
/// front of a handler the program has, with that handler's flags and mask) and an alternate signal
/// stack for the calling thread (see spr_crash_install_altstack for the others). On a crash it writes a report to `report_fd` (stderr) and one NDJSON
/// `crash` event to `trace_fd` (or -1), with offsets from `start_ns` (CLOCK_MONOTONIC), then
/// chains to the handler it replaced (the Swift runtime's backtracer, a sanitizer) or restores
/// the default so the process dies of the same signal (with its core dump).
/// Returns 0 or an errno value.
int spr_crash_install(int trace_fd, int report_fd, int64_t start_ns);

/// 1 when the crash handler is installed for `sig` (0 where the program ignores it: left alone).
int spr_crash_is_installed(int sig);

/// Gives the calling thread an alternate signal stack (256 KiB, mmap'd; kept if it has one), so a
/// stack overflow on it can still be reported. A thread's alternate stack can only be set by the
/// thread itself, and new threads do not inherit one. Returns 0 or an errno value.
int spr_crash_install_altstack(void);

#pragma clang assume_nonnull end

#endif
