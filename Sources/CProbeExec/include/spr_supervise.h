#ifndef SPR_SUPERVISE_H
#define SPR_SUPERVISE_H

// What only probe-exec's supervisor needs from the system: its early signal blocking, the
// signalfd, waitpid, prctl, eventfd and pipes. Provided in C because these are variadic (prctl,
// fcntl) or missing from Glibc's Swift overlay (signalfd, eventfd, pipe2).

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// One signal read from a signalfd, with its sender.
typedef struct spr_signal_info {
    int signo;
    int code;
    pid_t sender_pid;
    uid_t sender_uid;
} spr_signal_info_t;

/// Blocks every signal but SIGKILL and SIGSTOP in the calling thread (fault signals included: a
/// real fault of probe-exec's own still kills it, the kernel forces it through), and ignores
/// SIGTTIN and SIGTTOU as tini does. Call first thing in main, before any thread exists (as PID 1
/// a constructor already did), so that signals arriving during start-up stay pending until they
/// can be forwarded. Returns 0 or an errno value.
int spr_block_supervised_signals(void);

/// Undoes spr_block_supervised_signals (for subcommands that supervise nothing, such as `show`,
/// which must die of SIGINT and SIGPIPE as ordinary tools do). Returns 0 or an errno value.
int spr_unblock_supervised_signals(void);

/// 1 when probe-exec's constructor set SWIFT_ROOT=/ (no /proc: the static Swift runtime needs a
/// root); the variable is then probe-exec's own, not the program's, and the program does not get it.
int spr_added_swift_root(void);

/// argc and argv as the kernel passed them (saved by a constructor; 0 with musl, whose constructors
/// get no arguments): CommandLine.arguments is read from /proc/self/cmdline in a static Swift
/// binary and is empty without /proc.
int spr_saved_argc(void);
/// argv[index], or NULL.
const char *_Nullable spr_saved_argv(int index);

/// 1 when probe-exec was started with `signo` ignored (SIG_IGN): the program inherits that, and
/// probe-exec does not forward it. Recorded by a constructor before anything else ran.
int spr_signal_inherited_ignored(int signo);

/// The signal mask probe-exec was started with (what the program starts with).
void spr_inherited_mask(sigset_t *mask);

/// Waits up to `timeout_ms` (-1: forever) for one supervised signal without a descriptor: the
/// fallback when no signalfd can be opened (descriptor limit). Returns 1 (info filled), 0 when
/// none came, or -1.
int spr_sigtimedwait_supervised(spr_signal_info_t *info, int timeout_ms);

/// 1 when `fd1` and `fd2` are the same open file (`> log 2>&1`, `2>&1 | tee`: kcmp, or else the
/// same pipe or socket, or the same file opened for appending by both), else 0.
int spr_same_open_file(int fd1, int fd2);

/// Stops probe-exec itself with `signo` (SIGTSTP, SIGTTIN, SIGTTOU or SIGSTOP), as the program
/// it runs just stopped, so that its parent (a shell) sees the job stop with the same signal;
/// returns once continued. Returns 0 or an errno value.
int spr_stop_self(int signo);

/// spr_stop_self, with a watcher process that continues probe-exec when `program` is continued
/// (or ends) without it (a SIGCONT sent to the program directly), so probe-exec is never left
/// stopped under a running program. The watcher's pid goes to `watcher_pid` (its SIGCONT is not
/// for the program). Returns 0 or an errno value.
int spr_stop_with_program(int signo, pid_t program, pid_t *watcher_pid);

/// 1 when the file at `path` carries file capabilities (a `security.capability` extended attribute).
int spr_has_file_capabilities(const char *path);

/// 1 when a SIGCONT is pending for probe-exec (read from the signalfd soon): the stop the program
/// just reported has already been answered.
int spr_continue_is_pending(void);

/// 1 when process `pid` has a handler installed for `signo` (SigCgt of /proc/PID/status).
int spr_program_catches(pid_t pid, int signo);

/// A close-on-exec signalfd for the set spr_block_supervised_signals blocks. Returns the fd or -1.
int spr_signalfd_open(void);

/// Reads one signal from a signalfd. Returns 1, 0 when none is pending (non-blocking fd), or -1.
int spr_signalfd_read(int fd, spr_signal_info_t *info);

/// waitpid(2) with __WALL added, retrying EINTR. Returns the pid, 0, or -1 with errno set.
pid_t spr_waitpid(pid_t pid, int *status, int options);
/// WNOHANG
int spr_wnohang(void);

/// prctl(PR_SET_CHILD_SUBREAPER, 1). Returns 0 or an errno value.
int spr_set_child_subreaper(void);

/// prctl(PR_GET_CHILD_SUBREAPER): 1 when this process is a child subreaper, else 0.
int spr_is_child_subreaper(void);

/// prctl(PR_SET_PDEATHSIG, signo): this process gets `signo` when its parent dies.
/// Returns 0 or an errno value.
int spr_set_parent_death_signal(int signo);

/// A close-on-exec, non-blocking eventfd (counter 0). Returns the fd or -1.
int spr_eventfd_open(void);

/// A pipe with both ends close-on-exec. Returns 0 or an errno value.
int spr_pipe_cloexec(int fds[_Nonnull 2]);

/// 1 when `fd` is an open descriptor, else 0.
int spr_fd_is_open(int fd);

/// Holds each of fds 0, 1, 2 that we were started without with /dev/null opened close-on-exec,
/// so that no file we open later (the trace, a pipe) lands there, while the child still starts
/// without it. Call first thing in main; later calls return the same answer.
/// Returns a bit mask: bit N set when fd N was closed at the first call.
int spr_reserve_standard_fds(void);

#pragma clang assume_nonnull end

#endif
