#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

// Taking over libdispatch's signalfd for a signal (see the comment below), so that the observer
// sees every signal a DispatchSource gets, sender and all. Runs on the observer's reader thread,
// except spr_to_signalfd_siginfo, which the handler may call (async-signal-safe).

#include "spr_signals_internal.h"
#include "spr_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int spr_own_signalfd[SPR_MAX_SIGNAL];
atomic_int spr_dispatch_pipe[SPR_MAX_SIGNAL];

void spr_takeover_reset(void) {
    for (int sig = 0; sig < SPR_MAX_SIGNAL; sig++) {
        spr_own_signalfd[sig] = -1;
        atomic_store(&spr_dispatch_pipe[sig], -1);
    }
}

void spr_to_signalfd_siginfo(const siginfo_t *info, struct signalfd_siginfo *out) {
    memset(out, 0, sizeof(*out));
    out->ssi_signo = (uint32_t)info->si_signo;
    out->ssi_errno = info->si_errno;
    out->ssi_code = info->si_code;
    out->ssi_pid = (uint32_t)info->si_pid;
    out->ssi_uid = info->si_uid;
}

// ---- taking over libdispatch's signalfd ----
//
// libdispatch reads a signal for a DispatchSource from a signalfd of its own, watched by its epoll
// instance. That signalfd dequeues the signal straight from the process's pending set, so when the
// kernel wakes both it and a thread that would run our handler, libdispatch often wins and the
// sender is lost. So we take its place: our own signalfd (created first, so nothing slips through)
// reads the signal, and libdispatch's file descriptor number is made to refer to one end of a
// datagram socket pair instead (dup3), registered again in its epoll instance with the same events
// and user data read from /proc/self/fdinfo. For each signal, after logging it, we send libdispatch
// the same 128-byte signalfd_siginfo it would have read; its DispatchSource fires as before.

static ssize_t spr_read_fdinfo(int fd, char *buffer, size_t size) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    int file = open(path, O_RDONLY | O_CLOEXEC);
    if (file < 0) {
        return -1;
    }
    ssize_t got = read(file, buffer, size - 1);
    close(file);
    if (got < 0) {
        return -1;
    }
    buffer[got] = 0;
    return got;
}

/// The signals a signalfd reads (bit N-1 for signal N), or 0 when `fd` is not a signalfd.
static uint64_t spr_signalfd_mask(int fd) {
    char info[512];
    if (spr_read_fdinfo(fd, info, sizeof(info)) < 0) {
        return 0;
    }
    const char *line = strstr(info, "sigmask:");
    return line ? strtoull(line + 8, NULL, 16) : 0;
}

/// Lists this process's open descriptors into `fds`; returns the count.
static int spr_list_fds(int *fds, int capacity) {
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        return 0;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < capacity) {
        if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9') {
            int fd = atoi(entry->d_name);
            if (fd != dirfd(dir)) {
                fds[count++] = fd;
            }
        }
    }
    closedir(dir);
    return count;
}

/// Finds an epoll instance among `fds` that watches `target`, with its registration.
static int spr_find_watcher(const int *fds, int count, int target, int *epoll_fd, struct epoll_event *event) {
    static char info[65536];  // the reader thread only
    for (int i = 0; i < count; i++) {
        if (spr_read_fdinfo(fds[i], info, sizeof(info)) < 0) {
            continue;
        }
        for (const char *line = strstr(info, "tfd:"); line != NULL; line = strstr(line + 4, "tfd:")) {
            int watched = -1;
            unsigned events = 0;
            unsigned long long data = 0;
            if (sscanf(line, "tfd: %d events: %x data: %llx", &watched, &events, &data) == 3 && watched == target) {
                *epoll_fd = fds[i];
                event->events = events;
                event->data.u64 = data;
                return 1;
            }
        }
    }
    return 0;
}

/// Takes over the signalfd that libdispatch reads `sig` from. Returns 1 when done (or already),
/// 0 when there is no such signalfd (yet), -1 on failure (nothing changed).
int spr_take_over(int sig) {
    if (atomic_load(&spr_dispatch_pipe[sig]) >= 0) {
        return 1;
    }
    static int fds[4096];
    int count = spr_list_fds(fds, 4096);
    uint64_t wanted = 1ULL << (sig - 1);
    int foreign = -1;
    for (int i = 0; i < count && foreign < 0; i++) {
        if (fds[i] != spr_own_signalfd[sig] && spr_signalfd_mask(fds[i]) == wanted) {
            foreign = fds[i];
        }
    }
    int epoll_fd = -1;
    struct epoll_event event;
    if (foreign < 0 || !spr_find_watcher(fds, count, foreign, &epoll_fd, &event)) {
        return 0;
    }
    if (spr_own_signalfd[sig] < 0) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, sig);
        spr_own_signalfd[sig] = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (spr_own_signalfd[sig] < 0) {
            return -1;
        }
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        return -1;
    }
    // Look once more, just before replacing it: still a signalfd for this signal (not closed and
    // its number reused by another file since the scan).
    char link[64];
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", foreign);
    ssize_t length = readlink(path, link, sizeof(link) - 1);
    if (length <= 0 || (link[length] = 0, strcmp(link, "anon_inode:[signalfd]") != 0) ||
        spr_signalfd_mask(foreign) != wanted) {
        close(pair[0]);
        close(pair[1]);
        return 0;
    }
    if (dup3(pair[0], foreign, O_CLOEXEC) < 0) {
        close(pair[0]);
        close(pair[1]);
        return -1;
    }
    close(pair[0]);
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, foreign, &event) != 0) {
        // Cannot happen short of memory exhaustion; libdispatch would no longer hear of the
        // signal, so give it a signalfd again (the same as its own) in the same place.
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, sig);
        int again = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (again >= 0) {
            dup3(again, foreign, O_CLOEXEC);
            close(again);
            epoll_ctl(epoll_fd, EPOLL_CTL_ADD, foreign, &event);
        }
        close(pair[1]);
        return -1;
    }
    atomic_store(&spr_dispatch_pipe[sig], pair[1]);
    return 1;
}

int spr_read_taken_over(int sig, spr_signal_record_t *record, struct signalfd_siginfo *info) {
    if (read(spr_own_signalfd[sig], info, sizeof(*info)) != (ssize_t)sizeof(*info)) {
        return 0;
    }
    memset(record, 0, sizeof(*record));
    record->signal = (int32_t)info->ssi_signo;
    record->code = info->ssi_code;
    if (info->ssi_code <= 0) {
        record->sender_pid = (int32_t)info->ssi_pid;
        record->sender_uid = info->ssi_uid;
        if (info->ssi_pid > 0) {
            spr_read_comm((pid_t)info->ssi_pid, record->sender_comm, sizeof(record->sender_comm));
        }
    }
    record->pid = getpid();
    record->tid = 0;  // not delivered to a thread: read from a signalfd
    record->disposition = SPR_DISPOSITION_HANDLER;
    record->pass_on = 1;
    record->monotonic_ns = spr_monotonic_ns();
    return 1;
}

/// Passes one signal on to libdispatch through the socket that took its signalfd's place.
void spr_send_to_dispatch(int sig, const struct signalfd_siginfo *info) {
    int pipe_end = atomic_load(&spr_dispatch_pipe[sig]);
    if (pipe_end < 0) {
        return;
    }
    if (send(pipe_end, info, sizeof(*info), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) {
        // (EAGAIN: 500 not yet read, as good as the kernel's coalescing of pending signals.)
        // libdispatch closed it (its source was cancelled): stop reading the signal ourselves.
        atomic_store(&spr_dispatch_pipe[sig], -1);
        close(pipe_end);
        close(spr_own_signalfd[sig]);
        spr_own_signalfd[sig] = -1;
    }
}
