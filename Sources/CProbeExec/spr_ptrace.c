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
#include <sys/user.h>
#include <sys/wait.h>
#include <elf.h>

static int spr_result(long r) { return r == -1 ? errno : 0; }

int spr_ptrace_options(int follow_forks) {
    // No PTRACE_O_EXITKILL: if probe-exec dies, the program must live on (detached), not die too.
    int options = PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE;
    if (follow_forks) {
        options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
    }
    return options;
}

int spr_ptrace_cont(pid_t tid, int signo) {
    return spr_result(ptrace(PTRACE_CONT, tid, NULL, (void *)(long)signo));
}

int spr_ptrace_listen(pid_t tid) { return spr_result(ptrace(PTRACE_LISTEN, tid, NULL, NULL)); }

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

#if defined(__x86_64__)
int spr_ptrace_regs(pid_t tid, spr_regs_t *regs) {
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &r) == -1) {
        return errno;
    }
    regs->ip = r.rip;
    regs->sp = r.rsp;
    regs->first_argument = r.rdi;
    regs->syscall_number = (int64_t)r.orig_rax;
    return 0;
}

int spr_ptrace_set_ip(pid_t tid, uint64_t ip) {
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &r) == -1) {
        return errno;
    }
    r.rip = ip;
    return spr_result(ptrace(PTRACE_SETREGS, tid, NULL, &r));
}

uint64_t spr_breakpoint_instruction(int *length) {
    *length = 1;
    return 0xCC;  // int3
}
#elif defined(__aarch64__)
static int spr_get_regset(pid_t tid, struct user_regs_struct *r) {
    struct iovec io = {r, sizeof(*r)};
    return spr_result(ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &io));
}

int spr_ptrace_regs(pid_t tid, spr_regs_t *regs) {
    struct user_regs_struct r;
    int err = spr_get_regset(tid, &r);
    if (err != 0) {
        return err;
    }
    regs->ip = r.pc;
    regs->sp = r.sp;
    regs->first_argument = r.regs[0];
    regs->syscall_number = (int64_t)r.regs[8];
    return 0;
}

int spr_ptrace_set_ip(pid_t tid, uint64_t ip) {
    struct user_regs_struct r;
    int err = spr_get_regset(tid, &r);
    if (err != 0) {
        return err;
    }
    r.pc = ip;
    struct iovec io = {&r, sizeof(r)};
    return spr_result(ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &io));
}

uint64_t spr_breakpoint_instruction(int *length) {
    *length = 4;
    return 0xd4200000;  // brk #0
}
#else
#error "StartupProbe supports x86_64 and aarch64"
#endif

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
