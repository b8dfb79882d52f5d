#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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

#include <string.h>
#include <sys/mman.h>

static char *fixture_page;

static void fixture_fix_page(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    (void)context;
    mprotect(fixture_page, 4096, PROT_READ | PROT_WRITE);
}

int fixture_recovered_fault(void) {
    fixture_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = fixture_fix_page;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, NULL);
    ((volatile char *)fixture_page)[0] = 42;
    return fixture_page[0];
}
