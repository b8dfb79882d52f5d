#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_arch.h"
#include "spr_crash.h"
#include "spr_format.h"
#include "spr_sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
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
static int spr_trace_fd = -1;
static int spr_report_fd = 2;
static int64_t spr_start_ns;
static volatile sig_atomic_t spr_in_handler;
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

int spr_crash_load_unwinder(void) {
    if (spr_step != NULL) {
        return 1;
    }
    const spr_local_unwinder_t *names = spr_arch_local_unwinder();
    void *library = dlopen(names->library, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        return 0;
    }
    spr_unw_reg_ip = names->ip_register;
    spr_init_local2 = (int (*)(void *, void *, int))dlsym(library, names->init_local2);
    spr_get_reg = (int (*)(void *, int, uint64_t *))dlsym(library, names->get_reg);
    spr_step = (int (*)(void *))dlsym(library, names->step);
    if (spr_init_local2 == NULL || spr_get_reg == NULL || spr_step == NULL) {
        spr_step = NULL;
        return 0;
    }
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

/// Unwinds from the signal context into `ips`; returns the count.
static int spr_collect(void *context, uint64_t *ips) {
    int count = 0;
    if (spr_step != NULL && context != NULL) {
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
}

static int spr_index(int sig) {
    for (int i = 0; i < SPR_FATAL_COUNT; i++) {
        if (spr_fatal_signals[i] == sig) {
            return i;
        }
    }
    return -1;
}

static void spr_crash_handler(int sig, siginfo_t *info, void *context) {
    int saved_errno = errno;
    int i = spr_index(sig);
    if (spr_in_handler++ == 0) {
        spr_report(sig, info, context);
    }
    // Chain to what was there before us (the Swift runtime's backtracer, a sanitizer).
    struct sigaction *previous = i >= 0 ? &spr_previous[i] : NULL;
    if (previous != NULL && (previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction != NULL) {
        sigaction(sig, previous, NULL);
        errno = saved_errno;
        previous->sa_sigaction(sig, info, context);
        return;
    }
    if (previous != NULL && previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN &&
        previous->sa_handler != NULL) {
        sigaction(sig, previous, NULL);
        errno = saved_errno;
        previous->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    errno = saved_errno;
    if (info->si_code > 0) {
        return;  // sent by the kernel: the instruction faults again, now fatally, with its own siginfo
    }
    raise(sig);  // sent by kill/raise/abort: returning would let the process go on
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
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = spr_crash_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < SPR_FATAL_COUNT; i++) {
        if (sigaction(spr_fatal_signals[i], &action, &spr_previous[i]) != 0) {
            return errno;
        }
    }
    return 0;
}
