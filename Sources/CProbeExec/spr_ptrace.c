#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_ptrace.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <elf.h>

static int spr_result(long r) { return r == -1 ? errno : 0; }

int spr_ptrace_options_after_start(int follow_forks) {
    // No PTRACE_O_EXITKILL: if probe-exec dies, the program must live on (detached), not die too.
    int options = PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE;
    if (follow_forks) {
        options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
    }
    return options;
}

int spr_ptrace_options(int follow_forks) {
    return spr_ptrace_options_after_start(follow_forks) | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
}

int spr_shares_memory(pid_t a, pid_t b) {
    long r = syscall(SYS_kcmp, a, b, 1 /* KCMP_VM */, 0, 0);
    return r == 0 ? 1 : (r > 0 ? 0 : -1);
}

int spr_ptrace_set_options(pid_t tid, int options) {
    return spr_result(ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(long)options));
}

int spr_ptrace_cont(pid_t tid, int signo) {
    return spr_result(ptrace(PTRACE_CONT, tid, NULL, (void *)(long)signo));
}

int spr_ptrace_listen(pid_t tid) { return spr_result(ptrace(PTRACE_LISTEN, tid, NULL, NULL)); }

int spr_ptrace_interrupt(pid_t tid) { return spr_result(ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)); }

int spr_ptrace_event_message(pid_t tid, unsigned long *message) {
    return spr_result(ptrace(PTRACE_GETEVENTMSG, tid, NULL, message));
}

int spr_ptrace_detach(pid_t tid, int signo) {
    return spr_result(ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)signo));
}

int spr_ptrace_siginfo(pid_t tid, spr_siginfo_t *info) {
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == -1) {
        return errno;
    }
    memset(info, 0, sizeof(*info));
    info->signo = si.si_signo;
    info->code = si.si_code;
    info->errno_value = si.si_errno;
    if (si.si_code <= 0) {
        // Sent by a process: kill, tgkill, sigqueue, raise/abort (SI_USER, SI_TKILL, SI_QUEUE…).
        info->sender_pid = si.si_pid;
        info->sender_uid = si.si_uid;
        info->kind = 1;
    } else if (si.si_signo == SIGSEGV || si.si_signo == SIGBUS || si.si_signo == SIGILL ||
               si.si_signo == SIGFPE || si.si_signo == SIGTRAP) {
        info->fault_address = (uint64_t)(uintptr_t)si.si_addr;
        info->kind = 2;
    } else if (si.si_signo == SIGCHLD) {
        info->sender_pid = si.si_pid;
        info->sender_uid = si.si_uid;
        info->kind = 1;
    }
    return 0;
}

/// PTRACE_GETREGSET NT_PRSTATUS into `raw`. Returns 0 or an errno value; *length gets the size
/// the kernel filled in.
static int spr_get_prstatus(pid_t tid, spr_prstatus_t *raw, size_t *length) {
    struct iovec io = {raw->words, spr_arch_prstatus_size()};
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &io) == -1) {
        return errno;
    }
    *length = io.iov_len;
    return 0;
}

int spr_ptrace_regs(pid_t tid, spr_regs_t *regs) {
    spr_prstatus_t raw;
    size_t length = 0;
    int err = spr_get_prstatus(tid, &raw, &length);
    return err != 0 ? err : spr_arch_regs_from_prstatus(&raw, length, regs);
}

int spr_ptrace_set_ip(pid_t tid, uint64_t ip) {
    spr_prstatus_t raw;
    size_t length = 0;
    int err = spr_get_prstatus(tid, &raw, &length);
    if (err != 0) {
        return err;
    }
    if (length != spr_arch_prstatus_size()) {
        return EIO;
    }
    spr_arch_prstatus_set_ip(&raw, ip);
    struct iovec io = {raw.words, length};
    return spr_result(ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &io));
}

long spr_read_memory(pid_t pid, uint64_t address, void *buffer, size_t length) {
    struct iovec local = {buffer, length};
    struct iovec remote = {(void *)(uintptr_t)address, length};
    return (long)process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

int spr_ptrace_single_step(pid_t tid) { return spr_result(ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL)); }

int spr_ptrace_peek(pid_t tid, uint64_t address, uint64_t *word) {
    errno = 0;
    long v = ptrace(PTRACE_PEEKTEXT, tid, (void *)(uintptr_t)address, NULL);
    if (v == -1 && errno != 0) {
        return errno;
    }
    *word = (uint64_t)v;
    return 0;
}

int spr_ptrace_poke(pid_t tid, uint64_t address, uint64_t word) {
    return spr_result(ptrace(PTRACE_POKETEXT, tid, (void *)(uintptr_t)address, (void *)(uintptr_t)word));
}

int spr_wifstopped(int status) { return WIFSTOPPED(status); }
int spr_wstopsig(int status) { return WSTOPSIG(status); }
int spr_wptrace_event(int status) { return (status >> 16) & 0xff; }
int spr_event_fork(void) { return PTRACE_EVENT_FORK; }
int spr_event_vfork(void) { return PTRACE_EVENT_VFORK; }
int spr_event_clone(void) { return PTRACE_EVENT_CLONE; }
int spr_event_exec(void) { return PTRACE_EVENT_EXEC; }
int spr_event_exit(void) { return PTRACE_EVENT_EXIT; }
int spr_event_stop(void) { return PTRACE_EVENT_STOP; }
