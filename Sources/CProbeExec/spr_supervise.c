#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static int spr_is_fault_signal(int signo) {
    switch (signo) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
    case SIGTTIN:
    case SIGTTOU:
    case SIGKILL:
    case SIGSTOP:
        return 1;
    default:
        return 0;
    }
}

static void spr_supervised_set(sigset_t *set) {
    sigfillset(set);
    for (int sig = 1; sig < NSIG; sig++) {
        if (spr_is_fault_signal(sig)) {
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
    sigset_t set;
    spr_supervised_set(&set);
    if (sigprocmask(SIG_UNBLOCK, &set, NULL) != 0) {
        return errno;
    }
    signal(SIGTTIN, SIG_DFL);
    signal(SIGTTOU, SIG_DFL);
    return 0;
}

static int spr_argc;
static char **spr_argv;

// glibc calls constructors with (argc, argv, envp). This one runs before the Swift runtime's
// own start-up work, which (in a static binary) needs /proc: it finds its own path through
// /proc/self/exe — and aborts ("Unable to obtain Swift runtime path") unless SWIFT_ROOT names
// one — and reads CommandLine.arguments from /proc/self/cmdline. Without /proc (a bare chroot)
// probe-exec must still run its program, so: keep argv, and give the runtime a root.
__attribute__((constructor(101))) static void spr_record_arguments(int argc, char **argv, char **envp) {
    (void)envp;
        spr_argc = argc;
    spr_argv = argv;
    if (access("/proc/self/exe", F_OK) != 0) {
        setenv("SWIFT_ROOT", "/", 0);
    }
}

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

