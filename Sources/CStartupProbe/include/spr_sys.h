#ifndef SPR_SYS_H
#define SPR_SYS_H

// What both sides need: the clocks, the trace file, whole writes, and the wait-status macros.
// Provided in C because W* are macros; async-signal-safe, so the crash handler uses them too.

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

#pragma clang assume_nonnull begin

/// CLOCK_MONOTONIC nanoseconds taken by a constructor before `main` ran: the process start.
int64_t spr_process_start_ns(void);

/// Highest signal number plus one (NSIG).
int spr_signal_count(void);

/// The kernel's SIGRTMIN / SIGRTMAX as glibc reports them (they are functions, not constants).
int spr_sigrtmin(void);
int spr_sigrtmax(void);

static inline int spr_wifexited(int status) { return WIFEXITED(status); }
static inline int spr_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int spr_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int spr_wtermsig(int status) { return WTERMSIG(status); }
static inline int spr_wcoredump(int status) { return WCOREDUMP(status); }

/// Opens (creating with mode 0600, emptying an old one: one run per trace) a trace file for
/// appending, never through a symbolic link.
/// Returns the fd or -1 with errno set (ELOOP for a symbolic link).
int spr_open_trace(const char *path);

/// write(2) of the whole buffer, retrying EINTR and short writes. Returns 0 or an errno value.
int spr_write_all(int fd, const void *buffer, size_t length);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t spr_monotonic_ns(void);

/// CLOCK_REALTIME in nanoseconds since the epoch.
int64_t spr_realtime_ns(void);

#pragma clang assume_nonnull end

#endif
