#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_spawn.h"
#include "spr_supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/prctl.h>
#include <unistd.h>

/// A system call made without the C library: it returns -errno on failure and writes no errno.
/// The child below shares our memory (CLONE_VM) and, traced, runs beside our threads: it must not
/// write anything of ours, and errno lives in the calling thread's TLS.
static inline long spr_raw(long number, long a, long b, long c, long d) {
#if defined(__x86_64__)
    long result;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return result;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory", "cc");
    return x0;
#else
#error "spr_raw: add this architecture's system call convention"
#endif
}

/// `_exit` without the C library (this process only: the child is not one of our threads).
static void spr_raw_exit(int status) {
    for (;;) {
        (void)spr_raw(SYS_exit_group, status, 0, 0, 0);
    }
}

/// dup2 as the kernel has it on every architecture (aarch64 has only dup3, which refuses a == b).
static long spr_raw_dup2(int from, int to) {
    return from == to ? spr_raw(SYS_fcntl, from, F_GETFD, 0, 0) : spr_raw(SYS_dup3, from, to, 0, 0);
}

enum { SPR_STEP_NONE = 0, SPR_STEP_EXEC = 1, SPR_STEP_DUP2 = 2, SPR_STEP_SETPGID = 3 };

typedef struct {
    int err;
    int step;
    int index;
} spr_exec_report_t;

/// Where the child reports when there is no status pipe (descriptors are short): it shares our
/// memory then (CLONE_VM), and we read this once it has exec'd or exited.
static spr_exec_report_t spr_shared_report;

static void spr_report_and_exit(int fd, int err, int step, int index) {
    spr_exec_report_t report = {err, step, index};
    if (fd >= 0) {
        (void)spr_raw(SYS_write, fd, (long)&report, sizeof(report), 0);
    } else {
        spr_shared_report = report;  // untraced only: we are suspended until this child is done
    }
    spr_raw_exit((err == ENOENT || err == ENOTDIR) ? 127 : 126);
}

/// Errors after which execvp-style searching goes on to the next PATH entry.
static int spr_keeps_searching(int err) {
    // ENAMETOOLONG: a PATH entry too long to join, which shells and execvp skip too.
    return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT ||
           err == ENAMETOOLONG;
}

/// Writes `pid` in decimal, NUL-terminated, into `slot` (async-signal-safe: no allocation).
static void spr_format_pid(char *slot, int size, pid_t pid) {
    char digits[16];
    int n = 0;
    unsigned int value = (unsigned int)pid;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && n < (int)sizeof(digits));
    if (n + 1 > size) {
        return;
    }
    for (int i = 0; i < n; i++) {
        slot[i] = digits[n - 1 - i];
    }
    slot[n] = '\0';
}

/// The child, from its start to execve: raw system calls only (``spr_raw``), its own stack, and
/// nothing of ours written but the pid slot the parent gave it.
static void spr_child(const spr_spawn_config_t *config, int report_fd) {
    // Still with the parent's dispositions here: SIGTTOU is ignored, so tcsetpgrp cannot stop us.
    long result = spr_raw(SYS_setpgid, 0, 0, 0, 0);
    if (result < 0) {
        spr_report_and_exit(report_fd, (int)-result, SPR_STEP_SETPGID, -1);
    }
    if (config->take_terminal) {
        int group = (int)spr_raw(SYS_getpgid, 0, 0, 0, 0);
        (void)spr_raw(SYS_ioctl, STDIN_FILENO, TIOCSPGRP, (long)&group, 0);
    }
    // What probe-exec changed goes back to what it inherited: SIG_IGN where it was started with
    // a signal ignored (nohup, `trap '' HUP`: execve keeps that, as a bare start would), else
    // SIG_DFL (handlers are reset by execve anyway). The raw system call, because glibc's
    // sigaction refuses the two signals it reserves for itself (32 and 33).
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } disposition = {SIG_DFL, 0, NULL, 0};
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            disposition.handler = spr_signal_inherited_ignored(sig) ? SIG_IGN : SIG_DFL;
            (void)spr_raw(SYS_rt_sigaction, sig, (long)&disposition, 0, sizeof(disposition.mask));
        }
    }
    if (config->stdout_fd >= 0 && (result = spr_raw_dup2(config->stdout_fd, STDOUT_FILENO)) < 0) {
        spr_report_and_exit(report_fd, (int)-result, SPR_STEP_DUP2, -1);
    }
    if (config->stderr_fd >= 0 && (result = spr_raw_dup2(config->stderr_fd, STDERR_FILENO)) < 0) {
        spr_report_and_exit(report_fd, (int)-result, SPR_STEP_DUP2, -1);
    }
    // Every descriptor probe-exec made is O_CLOEXEC; inherited ones pass through untouched.
    // The mask probe-exec inherited (whatever its own threads block; tini restores it too) is
    // set right before each execve, not before the PATH search: until then every signal stays
    // pending (the parent blocked them all before the fork), so a stop signal cannot stop this
    // child before it is the program, with probe-exec waiting on it; pending ones are delivered
    // to the program as execve completes, as they would be to a program started bare.
    sigset_t inherited;
    spr_inherited_mask(&inherited);
    sigset_t all;
    sigfillset(&all);
    pid_t self = (pid_t)spr_raw(SYS_getpid, 0, 0, 0, 0);
    if (config->pid_slot != NULL) {
        spr_format_pid(config->pid_slot, config->pid_slot_size, self);
    }
    if (config->parent_death_signal > 0) {
        (void)spr_raw(SYS_prctl, PR_SET_PDEATHSIG, config->parent_death_signal, 0, 0);
        // probe-exec may have died before that took effect: then the signal is due now.
        if (spr_raw(SYS_getppid, 0, 0, 0, 0) != config->parent_pid) {
            (void)spr_raw(SYS_kill, self, config->parent_death_signal, 0, 0);
        }
    }

    int decisive_err = ENOENT;
    int decisive_index = -1;
    int saw_eacces = 0;
    for (int i = 0; config->candidates[i] != NULL; i++) {
        // The kernel's mask is the first 64 bits of a sigset_t (what glibc passes too).
        (void)spr_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&inherited, 0, sizeof(uint64_t));
        int err = (int)-spr_raw(SYS_execve, (long)config->candidates[i], (long)config->argv, (long)config->envp, 0);
        (void)spr_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof(uint64_t));
        if (err == EACCES) {
            // As execvp: remember, keep looking, and report EACCES if nothing else runs.
            if (!saw_eacces) {
                saw_eacces = 1;
                decisive_index = i;
            }
            continue;
        }
        if (spr_keeps_searching(err)) {
            if (!saw_eacces && decisive_index < 0) {
                decisive_index = i;
            }
            if (i == 0 && config->candidates[1] == NULL) {
                decisive_err = err;  // no search (a path): its own error, as execve gave it
            }
            continue;
        }
        decisive_err = err;
        decisive_index = i;
        saw_eacces = 0;
        break;
    }
    if (saw_eacces) {
        decisive_err = EACCES;
    }
    spr_report_and_exit(report_fd, decisive_err, SPR_STEP_EXEC, decisive_index);
}

/// Size of the child's private stack while it shares our memory (CLONE_VM) before execve.
#define SPR_CHILD_STACK (64 * 1024)

typedef struct {
    const spr_spawn_config_t *config;
    int report_fd;
    int go_fd;        // traced: where the parent says go
    int go_write_fd;  // traced: the parent's end, closed in the child
} spr_child_args_t;

/// A private stack for a child that shares our memory (CLONE_VM), or NULL with errno set.
static void *_Nullable spr_child_stack_map(void) {
    void *stack = mmap(NULL, SPR_CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return stack == MAP_FAILED ? NULL : stack;
}

/// Blocks until the parent says go (one byte, or end of file).
static void spr_wait_for_go(int fd) {
    char go;
    while (spr_raw(SYS_read, fd, (long)&go, 1, 0) == -EINTR) {
    }
    (void)spr_raw(SYS_close, fd, 0, 0, 0);
}

static int spr_child_entry(void *arg) {
    spr_child_args_t *args = arg;
    spr_child(args->config, args->report_fd);
    spr_raw_exit(127);
    return 127;
}

/// The traced child: waits for its seizure (the parent says go), then goes on as any child.
static int spr_traced_child_entry(void *arg) {
    spr_child_args_t *args = arg;
    (void)spr_raw(SYS_close, args->go_write_fd, 0, 0, 0);  // the parent's end alone: its death reads as go
    spr_wait_for_go(args->go_fd);
    spr_child(args->config, args->report_fd);
    spr_raw_exit(127);
    return 127;
}

/// Reads the child's exec report (nothing at all means execve succeeded) and closes the pipe.
/// Returns 1 when the pipe ended with no report (execve succeeded: the child's memory is its new
/// image's, and nothing of ours is in use by it), else 0.
static int spr_read_report(int fd, pid_t pid, spr_spawn_result_t *result) {
    spr_exec_report_t report = {0, SPR_STEP_NONE, -1};
    size_t have = 0;
    int ended = 0;
    while (have < sizeof(report)) {
        ssize_t n = read(fd, (char *)&report + have, sizeof(report) - have);
        if (n > 0) {
            have += (size_t)n;
        } else if (n == 0) {
            ended = have == 0;
            break;
        } else if (errno != EINTR) {
            break;
        }
    }
    close(fd);
    result->pid = pid;
    if (have == sizeof(report)) {
        result->exec_errno = report.err;
        result->failed_step = report.step;
        result->candidate_index = report.index;
    } else {
        result->exec_errno = 0;
        result->failed_step = SPR_STEP_NONE;
        result->candidate_index = -1;
    }
    return ended;
}

/// Reads /proc/`pid`/`file` into `text` (NUL-terminated, at most size - 1 bytes). Returns the byte
/// count, or -errno (-ENOENT: the process is gone, reaped).
static ssize_t spr_read_proc(pid_t pid, const char *file, char *text, size_t size) {
    char path[64];
    int n = snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    if (n <= 0 || n >= (int)sizeof(path)) {
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t got = read(fd, text, size - 1);
    int err = errno;
    close(fd);
    if (got < 0) {
        return -err;
    }
    text[got] = 0;
    return got;
}

/// Whether `pid` is dying or dead (/proc/PID/stat: state Z or X, or PF_EXITING in its flags): a
/// seize of it fails with EPERM, which is then no refusal of ptrace.
static int spr_is_exiting(pid_t pid) {
    char text[1024];
    ssize_t got = spr_read_proc(pid, "stat", text, sizeof(text));
    if (got <= 0) {
        return got == -ENOENT;  // reaped already: gone
    }
    // "pid (comm) S ppid pgrp session tty_nr tpgid flags ...": after the last ')'.
    char *p = strrchr(text, ')');
    if (p == NULL || p[1] != ' ') {
        return 0;
    }
    char state = p[2];
    if (state == 'Z' || state == 'X' || state == 'x') {
        return 1;
    }
    p += 3;
    for (int field = 0; field < 5 && p != NULL; field++) {  // ppid pgrp session tty_nr tpgid
        p = strchr(p + 1, ' ');
    }
    if (p == NULL) {
        return 0;
    }
    unsigned long flags = strtoul(p + 1, NULL, 10);
    return (flags & 0x4) != 0;  // PF_EXITING
}

/// Traced: the child borrows our memory on its own stack (CLONE_VM: no page tables copied, none
/// torn down at its execve, no copy-on-write faults for us afterwards), but we are not suspended
/// (no CLONE_VFORK): we must seize it before it execs. It waits on a pipe for that; it makes only
/// raw system calls, so it writes nothing of ours (not even errno) while we run beside it. Its
/// stack is handed back in *stack, to be unmapped once it has exec'd or exited (its report pipe
/// ended). `args` is read by the child until it execs: the caller's, living until then (spr_spawn
/// returns once the exec is confirmed). Returns the pid, or -1 with *fork_err set. A failed seize
/// is recorded and the child runs untraced (fail open).
static pid_t spr_start_traced(const spr_spawn_config_t *config, int report_fd, spr_spawn_result_t *result,
                              int *fork_err, void *_Nullable *_Nonnull stack, spr_child_args_t *args) {
    int go_pipe[2];
    if (pipe2(go_pipe, O_CLOEXEC) != 0) {
        *fork_err = errno;
        return -1;
    }
    *stack = spr_child_stack_map();
    if (*stack == NULL) {
        *fork_err = errno;
        close(go_pipe[0]);
        close(go_pipe[1]);
        return -1;
    }
    *args = (spr_child_args_t){config, report_fd, go_pipe[0], go_pipe[1]};
    pid_t pid = clone(spr_traced_child_entry, (char *)*stack + SPR_CHILD_STACK, CLONE_VM | SIGCHLD, args);
    *fork_err = errno;
    close(go_pipe[0]);
    if (pid < 0) {
        close(go_pipe[1]);
        munmap(*stack, SPR_CHILD_STACK);
        *stack = NULL;
        return -1;
    }
    if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)config->trace_options) != 0) {
        // Killed before it could be seized (it waits for `go` before anything else: it never
        // exec'd) is not ptrace refused: its end is taken as a traced child's that died before
        // its execve (spr_await_traced_report).
        if (!((errno == EPERM || errno == ESRCH) && spr_is_exiting(pid))) {
            result->trace_errno = errno;
        } else {
            close(go_pipe[1]);  // no `go` for the dead: writing it could raise SIGPIPE here
            return pid;
        }
    }
    char go = 1;
    ssize_t ignored = write(go_pipe[1], &go, 1);
    (void)ignored;
    close(go_pipe[1]);
    return pid;
}

/// Untraced, like glibc's posix_spawn: the child borrows our memory on its own stack and we are
/// suspended until it has exec'd or exited (CLONE_VFORK), so no page tables are copied and the
/// outcome is known on return. The child only makes system calls (no allocation, no locks),
/// and it resets every handler before unblocking signals, so none of ours can run in our memory
/// on its stack. Returns the pid, or -1 with *fork_err set.
static pid_t spr_start_untraced(const spr_spawn_config_t *config, int report_fd, int *fork_err) {
    void *stack = spr_child_stack_map();
    if (stack == NULL) {
        *fork_err = errno;
        return -1;
    }
    spr_child_args_t args = {config, report_fd, -1, -1};
    pid_t pid = clone(spr_child_entry, (char *)stack + SPR_CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    *fork_err = errno;
    munmap(stack, SPR_CHILD_STACK);
    return pid;
}

/// Whether ended (not yet reaped) `pid` still bears our name, as it did before any exec (execve
/// names it after the file it runs): 1 yes, 0 it was renamed (it exec'd), -1 not known (its
/// name cannot be read, or a file it might have run bears our name too).
static int spr_never_renamed(pid_t pid, const spr_spawn_config_t *config) {
    char ours[16] = {0};
    if (prctl(PR_GET_NAME, ours, 0, 0, 0) != 0) {
        return -1;
    }
    char name[32];
    ssize_t got = spr_read_proc(pid, "comm", name, sizeof(name));
    if (got <= 0) {
        return -1;
    }
    if (name[got - 1] == '\n') {
        name[got - 1] = 0;
    }
    if (strcmp(name, ours) != 0) {
        return 0;
    }
    // The same name either way when a candidate's file name begins as ours (15 bytes are kept).
    for (int i = 0; config->candidates[i] != NULL; i++) {
        const char *slash = strrchr(config->candidates[i], '/');
        const char *base = slash != NULL ? slash + 1 : config->candidates[i];
        if (strncmp(base, ours, 15) == 0) {
            return -1;
        }
    }
    return 1;
}

/// The traced child between its seizure and execve: a signal that arrives there (Ctrl-C, a
/// resize, a kill of its group) stops it in a signal-delivery-stop only its tracer can end, so
/// the parent never waits on the status pipe alone. It polls the pipe and, between polls, takes
/// the child's stops: a signal is delivered as it would be without tracing, a group-stop is
/// listened to (it stays stopped until SIGCONT, as bare), a death on the way is let through. The
/// exec stop, or the child's end, is handed to the caller in `pending_status`: once the pipe says
/// execve succeeded, the exec stop is waited for here (it follows within microseconds), so that
/// the caller handles it first and sets up the rest while the program runs.
static int spr_await_traced_report(int fd, pid_t pid, const spr_spawn_config_t *config, spr_spawn_result_t *result) {
    result->pending_status = 0;
    result->has_pending_status = 0;
    int reported = 0;  // the pipe has spoken: its report is read below
    int ended_before_exec = 0;  // its end came, with no exec stop, and still under our name
    for (;;) {
        if (!reported) {
            struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
            int ready = poll(&p, 1, result->has_pending_status ? -1 : 10);
            if (ready > 0 || (ready < 0 && errno != EINTR)) {
                reported = 1;
                // Bytes in the pipe (POLLIN): execve failed, and no exec stop comes. Its end alone
                // (POLLHUP, the last copy of the write end closed by execve) means it succeeded.
                if (ready < 0 || (p.revents & POLLIN) != 0) {
                    break;
                }
            }
        }
        if (result->has_pending_status) {
            if (reported) {
                break;
            }
            continue;
        }
        // Its end is looked at before it is reaped: whether it still bears our name says whether it
        // exec'd (a SIGKILL just after the exec's point of no return ends it with no exec stop).
        siginfo_t peek;
        memset(&peek, 0, sizeof(peek));
        int never_renamed = -1;
        if (waitid(P_PID, (id_t)pid, &peek, WEXITED | WNOWAIT | __WALL | (reported ? 0 : WNOHANG)) == 0 &&
            peek.si_pid == pid && (peek.si_code == CLD_EXITED || peek.si_code == CLD_KILLED || peek.si_code == CLD_DUMPED)) {
            never_renamed = spr_never_renamed(pid, config);
        }
        int status = 0;
        pid_t got = waitpid(pid, &status, (reported ? 0 : WNOHANG) | __WALL);
        if (got != pid) {
            if (got < 0 && errno != EINTR) {
                break;  // not ours to wait for after all: the caller's loop will see
            }
            continue;
        }
        if (!WIFSTOPPED(status)) {
            result->pending_status = status;  // gone: the caller reaps nothing more
            result->has_pending_status = 1;
            // Gone without an exec stop, under our name: killed before execve (SIGKILL in the PATH
            // search is not reported to a tracer), or it exited after a failed one (the pipe then
            // says so). Renamed, it exec'd and was killed before its exec stop; not known, no claim.
            ended_before_exec = never_renamed == 1;
            continue;
        }
        int event = (status >> 16) & 0xff;
        int signal = WSTOPSIG(status);
        if (event == PTRACE_EVENT_EXEC) {
            result->pending_status = status;  // the exec stop: the tracer's to handle
            result->has_pending_status = 1;
        } else if (event == PTRACE_EVENT_STOP) {
            if (signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU) {
                (void)ptrace(PTRACE_LISTEN, pid, NULL, NULL);
                // Stopped before it became the program (a SIGSTOP in that window): stop with it,
                // as its parent would see it bare; once continued, continue it.
                if (getpid() != 1 && !spr_continue_is_pending()) {
                    pid_t watcher = 0;
                    (void)spr_stop_with_program(signal, pid, &watcher);
                    (void)kill(pid, SIGCONT);
                }
            } else {
                (void)ptrace(PTRACE_CONT, pid, NULL, NULL);
            }
        } else if (event != 0) {
            if (event == PTRACE_EVENT_EXIT) {
                result->died_before_exec = 1;
            }
            (void)ptrace(PTRACE_CONT, pid, NULL, NULL);
        } else {
            if (signal != SIGTRAP) {
                result->signal_before_exec = signal;
            }
            (void)ptrace(PTRACE_CONT, pid, NULL, (void *)(long)signal);
        }
    }
    int ended = spr_read_report(fd, pid, result);
    if (ended_before_exec && result->exec_errno == 0) {
        // The pipe's end alone did not mean an exec here: the child's death closed it.
        result->died_before_exec = 1;
        if (WIFSIGNALED(result->pending_status) && result->signal_before_exec == 0) {
            result->signal_before_exec = WTERMSIG(result->pending_status);
        }
    }
    return ended;
}

int spr_spawn(const spr_spawn_config_t *config, spr_spawn_result_t *result) {
    result->has_pending_status = 0;
    result->pending_status = 0;
    result->died_before_exec = 0;
    result->signal_before_exec = 0;
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) {
        if (errno != EMFILE && errno != ENFILE) {
            return errno;
        }
        // No descriptor for the status pipe: the untraced way, whose child shares our memory
        // and reports there. The program runs as it would bare; tracing is off (trace_errno).
        spr_spawn_config_t untraced = *config;
        untraced.trace_options = 0;
        spr_shared_report = (spr_exec_report_t){0, SPR_STEP_NONE, -1};
        sigset_t all;
        sigset_t previous;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &previous);
        int fork_err = 0;
        pid_t pid = spr_start_untraced(&untraced, -1, &fork_err);
        pthread_sigmask(SIG_SETMASK, &previous, NULL);
        if (pid < 0) {
            return fork_err;
        }
        (void)setpgid(pid, pid);
        result->pid = pid;
        result->trace_errno = config->trace_options != 0 ? EMFILE : 0;
        result->exec_errno = spr_shared_report.err;
        result->failed_step = spr_shared_report.step;
        result->candidate_index = spr_shared_report.index;
        return 0;
    }
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    result->trace_errno = 0;
    int fork_err = 0;
    void *traced_stack = NULL;
    spr_child_args_t traced_args;  // the traced child reads it until its exec, confirmed below
    pid_t pid = config->trace_options != 0
                    ? spr_start_traced(config, status_pipe[1], result, &fork_err, &traced_stack, &traced_args)
                    : spr_start_untraced(config, status_pipe[1], &fork_err);
    if (pid < 0 && config->trace_options != 0 && (fork_err == EMFILE || fork_err == ENFILE)) {
        // No descriptor for the go pipe tracing needs: run it untraced rather than not at all.
        spr_spawn_config_t untraced = *config;
        untraced.trace_options = 0;
        result->trace_errno = fork_err;
        pid = spr_start_untraced(&untraced, status_pipe[1], &fork_err);
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(status_pipe[1]);
    if (pid < 0) {
        close(status_pipe[0]);
        return fork_err;
    }
    // Both sides call setpgid so neither order of scheduling leaves a window. EACCES means the
    // child already exec'd (and did it itself); ESRCH that it already exited.
    (void)setpgid(pid, pid);
    // Untraced, nothing tells a death in the PATH search from one just after the exec: the vfork
    // parent resumes at either, and by the time it looks, the program may have run, exec'd a
    // file named like us or renamed itself (helper-25: a false "never ran" in 5 of 30). Only the
    // traced child, which cannot run a single instruction of the program before its exec stop,
    // is judged by its name.
    int ended = config->trace_options != 0 && result->trace_errno == 0
                    ? spr_await_traced_report(status_pipe[0], pid, config, result)
                    : spr_read_report(status_pipe[0], pid, result);
    if (traced_stack != NULL && ended) {
        // It exec'd: no longer its stack. (After a failed execve the child may still be on it,
        // held at its exit stop: those 64 KiB stay, once, in a run that is over.)
        munmap(traced_stack, SPR_CHILD_STACK);
    }
    return 0;
}
