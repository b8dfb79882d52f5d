#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_supervise.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/// Signals the supervisor cannot block: SIGKILL and SIGSTOP. Every other signal is blocked and read
/// from the signalfd, to be forwarded — fault signals too: one sent with kill(2) is forwarded
/// like any other, while a real fault of probe-exec's own is forced through the block by the
/// kernel and stays fatal to it. SIGTTIN and SIGTTOU are also ignored, as tini does: blocked or
/// ignored, the terminal lets probe-exec's own tcsetpgrp and writes through instead of stopping it.
static int spr_is_unsupervised_signal(int signo) { return signo == SIGKILL || signo == SIGSTOP; }

static void spr_supervised_set(sigset_t *set) {
    sigfillset(set);
    for (int sig = 1; sig < NSIG; sig++) {
        if (spr_is_unsupervised_signal(sig)) {
            sigdelset(set, sig);
        }
    }
}

int spr_block_supervised_signals(void) {
    sigset_t set;
    spr_supervised_set(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return errno;
    }
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    if (sigaction(SIGTTIN, &ignore, NULL) != 0 || sigaction(SIGTTOU, &ignore, NULL) != 0) {
        return errno;
    }
    return 0;
}

int spr_unblock_supervised_signals(void) {
    sigset_t inherited;
    spr_inherited_mask(&inherited);
    if (sigprocmask(SIG_SETMASK, &inherited, NULL) != 0) {
        return errno;
    }
    signal(SIGTTIN, spr_signal_inherited_ignored(SIGTTIN) ? SIG_IGN : SIG_DFL);
    signal(SIGTTOU, spr_signal_inherited_ignored(SIGTTOU) ? SIG_IGN : SIG_DFL);
    return 0;
}

static int spr_argc;
static char **spr_argv;
/// 1 when the constructor put SWIFT_ROOT into probe-exec's environment (no /proc): the program
/// does not get it (``spr_added_swift_root``).
static int spr_swift_root_added;

/// The signal mask and the ignored dispositions probe-exec was started with, read before anything
/// of ours changed them: what the program gets (execve keeps both, as a bare start would).
static sigset_t spr_inherited_signal_mask;
static uint64_t spr_inherited_ignored_bits;

/// The kernel's struct sigaction (the raw system call reads glibc's reserved signals 32 and 33 too).
struct spr_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

static void spr_record_inherited_signals(void) {
    (void)sigprocmask(SIG_SETMASK, NULL, &spr_inherited_signal_mask);
    for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
        struct spr_kernel_sigaction old;
        memset(&old, 0, sizeof(old));
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)) == 0 && old.handler == SIG_IGN) {
            spr_inherited_ignored_bits |= (uint64_t)1 << (sig - 1);
        }
    }
}

// glibc calls constructors with (argc, argv, envp); musl calls them with nothing, so there argv
// is not kept here (CommandLine.arguments is used). This one runs before the Swift runtime's
// own start-up work, which (in a static binary) needs /proc: it finds its own path through
// /proc/self/exe — and aborts ("Unable to obtain Swift runtime path") unless SWIFT_ROOT names
// one — and reads CommandLine.arguments from /proc/self/cmdline. Without /proc (a bare chroot)
// probe-exec must still run its program, so: keep argv, and give the runtime a root.
// It also records the signal state probe-exec inherited, and as PID 1 blocks the supervised
// signals at once: the kernel discards a signal sent to PID 1 that has no handler and is not
// blocked, so a SIGTERM sent right after exec would otherwise be lost before main runs.
__attribute__((constructor(101))) static void spr_record_arguments(int argc, char **argv, char **envp) {
    (void)envp;
#ifdef __GLIBC__
    // One malloc arena: glibc gives each thread that allocates an arena of its own (a 64 MB
    // reservation, trimmed, and its first pages faulted in), and probe-exec's few threads
    // allocate little. Only this process: exec'd programs start with glibc's defaults.
    (void)mallopt(M_ARENA_MAX, 1);
    spr_argc = argc;
    spr_argv = argv;
#else
    (void)argc;
    (void)argv;
#endif
    spr_record_inherited_signals();
    if (getpid() == 1) {
        (void)spr_block_supervised_signals();
    }
    if (access("/proc/self/exe", F_OK) != 0 && getenv("SWIFT_ROOT") == NULL) {
        spr_swift_root_added = setenv("SWIFT_ROOT", "/", 0) == 0;
    }
}

int spr_added_swift_root(void) { return spr_swift_root_added; }

int spr_signal_inherited_ignored(int signo) {
    return signo >= 1 && signo <= 64 && (spr_inherited_ignored_bits & ((uint64_t)1 << (signo - 1))) != 0;
}

void spr_inherited_mask(sigset_t *mask) { *mask = spr_inherited_signal_mask; }

int spr_saved_argc(void) { return spr_argc; }

const char *spr_saved_argv(int index) {
    return (spr_argv != NULL && index >= 0 && index < spr_argc) ? spr_argv[index] : NULL;
}

int spr_signalfd_open(void) {
    sigset_t set;
    spr_supervised_set(&set);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int spr_signalfd_read(int fd, spr_signal_info_t *info) {
    struct signalfd_siginfo raw;
    for (;;) {
        ssize_t n = read(fd, &raw, sizeof(raw));
        if (n == (ssize_t)sizeof(raw)) {
            info->signo = (int)raw.ssi_signo;
            info->code = raw.ssi_code;
            info->sender_pid = (pid_t)raw.ssi_pid;
            info->sender_uid = (uid_t)raw.ssi_uid;
            return 1;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return 0;
        }
        return -1;
    }
}

int spr_wnohang(void) { return WNOHANG; }

int spr_sigtimedwait_supervised(spr_signal_info_t *info, int timeout_ms) {
    sigset_t set;
    spr_supervised_set(&set);
    siginfo_t raw;
    struct timespec timeout = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000};
    int signo = sigtimedwait(&set, &raw, timeout_ms < 0 ? NULL : &timeout);
    if (signo < 0) {
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    }
    info->signo = signo;
    info->code = raw.si_code;
    info->sender_pid = raw.si_pid;
    info->sender_uid = raw.si_uid;
    return 1;
}

pid_t spr_waitpid(pid_t pid, int *status, int options) {
    for (;;) {
        pid_t r = waitpid(pid, status, options | __WALL);
        if (r >= 0 || errno != EINTR) {
            return r;
        }
    }
}

int spr_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno;
}

int spr_is_child_subreaper(void) {
    int on = 0;
    return prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0 && on ? 1 : 0;
}

int spr_set_parent_death_signal(int signo) {
    return prctl(PR_SET_PDEATHSIG, signo, 0, 0, 0) == 0 ? 0 : errno;
}

int spr_eventfd_open(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int spr_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

int spr_fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int spr_reserve_standard_fds(void) {
    static int reserved = -1;
    if (reserved >= 0) {
        return reserved;
    }
    int mask = 0;
    for (int fd = 0; fd <= 2; fd++) {
        if (!spr_fd_is_open(fd)) {
            mask |= 1 << fd;
        }
    }
    for (int fd = 0; fd <= 2; fd++) {
        if (mask & (1 << fd)) {
            // The lowest free descriptor: each open fills the next closed standard one.
            (void)open("/dev/null", O_RDWR | O_CLOEXEC);
        }
    }
    reserved = mask;
    return mask;
}


int spr_same_open_file(int fd1, int fd2) {
    pid_t self = getpid();
    long same = syscall(SYS_kcmp, self, self, 0 /* KCMP_FILE */, fd1, fd2);
    if (same == 0) {
        return 1;
    }
    if (same > 0) {
        return 0;
    }
    // kcmp is not available (a kernel without it, a seccomp profile): the same pipe or socket
    // is enough (writes land in one queue, in order), a regular file only when both append.
    struct stat a;
    struct stat b;
    if (fstat(fd1, &a) != 0 || fstat(fd2, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        return 0;
    }
    if (S_ISFIFO(a.st_mode) || S_ISSOCK(a.st_mode)) {
        return 1;
    }
    int flags1 = fcntl(fd1, F_GETFL);
    int flags2 = fcntl(fd2, F_GETFL);
    return S_ISREG(a.st_mode) && flags1 >= 0 && flags2 >= 0 && (flags1 & O_APPEND) && (flags2 & O_APPEND);
}

int spr_stop_self(int signo) {
    if (signo == SIGSTOP) {
        return raise(SIGSTOP) == 0 ? 0 : errno;
    }
    struct sigaction stop;
    struct sigaction previous;
    memset(&stop, 0, sizeof(stop));
    stop.sa_handler = SIG_DFL;
    if (sigaction(signo, &stop, &previous) != 0) {
        return errno;
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigset_t mask;
    pthread_sigmask(SIG_UNBLOCK, &one, &mask);
    int err = raise(signo) == 0 ? 0 : errno;  // stops every thread here, until SIGCONT
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    sigaction(signo, &previous, NULL);
    return err;
}

/// Reads `/proc/PID/<file>` into `buffer` (NUL-terminated). Returns the byte count, 0 on failure.
/// Async-signal-safe (no stdio, no allocation: the watcher runs it in a child of a threaded process).
static ssize_t spr_read_proc(pid_t pid, const char *file, char *buffer, size_t size) {
    char path[48] = "/proc/";
    size_t n = 6;
    char digits[12];
    int d = 0;
    unsigned int value = (unsigned int)pid;
    do {
        digits[d++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && d < 12);
    while (d > 0) path[n++] = digits[--d];
    path[n++] = '/';
    for (const char *c = file; *c && n < sizeof(path) - 1; c++) path[n++] = *c;
    path[n] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t got = read(fd, buffer, size - 1);
    close(fd);
    if (got <= 0) {
        return 0;
    }
    buffer[got] = 0;
    return got;
}

/// The hex bit mask of the `/proc/PID/status` line `field` ("SigPnd", "SigCgt", …), or 0.
/// Async-signal-safe.
static unsigned long long spr_status_bits(pid_t pid, const char *field) {
    char buffer[4096];
    if (spr_read_proc(pid, "status", buffer, sizeof(buffer)) == 0) {
        return 0;
    }
    size_t length = strlen(field);
    for (const char *line = buffer; line != NULL && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, field, length) != 0 || line[length] != ':') {
            continue;
        }
        const char *at = line + length + 1;
        while (*at == ' ' || *at == '\t') at++;
        unsigned long long bits = 0;
        while ((*at >= '0' && *at <= '9') || (*at >= 'a' && *at <= 'f')) {
            bits = bits * 16 + (unsigned long long)(*at <= '9' ? *at - '0' : *at - 'a' + 10);
            at++;
        }
        return bits;
    }
    return 0;
}

/// The state letter of /proc/PID/stat (R, S, T, t, Z…), or 0 when it cannot be read.
static char spr_process_state(pid_t pid) {
    char buffer[512];
    ssize_t got = spr_read_proc(pid, "stat", buffer, sizeof(buffer));
    // "pid (comm) S …": the state follows the last ')'.
    for (ssize_t i = got - 1; i > 0; i--) {
        if (buffer[i] == ')' && i + 2 < got) {
            return buffer[i + 2];
        }
    }
    return 0;
}

/// 1 when SIGCONT or SIGKILL is pending for the process (a traced program that was sent one
/// while its tracer, stopped, cannot let it go on).
static int spr_continue_pending(pid_t pid) {
    unsigned long long pending = spr_status_bits(pid, "SigPnd") | spr_status_bits(pid, "ShdPnd");
    return (pending & ((1ULL << (SIGCONT - 1)) | (1ULL << (SIGKILL - 1)))) != 0;
}

int spr_stop_with_program(int signo, pid_t program, pid_t *watcher_pid) {
    pid_t self = getpid();
    *watcher_pid = 0;
    // A watcher continues us if the program is continued (or ends) without us: someone sent it
    // SIGCONT directly. Only system calls in it (forked from a threaded process).
    pid_t watcher = fork();
    if (watcher == 0) {
        for (;;) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
            nanosleep(&pause, NULL);
            if (getppid() != self) {
                _exit(0);
            }
            char state = spr_process_state(program);
            if ((state != 'T' && state != 't') || spr_continue_pending(program)) {
                (void)kill(self, SIGCONT);
                _exit(0);
            }
            // A SIGCONT that reached probe-exec just before it stopped itself did not continue
            // it (it was not stopped yet) and waits, blocked: continue it, so it forwards that one.
            if (spr_process_state(self) == 'T' && spr_continue_pending(self)) {
                (void)kill(self, SIGCONT);
            }
        }
    }
    if (watcher > 0) {
        *watcher_pid = watcher;
    }
    int err = spr_stop_self(signo);
    if (watcher > 0) {
        (void)kill(watcher, SIGKILL);
        while (waitpid(watcher, NULL, __WALL) < 0 && errno == EINTR) {
        }
    }
    return err;
}

int spr_has_file_capabilities(const char *path) { return getxattr(path, "security.capability", NULL, 0) > 0; }

int spr_continue_is_pending(void) {
    sigset_t pending;
    return sigpending(&pending) == 0 && sigismember(&pending, SIGCONT) == 1;
}

int spr_program_catches(pid_t pid, int signo) {
    return signo >= 1 && signo <= 64 && (spr_status_bits(pid, "SigCgt") & (1ULL << (signo - 1))) != 0;
}
