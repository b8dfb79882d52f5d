#ifndef SPR_SIGNALS_INTERNAL_H
#define SPR_SIGNALS_INTERNAL_H

// Shared by spr_signals.c (the handler, wrapping, the reader thread) and spr_signal_takeover.c
// (libdispatch's signalfd). Not part of the module: nothing here is for Swift.

#include "spr_signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#define SPR_MAX_SIGNAL 65

/// Signals taken over from libdispatch: we read them from our own signalfd and pass each on,
/// siginfo and all, through the socket that replaced libdispatch's (write end, or -1).
extern int spr_own_signalfd[SPR_MAX_SIGNAL];
extern atomic_int spr_dispatch_pipe[SPR_MAX_SIGNAL];


/// Empties the take-over state (before the reader thread starts).
void spr_takeover_reset(void);
/// Takes over libdispatch's signalfd for `sig`: 1 done (or already), 0 none found (yet), -1 failed.
int spr_take_over(int sig);
/// Reads one signal from our signalfd for `sig` into a record (to log, then pass on) and the
/// siginfo libdispatch gets. Returns 0 when there was none.
int spr_read_taken_over(int sig, spr_signal_record_t *record, struct signalfd_siginfo *info);
/// Passes one signal on to libdispatch through the socket that took its signalfd's place.
void spr_send_to_dispatch(int sig, const struct signalfd_siginfo *info);
/// The signalfd_siginfo libdispatch would have read for `info` (async-signal-safe).
void spr_to_signalfd_siginfo(const siginfo_t *info, struct signalfd_siginfo *out);
/// /proc/PID/comm into `out` ("" when unreadable); async-signal-safe.
void spr_read_comm(pid_t pid, char *out, size_t size);

#endif
