#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// The running guardian's pid and the write end of its pipe (-1: none).
static pid_t spr_guardian_current = -1;
static int spr_guardian_pipe = -1;
/// Guardians released or started but not reaped yet.
enum { SPR_GUARDIAN_MAX_PENDING = 32 };
static pid_t spr_guardian_pending[SPR_GUARDIAN_MAX_PENDING];
static int spr_guardian_pending_count = 0;

/// Closes every descriptor except `keep_a` and `keep_b` (close_range, else one by one).
static void spr_guardian_close_others(int keep_a, int keep_b) {
    int low = keep_a < keep_b ? keep_a : keep_b;
    int high = keep_a < keep_b ? keep_b : keep_a;
    int ranges[3][2] = {{0, low - 1}, {low + 1, high - 1}, {high + 1, -1}};
    for (int i = 0; i < 3; i++) {
        unsigned first = (unsigned)ranges[i][0];
        unsigned last = ranges[i][1] < 0 ? ~0U : (unsigned)ranges[i][1];
        if (ranges[i][1] >= 0 && ranges[i][1] < ranges[i][0]) {
            continue;
        }
        if (syscall(SYS_close_range, first, last, 0) == 0) {
            continue;
        }
        struct rlimit limit;
        unsigned end = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? (unsigned)limit.rlim_cur
                                                                                       : 65536;
        for (unsigned fd = first; fd <= last && fd < end; fd++) {
            close((int)fd);
        }
    }
}

/// Writes back the bytes of `entry` that differ from its planted word, if the planted word is
/// still there (the breakpoint was not hit and removed, and the image is the one it was planted in).
static void spr_guardian_restore(int mem_fd, const spr_planted_t *entry) {
    uint64_t current = 0;
    if (pread(mem_fd, &current, sizeof(current), (off_t)entry->address) != (ssize_t)sizeof(current) ||
        current != entry->planted) {
        return;
    }
    unsigned char original[8];
    unsigned char planted[8];
    memcpy(original, &entry->original, 8);
    memcpy(planted, &entry->planted, 8);
    int first = 0;
    while (first < 8 && original[first] == planted[first]) {
        first++;
    }
    int last = 7;
    while (last > first && original[last] == planted[last]) {
        last--;
    }
    if (first < 8) {
        ssize_t ignored = pwrite(mem_fd, original + first, (size_t)(last - first + 1), (off_t)(entry->address + first));
        (void)ignored;
    }
}

/// The guardian's whole life (a forked child: system calls only).
static void spr_guardian_main(int read_fd, int mem_fd, const spr_planted_t *planted, int count) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);  // only SIGKILL and SIGSTOP reach it
    prctl(PR_SET_NAME, "probe-guardian", 0, 0, 0);
    spr_guardian_close_others(read_fd, mem_fd);  // never hold the program's pipes or a terminal
    if (chdir("/") != 0) {
        // stays where it was: it opens nothing by path
    }
    char byte;
    ssize_t n;
    do {
        n = read(read_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
        _exit(0);  // released: probe-exec took the breakpoints out, or the program is gone
    }
    for (int i = 0; i < count; i++) {
        spr_guardian_restore(mem_fd, &planted[i]);
    }
    _exit(0);
}

pid_t spr_guardian_start(pid_t pid, const spr_planted_t *planted, int count) {
    spr_guardian_release();
    if (count > SPR_GUARDIAN_CAPACITY) {
        count = SPR_GUARDIAN_CAPACITY;
    }
    spr_planted_t copy[SPR_GUARDIAN_CAPACITY];
    memcpy(copy, planted, sizeof(spr_planted_t) * (size_t)count);
    char path[48];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int mem_fd = open(path, O_RDWR | O_CLOEXEC);
    if (mem_fd < 0) {
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int saved = errno;
        close(mem_fd);
        errno = saved;
        return -1;
    }
    pid_t guardian = fork();
    if (guardian == 0) {
        close(fds[1]);
        spr_guardian_main(fds[0], mem_fd, copy, count);
    }
    int saved = errno;
    close(fds[0]);
    close(mem_fd);
    if (guardian < 0) {
        close(fds[1]);
        errno = saved;
        return -1;
    }
    spr_guardian_current = guardian;
    spr_guardian_pipe = fds[1];
    if (spr_guardian_pending_count < SPR_GUARDIAN_MAX_PENDING) {
        spr_guardian_pending[spr_guardian_pending_count++] = guardian;
    }
    return guardian;
}

void spr_guardian_release(void) {
    if (spr_guardian_pipe < 0) {
        return;
    }
    char byte = 'R';
    ssize_t ignored = write(spr_guardian_pipe, &byte, 1);
    (void)ignored;
    close(spr_guardian_pipe);
    spr_guardian_pipe = -1;
    spr_guardian_current = -1;
}

int spr_guardian_owns(pid_t pid, int reaped) {
    for (int i = 0; i < spr_guardian_pending_count; i++) {
        if (spr_guardian_pending[i] != pid) {
            continue;
        }
        if (reaped) {
            spr_guardian_pending[i] = spr_guardian_pending[--spr_guardian_pending_count];
            if (pid == spr_guardian_current) {  // it died on its own: nothing guards any more
                spr_guardian_current = -1;
                close(spr_guardian_pipe);
                spr_guardian_pipe = -1;
            }
        }
        return 1;
    }
    return 0;
}

void spr_guardian_finish(int timeout_ms) {
    spr_guardian_release();
    struct timespec pause = {0, 1000000};
    for (int waited = 0; spr_guardian_pending_count > 0 && waited <= timeout_ms; waited++) {
        for (int i = 0; i < spr_guardian_pending_count;) {
            int status;
            pid_t got = waitpid(spr_guardian_pending[i], &status, WNOHANG);
            if (got == spr_guardian_pending[i] || (got < 0 && errno == ECHILD)) {
                spr_guardian_pending[i] = spr_guardian_pending[--spr_guardian_pending_count];
            } else {
                i++;
            }
        }
        if (spr_guardian_pending_count > 0) {
            nanosleep(&pause, NULL);
        }
    }
}
