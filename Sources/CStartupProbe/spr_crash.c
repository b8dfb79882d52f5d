#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_arch.h"
#include "spr_crash.h"
#include "spr_relay.h"
#include "spr_format.h"
#include "spr_sys.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SPR_CRASH_MAX_FRAMES 128
#define SPR_ALTSTACK_SIZE (256 * 1024)

static const int spr_fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
#define SPR_FATAL_COUNT (int)(sizeof(spr_fatal_signals) / sizeof(spr_fatal_signals[0]))

static struct sigaction spr_previous[SPR_FATAL_COUNT];
static int spr_installed[SPR_FATAL_COUNT];  // 0 where the program ignores the signal: left alone
// 1 where the handler we chain to is the Swift runtime's crash backtracer (it ends the process:
// report first); 0 where it is the program's own (it may recover: it runs first, unreported).
static int spr_previous_reports[SPR_FATAL_COUNT];
static int spr_trace_fd = -1;
static int spr_report_fd = 2;
static int64_t spr_start_ns;
// One report per process: the first crashing thread takes the buffers (an atomic ticket); a
// second thread crashing meanwhile waits (at most 500 ms) for that report before it goes on, and
// the same thread faulting again inside the handler does not wait for itself.
static atomic_int spr_report_ticket;
static atomic_int spr_report_done;
static atomic_int spr_reporting_tid;
// Fault injection for the re-entrancy test: STARTUPPROBE_FAULT_INJECTION=crash-in-handler makes
// the handler fault right after its first line (read at install time, never in the handler).
static int spr_fault_in_handler;

// libunwind's local API, found with dlsym under spr_arch's names; an unw_cursor_t is a plain
// array of words (127 on x86_64, 250 on aarch64: spr_arch_*.c check both fit).
typedef struct {
    uint64_t opaque[SPR_LOCAL_CURSOR_BYTES / sizeof(uint64_t)];
} spr_local_cursor_t;
static int (*spr_init_local2)(void *cursor, void *context, int flag);
static int (*spr_step)(void *cursor);
static int (*spr_get_reg)(void *cursor, int reg, uint64_t *value);
static int spr_unw_reg_ip;  // UNW_REG_IP, from spr_arch_local_unwinder() at load time
#define SPR_UNW_INIT_SIGNAL_FRAME 1

static atomic_int spr_unwinder_state;  // 0 not asked, 1 loading, 2 loaded, 3 unavailable
static atomic_int spr_loader_tid;       // the loader thread, until it is gone
static sem_t spr_unwinder_done;

int spr_crash_load_unwinder(void) {
    if (__atomic_load_n(&spr_step, __ATOMIC_ACQUIRE) != NULL) {
        return 1;
    }
    const spr_local_unwinder_t *names = spr_arch_local_unwinder();
    void *library = dlopen(names->library, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        return 0;
    }
    int (*init_local2)(void *, void *, int) = (int (*)(void *, void *, int))dlsym(library, names->init_local2);
    int (*get_reg)(void *, int, uint64_t *) = (int (*)(void *, int, uint64_t *))dlsym(library, names->get_reg);
    int (*step)(void *) = (int (*)(void *))dlsym(library, names->step);
    if (init_local2 == NULL || get_reg == NULL || step == NULL) {
        return 0;
    }
    // Published step last, with release: a crash handler that sees it sees the others (the
    // loader may run on another thread while the program crashes).
    spr_unw_reg_ip = names->ip_register;
    spr_init_local2 = init_local2;
    spr_get_reg = get_reg;
    __atomic_store_n(&spr_step, step, __ATOMIC_RELEASE);
    return 1;
}

static const char *spr_signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGTRAP: return "SIGTRAP";
    default: return "signal";
    }
}

/// Writes a whole report to `fd` (-1: nowhere) with spr_sys's write loop (write(2) only).
static void spr_write(int fd, const char *buffer, size_t length) {
    if (fd >= 0) {
        (void)spr_write_all(fd, buffer, length);
    }
}

/// Unwinds from the signal context into `ips`; returns the count. A crash while libunwind is still
/// being loaded (on its own thread, right after `start`) waits for it, 200 ms at most.
static int spr_collect(void *context, uint64_t *ips) {
    int count = 0;
    for (int i = 0; i < 200 && atomic_load(&spr_unwinder_state) == 1; i++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }
    // And until the loader thread has exited: an exiting thread blocks every signal, so a crash
    // backtracer that runs after us (the Swift runtime's) could not suspend it.
    int32_t loader = atomic_load(&spr_loader_tid);
    if (loader != 0) {
        char path[48];
        spr_out_t o = {path, path + sizeof(path) - 1};
        spr_put(&o, "/proc/self/task/");
        spr_put_dec(&o, loader);
        *o.p = 0;
        for (int i = 0; i < 50 && access(path, F_OK) == 0; i++) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
            nanosleep(&pause, NULL);
        }
    }
    if (__atomic_load_n(&spr_step, __ATOMIC_ACQUIRE) != NULL && context != NULL) {
        spr_local_cursor_t cursor;
        if (spr_init_local2(&cursor, context, SPR_UNW_INIT_SIGNAL_FRAME) == 0) {
            do {
                uint64_t ip = 0;
                if (spr_get_reg(&cursor, spr_unw_reg_ip, &ip) != 0 || ip == 0) {
                    break;
                }
                ips[count++] = ip;
            } while (count < SPR_CRASH_MAX_FRAMES && spr_step(&cursor) > 0);
        }
    }
    if (count == 0 && context != NULL) {
        ips[count++] = spr_arch_context_ip(context);
    }
    return count;
}

static void spr_write_modules(void);

static void spr_report(int sig, siginfo_t *info, void *context) {
    static char buffer[16384];  // preallocated: no allocation in a handler
    static uint64_t ips[SPR_CRASH_MAX_FRAMES];
    int count = spr_collect(context, ips);
    uint64_t address = (uint64_t)(uintptr_t)info->si_addr;

    spr_out_t o = {buffer, buffer + sizeof(buffer) - 2};
    spr_put(&o, "StartupProbe: fatal signal ");
    spr_put_dec(&o, sig);
    spr_put(&o, " (");
    spr_put(&o, spr_signal_name(sig));
    spr_put(&o, ") at address ");
    spr_put_hex(&o, address);
    spr_put(&o, " in pid ");
    spr_put_dec(&o, getpid());
    spr_put(&o, "; backtrace (addresses, symbolised by `probe-exec show`):\n");
    for (int i = 0; i < count; i++) {
        spr_put(&o, "  #");
        spr_put_dec(&o, i);
        spr_put(&o, " ");
        spr_put_hex(&o, ips[i]);
        spr_put(&o, "\n");
    }
    spr_write(spr_report_fd, buffer, (size_t)(o.p - buffer));
    if (spr_fault_in_handler) {
        *(volatile int *)8 = 1;  // a crash inside the handler: it must not hang
    }

    if (spr_trace_fd < 0) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t micros = ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - spr_start_ns) / 1000;
    o.p = buffer;
    spr_put(&o, "{\"v\":2,\"event\":\"crash\",\"t_ms\":");
    spr_put_dec(&o, micros / 1000);
    spr_put(&o, ".");
    int64_t frac = micros % 1000;
    if (frac < 100) spr_put(&o, "0");
    if (frac < 10) spr_put(&o, "0");
    spr_put_dec(&o, frac);
    spr_put(&o, ",\"source\":\"in_process\",\"pid\":");
    spr_put_dec(&o, getpid());
    spr_put(&o, ",\"signal\":");
    spr_put_dec(&o, sig);
    spr_put(&o, ",\"signal_name\":\"");
    spr_put(&o, spr_signal_name(sig));
    spr_put(&o, "\",\"code\":");
    spr_put_dec(&o, info->si_code);
    spr_put(&o, ",\"fault_address\":\"");
    spr_put_hex(&o, address);
    spr_put(&o, "\",\"frames\":[");
    for (int i = 0; i < count; i++) {
        spr_put(&o, i ? ",\"" : "\"");
        spr_put_hex(&o, ips[i]);
        spr_put(&o, "\"");
    }
    spr_put(&o, "]}\n");
    if (o.p < o.end) {  // a cut-off event is worse than none: write only whole lines
        spr_write(spr_trace_fd, buffer, (size_t)(o.p - buffer));
    }
    spr_write_modules();
}

/// `"t_ms":N.NNN` of now, for a trace line.
static void spr_put_offset(spr_out_t *o) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t micros = ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - spr_start_ns) / 1000;
    spr_put(o, "\"t_ms\":");
    spr_put_dec(o, micros / 1000);
    spr_put(o, ".");
    int64_t frac = micros % 1000;
    if (frac < 100) spr_put(o, "0");
    if (frac < 10) spr_put(o, "0");
    spr_put_dec(o, frac);
}

/// Parses a hex number at *p, advancing past it.
static uint64_t spr_parse_hex(const char **p, const char *end) {
    uint64_t value = 0;
    while (*p < end) {
        char c = **p;
        int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (digit < 0) break;
        value = value * 16 + (uint64_t)digit;
        (*p)++;
    }
    return value;
}

/// One line of /proc/self/maps as a `modules` entry when it maps a file executable:
/// `{"path":…,"start":…,"end":…,"offset":…}` (the JSON string escaped). Returns 1 when written.
static int spr_put_module(spr_out_t *o, const char *line, const char *end, int first) {
    const char *p = line;
    uint64_t start = spr_parse_hex(&p, end);
    if (p >= end || *p != '-') return 0;
    p++;
    uint64_t stop = spr_parse_hex(&p, end);
    if (p + 5 >= end || p[3] != 'x') return 0;  // " r-xp": executable
    p += 6;
    uint64_t offset = spr_parse_hex(&p, end);
    // dev and inode, then spaces, then the path
    for (int field = 0; field < 2; field++) {
        while (p < end && *p == ' ') p++;
        while (p < end && *p != ' ') p++;
    }
    while (p < end && *p == ' ') p++;
    if (p >= end || *p != '/') return 0;
    spr_put(o, first ? "{\"path\":\"" : ",{\"path\":\"");
    for (; p < end && o->p < o->end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            spr_put(o, c == '"' ? "\\\"" : "\\\\");
        } else if (c < 0x20) {
            spr_put(o, "?");
        } else {
            *o->p++ = (char)c;
        }
    }
    spr_put(o, "\",\"start\":\"");
    spr_put_hex(o, start);
    spr_put(o, "\",\"end\":\"");
    spr_put_hex(o, stop);
    spr_put(o, "\",\"offset\":\"");
    spr_put_hex(o, offset);
    spr_put(o, "\"}");
    return 1;
}

/// Writes the `modules` event (the executable mappings now, read from /proc/self/maps with
/// open/read), so `show` can name the crash report's raw addresses. Taken at the crash instead
/// of at start: nothing to pay on every start, and libraries loaded later are included.
static void spr_write_modules(void) {
    static char buffer[65536];
    static char maps[65536];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, maps + have, sizeof(maps) - have);
        if (n <= 0) break;
        have += (size_t)n;
        if (have == sizeof(maps)) break;
    }
    close(fd);
    spr_out_t o = {buffer, buffer + sizeof(buffer) - 4};
    spr_put(&o, "{\"v\":2,\"event\":\"modules\",");
    spr_put_offset(&o);
    spr_put(&o, ",\"pid\":");
    spr_put_dec(&o, getpid());
    spr_put(&o, ",\"modules\":[");
    int first = 1;
    const char *line = maps;
    const char *limit = maps + have;
    while (line < limit) {
        const char *eol = line;
        while (eol < limit && *eol != '\n') eol++;
        char *before = o.p;
        if (spr_put_module(&o, line, eol, first)) {
            if (o.p >= o.end - 8) {  // no room for a whole entry: leave it out
                o.p = before;
                break;
            }
            first = 0;
        }
        line = eol + 1;
    }
    spr_put(&o, "]}\n");
    if (o.p < o.end) {
        spr_write(spr_trace_fd, buffer, (size_t)(o.p - buffer));
    }
}

static int spr_index(int sig) {
    for (int i = 0; i < SPR_FATAL_COUNT; i++) {
        if (spr_fatal_signals[i] == sig) {
            return i;
        }
    }
    return -1;
}

/// Waits up to 500 ms for the thread that is writing the report (never for ourselves).
static void spr_wait_for_report(void) {
    int32_t self = (int32_t)syscall(SYS_gettid);
    if (atomic_load(&spr_reporting_tid) == self) {
        return;
    }
    for (int i = 0; i < 500 && !atomic_load(&spr_report_done); i++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }
}

/// Whether the kernel raised `sig` for an instruction that runs again when the handler returns
/// (a fault): returning then re-executes it, and it faults again with the default disposition,
/// with its own siginfo. Anything else (int3's SIGTRAP, seccomp's SIGSYS, abort, kill) must be
/// raised again, or the program would go on.
static int spr_refaults(int sig, const siginfo_t *info) {
    return info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
}

static void spr_crash_handler(int sig, siginfo_t *info, void *context) {
    int saved_errno = errno;
    int i = spr_index(sig);
    struct sigaction *previous = i >= 0 ? &spr_previous[i] : NULL;
    int program_handler = previous != NULL && !spr_previous_reports[i] &&
                          ((previous->sa_flags & SA_SIGINFO) ? previous->sa_sigaction != NULL
                                                             : (previous->sa_handler != SIG_DFL &&
                                                                previous->sa_handler != SIG_IGN && previous->sa_handler != NULL));
    // The program's own handler runs first and unreported: a program that recovers (longjmp, a
    // fixed-up fault) has not crashed. Before the default action or a crash reporter, report.
    if (!program_handler) {
        if (atomic_fetch_add(&spr_report_ticket, 1) == 0) {
            atomic_store(&spr_reporting_tid, (int32_t)syscall(SYS_gettid));
            spr_report(sig, info, context);
            atomic_store(&spr_report_done, 1);
        } else {
            spr_wait_for_report();
        }
    }
    // Chain to what was there before us (the Swift runtime's backtracer, a sanitizer, the
    // program's own handler), as if it had been called directly: our action carries its flags,
    // so the kernel already applied its SA_RESETHAND (then the default stays), SA_NODEFER and mask.
    int resets = previous != NULL && (previous->sa_flags & SA_RESETHAND);
    if (previous != NULL && (previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction != NULL) {
        if (!resets) {
            sigaction(sig, previous, NULL);
        }
        errno = saved_errno;
        previous->sa_sigaction(sig, info, context);
        return;
    }
    if (previous != NULL && previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN &&
        previous->sa_handler != NULL) {
        if (!resets) {
            sigaction(sig, previous, NULL);
        }
        errno = saved_errno;
        previous->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    errno = saved_errno;
    if (spr_refaults(sig, info)) {
        return;
    }
    // Dies of the same signal: pending now, delivered with the default action once we return.
    raise(sig);
}

static void *spr_unwinder_loader(void *unused) {
    (void)unused;
    // Stored before the state leaves "loading", which a crash handler waits for first.
    atomic_store(&spr_loader_tid, (int32_t)syscall(SYS_gettid));
    atomic_store(&spr_unwinder_state, spr_crash_load_unwinder() ? 2 : 3);
    sem_post(&spr_unwinder_done);
    return NULL;
}

int spr_crash_load_unwinder_async(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&spr_unwinder_state, &expected, 1)) {
        return 0;
    }
    sem_init(&spr_unwinder_done, 0, 0);
    // The library's thread start: every signal blocked but SIGPROF, and running with that mask
    // before this returns (the Swift backtracer can suspend it).
    if (spr_relay_thread_start("startupprobe-ld", spr_unwinder_loader, NULL) != 0) {
        // No thread: load here.
        atomic_store(&spr_unwinder_state, spr_crash_load_unwinder() ? 2 : 3);
        sem_post(&spr_unwinder_done);
    }
    return 0;
}

int spr_crash_unwinder_wait(void) {
    int state = atomic_load(&spr_unwinder_state);
    if (state == 0) {
        return spr_crash_load_unwinder();
    }
    if (state == 1) {
        while (sem_wait(&spr_unwinder_done) != 0 && errno == EINTR) {
        }
        sem_post(&spr_unwinder_done);  // for later callers
    }
    return atomic_load(&spr_unwinder_state) == 2;
}

int spr_crash_is_installed(int sig) {
    int i = spr_index(sig);
    return i >= 0 && spr_installed[i];
}

int spr_crash_install_altstack(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) != 0) {
        return errno;
    }
    if (!(current.ss_flags & SS_DISABLE)) {
        return 0;  // the thread has one already (ours, or the program's): keep it
    }
    void *memory = mmap(NULL, SPR_ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (memory == MAP_FAILED) {
        return errno;
    }
    stack_t stack = {.ss_sp = memory, .ss_flags = 0, .ss_size = SPR_ALTSTACK_SIZE};
    if (sigaltstack(&stack, NULL) != 0) {
        int error = errno;
        munmap(memory, SPR_ALTSTACK_SIZE);
        return error;
    }
    return 0;
}

int spr_crash_install(int trace_fd, int report_fd, int64_t start_ns) {
    spr_trace_fd = trace_fd;
    spr_report_fd = report_fd;
    spr_start_ns = start_ns;
    const char *injection = getenv("STARTUPPROBE_FAULT_INJECTION");
    spr_fault_in_handler = injection != NULL && strcmp(injection, "crash-in-handler") == 0;
    int error = spr_crash_install_altstack();
    if (error != 0) {
        return error;
    }
    for (int i = 0; i < SPR_FATAL_COUNT; i++) {
        struct sigaction current;
        if (sigaction(spr_fatal_signals[i], NULL, &current) != 0) {
            return errno;
        }
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) {
            spr_installed[i] = 0;  // the program ignores it: so does it with us
            continue;
        }
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == spr_crash_handler) {
            continue;  // installed already (start called twice): keep what it chains to
        }
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = spr_crash_handler;
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL) {
            action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
            sigemptyset(&action.sa_mask);
        } else {
            // In front of the program's handler: with its flags and mask, so the kernel treats
            // the signal as it would without us (SA_RESETHAND, SA_NODEFER, SA_RESTART, the mask).
            action.sa_flags = SA_SIGINFO | SA_ONSTACK | (current.sa_flags & (SA_RESETHAND | SA_NODEFER | SA_RESTART));
            action.sa_mask = current.sa_mask;
        }
        spr_previous[i] = current;
        spr_previous_reports[i] = 0;
        void *handler = (current.sa_flags & SA_SIGINFO) ? (void *)current.sa_sigaction : (void *)current.sa_handler;
        Dl_info where;
        if (handler != NULL && handler != (void *)SIG_DFL && dladdr(handler, &where) != 0 && where.dli_fname != NULL &&
            strstr(where.dli_fname, "libswiftCore") != NULL) {
            spr_previous_reports[i] = 1;
        }
        if (sigaction(spr_fatal_signals[i], &action, NULL) != 0) {
            return errno;
        }
        spr_installed[i] = 1;
    }
    return 0;
}
