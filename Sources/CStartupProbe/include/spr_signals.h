#ifndef SPR_SIGNALS_H
#define SPR_SIGNALS_H

// The in-process signal observer, in C because its handler runs in signal context: it reads the
// sender out of the siginfo, writes one fixed-size record to a pipe (write(2), atomic below
// PIPE_BUF) and then does exactly what the disposition it wrapped would have done. A reader
// thread (also here, so that it can start with every signal blocked) hands the records to Swift.
//
// Why wrapping, and why a re-check: on Linux libdispatch installs its own handler with
// sigaction() the first time a DispatchSource is made for a signal (it blocks the signal in the
// receiving thread and re-sends it to its manager thread, which reads it from a signalfd). That
// replaces whatever handler was there, so the reader thread looks every few milliseconds and puts
// the observer back in front of any handler installed since, chaining to it. Signals the program
// ignores (SIG_IGN) are never wrapped: an ignored signal is inherited by exec'd children, a
// handler is not, so wrapping would change what the program's children do.

#include <stdint.h>

#pragma clang assume_nonnull begin

/// What the wrapped disposition does with the signal.
enum {
    /// A handler of the program's (or of a library: libdispatch, the Swift runtime) runs.
    SPR_DISPOSITION_HANDLER = 1,
    /// The default action ends the process (terminate or core dump): it still does, afterwards.
    SPR_DISPOSITION_DEFAULT_FATAL = 2,
    /// The default action stops the process (SIGTSTP, SIGTTIN, SIGTTOU).
    SPR_DISPOSITION_DEFAULT_STOP = 3,
    /// The default action is to ignore it (SIGCHLD, SIGURG, SIGWINCH, SIGCONT).
    SPR_DISPOSITION_DEFAULT_IGNORE = 4,
};

/// One signal as the handler saw it. 64 bytes: written with one write(2).
typedef struct {
    int32_t signal;
    int32_t code;         ///< si_code: <= 0 sent by a process (SI_USER, SI_QUEUE, SI_TKILL), > 0 the kernel
    int32_t sender_pid;   ///< 0 when the kernel sent it, or the sender is outside our PID namespace
    uint32_t sender_uid;
    int32_t pid;          ///< the receiving process (a fork of the program inherits the handler)
    int32_t tid;          ///< the thread it was delivered to
    int32_t disposition;  ///< SPR_DISPOSITION_*
    int32_t pass_on;      ///< 1: to be passed on to libdispatch (taken over), once logged
    int64_t monotonic_ns; ///< CLOCK_MONOTONIC at delivery
    uint32_t sequence;    ///< set by the reader thread: order of logging
    int32_t notice;       ///< not a signal: a change to report (the callback's `signal` value)
    char sender_comm[16]; ///< /proc/PID/comm of the sender (TASK_COMM_LEN), read in the handler before it can exit, or ""
} spr_signal_record_t;

/// Called on the reader thread for each record. With `record == NULL`, `signal` says what changed:
/// N, the observer was put back in front of a handler installed since for signal N; 1000 + N,
/// libdispatch's signalfd for N was taken over (see spr_signals.c); negative: that failed.
typedef void (*spr_signal_callback_t)(const spr_signal_record_t *_Nullable record, int signal, void *_Nullable context);

/// Wraps the dispositions of `signals` (SIG_IGN ones excepted) and starts two threads: the reader,
/// which takes the handler's records (and signals taken over from libdispatch), re-checks the
/// dispositions every 20 ms for two seconds then every 250 ms, and passes signals on to
/// libdispatch; and the logger, which calls `callback` for each record. The reader never waits on
/// `callback` for long: a signal for libdispatch is passed on once logged or after 100 ms,
/// whichever comes first, so a Logger that blocks (a full stderr pipe) delays the program's own
/// handling by 100 ms at most. When the wrapped disposition is the default fatal action, the
/// handler waits (at most 250 ms) until `callback` has returned, so the log line is out before
/// the process ends. Returns 0 or an errno value. Call once, outside any handler.
int spr_signals_observe(const int *signals, int count, spr_signal_callback_t callback, void *_Nullable context);

/// Whether `signal` is currently observed (wrapped, not ignored).
int spr_signals_is_observed(int signal);

#pragma clang assume_nonnull end

#endif
