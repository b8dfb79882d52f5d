#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t spr_start_ns;

// The process start, taken before main and before the Swift runtime's own start-up work: the
// time every trace offset is measured from.
__attribute__((constructor(101))) static void spr_record_process_start(void) { spr_start_ns = spr_monotonic_ns(); }

int64_t spr_process_start_ns(void) { return spr_start_ns; }

int spr_signal_count(void) { return NSIG; }
int spr_sigrtmin(void) { return SIGRTMIN; }
int spr_sigrtmax(void) { return SIGRTMAX; }

int spr_open_trace(const char *path) {
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int spr_write_all(int fd, const void *buffer, size_t length) {
    const char *p = buffer;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n > 0) {
            p += n;
            length -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 ? errno : EIO;
        }
    }
    return 0;
}

int64_t spr_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t spr_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
