#ifndef SPR_HWBP_H
#define SPR_HWBP_H

// Hardware execution breakpoints owned by probe-exec (perf_event_open, PERF_TYPE_BREAKPOINT) that
// prove a start-up milestone without touching the program: no instruction is written into its
// code and it is never stopped there. The CPU's debug registers record each hit as a sample
// (thread, address, CLOCK_MONOTONIC time) in a ring buffer probe-exec maps; the program runs on.
// The breakpoint belongs to the descriptor: when probe-exec closes it, or dies (even by SIGKILL),
// the kernel removes it, so nothing of probe-exec can outlive it in the program.
// Unavailable where perf_event_open is refused (a container's seccomp profile, a
// perf_event_paranoid of 3, no debug registers in a VM): probe-exec then plants int3 as before.

#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// One breakpoint: its descriptor and its mapped ring buffer.
typedef struct spr_hwbp {
    int fd;
    void *_Nullable ring;
    uint64_t ring_size;
} spr_hwbp_t;

/// A hit: the thread, the address and when (CLOCK_MONOTONIC nanoseconds).
typedef struct spr_hwbp_hit {
    int32_t pid;
    int32_t tid;
    uint64_t address;
    int64_t nanoseconds;
} spr_hwbp_hit_t;

/// Watches execution of `address` by thread `tid` (not inherited by its threads or children).
/// Returns 0, or an errno value (nothing left open).
int spr_hwbp_open(pid_t tid, uint64_t address, spr_hwbp_t *breakpoint);

/// The first hit recorded, if any: 1 (`hit` filled) or 0. Reads mapped memory only.
int spr_hwbp_first_hit(const spr_hwbp_t *breakpoint, spr_hwbp_hit_t *hit);

/// Marks every record so far as read (poll stops reporting them).
void spr_hwbp_consume(spr_hwbp_t *breakpoint);

/// Removes the breakpoint (closes its descriptor, unmaps its buffer).
void spr_hwbp_close(spr_hwbp_t *breakpoint);

/// Whether this process may place hardware breakpoints at all: one opened on itself and closed.
/// Returns 0, or the errno value perf_event_open gave.
int spr_hwbp_probe(void);

/// Starts ``spr_hwbp_probe``'s question on a thread of its own, at once (idempotent). The machine's
/// first perf event since a second without any waits for an RCU grace period in the kernel
/// (5-20 ms measured): asked early, that wait overlaps probe-exec's own start-up and the fork.
void spr_hwbp_probe_start(void);

/// The early probe's answer: 0, an errno value, or -1 when it has not come within `limit_ns`
/// (then hardware breakpoints are not used this run). Asks here if it was never started.
int spr_hwbp_probe_wait(int64_t limit_ns);

/// Closes the early probe's breakpoint (held open so that the breakpoints opened next need no wait).
void spr_hwbp_probe_release(void);

#pragma clang assume_nonnull end

#endif
