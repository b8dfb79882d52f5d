#ifndef SPR_GUARDIAN_H
#define SPR_GUARDIAN_H

// The breakpoint guardian: a small child of probe-exec that outlives it. While start-up
// breakpoints (`int3`, `brk #0`) are planted in the traced program, a SIGKILL of probe-exec would
// leave them there and the untraced program would die of SIGTRAP when it reached one. The
// guardian holds the program's memory open (a /proc/PID/mem descriptor opened by probe-exec, the
// tracer, so no further permission is needed) and the list of planted words; it sleeps on a pipe.
// Released (one byte), it exits. At end-of-file (probe-exec is gone), it writes back the
// original bytes of every breakpoint still planted, and exits. Provided in C because the guardian
// runs in a forked child of a multi-threaded process: async-signal-safe calls only.

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

/// Starts a guardian for the breakpoints `planted[0..<count]` in the memory of `pid` (its current
/// image), releasing the previous guardian if there is one. Opens /proc/PID/mem itself; call it
/// from the tracing thread while the program is traced. Returns the guardian's pid, or -1 with
/// errno set (the breakpoints are then unguarded; the caller says so).
pid_t spr_guardian_start(pid_t pid, const spr_planted_t *planted, int count);

/// Releases the current guardian, if any: it exits without touching the program. Non-blocking.
void spr_guardian_release(void);

/// Whether `pid` is (or was) a guardian probe-exec started and has not reaped; when `reaped` is
/// 1 it is forgotten (the caller reaped it). Used so a guardian is never counted as an orphan or
/// listed as a process left running.
int spr_guardian_owns(pid_t pid, int reaped);

/// Releases the current guardian and reaps every released one, waiting at most `timeout_ms` for
/// them to exit (they exit at once when released; a stopped one is left to be reaped later).
void spr_guardian_finish(int timeout_ms);

#pragma clang assume_nonnull end

#endif
