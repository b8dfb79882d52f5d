// Test fixture, compiled with `cc` at test time. One program, many behaviours (argv[1]).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void say(int fd, const char *text) {
    ssize_t ignored = write(fd, text, strlen(text));
    (void)ignored;
}

static void on_signal(int sig) {
    char line[32];
    int n = snprintf(line, sizeof(line), "got %d\n", sig);
    ssize_t ignored = write(1, line, (size_t)n);
    (void)ignored;
}

static void on_term_exit(int sig) {
    (void)sig;
    say(1, "term\n");
    _exit(42);
}

static void on_stop_exit_clean(int sig) {
    (void)sig;
    say(1, "stopping\n");
    _exit(0);
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            exit(3);
        }
        p += w;
        n -= (size_t)w;
    }
}

// xorshift64*: deterministic bytes, NULs included.
static uint64_t next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "exit")) {
        return argc > 2 ? atoi(argv[2]) : 0;
    }
    if (!strcmp(mode, "segv")) {
        *(volatile int *)16 = 1;
        return 0;
    }
    if (!strcmp(mode, "abort")) {
        abort();
    }
    if (!strcmp(mode, "killself")) {
        kill(getpid(), atoi(argv[2]));
        pause();
        return 0;
    }
    if (!strcmp(mode, "lastwords")) {
        say(1, "last words on stdout\n");
        say(2, "last words on stderr");
        kill(getpid(), SIGKILL);
        pause();
    }
    if (!strcmp(mode, "sleep")) {
        usleep((useconds_t)(atof(argv[2]) * 1e6));
        return 0;
    }
    if (!strcmp(mode, "trapterm")) {
        signal(SIGTERM, on_term_exit);
        say(1, "ready\n");
        for (;;) pause();
    }
    if (!strcmp(mode, "cleanstop")) {
        // Stops cleanly (exit 0) on SIGTERM, SIGINT or SIGQUIT, as a well-behaved server does.
        signal(SIGTERM, on_stop_exit_clean);
        signal(SIGINT, on_stop_exit_clean);
        signal(SIGQUIT, on_stop_exit_clean);
        say(1, "ready\n");
        for (;;) pause();
    }
    if (!strcmp(mode, "alloc")) {
        // Allocates and touches N MiB, one page at a time: in a memory cgroup with a lower limit
        // the kernel's OOM killer ends it.
        size_t mib = argc > 2 ? (size_t)atoll(argv[2]) : 0;
        for (size_t i = 0; i < mib; i++) {
            volatile char *chunk = malloc(1 << 20);
            if (!chunk) return 2;
            for (size_t page = 0; page < (1 << 20); page += 4096) chunk[page] = 1;
        }
        say(1, "allocated\n");
        return 0;
    }
    if (!strcmp(mode, "signals")) {
        // Handle every catchable signal and report each one received.
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        for (int sig = 1; sig <= SIGRTMAX; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, NULL);
        }
        say(1, "ready\n");
        for (;;) pause();
    }
    if (!strcmp(mode, "status")) {
        // The signal state and the descriptors this process started with.
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
            if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7)) say(1, line);
        }
        if (f) fclose(f);
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        say(1, "fds:");
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
            say(1, " ");
            say(1, e->d_name);
        }
        say(1, "\n");
        return 0;
    }
    if (!strcmp(mode, "dribble")) {
        // argv[2] bytes to stderr one write(2) each, a little apart (as Rust's backtrace printer
        // writes), then exit 3: each write is a pipe buffer of its own.
        long count = argc > 2 ? atol(argv[2]) : 1000;
        for (long i = 0; i < count; i++) {
            char byte = (char)('a' + i % 26);
            if (i % 64 == 63) byte = '\n';
            if (write(2, &byte, 1) != 1) return 1;
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        }
        return 3;
    }
    if (!strcmp(mode, "big")) {
        // N bytes on stdout and N other bytes on stderr, interleaved in chunks of varying size,
        // with blocking writes: a wrapper that drains only one stream at a time deadlocks here.
        size_t total = (size_t)atoll(argv[2]);
        static unsigned char buf[70000];
        uint64_t s_out = 0x9E3779B97F4A7C15ULL, s_err = 0xD1B54A32D192ED03ULL, s_len = 42;
        size_t done_out = 0, done_err = 0;
        while (done_out < total || done_err < total) {
            for (int which = 0; which < 2; which++) {
                size_t *done = which ? &done_err : &done_out;
                uint64_t *s = which ? &s_err : &s_out;
                if (*done >= total) continue;
                size_t len = 1 + next(&s_len) % 65536;
                if (len > total - *done) len = total - *done;
                for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(next(s) >> 56);
                write_all(which ? 2 : 1, buf, len);
                *done += len;
            }
        }
        return 0;
    }
    say(2, "fixture: unknown mode\n");
    return 64;
}
