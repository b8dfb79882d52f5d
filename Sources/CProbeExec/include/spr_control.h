#ifndef SPR_CONTROL_H
#define SPR_CONTROL_H

// probe-exec's control channel: an abstract unix socket named after its pid (`probe-exec-PID`),
// so `probe-exec detach PID` reaches a running probe-exec without a signal (it forwards every
// signal) and without the trace directory (it may be read-only). Provided in C for sockaddr_un
// and SO_PEERCRED.

#include <sys/types.h>

#pragma clang assume_nonnull begin

/// Listens on `\0probe-exec-<pid>` (SOCK_SEQPACKET, non-blocking, close-on-exec). Returns the fd
/// or -1 with errno set.
int spr_control_listen(pid_t pid);

/// Accepts one connection (non-blocking): the connection's fd with the peer's uid and pid, or -1.
int spr_control_accept(int listener, uid_t *peer_uid, pid_t *peer_pid);

/// Connects to the control socket of probe-exec `pid`. Returns the fd or -1 with errno set.
int spr_control_connect(pid_t pid);

#pragma clang assume_nonnull end

#endif
