#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_signals.h"
#include "spr_signals_internal.h"
#include "spr_format.h"
#include "spr_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SPR_ACK_WAIT_MS 250

// The disposition each observed signal had before us, in two slots: the reader thread writes the
// idle slot and then publishes its index, so a handler running meanwhile copies a whole one.
static struct sigaction spr_previous[SPR_MAX_SIGNAL][2];
static atomic_int spr_previous_slot[SPR_MAX_SIGNAL];
static atomic_int spr_watched[SPR_MAX_SIGNAL];   // asked for
static atomic_int spr_observed[SPR_MAX_SIGNAL];  // currently wrapped by us
static atomic_int spr_ending[SPR_MAX_SIGNAL];    // its default action is ending the process: leave it be
static int spr_record_pipe[2] = {-1, -1};
static int spr_ack_pipe[2] = {-1, -1};
static pid_t spr_owner_pid;
static spr_signal_callback_t spr_callback;
static void *spr_callback_context;
// Reader -> logger: records to log, in order (the write end is non-blocking: when the logger is
// that far behind, a record goes unlogged rather than the reader waiting). Logger -> reader: a
// byte after each record logged, with spr_logged_sequence set.
static int spr_log_pipe[2] = {-1, -1};
static int spr_logged_pipe[2] = {-1, -1};
static atomic_uint spr_logged_sequence;

static void spr_signal_observer(int sig, siginfo_t *info, void *context);

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

void spr_read_comm(pid_t pid, char *out, size_t size) {
    char path[32];
    spr_out_t o = {path, path + sizeof(path) - 1};
    spr_put(&o, "/proc/");
    spr_put_dec(&o, pid);
    spr_put(&o, "/comm");
    *o.p = 0;
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

/// Waits (at most SPR_ACK_WAIT_MS in all) until the logger has logged this thread's record: the
/// logger acknowledges each fatal or stopping record with the receiving thread's id, so a late
/// acknowledgement for an earlier record is skipped, not taken for ours.
static void spr_wait_for_ack(int32_t tid) {
    int64_t start = spr_monotonic_ns();
    for (;;) {
        int64_t spent_ms = (spr_monotonic_ns() - start) / 1000000;
        if (spent_ms >= SPR_ACK_WAIT_MS) {
            return;
        }
        struct pollfd p = {.fd = spr_ack_pipe[0], .events = POLLIN};
        if (poll(&p, 1, (int)(SPR_ACK_WAIT_MS - spent_ms)) != 1) {
            return;
        }
        int32_t acknowledged = 0;
        if (read(spr_ack_pipe[0], &acknowledged, sizeof(acknowledged)) == (ssize_t)sizeof(acknowledged) &&
            acknowledged == tid) {
            return;
        }
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
        record.monotonic_ns = spr_monotonic_ns();
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
        spr_wait_for_ack((int32_t)syscall(SYS_gettid));
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

// ---- the logger thread: the only caller of the Swift callback ----

static void *spr_signal_logger(void *unused) {
    (void)unused;
    for (;;) {
        spr_signal_record_t record;
        ssize_t got = read(spr_log_pipe[0], &record, sizeof(record));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got != (ssize_t)sizeof(record)) {
            return NULL;
        }
        if (record.notice != 0) {
            spr_callback(NULL, record.notice, spr_callback_context);
        } else {
            spr_callback(&record, record.signal, spr_callback_context);
        }
        atomic_store(&spr_logged_sequence, record.sequence);
        (void)!write(spr_logged_pipe[1], "", 1);
        if (record.disposition == SPR_DISPOSITION_DEFAULT_FATAL || record.disposition == SPR_DISPOSITION_DEFAULT_STOP) {
            // The handler waits for this (its thread's id) before the default action.
            (void)!write(spr_ack_pipe[1], &record.tid, sizeof(record.tid));
        }
    }
}

// ---- the reader thread: records in, signals passed on, dispositions watched ----

#define SPR_PASS_ON_WAIT_NS (100 * 1000000LL)
#define SPR_PENDING_MAX 256

/// Signals for libdispatch waiting for their log line (at most 100 ms), oldest first.
typedef struct {
    int signal;
    uint32_t sequence;
    int64_t deadline_ns;
    struct signalfd_siginfo info;
} spr_pending_t;

typedef struct {
    spr_pending_t items[SPR_PENDING_MAX];
    int head;
    int count;
    uint32_t next_sequence;
} spr_reader_state_t;

/// Hands `record` to the logger; returns its sequence number, or 0 when the logger is too far
/// behind to take it (then nothing waits for it).
static uint32_t spr_log(spr_reader_state_t *state, spr_signal_record_t *record) {
    record->sequence = ++state->next_sequence;
    if (record->sequence == 0) {
        record->sequence = ++state->next_sequence;  // 0 means "not logged"
    }
    ssize_t written = write(spr_log_pipe[1], record, sizeof(*record));
    return written == (ssize_t)sizeof(*record) ? record->sequence : 0;
}

static void spr_notice(spr_reader_state_t *state, int code) {
    spr_signal_record_t record;
    memset(&record, 0, sizeof(record));
    record.notice = code;
    (void)spr_log(state, &record);
}

/// Logs a signal for libdispatch, and passes it on once logged (see spr_flush_pending).
static void spr_log_then_pass_on(spr_reader_state_t *state, spr_signal_record_t *record,
                                 const struct signalfd_siginfo *info) {
    uint32_t sequence = spr_log(state, record);
    if (sequence == 0 || state->count == SPR_PENDING_MAX) {
        spr_send_to_dispatch(record->signal, info);
        return;
    }
    spr_pending_t *item = &state->items[(state->head + state->count) % SPR_PENDING_MAX];
    item->signal = record->signal;
    item->sequence = sequence;
    item->deadline_ns = spr_monotonic_ns() + SPR_PASS_ON_WAIT_NS;
    item->info = *info;
    state->count++;
}

/// Passes on, in order, the waiting signals that are logged or have waited 100 ms.
static void spr_flush_pending(spr_reader_state_t *state) {
    uint32_t logged = atomic_load(&spr_logged_sequence);
    int64_t now = spr_monotonic_ns();
    while (state->count > 0) {
        spr_pending_t *item = &state->items[state->head];
        if ((int32_t)(logged - item->sequence) < 0 && now < item->deadline_ns) {
            break;
        }
        spr_send_to_dispatch(item->signal, &item->info);
        state->head = (state->head + 1) % SPR_PENDING_MAX;
        state->count--;
    }
}

static void spr_take_record(spr_reader_state_t *state) {
    spr_signal_record_t record;
    if (read(spr_record_pipe[0], &record, sizeof(record)) != (ssize_t)sizeof(record)) {
        return;
    }
    if (!record.pass_on) {
        (void)spr_log(state, &record);
        return;
    }
    struct signalfd_siginfo info;  // what libdispatch's own signalfd would have read
    memset(&info, 0, sizeof(info));
    info.ssi_signo = (uint32_t)record.signal;
    info.ssi_code = record.code;
    info.ssi_pid = (uint32_t)record.sender_pid;
    info.ssi_uid = record.sender_uid;
    spr_log_then_pass_on(state, &record, &info);
}

/// Puts the observer back in front of handlers installed since, and takes over libdispatch's
/// signalfd where it reads one of ours.
static void spr_watch_dispositions(spr_reader_state_t *state, int *take_over_tries, int first_tick) {
    for (int sig = 1; sig < SPR_MAX_SIGNAL; sig++) {
        if (!atomic_load(&spr_watched[sig]) || atomic_load(&spr_ending[sig])) {
            continue;
        }
        int wrapped = spr_wrap(sig);
        if (wrapped != 0) {
            spr_notice(state, wrapped > 0 ? sig : -sig);
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
                spr_notice(state, taken > 0 ? 1000 + sig : -(1000 + sig));
            }
        }
    }
}

static void *spr_signal_reader(void *unused) {
    (void)unused;
    static spr_reader_state_t state;
    int64_t started = spr_monotonic_ns();
    int64_t next_watch = started;
    int take_over_tries[SPR_MAX_SIGNAL] = {0};
    int first_tick = 1;
    for (;;) {
        int64_t now = spr_monotonic_ns();
        if (now >= next_watch) {
            spr_watch_dispositions(&state, take_over_tries, first_tick);
            first_tick = 0;
            next_watch = now + (now - started < 2000000000LL ? 20000000LL : 250000000LL);
        }
        int64_t wake = next_watch;
        if (state.count > 0 && state.items[state.head].deadline_ns < wake) {
            wake = state.items[state.head].deadline_ns;
        }
        struct pollfd polled[SPR_MAX_SIGNAL + 2];
        int signal_of[SPR_MAX_SIGNAL + 2];
        int count = 2;
        polled[0] = (struct pollfd){.fd = spr_record_pipe[0], .events = POLLIN};
        polled[1] = (struct pollfd){.fd = spr_logged_pipe[0], .events = POLLIN};
        for (int sig = 1; sig < SPR_MAX_SIGNAL; sig++) {
            if (spr_own_signalfd[sig] >= 0) {
                signal_of[count] = sig;
                polled[count++] = (struct pollfd){.fd = spr_own_signalfd[sig], .events = POLLIN};
            }
        }
        int64_t wait_ms = (wake - now) / 1000000 + 1;
        int ready = poll(polled, (nfds_t)count, wait_ms > 0 ? (int)wait_ms : 0);
        if (ready > 0 && (polled[1].revents & POLLIN)) {
            char drained[64];
            (void)!read(spr_logged_pipe[0], drained, sizeof(drained));
        }
        if (ready > 0 && (polled[0].revents & POLLIN)) {
            spr_take_record(&state);
        }
        for (int i = 2; ready > 0 && i < count; i++) {
            spr_signal_record_t record;
            struct signalfd_siginfo info;
            if ((polled[i].revents & POLLIN) && spr_read_taken_over(signal_of[i], &record, &info)) {
                spr_log_then_pass_on(&state, &record, &info);
            }
        }
        spr_flush_pending(&state);
    }
    return NULL;
}

/// Starts a thread with every signal blocked (no handler ever runs on it: the observer waits for
/// the logger when the default action is fatal, and must never wait for itself).
static int spr_start_thread(void *(*body)(void *), const char *name) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    pthread_t thread;
    int error = pthread_create(&thread, &attributes, body, NULL);
    pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (error == 0) {
        pthread_setname_np(thread, name);
    }
    return error;
}

int spr_signals_observe(const int *signals, int count, spr_signal_callback_t callback, void *context) {
    if (spr_callback != NULL) {
        return EALREADY;
    }
    if (pipe2(spr_record_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(spr_ack_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pipe2(spr_log_pipe, O_CLOEXEC) != 0 || pipe2(spr_logged_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return errno;
    }
    (void)fcntl(spr_log_pipe[1], F_SETFL, O_NONBLOCK);  // the reader never blocks on the logger
    spr_owner_pid = getpid();
    spr_takeover_reset();
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
    int error = spr_start_thread(spr_signal_logger, "startupprobe-log");
    return error != 0 ? error : spr_start_thread(spr_signal_reader, "startupprobe-sig");
}

int spr_signals_is_observed(int signal) {
    return signal > 0 && signal < SPR_MAX_SIGNAL && atomic_load(&spr_observed[signal]);
}
