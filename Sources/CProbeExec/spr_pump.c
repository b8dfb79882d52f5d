#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_pump.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/// Largest chunk asked of one splice/tee.
#define SPR_PUMP_CHUNK (1 << 20)
/// Size asked for the child's pipes and the tail pipe.
#define SPR_PUMP_PIPE_SIZE (1 << 20)
/// The bytes the tail pipe always keeps when it makes room: the most a trace's tail holds.
#define SPR_PUMP_TAIL_KEEP (64 * 1024)
/// Fallback copy buffer (only when the output cannot take splice, e.g. a terminal).
#define SPR_PUMP_COPY_BUFFER (1 << 16)

/// Closes the tail pipe and /dev/null and frees the copy buffer; safe to call twice.
static void spr_pump_release(spr_pump_t *pump) {
    int *fds[3] = {&pump->tail_read_fd, &pump->tail_write_fd, &pump->null_fd};
    for (int i = 0; i < 3; i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
    free(pump->copy_buffer);
    pump->copy_buffer = NULL;
}

/// Reverses buffer[from, to).
static void spr_reverse(unsigned char *buffer, size_t from, size_t to) {
    while (from + 1 < to) {
        unsigned char t = buffer[from];
        buffer[from] = buffer[to - 1];
        buffer[to - 1] = t;
        from++;
        to--;
    }
}

static int64_t spr_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/// Discards the oldest `amount` bytes of the tail pipe: spliced to /dev/null, or read into a
/// scratch buffer where there is no /dev/null (a minimal root with an empty /dev).
static void spr_pump_discard_tail(spr_pump_t *pump, size_t amount) {
    if (amount == 0) {
        return;
    }
    if (pump->null_fd >= 0) {
        ssize_t n = splice(pump->tail_read_fd, NULL, pump->null_fd, NULL, amount, SPLICE_F_NONBLOCK);
        if (n >= 0) {
            amount -= (size_t)n < amount ? (size_t)n : amount;
            if (amount == 0) {
                return;
            }
        }
    }
    unsigned char scratch[4096];
    while (amount > 0) {
        ssize_t n = read(pump->tail_read_fd, scratch, amount < sizeof(scratch) ? amount : sizeof(scratch));
        if (n <= 0) {
            break;
        }
        amount -= (size_t)n;
    }
}

/// Rewrites the tail pipe's bytes (at most SPR_PUMP_TAIL_KEEP) as one contiguous write: a pipe
/// holds a limited number of buffers, and each tee of a small write (a 1-byte write, as Rust's
/// backtrace printer makes) takes one, so the pipe can be full with a few hundred bytes in it.
/// Returns 0, or -1 when the bytes could not be kept (the tail is then emptied).
/// (It borrows the copy buffer, which holds nothing between two chunks.)
static int spr_pump_compact_tail(spr_pump_t *pump) {
    _Static_assert(SPR_PUMP_COPY_BUFFER >= SPR_PUMP_TAIL_KEEP, "the copy buffer holds a kept tail");
    if (pump->copy_buffer == NULL) {
        return -1;
    }
    size_t held = 0;
    while (held < SPR_PUMP_TAIL_KEEP) {
        ssize_t n = read(pump->tail_read_fd, pump->copy_buffer + held, SPR_PUMP_TAIL_KEEP - held);
        if (n <= 0) {
            break;
        }
        held += (size_t)n;
    }
    size_t written = 0;
    while (written < held) {
        ssize_t n = write(pump->tail_write_fd, pump->copy_buffer + written, held - written);
        if (n <= 0) {
            return -1;
        }
        written += (size_t)n;
    }
    return 0;
}

/// Makes room in the tail pipe, keeping its last SPR_PUMP_TAIL_KEEP bytes: what is older is
/// discarded without a copy; when that is not enough (the pipe's buffers are used up by small
/// pieces), the kept bytes are compacted; as a last resort (`attempt` 2) everything goes.
static void spr_pump_make_room(spr_pump_t *pump, int attempt) {
    int held = 0;
    if (ioctl(pump->tail_read_fd, FIONREAD, &held) != 0) {
        held = 0;
    }
    if (attempt < 2 && (size_t)held > SPR_PUMP_TAIL_KEEP) {
        spr_pump_discard_tail(pump, (size_t)held - SPR_PUMP_TAIL_KEEP);
        return;
    }
    if (attempt < 2 && spr_pump_compact_tail(pump) == 0) {
        return;
    }
    spr_pump_discard_tail(pump, held > 0 ? (size_t)held : 4096);
}

/// Duplicates up to SPR_PUMP_CHUNK readable bytes of in_fd into the tail pipe without consuming
/// them. Returns the byte count (0 at end of file), or -1 with errno EAGAIN when nothing is
/// readable, or another errno.
static ssize_t spr_pump_tee(spr_pump_t *pump, size_t limit) {
    if (pump->tail_write_fd < 0) {
        int readable = 0;
        if (ioctl(pump->in_fd, FIONREAD, &readable) != 0) {
            return -1;
        }
        if (readable > 0) {
            return (size_t)readable > limit ? (ssize_t)limit : readable;
        }
        // Nothing buffered: end of file (every writer gone) or nothing yet.
        struct pollfd p = {.fd = pump->in_fd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) && !(p.revents & POLLIN)) {
            return 0;
        }
        errno = EAGAIN;
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        ssize_t n = tee(pump->in_fd, pump->tail_write_fd, limit, SPLICE_F_NONBLOCK);
        if (n >= 0 || errno != EAGAIN) {
            return n;
        }
        // Either nothing to read (the tail is left as it is) or the tail pipe is full.
        int readable = 0;
        if (ioctl(pump->in_fd, FIONREAD, &readable) == 0 && readable == 0) {
            errno = EAGAIN;
            return -1;
        }
        spr_pump_make_room(pump, attempt);
    }
    errno = EAGAIN;
    return -1;
}

/// Waits until out_fd can take more bytes (only needed when it is non-blocking).
static void spr_wait_writable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
    (void)poll(&p, 1, -1);
}

/// Forwards exactly `count` bytes (known to be readable) from in_fd to out_fd.
/// Returns 0 or the errno of the output failure.
static int spr_pump_forward(spr_pump_t *pump, size_t count, unsigned char *copy_buffer) {
    while (count > 0) {
        if (pump->spliced) {
            ssize_t n = splice(pump->in_fd, NULL, pump->out_fd, NULL, count, SPLICE_F_MOVE);
            if (n > 0) {
                count -= (size_t)n;
                // Counted as it goes: forwarded, even if the rest fails (a reader that left).
                __atomic_add_fetch(&pump->bytes, (uint64_t)n, __ATOMIC_RELEASE);
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                spr_wait_writable(pump->out_fd);
                continue;
            }
            if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                pump->spliced = 0;  // e.g. a terminal or an O_APPEND file: copy instead
                continue;
            }
            return n < 0 ? errno : EIO;
        }
        size_t want = count < SPR_PUMP_COPY_BUFFER ? count : SPR_PUMP_COPY_BUFFER;
        ssize_t got = read(pump->in_fd, copy_buffer, want);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return 0;  // cannot happen: the bytes were readable a moment ago
        }
        size_t done = 0;
        while (done < (size_t)got) {
            ssize_t w = write(pump->out_fd, copy_buffer + done, (size_t)got - done);
            if (w > 0) {
                done += (size_t)w;
                __atomic_add_fetch(&pump->bytes, (uint64_t)w, __ATOMIC_RELEASE);
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && errno == EAGAIN) {
                spr_wait_writable(pump->out_fd);
            } else {
                return w < 0 ? errno : EIO;
            }
        }
        count -= (size_t)got;
    }
    return 0;
}

/// Wakes the supervisor loop (an eventfd) so it can record a milestone as it happens.
static void spr_pump_notify(spr_pump_t *pump) {
    if (pump->notify_fd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = write(pump->notify_fd, &one, sizeof(one));
        (void)ignored;
    }
}

/// Forwards one chunk (at most `limit` bytes) of what in_fd holds. Returns 1 after a chunk, -1 when
/// nothing is readable now (errno EAGAIN or EINTR), 0 when forwarding is over (end of file, a read
/// or output failure).
static int spr_pump_step(spr_pump_t *pump, size_t limit) {
    ssize_t n = spr_pump_tee(pump, limit);
    if (n == 0) {
        return 0;  // end of file: every writer closed the pipe
    }
    if (n < 0) {
        return errno == EINTR || errno == EAGAIN ? -1 : 0;
    }
    if (__atomic_load_n(&pump->first_byte_ns, __ATOMIC_ACQUIRE) == 0) {
        __atomic_store_n(&pump->first_byte_ns, spr_now_ns(), __ATOMIC_RELEASE);
        spr_pump_notify(pump);
    }
    int err = spr_pump_forward(pump, (size_t)n, pump->copy_buffer);
    if (err != 0) {
        __atomic_store_n(&pump->out_errno, err, __ATOMIC_RELEASE);
        spr_pump_notify(pump);
        return 0;
    }
    return 1;
}

/// Closing our read end makes the child's next write fail with EPIPE/SIGPIPE, exactly as when its
/// own reader disappears.
static void spr_pump_close_input(spr_pump_t *pump) {
    if (pump->in_fd >= 0) {
        close(pump->in_fd);
        pump->in_fd = -1;
    }
}

static void *spr_pump_main(void *arg) {
    spr_pump_t *pump = arg;
    int stopping = 0;
    int64_t deadline = 0;
    for (;;) {
        if (stopping && spr_now_ns() >= deadline) {
            break;  // a descendant keeps writing: what it writes after this gets EPIPE, as documented
        }
        if (!stopping) {
            struct pollfd fds[2] = {
                {.fd = pump->in_fd, .events = POLLIN, .revents = 0},
                {.fd = pump->stop_fd, .events = POLLIN, .revents = 0},
            };
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            if (fds[1].revents != 0) {
                // The child is gone: take what is readable, until the pipe is empty or the drain
                // time is up (a descendant may hold the pipe and write without end).
                stopping = 1;
                deadline = spr_now_ns() + (int64_t)pump->drain_ms * 1000000;
            }
        }
        int step = spr_pump_step(pump, SPR_PUMP_CHUNK);
        if (step == 0 || (step < 0 && errno == EAGAIN && stopping)) {
            break;
        }
    }
    spr_pump_close_input(pump);
    return NULL;
}

/// Inline steps never block the caller on the output: each is at most PIPE_BUF bytes, copied (a
/// write that size to a pipe that polls writable does not wait; a splice may need two of its
/// buffers), and only once the output polls writable within `timeout_ms`.
static int spr_pump_output_ready(spr_pump_t *pump, int timeout_ms) {
    struct pollfd p = {.fd = pump->out_fd, .events = POLLOUT, .revents = 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
}

int spr_pump_service(spr_pump_t *pump) {
    if (pump->in_fd < 0) {
        return 0;
    }
    pump->spliced = 0;
    pump->waiting_for_output = 0;
    // A bounded number of chunks: the caller's other descriptors (signals) are not kept waiting
    // behind a program that writes without pause.
    for (int chunk = 0; chunk < 64; chunk++) {
        if (!spr_pump_output_ready(pump, 0)) {
            pump->waiting_for_output = 1;  // the caller polls the output until it takes more
            break;
        }
        int step = spr_pump_step(pump, PIPE_BUF);
        if (step == 0) {
            spr_pump_close_input(pump);
            return 0;
        }
        if (step < 0) {
            break;
        }
    }
    return 1;
}

void spr_pump_drain(spr_pump_t *pump, int64_t deadline_ns) {
    // As the thread does once told to stop: what is readable, until the pipe is empty or the time
    // is up (a descendant may hold the pipe and write without end; a reader may never read).
    pump->spliced = 0;
    while (pump->in_fd >= 0) {
        int64_t left_ms = (deadline_ns - spr_now_ns()) / 1000000;
        if (left_ms <= 0 || !spr_pump_output_ready(pump, (int)left_ms)) {
            break;
        }
        int step = spr_pump_step(pump, PIPE_BUF);
        if (step == 0 || (step < 0 && errno == EAGAIN)) {
            break;
        }
    }
    spr_pump_close_input(pump);
}

int spr_pump_start(spr_pump_t *pump, int in_fd, int out_fd, int stop_fd, int notify_fd, int inline_if_no_thread) {
    memset(pump, 0, sizeof(*pump));
    pump->notify_fd = notify_fd;
    pump->tail_read_fd = -1;
    pump->tail_write_fd = -1;
    pump->null_fd = -1;
    pump->in_fd = in_fd;
    pump->out_fd = out_fd;
    pump->stop_fd = stop_fd;
    pump->spliced = 1;
    pump->drain_ms = 400;
    pump->copy_buffer = malloc(SPR_PUMP_COPY_BUFFER);
    if (pump->copy_buffer == NULL) {
        return ENOMEM;
    }
    pump->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int tail[2];
    if (pipe2(tail, O_CLOEXEC | O_NONBLOCK) == 0) {
        pump->tail_read_fd = tail[0];
        pump->tail_write_fd = tail[1];
        (void)fcntl(pump->tail_write_fd, F_SETPIPE_SZ, SPR_PUMP_PIPE_SIZE / 4);
    }
    // Without a tail pipe (descriptors are short) the pump still forwards every byte; it just
    // keeps no tail for the trace.
    (void)fcntl(in_fd, F_SETPIPE_SZ, SPR_PUMP_PIPE_SIZE);
    int flags = fcntl(in_fd, F_GETFL);
    (void)fcntl(in_fd, F_SETFL, flags | O_NONBLOCK);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, 64 * 1024);  // the loop needs a few hundred bytes
    int err = pthread_create(&pump->thread, &attributes, spr_pump_main, pump);
    pthread_attr_destroy(&attributes);
    if (err != 0) {
        if (inline_if_no_thread) {
            pump->inline_mode = 1;  // the caller forwards with spr_pump_service, spr_pump_drain
            pump->thread_errno = err;
            return 0;
        }
        spr_pump_release(pump);
        return err;
    }
    pump->started = 1;
    return 0;
}

int spr_pump_join(spr_pump_t *pump) {
    if (!pump->started) {
        return 0;
    }
    pump->started = 0;
    return pthread_join(pump->thread, NULL);
}

int spr_pump_join_until(spr_pump_t *pump, int64_t deadline_ns) {
    if (!pump->started) {
        return 0;
    }
    struct timespec now_real;
    clock_gettime(CLOCK_REALTIME, &now_real);
    int64_t remaining = deadline_ns - spr_now_ns();
    if (remaining < 0) {
        remaining = 0;
    }
    int64_t until = (int64_t)now_real.tv_sec * 1000000000 + now_real.tv_nsec + remaining;
    struct timespec limit = {.tv_sec = (time_t)(until / 1000000000), .tv_nsec = (long)(until % 1000000000)};
    int err = pthread_timedjoin_np(pump->thread, NULL, &limit);
    if (err == 0) {
        pump->started = 0;
    }
    return err;
}

size_t spr_pump_peek_tail(spr_pump_t *pump, unsigned char *buffer, size_t capacity) {
    if (pump->tail_read_fd < 0 || capacity == 0) {
        return 0;
    }
    int scratch[2];
    if (pipe2(scratch, O_CLOEXEC | O_NONBLOCK) != 0) {
        return 0;
    }
    (void)fcntl(scratch[1], F_SETPIPE_SZ, SPR_PUMP_PIPE_SIZE);
    size_t got = 0;
    if (tee(pump->tail_read_fd, scratch[1], capacity, SPLICE_F_NONBLOCK) > 0) {
        while (got < capacity) {
            ssize_t n = read(scratch[0], buffer + got, capacity - got);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
    }
    close(scratch[0]);
    close(scratch[1]);
    return got;
}

size_t spr_pump_take_tail(spr_pump_t *pump, unsigned char *buffer, size_t capacity) {
    if (pump->started) {
        // Abandoned (it did not finish in time): its descriptors stay open, so that none of
        // their numbers is reused while its thread may still use them; the process exits soon.
        return spr_pump_peek_tail(pump, buffer, capacity);
    }
    if (pump->tail_read_fd < 0 || capacity == 0) {
        spr_pump_release(pump);
        return 0;
    }
    // Keep a ring of the last `capacity` bytes while draining the tail pipe.
    size_t total = 0;
    unsigned char chunk[4096];
    for (;;) {
        ssize_t n = read(pump->tail_read_fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            buffer[total % capacity] = chunk[i];
            total++;
        }
    }
    spr_pump_release(pump);
    if (total <= capacity) {
        return total;
    }
    // Rotate the ring so that the oldest kept byte comes first.
    size_t start = total % capacity;
    spr_reverse(buffer, 0, start);
    spr_reverse(buffer, start, capacity);
    spr_reverse(buffer, 0, capacity);
    return capacity;
}

int64_t spr_pump_first_byte_ns(spr_pump_t *pump) {
    return __atomic_load_n(&pump->first_byte_ns, __ATOMIC_ACQUIRE);
}

int spr_pump_out_errno(spr_pump_t *pump) { return __atomic_load_n(&pump->out_errno, __ATOMIC_ACQUIRE); }

uint64_t spr_pump_bytes(spr_pump_t *pump) { return __atomic_load_n(&pump->bytes, __ATOMIC_ACQUIRE); }
