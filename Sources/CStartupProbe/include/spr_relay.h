#ifndef SPR_RELAY_H
#define SPR_RELAY_H

// Provided in C for what Swift's Glibc overlay lacks (inotify) and for the signal mask a thread
// must be born with (set around pthread_create, so no signal can reach it before).

#include <stddef.h>

#pragma clang assume_nonnull begin

/// Starts a detached thread named `name` (at most 15 bytes) running `body(argument)`, with every signal blocked but
/// SIGPROF: process-directed signals never land on it (they go where the program expects them),
/// while the Swift runtime's crash backtracer can still suspend it (it picks SIGUSR1, SIGUSR2 or
/// SIGPROF, the first one the thread does not block). Returns 0 or an errno value.
int spr_relay_thread_start(const char *name, void *_Nullable (*_Nonnull body)(void *_Nullable), void *_Nullable argument);

/// An inotify descriptor watching `path` for appended data (IN_MODIFY), close-on-exec, blocking.
/// Returns the descriptor or -1 with errno set.
int spr_watch_file(const char *path);

/// Blocks until the watched file changes. Returns 0, or an errno value (the watch is gone).
int spr_wait_for_change(int watch_fd);

#pragma clang assume_nonnull end

#endif
