#ifndef SPR_UNWIND_H
#define SPR_UNWIND_H

// Provided in C because every unw_* name is a macro for an architecture-mangled symbol
// (unw_step -> _Ux86_64_step), and because libunwind is loaded with dlopen: Debian ships its
// static archives without -fPIC (they cannot link into a PIE), and a process that links
// libunwind.so would have libgcc_s's _Unwind_* interposed by libunwind's. Loaded after start-up,
// libunwind cannot interpose, and probe-exec still runs where libunwind is not installed.

#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// Loads libunwind and libunwind-ptrace once. Returns 1 when remote unwinding is available; else
/// 0 and a reason in `why`.
int spr_unwind_load(char *why, size_t why_size);

/// One frame of a remote backtrace.
typedef struct spr_frame {
    uint64_t ip;
    uint64_t sp;
    /// 1 when the frame was entered by a signal (its ip is exact, not a return address).
    int signal_frame;
    /// 1 when the caller of this frame was found by ``spr_caller_finder_t`` (its code has no
    /// unwind information: musl's C library is built without), not by its unwind table.
    int caller_found_by_call;
} spr_frame_t;

/// Finds the caller of a frame whose code has no unwind information (its module has no unwind
/// entry for `ip`; `ip` is inside the frame's function: a return address less one). `fp` is the
/// frame's frame-pointer register (rbp, x29). Sets the caller's ip (a return address), stack
/// pointer and frame-pointer register and returns 1, or returns 0 when no caller is proven.
/// Called on the unwinding thread.
typedef int (*spr_caller_finder_t)(void *_Nullable context, uint64_t ip, uint64_t sp, uint64_t fp, uint64_t *caller_ip,
                                   uint64_t *caller_sp, uint64_t *caller_fp);

/// Whether the instruction before `ip` in process `pid` is a call (any form): what a return
/// address follows.
int spr_is_return_address(pid_t pid, uint64_t ip);

/// Where the unwind table of one executable mapping is: its address range and the run-time
/// address of its ELF `.eh_frame_hdr`.
typedef struct spr_unwind_table {
    uint64_t start;
    uint64_t end;
    uint64_t eh_frame_hdr;
    /// For a file without `.eh_frame_hdr` (gcc links static executables without one): the
    /// search table built here from its `.eh_frame` — `local_count` pairs of (function start,
    /// FDE) offsets from `local_base`, the run-time address of `.eh_frame`, sorted by start. Kept
    /// alive by the caller while it unwinds. NULL otherwise (and `eh_frame_hdr` is used). Both 0
    /// and NULL: the mapping's code has no unwind information at all.
    const int32_t *_Nullable local_table;
    uint32_t local_count;
    uint64_t local_base;
} spr_unwind_table_t;

/// Gives the unwinder the tables of the process about to be unwound (copied; at most 512).
/// libunwind-ptrace 1.6 finds the wrong table for binaries whose executable segment's address
/// differs from its file offset (the layout LLD produces, e.g. every Rust binary since LLD became
/// rustc's default linker): the caller computes the load bias from the program headers instead.
void spr_unwind_set_tables(const spr_unwind_table_t *_Nullable tables, int count);

/// Unwinds the stopped thread `tid` of a traced process into `frames`. Returns the number of
/// frames (0 when nothing could be unwound), and sets *error to a libunwind error (negative) or 0.
/// Where a frame's code has no unwind information, `finder` (when given) is asked for its caller
/// instead of libunwind's guess (a frame-pointer chain, which skips frames of code built without
/// frame pointers, or yields garbage); the backtrace ends there when none is proven. Once a caller
/// was found so, each later frame must return after a call, higher on the stack, or it ends.
int spr_unwind_thread(pid_t tid, spr_frame_t *frames, int capacity, int *error,
                      spr_caller_finder_t _Nullable finder, void *_Nullable context);

/// Demangles a Swift symbol with the Swift runtime's own demangler. Returns a malloc'd string
/// (free it) or NULL.
char *_Nullable spr_swift_demangle(const char *symbol);

/// Demangles an Itanium C++ (or Rust legacy) symbol with __cxa_demangle. Returns a malloc'd
/// string (free it) or NULL.
char *_Nullable spr_cxx_demangle(const char *symbol);

#pragma clang assume_nonnull end

#endif
