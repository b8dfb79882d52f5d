#ifndef FIXTURE_SHIMS_H
#define FIXTURE_SHIMS_H

// For the library's differential fixture: what Swift's Glibc overlay lacks.

/// signalfd(2) for one signal (blocked by the caller). Returns the fd or -1.
int fixture_signalfd(int signo);

/// Reads one signal from a signalfd. Returns its number, or -1.
int fixture_signalfd_read(int fd);



/// Installs a SIGSEGV handler that makes a PROT_NONE page writable, then writes to that page:
/// the fault is recovered (the handler returns, the write is retried). Returns the byte written.
int fixture_recovered_fault(void);
#endif
