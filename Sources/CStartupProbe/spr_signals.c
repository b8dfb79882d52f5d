#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPR_MAX_SIGNAL 65
#define SPR_ACK_WAIT_MS 250

// The disposition each observed signal had before us, in two slots: the reader thread writes the
// idle slot and then publishes its index, so a handler running meanwhile copies a whole one.
static struct sigaction spr_previous[SPR_MAX_SIGNAL][2];
static atomic_int spr_previous_slot[SPR_MAX_SIGNAL];
static atomic_int spr_watched[SPR_MAX_SIGNAL];   // asked for
static atomic_int spr_observed[SPR_MAX_SIGNAL];  // currently wrapped by us
static atomic_int spr_ending[SPR_MAX_SIGNAL];    // its default action is ending the process: leave it be
// Signals libdispatch reads from a signalfd of its own, taken over (see spr_take_over): we read
// them from `spr_own_signalfd` and pass each on, siginfo and all, through `spr_dispatch_pipe`.
static int spr_own_signalfd[SPR_MAX_SIGNAL];
static atomic_int spr_dispatch_pipe[SPR_MAX_SIGNAL];  // write end, or -1
static int spr_record_pipe[2] = {-1, -1};
static int spr_ack_pipe[2] = {-1, -1};
static pid_t spr_owner_pid;
static spr_signal_callback_t spr_callback;
static void *spr_callback_context;

static void spr_signal_observer(int sig, siginfo_t *info, void *context);
static void spr_send_to_dispatch(int sig, const struct signalfd_siginfo *info);

static int spr_is_ours(const struct sigaction *action) {
    return (action->sa_flags & SA_SIGINFO) && action->sa_sigaction == spr_signal_observer;
}

static int spr_default_disposition(int sig) {
    switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
    case SIGCONT: return SPR_DISPOSITION_DEFAULT_IGNORE;
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU: return SPR_DISPOSITION_DEFAULT_STOP;
    default: return SPR_DISPOSITION_DEFAULT_FATAL;
    }
}

// ---- the handler: async-signal-safe only ----

static void spr_read_comm(pid_t pid, char *out, size_t size) {
    char path[32] = "/proc/";
    char digits[12];
    int n = 0;
    unsigned value = (unsigned)pid;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value && n < 11);
    size_t at = 6;
    while (n > 0) {
        path[at++] = digits[--n];
    }
    memcpy(path + at, "/comm", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t got = read(fd, out, size - 1);
    close(fd);
    if (got <= 0) {
        out[0] = 0;
        return;
    }
    if (out[got - 1] == '\n') {
        got--;
    }
    out[got] = 0;
}

static void spr_to_signalfd_siginfo(const siginfo_t *info, struct signalfd_siginfo *out) {
    memset(out, 0, sizeof(*out));
    out->ssi_signo = (uint32_t)info->si_signo;
    out->ssi_errno = info->si_errno;
    out->ssi_code = info->si_code;
    out->ssi_pid = (uint32_t)info->si_pid;
    out->ssi_uid = info->si_uid;
}

static void spr_wait_for_ack(void) {
    struct pollfd p = {.fd = spr_ack_pipe[0], .events = POLLIN};
    if (poll(&p, 1, SPR_ACK_WAIT_MS) == 1) {
        char byte;
        (void)!read(spr_ack_pipe[0], &byte, 1);
    }
}

static void spr_signal_observer(int sig, siginfo_t *info, void *context) {
    int saved_errno = errno;
    if (sig <= 0 || sig >= SPR_MAX_SIGNAL) {
        return;
    }
    struct sigaction previous = spr_previous[sig][atomic_load(&spr_previous_slot[sig])];
    int disposition = SPR_DISPOSITION_HANDLER;
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler == SIG_DFL) {
        disposition = spr_default_disposition(sig);
    } else if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler == SIG_IGN) {
        disposition = SPR_DISPOSITION_DEFAULT_IGNORE;
    }
    pid_t self = getpid();
    int recorded = 0;
    int dispatch_pipe = atomic_load(&spr_dispatch_pipe[sig]);
    // (Not in a fork of the program: the socket would carry its signal to the parent's libdispatch.)
    int pass_on = disposition == SPR_DISPOSITION_HANDLER && dispatch_pipe >= 0 && info != NULL && self == spr_owner_pid;
    if (self == spr_owner_pid) {  // a fork of the program inherits the handler, not our reader
        spr_signal_record_t record;
        memset(&record, 0, sizeof(record));
        record.signal = sig;
        record.code = info ? info->si_code : 0;
        if (info && info->si_code <= 0) {
            record.sender_pid = info->si_pid;
            record.sender_uid = info->si_uid;
            if (info->si_pid > 0) {
                spr_read_comm(info->si_pid, record.sender_comm, sizeof(record.sender_comm));
            }
        }
        record.pid = self;
        record.tid = (int32_t)syscall(SYS_gettid);
        record.disposition = disposition;
        record.pass_on = pass_on;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        record.monotonic_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        recorded = write(spr_record_pipe[1], &record, sizeof(record)) == (ssize_t)sizeof(record);
    }

    if (pass_on && recorded) {
        // libdispatch's own handler would re-send the signal to its manager thread's signalfd,
        // which we replaced: the reader passes it on once it has logged it.
        errno = saved_errno;
        return;
    }
    if (pass_on) {  // the record pipe is full: pass it on from here, unlogged
        struct signalfd_siginfo passed;
        spr_to_signalfd_siginfo(info, &passed);
        if (send(dispatch_pipe, &passed, sizeof(passed), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(passed)) {
            errno = saved_errno;
            return;
        }
    }
    if (disposition == SPR_DISPOSITION_HANDLER) {
        errno = saved_errno;
        if (previous.sa_flags & SA_SIGINFO) {
            previous.sa_sigaction(sig, info, context);
        } else {
            previous.sa_handler(sig);
        }
        return;
    }
    if (disposition == SPR_DISPOSITION_DEFAULT_IGNORE) {
        errno = saved_errno;
        return;
    }
    // The default action ends or stops the process: let the log line out first, then put the
    // default back and send the signal again to this thread with the sender's own siginfo. It is
    // blocked while this handler runs, so it arrives when we return, and does what it always did
    // (the exit status says the same signal; a core dump records the same sender). The reader
    // thread puts the observer back if the process goes on (after a stop).
    if (recorded) {
        spr_wait_for_ack();
    }
    struct sigaction default_action;
    memset(&default_action, 0, sizeof(default_action));
    default_action.sa_handler = SIG_DFL;
    if (disposition == SPR_DISPOSITION_DEFAULT_FATAL) {
        atomic_store(&spr_ending[sig], 1);
    }
    sigaction(sig, &default_action, NULL);
    atomic_store(&spr_observed[sig], 0);
    pid_t tid = (pid_t)syscall(SYS_gettid);
    siginfo_t again;
    if (info) {
        again = *info;
    } else {
        memset(&again, 0, sizeof(again));
        again.si_signo = sig;
        again.si_code = SI_TKILL;
    }
    if (syscall(SYS_rt_tgsigqueueinfo, self, tid, sig, &again) != 0) {
        syscall(SYS_tgkill, self, tid, sig);
    }
    errno = saved_errno;
}

// ---- outside handlers: wrapping and the reader thread ----

static void spr_stage_previous(int sig, const struct sigaction *action) {
    int idle = 1 - atomic_load(&spr_previous_slot[sig]);
    spr_previous[sig][idle] = *action;
    atomic_store(&spr_previous_slot[sig], idle);
}

static int spr_same_action(const struct sigaction *a, const struct sigaction *b) {
    return a->sa_flags == b->sa_flags && (void *)a->sa_sigaction == (void *)b->sa_sigaction;
}

/// Puts the observer in front of `sig`'s disposition. Returns 1 when it wrapped something new,
/// 0 when there was nothing to do (already ours, or ignored), -1 on failure.
static int spr_wrap(int sig) {
    struct sigaction current;
    if (sigaction(sig, NULL, &current) != 0) {
        return -1;
    }
    if (spr_is_ours(&current)) {
        return 0;
    }
    if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) {
        atomic_store(&spr_observed[sig], 0);
        return 0;
    }
    spr_stage_previous(sig, &current);
    struct sigaction ours;
    memset(&ours, 0, sizeof(ours));
    ours.sa_sigaction = spr_signal_observer;
    ours.sa_mask = current.sa_mask;
    ours.sa_flags = SA_SIGINFO | (current.sa_flags & (SA_RESTART | SA_ONSTACK | SA_NODEFER));
    if (current.sa_handler == SIG_DFL && !(current.sa_flags & SA_SIGINFO)) {
        ours.sa_flags |= SA_RESTART;  // the program never sees EINTR from a signal it does not handle
    }
    struct sigaction replaced;
    if (sigaction(sig, &ours, &replaced) != 0) {
        return -1;
    }
    if (!spr_same_action(&replaced, &current)) {
        spr_stage_previous(sig, &replaced);  // changed between the two calls: chain to the newest
    }
    atomic_store(&spr_observed[sig], 1);
    return 1;
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
static int spr_take_over(int sig) {
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

/// Reads one signal from our own signalfd for `sig`, reports it, and passes it to libdispatch.
static void spr_pass_on(int sig) {
    struct signalfd_siginfo info;
    if (read(spr_own_signalfd[sig], &info, sizeof(info)) != (ssize_t)sizeof(info)) {
        return;
    }
    spr_signal_record_t record;
    memset(&record, 0, sizeof(record));
    record.signal = (int32_t)info.ssi_signo;
    record.code = info.ssi_code;
    if (info.ssi_code <= 0) {
        record.sender_pid = (int32_t)info.ssi_pid;
        record.sender_uid = info.ssi_uid;
        if (info.ssi_pid > 0) {
            spr_read_comm((pid_t)info.ssi_pid, record.sender_comm, sizeof(record.sender_comm));
        }
    }
    record.pid = getpid();
    record.tid = 0;  // not delivered to a thread: read from a signalfd
    record.disposition = SPR_DISPOSITION_HANDLER;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    record.monotonic_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    spr_callback(&record, sig, spr_callback_context);
    spr_send_to_dispatch(sig, &info);
}

/// Passes one signal on to libdispatch through the socket that took its signalfd's place.
static void spr_send_to_dispatch(int sig, const struct signalfd_siginfo *info) {
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

static void *spr_signal_reader(void *unused) {
    (void)unused;
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int take_over_tries[SPR_MAX_SIGNAL] = {0};
    int first_tick = 1;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int timeout = now.tv_sec - started.tv_sec < 2 ? 20 : 250;
        struct pollfd polled[SPR_MAX_SIGNAL + 1];
        int signal_of[SPR_MAX_SIGNAL + 1];
        int count = 1;
        polled[0] = (struct pollfd){.fd = spr_record_pipe[0], .events = POLLIN};
        for (int sig = 1; sig < SPR_MAX_SIGNAL; sig++) {
            if (spr_own_signalfd[sig] >= 0) {
                signal_of[count] = sig;
                polled[count++] = (struct pollfd){.fd = spr_own_signalfd[sig], .events = POLLIN};
            }
        }
        int ready = poll(polled, (nfds_t)count, timeout);
        for (int i = 1; ready > 0 && i < count; i++) {
            if (polled[i].revents & POLLIN) {
                spr_pass_on(signal_of[i]);
            }
        }
        if (ready > 0 && (polled[0].revents & POLLIN)) {
            spr_signal_record_t record;
            ssize_t got = read(spr_record_pipe[0], &record, sizeof(record));
            if (got == (ssize_t)sizeof(record)) {
                spr_callback(&record, record.signal, spr_callback_context);
                if (record.pass_on) {
                    struct signalfd_siginfo passed;
                    memset(&passed, 0, sizeof(passed));
                    passed.ssi_signo = (uint32_t)record.signal;
                    passed.ssi_code = record.code;
                    passed.ssi_pid = (uint32_t)record.sender_pid;
                    passed.ssi_uid = record.sender_uid;
                    spr_send_to_dispatch(record.signal, &passed);
                }
                if (record.disposition == SPR_DISPOSITION_DEFAULT_FATAL ||
                    record.disposition == SPR_DISPOSITION_DEFAULT_STOP) {
                    (void)!write(spr_ack_pipe[1], "", 1);
                }
            }
            continue;
        }
        for (int sig = 1; sig < SPR_MAX_SIGNAL; sig++) {
            if (!atomic_load(&spr_watched[sig]) || atomic_load(&spr_ending[sig])) {
                continue;
            }
            int wrapped = spr_wrap(sig);
            if (wrapped != 0) {
                spr_callback(NULL, wrapped > 0 ? sig : -sig, spr_callback_context);
            }
            // A handler that is not the default, put in front of us since: libdispatch's, if a
            // signalfd of its own reads the signal too. Its registration may still be under way,
            // so look again on the next ticks (50 of them at most).
            struct sigaction previous = spr_previous[sig][atomic_load(&spr_previous_slot[sig])];
            int handler = (previous.sa_flags & SA_SIGINFO) || (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN);
            if ((wrapped > 0 || first_tick) && handler) {
                take_over_tries[sig] = 50;
            }
            if (take_over_tries[sig] > 0 && atomic_load(&spr_observed[sig])) {
                take_over_tries[sig]--;
                int taken = spr_take_over(sig);
                if (taken != 0) {
                    take_over_tries[sig] = 0;
                    spr_callback(NULL, taken > 0 ? 1000 + sig : -(1000 + sig), spr_callback_context);
                }
            }
        }
        first_tick = 0;
    }
    return NULL;
}

int spr_signals_observe(const int *signals, int count, spr_signal_callback_t callback, void *context) {
    if (spr_callback != NULL) {
        return EALREADY;
    }
    if (pipe2(spr_record_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(spr_ack_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return errno;
    }
    spr_owner_pid = getpid();
    for (int sig = 0; sig < SPR_MAX_SIGNAL; sig++) {
        spr_own_signalfd[sig] = -1;
        atomic_store(&spr_dispatch_pipe[sig], -1);
    }
    spr_callback = callback;
    spr_callback_context = context;
    for (int i = 0; i < count; i++) {
        int sig = signals[i];
        if (sig <= 0 || sig >= SPR_MAX_SIGNAL || sig == SIGKILL || sig == SIGSTOP) {
            continue;
        }
        atomic_store(&spr_watched[sig], 1);
        if (spr_wrap(sig) < 0) {
            return errno;
        }
    }
    // The reader starts with every signal blocked, so no handler ever runs on it (the observer
    // waits for the reader when the default action is fatal: it must never wait for itself).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    pthread_t thread;
    int error = pthread_create(&thread, &attributes, spr_signal_reader, NULL);
    pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (error == 0) {
        pthread_setname_np(thread, "startupprobe-sig");
    }
    return error;
}

int spr_signals_is_observed(int signal) {
    return signal > 0 && signal < SPR_MAX_SIGNAL && atomic_load(&spr_observed[signal]);
}
