#ifndef SPR_PUMP_H
#define SPR_PUMP_H

// Provided in C because the pump is a tight loop of splice/tee/poll on its own thread that must
// never buffer, never allocate per chunk and never touch the Swift runtime.

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// One stream of the child (stdout or stderr) copied to one of our descriptors as it arrives.
///
/// Bytes move with splice(2) where the output allows it, else with read/write. A copy of every
/// chunk is tee'd into a small in-kernel "tail" pipe from which the oldest data is discarded,
/// so the last bytes are available for the trace without copying the stream through user space.
typedef struct spr_pump {
    // Set by spr_pump_start.
    int in_fd;
    int out_fd;
    int stop_fd;
    int notify_fd;
    // Private.
    int tail_read_fd;
    int tail_write_fd;
    int null_fd;
    unsigned char *_Nullable copy_buffer;
    pthread_t thread;
    int started;
    /// 1 when no thread could be started: the caller forwards (spr_pump_service, spr_pump_drain).
    int inline_mode;
    /// pthread_create's error in inline mode.
    int thread_errno;
    /// Inline mode: 1 when the last spr_pump_service stopped because out_fd took no more (the
    /// caller then polls out_fd for POLLOUT, not in_fd).
    int waiting_for_output;
    // Results, valid after spr_pump_join.
    /// Bytes forwarded to out_fd.
    uint64_t bytes;
    /// CLOCK_MONOTONIC nanoseconds of the first byte, or 0 if none arrived.
    int64_t first_byte_ns;
    /// errno of the output failure that ended forwarding (EPIPE when the reader left), or 0.
    int out_errno;
    /// 1 when splice carried the bytes, 0 when the read/write fallback did.
    int spliced;
    /// After the stop request: the longest the pump goes on taking what a descendant still writes.
    int drain_ms;
} spr_pump_t;

/// Starts a thread that forwards `in_fd` (a pipe we own; the pump closes it) to `out_fd` until
/// end of file, or until `stop_fd` becomes readable, after which it forwards only what is
/// already readable. The pump adds 1 to the eventfd `notify_fd` (or -1) when the first byte
/// arrives and when the output fails. Returns 0 or an errno value. With `inline_if_no_thread`,
/// a thread that cannot be started (a pids limit) leaves the pump in `inline_mode` instead, and
/// 0 is returned.
int spr_pump_start(spr_pump_t *pump, int in_fd, int out_fd, int stop_fd, int notify_fd, int inline_if_no_thread);

/// Inline mode: forwards what in_fd holds now (a bounded number of chunks; the output may block
/// as it would block the program bare). Returns 1 while forwarding goes on, 0 once it is over
/// (in_fd is then closed and -1).
int spr_pump_service(spr_pump_t *pump);

/// Inline mode, once the child is gone: forwards what is readable until the pipe is empty, at
/// end of file or at CLOCK_MONOTONIC `deadline_ns`, then closes in_fd.
void spr_pump_drain(spr_pump_t *pump, int64_t deadline_ns);

/// CLOCK_MONOTONIC nanoseconds of the first byte, or 0; safe while the pump runs.
int64_t spr_pump_first_byte_ns(spr_pump_t *pump);

/// Bytes forwarded so far; safe while the pump runs.
uint64_t spr_pump_bytes(spr_pump_t *pump);

/// The output errno that ended forwarding, or 0; safe while the pump runs.
int spr_pump_out_errno(spr_pump_t *pump);

/// Waits for the pump thread to end. Returns 0 or an errno value.
int spr_pump_join(spr_pump_t *pump);

/// Waits for the pump thread until CLOCK_MONOTONIC `deadline_ns`. Returns 0 when it has ended,
/// ETIMEDOUT when it is still running (then it is abandoned: take its tail, never join it).
int spr_pump_join_until(spr_pump_t *pump, int64_t deadline_ns);

/// Copies what the tail pipe holds now (the most recent output, up to `capacity` bytes) into
/// `buffer` without consuming it; safe while the pump runs. Returns the byte count.
size_t spr_pump_peek_tail(spr_pump_t *pump, unsigned char *buffer, size_t capacity);

/// Copies the last at most `capacity` bytes that went through the pump into `buffer` and
/// returns how many were copied. Call once, after spr_pump_join.
size_t spr_pump_take_tail(spr_pump_t *pump, unsigned char *buffer, size_t capacity);

#pragma clang assume_nonnull end

#endif
