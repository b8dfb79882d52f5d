// aarch64's side of spr_arch.h: registers, brk #0, exit_group, libunwind's names, the ucontext pc.
#if defined(__aarch64__)

#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_arch.h"

#include <errno.h>
#include <string.h>
#include <sys/user.h>
#include <ucontext.h>

_Static_assert(sizeof(struct user_regs_struct) <= sizeof(spr_prstatus_t), "spr_prstatus_t is too small");

/// libunwind's UNW_REG_IP here. libunwind is dlopen'ed, so a server that links the library builds
/// without its headers; where they are installed (probe-exec's builds, CI, scripts/check-aarch64.sh)
/// this number and the cursor size are checked against them.
#define SPR_UNW_REG_IP 30
#if __has_include(<libunwind.h>)
#include <libunwind.h>
_Static_assert(sizeof(unw_cursor_t) <= SPR_LOCAL_CURSOR_BYTES, "SPR_LOCAL_CURSOR_BYTES is too small");
_Static_assert(UNW_REG_IP == SPR_UNW_REG_IP, "UNW_REG_IP is x30 in libunwind's aarch64 numbering");
#endif

/// Returns sizeof(struct user_regs_struct): x0-x30, sp, pc, pstate (NT_PRSTATUS).
size_t spr_arch_prstatus_size(void) { return sizeof(struct user_regs_struct); }

/// Fills `regs` from an NT_PRSTATUS set. Returns 0, or EIO for a short set.
int spr_arch_regs_from_prstatus(const spr_prstatus_t *prstatus, size_t length, spr_regs_t *regs) {
    struct user_regs_struct r;
    if (length < sizeof(r)) {
        return EIO;
    }
    memcpy(&r, prstatus->words, sizeof(r));
    regs->ip = r.pc;
    regs->sp = r.sp;
    regs->first_argument = r.regs[0];
    regs->syscall_number = (int64_t)r.regs[8];
    regs->return_value = r.regs[0];
    return 0;
}

/// Stores `ip` in pc. Returns nothing.
void spr_arch_prstatus_set_ip(spr_prstatus_t *prstatus, uint64_t ip) {
    struct user_regs_struct r;
    memcpy(&r, prstatus->words, sizeof(r));
    r.pc = ip;
    memcpy(prstatus->words, &r, sizeof(r));
}

/// Returns brk #0 (0xd4200000), four bytes.
uint64_t spr_breakpoint_instruction(int *length) {
    *length = 4;
    return 0xd4200000;
}

/// Returns 0: brk is reported with the pc still on it.
int spr_breakpoint_pc_advance(void) { return 0; }

/// Returns 94 (__NR_exit_group in the generic syscall table aarch64 uses).
int64_t spr_arch_exit_group_syscall(void) { return 94; }

static const spr_remote_unwinder_t spr_remote = {
    .library = "libunwind-aarch64.so.8",
    .prefix = "_Uaarch64_",
};

/// Returns the aarch64 remote unwinder's soname and symbol prefix.
const spr_remote_unwinder_t *spr_arch_remote_unwinder(void) { return &spr_remote; }

static const spr_local_unwinder_t spr_local = {
    .library = "libunwind.so.8",
    .init_local2 = "_ULaarch64_init_local2",
    .get_reg = "_ULaarch64_get_reg",
    .step = "_ULaarch64_step",
    .ip_register = SPR_UNW_REG_IP,
};

/// Returns the aarch64 local unwinder's soname, symbol names and UNW_REG_IP.
const spr_local_unwinder_t *spr_arch_local_unwinder(void) { return &spr_local; }

/// Returns uc_mcontext.pc.
uint64_t spr_arch_context_ip(const void *ucontext) {
    return (uint64_t)((const ucontext_t *)ucontext)->uc_mcontext.pc;
}

#endif
