#ifndef SPR_GUARDIAN_H
#define SPR_GUARDIAN_H

// The breakpoint guardian: a small child of probe-exec that outlives it. While start-up
// breakpoints (`int3`, `brk #0`) are planted in the traced program, a SIGKILL of probe-exec would
// leave them there and the untraced program would die of SIGTRAP when it reached one. The
// guardian is started before the program (so it is there at the first breakpoint), in a process
// group of its own (a group kill of probe-exec does not reach it), with all signals blocked. At
// each planting probe-exec sends it the planted words and a /proc/PID/mem descriptor it opened as
// the tracer (SCM_RIGHTS: no further permission is needed, and the descriptor stays bound to that
// image); when none is planted, it tells it to forget them. Released (at the end of the run), it
// exits. At end-of-file (probe-exec is gone) it writes back the original bytes of every breakpoint
// still planted and exits. Provided in C because the guardian runs in a forked child of a
// multi-threaded process: async-signal-safe calls only.

#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// One planted breakpoint: where, the word there before, and the word planted.
typedef struct spr_planted {
    uint64_t address;
    uint64_t original;
    uint64_t planted;
} spr_planted_t;

/// The most breakpoints a guardian keeps (probe-exec plants two per image: entry and main).
enum { SPR_GUARDIAN_CAPACITY = 16 };

/// Starts the guardian (one per run, before the program). Returns its pid, or -1 with errno set:
/// then the breakpoints are unguarded (the caller says so).
pid_t spr_guardian_start(void);

/// Tells the guardian the breakpoints now planted in the image of `pid` (replacing what it knew).
/// Call from the tracing thread while the program is stopped, before letting it go. Returns 0 or
/// an errno value.
int spr_guardian_guard(pid_t pid, const spr_planted_t *planted, int count);

/// Tells the guardian that no breakpoint is planted any more. Returns 0 or an errno value.
int spr_guardian_forget(void);

/// Whether `pid` is (or was) the guardian and has not been reaped; when `reaped` is 1 it is
/// forgotten (the caller reaped it). So that it is never counted as an orphan or listed as a
/// process left running.
int spr_guardian_owns(pid_t pid, int reaped);

/// Releases the guardian (it exits without touching the program) and reaps it, waiting at most
/// `timeout_ms` for it to exit (it exits at once; a stopped one is left to be reaped later).
void spr_guardian_finish(int timeout_ms);

#pragma clang assume_nonnull end

#endif
