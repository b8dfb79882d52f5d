#ifndef SPR_SPAWN_H
#define SPR_SPAWN_H

// Provided in C because everything between fork and execve must be async-signal-safe:
// no allocation, no locks, no Swift runtime.

#include <sys/types.h>

#pragma clang assume_nonnull begin

/// What the child does before execve, prepared entirely by the parent.
typedef struct spr_spawn_config {
    /// Full paths to try in order (already resolved through PATH); NULL-terminated.
    const char *_Nullable const *_Nonnull candidates;
    /// argv for the program; NULL-terminated.
    const char *_Nullable const *_Nonnull argv;
    /// envp for the program; NULL-terminated.
    const char *_Nullable const *_Nonnull envp;
    /// Descriptor to install as the child's fd 1, or -1 to leave fd 1 as inherited.
    int stdout_fd;
    /// Descriptor to install as the child's fd 2, or -1 to leave fd 2 as inherited.
    int stderr_fd;
    /// Make the child's process group the terminal's foreground group when stdin is our
    /// controlling terminal and we are in the foreground (as tini's isolate_child does).
    int take_terminal;
    /// PTRACE_O_* options to PTRACE_SEIZE the child with before it execs, or 0 for no tracing.
    int trace_options;
    /// Signal the child gets when probe-exec dies (PR_SET_PDEATHSIG, `-p`), or 0 for none: with
    /// it, SIGKILL of probe-exec takes the program down too; without it the program lives on.
    int parent_death_signal;
    /// probe-exec's pid, to notice that it died before the child's PR_SET_PDEATHSIG took effect.
    int parent_pid;
    /// Where the child writes its own pid (decimal, NUL-terminated) before execve, or NULL: the
    /// value of an environment entry prepared by the parent (`PROBE_EXEC_PID=` + room), so the
    /// hand-over variables name the process they are meant for (systemd's LISTEN_PID rule).
    char *_Nullable pid_slot;
    /// Bytes available at pid_slot.
    int pid_slot_size;
} spr_spawn_config_t;

/// How the exec attempt ended, read from the CLOEXEC status pipe.
typedef struct spr_spawn_result {
    /// The child's pid (valid when spr_spawn returned 0, even if exec failed).
    pid_t pid;
    /// 0 when execve succeeded, else the errno of the failure that decides the outcome.
    int exec_errno;
    /// Which step failed: 0 none, 1 execve, 2 dup2, 3 setpgid.
    int failed_step;
    /// Index into candidates of the path whose error is reported (-1 when none).
    int candidate_index;
    /// 0 when the child is traced (or tracing was not asked for), else the errno of PTRACE_SEIZE:
    /// the child then runs untraced.
    int trace_errno;
    /// 1 when a traced child's first stop after the status pipe was taken here (its exec stop,
    /// or its end): `pending_status` holds it, for the caller to handle before waiting again.
    int has_pending_status;
    /// The waitpid status taken (see has_pending_status).
    int pending_status;
    /// 1 when the traced child died before execve (a signal delivered in that window, or a
    /// SIGKILL, which no stop reports): no program ran. Only where its name proves it (execve
    /// renames it after its file). Untraced, this stays 0: a death there cannot be told from
    /// one just after the exec.
    int died_before_exec;
    /// A signal delivered to the traced child before execve (the one that killed it, when it
    /// died), or 0.
    int signal_before_exec;
} spr_spawn_result_t;

/// Forks and execs the first runnable candidate with the signal mask and ignored dispositions
/// probe-exec inherited (everything else default) and its own process group; waits until the exec succeeded or failed. With trace_options, the
/// child waits until it has been seized (its first stop is then PTRACE_EVENT_EXEC, or
/// PTRACE_EVENT_EXIT when exec failed); the caller must be the thread that will trace it.
/// On exec failure the child exits 127 (not found) or 126 (cannot execute).
/// Returns 0 (see `result`) or an errno value when fork or the status pipe failed.
int spr_spawn(const spr_spawn_config_t *config, spr_spawn_result_t *result);

#pragma clang assume_nonnull end

#endif
