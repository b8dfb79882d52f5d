#ifndef SPR_ARCH_H
#define SPR_ARCH_H

// Everything that differs between x86_64 and aarch64, behind one interface that
// spr_arch_x86_64.c and spr_arch_aarch64.c implement (each compiled only on its own
// architecture). Its users: the crash handler (libunwind's local unwinder, the interrupted pc)
// and probe-exec's tracer (registers, breakpoints, exit_group, libunwind's remote unwinder).
// Nothing here calls ptrace: the NT_PRSTATUS read and write stay in spr_ptrace.c, which only
// hands the register set to these functions to decode.

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "StartupProbe supports x86_64 and aarch64"
#endif

#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

/// The registers a tracer needs, named for what they are on every architecture.
typedef struct spr_regs {
    uint64_t ip;
    uint64_t sp;
    /// The first argument of a call: rdi on x86_64, x0 on aarch64.
    uint64_t first_argument;
    /// The system call of a syscall or exit stop: orig_rax on x86_64, x8 on aarch64.
    int64_t syscall_number;
    /// A call's or system call's result: rax on x86_64, x0 on aarch64 (there the same register
    /// as first_argument).
    uint64_t return_value;
} spr_regs_t;

/// Room for either architecture's NT_PRSTATUS register set (struct user_regs_struct: 216 bytes
/// on x86_64, 272 on aarch64).
#define SPR_PRSTATUS_WORDS 64
typedef struct spr_prstatus {
    uint64_t words[SPR_PRSTATUS_WORDS];
} spr_prstatus_t;

/// The size in bytes of this architecture's NT_PRSTATUS register set (the iov_len to ask for).
size_t spr_arch_prstatus_size(void);

/// Decodes an NT_PRSTATUS register set of `length` bytes (as PTRACE_GETREGSET returned it) into
/// `regs`. Returns 0, or EIO when `length` is not this architecture's full set (a 32-bit tracee).
int spr_arch_regs_from_prstatus(const spr_prstatus_t *prstatus, size_t length, spr_regs_t *regs);

/// Sets the instruction pointer (rip, pc) in an NT_PRSTATUS register set. Returns nothing.
void spr_arch_prstatus_set_ip(spr_prstatus_t *prstatus, uint64_t ip);

/// The breakpoint instruction, as the low bytes of a little-endian word (int3: 0xCC; brk #0:
/// 0xd4200000). Returns it, and stores its length in bytes in *length.
uint64_t spr_breakpoint_instruction(int *length);

/// How many bytes past the breakpoint's address the ip is when its SIGTRAP is reported. Returns 1
/// on x86_64 (int3 has executed) and 0 on aarch64 (brk leaves the pc on itself).
int spr_breakpoint_pc_advance(void);

/// Returns the number of exit_group(2), which exit(3) and returning from main end in: 231 on
/// x86_64, 94 on aarch64.
int64_t spr_arch_exit_group_syscall(void);

/// The run-time names of libunwind's remote (ptrace) unwinder.
typedef struct spr_remote_unwinder {
    /// The soname to dlopen: libunwind-x86_64.so.8, libunwind-aarch64.so.8.
    const char *library;
    /// The prefix of its unw_* functions' real names: _Ux86_64_, _Uaarch64_.
    const char *prefix;
} spr_remote_unwinder_t;

/// Returns this architecture's remote unwinder names (static data, never NULL).
const spr_remote_unwinder_t *spr_arch_remote_unwinder(void);

/// Room for either architecture's unw_cursor_t (127 words on x86_64, 250 on aarch64: 2000 bytes);
/// each architecture's file checks its own against it at compile time where libunwind's headers
/// are installed.
#define SPR_LOCAL_CURSOR_BYTES 2048

/// The run-time names of libunwind's local unwinder, as the crash handler finds them with dlsym.
typedef struct spr_local_unwinder {
    /// The soname to dlopen: libunwind.so.8 (the local unwinder on both architectures).
    const char *library;
    /// unw_init_local2, unw_get_reg, unw_step: _ULx86_64_*, _ULaarch64_*.
    const char *init_local2;
    const char *get_reg;
    const char *step;
    /// UNW_REG_IP: 16 (UNW_X86_64_RIP) on x86_64, 30 (UNW_AARCH64_X30) on aarch64.
    int ip_register;
} spr_local_unwinder_t;

/// Returns this architecture's local unwinder names (static data, never NULL). Async-signal-safe.
const spr_local_unwinder_t *spr_arch_local_unwinder(void);

/// Returns the pc at which a signal interrupted the thread, from the `ucontext_t *` a SA_SIGINFO
/// handler receives (rip, pc): the faulting instruction for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
/// Async-signal-safe (reads memory only).
uint64_t spr_arch_context_ip(const void *ucontext);

#pragma clang assume_nonnull end

#endif
