#ifndef SPR_PTRACE_H
#define SPR_PTRACE_H

// Provided in C because ptrace is variadic (unavailable to Swift), the stop-status decoding is
// macros, and siginfo_t's fields live in unions Swift cannot name.

#include "spr_arch.h"

#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// The PTRACE_O_* options probe-exec sets: exec, exit, clone (threads), fork and vfork events.
/// Fork events while start-up breakpoints are planted: a child forked then (in a constructor) has
/// a copy of them to remove; and until a thread's first one after main(), so that a program that
/// started no process is known to have started none. Then the thread reports forks no more
/// unless `follow_forks` (``spr_ptrace_options_after_start``).
/// Not EXITKILL: a dying probe-exec detaches, never kills.
int spr_ptrace_options(int follow_forks);

/// The options of a thread that no longer needs fork events (main() reached), or still does
/// when `follow_forks`.
int spr_ptrace_options_after_start(int follow_forks);

/// Whether processes `a` and `b` share one address space (kcmp KCMP_VM): 1 yes (threads, vfork,
/// CLONE_VM), 0 no (a fork's copy), -1 not known (kcmp refused).
int spr_shares_memory(pid_t a, pid_t b);

/// PTRACE_SETOPTIONS on a stopped tracee. Returns 0 or an errno value.
int spr_ptrace_set_options(pid_t tid, int options);

/// PTRACE_CONT with a signal to deliver (0 for none). Returns 0 or an errno value.
int spr_ptrace_cont(pid_t tid, int signo);
/// PTRACE_LISTEN: leave a group-stopped tracee stopped but let it be notified. Returns 0 or errno.
int spr_ptrace_listen(pid_t tid);

/// PTRACE_INTERRUPT: a seized tracee that runs stops (PTRACE_EVENT_STOP) so it can be detached.
/// Returns 0 or an errno value.
int spr_ptrace_interrupt(pid_t tid);
/// PTRACE_GETEVENTMSG. Returns 0 or an errno value.
int spr_ptrace_event_message(pid_t tid, unsigned long *message);
/// PTRACE_DETACH. Returns 0 or an errno value.
int spr_ptrace_detach(pid_t tid, int signo);

/// The parts of a siginfo_t a trace records.
typedef struct spr_siginfo {
    int signo;
    int code;
    int errno_value;
    pid_t sender_pid;
    uid_t sender_uid;
    uint64_t fault_address;
    /// 1 when sender_pid/sender_uid are meaningful (sent by a process), 2 for a fault address.
    int kind;
} spr_siginfo_t;

/// PTRACE_GETSIGINFO, decoded. Returns 0 or an errno value (EINVAL: not a signal stop).
int spr_ptrace_siginfo(pid_t tid, spr_siginfo_t *info);

/// PTRACE_GETREGSET NT_PRSTATUS, decoded by spr_arch (spr_regs_t is in spr_arch.h). Returns 0 or
/// an errno value.
int spr_ptrace_regs(pid_t tid, spr_regs_t *regs);
/// Sets the instruction pointer (NT_PRSTATUS read, changed, written). Returns 0 or an errno value.
int spr_ptrace_set_ip(pid_t tid, uint64_t ip);
/// PTRACE_SINGLESTEP. Returns 0 or an errno value.
int spr_ptrace_single_step(pid_t tid);

/// Reads one word of the tracee's memory. Returns 0 or an errno value.
int spr_ptrace_peek(pid_t tid, uint64_t address, uint64_t *word);
/// Writes one word of the tracee's memory. Returns 0 or an errno value.
int spr_ptrace_poke(pid_t tid, uint64_t address, uint64_t word);

/// Reads `length` bytes of another process's memory (process_vm_readv). Returns the number of
/// bytes read, or -1 with errno set.
long spr_read_memory(pid_t pid, uint64_t address, void *buffer, size_t length);

/// Stop-status decoding (status from waitpid).
int spr_wifstopped(int status);
int spr_wstopsig(int status);
/// The PTRACE_EVENT_* carried by a stop status, or 0.
int spr_wptrace_event(int status);

/// PTRACE_EVENT_* values.
int spr_event_fork(void);
int spr_event_vfork(void);
int spr_event_clone(void);
int spr_event_exec(void);
int spr_event_exit(void);
int spr_event_stop(void);

#pragma clang assume_nonnull end

#endif
