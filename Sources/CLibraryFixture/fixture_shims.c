#define _GNU_SOURCE
#include "fixture_shims.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

int fixture_signalfd(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int fixture_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    return read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info) ? (int)info.ssi_signo : -1;
}
