#ifndef FIXTURE_SHIMS_H
#define FIXTURE_SHIMS_H

// For the library's differential fixture: what Swift's Glibc overlay lacks.

/// signalfd(2) for one signal (blocked by the caller). Returns the fd or -1.
int fixture_signalfd(int signo);

/// Reads one signal from a signalfd. Returns its number, or -1.
int fixture_signalfd_read(int fd);

#endif
