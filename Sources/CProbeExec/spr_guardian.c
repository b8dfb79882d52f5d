#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// What probe-exec tells the guardian.
enum { SPR_GUARD = 1, SPR_FORGET = 2, SPR_RELEASE = 3 };

typedef struct spr_guardian_message {
    int32_t kind;
    int32_t count;
    spr_planted_t planted[SPR_GUARDIAN_CAPACITY];
} spr_guardian_message_t;

/// The guardian's pid (-1: none, or reaped) and probe-exec's end of its socket.
static pid_t spr_guardian_pid = -1;
static int spr_guardian_socket = -1;

/// Closes every descriptor but `keep` (close_range, else one by one).
static void spr_guardian_close_others(int keep) {
    unsigned ranges[2][2] = {{0, (unsigned)keep - 1}, {(unsigned)keep + 1, ~0U}};
    for (int i = 0; i < 2; i++) {
        if (i == 0 && keep == 0) {
            continue;
        }
        if (syscall(SYS_close_range, ranges[i][0], ranges[i][1], 0) == 0) {
            continue;
        }
        struct rlimit limit;
        unsigned end = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? (unsigned)limit.rlim_cur
                                                                                       : 65536;
        for (unsigned fd = ranges[i][0]; fd <= ranges[i][1] && fd < end; fd++) {
            close((int)fd);
        }
    }
}

/// Writes back the bytes of `entry` that differ from its planted word, if the planted word is
/// still there (not hit and removed already, and the image is the one it was planted in).
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
static void spr_guardian_main(int socket_fd) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);  // only SIGKILL and SIGSTOP reach it
    setpgid(0, 0);  // a kill of probe-exec's process group does not take it along
    prctl(PR_SET_NAME, "probe-guardian", 0, 0, 0);
    spr_guardian_close_others(socket_fd);  // never hold the program's pipes, a terminal or the trace
    if (chdir("/") != 0) {
        // it opens nothing by path: where it stays does not matter
    }
    static spr_guardian_message_t known;  // a forked copy: ours alone
    known.count = 0;
    int mem_fd = -1;
    for (;;) {
        spr_guardian_message_t message;
        char control[CMSG_SPACE(sizeof(int))];
        struct iovec part = {&message, sizeof(message)};
        struct msghdr header = {0};
        header.msg_iov = &part;
        header.msg_iovlen = 1;
        header.msg_control = control;
        header.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(socket_fd, &header, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        int received_fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&header); c != NULL; c = CMSG_NXTHDR(&header, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                memcpy(&received_fd, CMSG_DATA(c), sizeof(int));
            }
        }
        if (n <= 0) {
            break;  // end-of-file: probe-exec is gone
        }
        if (message.kind == SPR_RELEASE) {
            _exit(0);
        }
        if (mem_fd >= 0) {
            close(mem_fd);
        }
        mem_fd = -1;
        known.count = 0;
        if (message.kind == SPR_GUARD && received_fd >= 0 && message.count >= 0 &&
            message.count <= SPR_GUARDIAN_CAPACITY) {
            mem_fd = received_fd;
            known = message;
        } else if (received_fd >= 0) {
            close(received_fd);
        }
    }
    for (int i = 0; mem_fd >= 0 && i < known.count; i++) {
        spr_guardian_restore(mem_fd, &known.planted[i]);
    }
    _exit(0);
}

pid_t spr_guardian_start(void) {
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(ends[0]);
        spr_guardian_main(ends[1]);
    }
    int saved = errno;
    close(ends[1]);
    if (pid < 0) {
        close(ends[0]);
        errno = saved;
        return -1;
    }
    spr_guardian_pid = pid;
    spr_guardian_socket = ends[0];
    return pid;
}

/// Sends `message` (with `fd` when it is not -1). Returns 0 or an errno value.
static int spr_guardian_send(const spr_guardian_message_t *message, int fd) {
    if (spr_guardian_socket < 0) {
        return EBADF;
    }
    struct iovec part = {(void *)message, sizeof(*message)};
    struct msghdr header = {0};
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int))];
    if (fd >= 0) {
        memset(control, 0, sizeof(control));
        header.msg_control = control;
        header.msg_controllen = sizeof(control);
        struct cmsghdr *c = CMSG_FIRSTHDR(&header);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do {
        n = sendmsg(spr_guardian_socket, &header, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(*message) ? 0 : (n < 0 ? errno : EIO);
}

int spr_guardian_guard(pid_t pid, const spr_planted_t *planted, int count) {
    if (spr_guardian_socket < 0) {
        return EBADF;
    }
    spr_guardian_message_t message;
    memset(&message, 0, sizeof(message));
    message.kind = SPR_GUARD;
    message.count = count < SPR_GUARDIAN_CAPACITY ? count : SPR_GUARDIAN_CAPACITY;
    memcpy(message.planted, planted, sizeof(spr_planted_t) * (size_t)message.count);
    char path[48];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int mem_fd = open(path, O_RDWR | O_CLOEXEC);
    if (mem_fd < 0) {
        return errno;
    }
    int err = spr_guardian_send(&message, mem_fd);
    close(mem_fd);  // the guardian holds its own copy now
    return err;
}

int spr_guardian_forget(void) {
    spr_guardian_message_t message;
    memset(&message, 0, sizeof(message));
    message.kind = SPR_FORGET;
    return spr_guardian_send(&message, -1);
}

int spr_guardian_owns(pid_t pid, int reaped) {
    if (pid <= 0 || pid != spr_guardian_pid) {
        return 0;
    }
    if (reaped) {
        spr_guardian_pid = -1;  // it died: nothing guards any more
        if (spr_guardian_socket >= 0) {
            close(spr_guardian_socket);
            spr_guardian_socket = -1;
        }
    }
    return 1;
}

void spr_guardian_finish(int timeout_ms) {
    if (spr_guardian_socket >= 0) {
        spr_guardian_message_t message;
        memset(&message, 0, sizeof(message));
        message.kind = SPR_RELEASE;
        (void)spr_guardian_send(&message, -1);
        close(spr_guardian_socket);
        spr_guardian_socket = -1;
    }
    if (spr_guardian_pid <= 0) {
        return;
    }
    // It exits as soon as it reads the release: wait for exactly that (a pidfd becomes readable
    // when it ends), not in fixed sleeps, which would add their length to every run.
    int pidfd = (int)syscall(SYS_pidfd_open, spr_guardian_pid, 0);
    if (pidfd >= 0) {
        struct pollfd ended = {.fd = pidfd, .events = POLLIN, .revents = 0};
        while (poll(&ended, 1, timeout_ms) < 0 && errno == EINTR) {
        }
        close(pidfd);
    }
    struct timespec pause = {0, 200000};
    for (int waited = 0; spr_guardian_pid > 0 && waited <= timeout_ms * 5; waited++) {
        int status;
        pid_t got = waitpid(spr_guardian_pid, &status, WNOHANG);
        if (got == spr_guardian_pid || (got < 0 && errno == ECHILD)) {
            spr_guardian_pid = -1;
            break;
        }
        if (pidfd >= 0) {
            break;  // it did not end within the timeout (stopped): reaped later, or by init
        }
        nanosleep(&pause, NULL);
    }
}
