// x86_64's side of spr_arch.h: registers, int3, exit_group, libunwind's names, the ucontext pc.
#if defined(__x86_64__)

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
#define SPR_UNW_REG_IP 16
#if __has_include(<libunwind.h>)
#include <libunwind.h>
_Static_assert(sizeof(unw_cursor_t) <= SPR_LOCAL_CURSOR_BYTES, "SPR_LOCAL_CURSOR_BYTES is too small");
_Static_assert(UNW_REG_IP == SPR_UNW_REG_IP, "UNW_REG_IP is rip");
#endif

/// Returns sizeof(struct user_regs_struct): the 64-bit NT_PRSTATUS set.
size_t spr_arch_prstatus_size(void) { return sizeof(struct user_regs_struct); }

/// Fills `regs` from a 64-bit NT_PRSTATUS set. Returns 0, or EIO for a short (32-bit) set.
int spr_arch_regs_from_prstatus(const spr_prstatus_t *prstatus, size_t length, spr_regs_t *regs) {
    struct user_regs_struct r;
    if (length < sizeof(r)) {
        return EIO;
    }
    memcpy(&r, prstatus->words, sizeof(r));
    regs->ip = r.rip;
    regs->sp = r.rsp;
    regs->first_argument = r.rdi;
    regs->syscall_number = (int64_t)r.orig_rax;
    regs->return_value = r.rax;
    return 0;
}

/// Stores `ip` in rip. Returns nothing.
void spr_arch_prstatus_set_ip(spr_prstatus_t *prstatus, uint64_t ip) {
    struct user_regs_struct r;
    memcpy(&r, prstatus->words, sizeof(r));
    r.rip = ip;
    memcpy(prstatus->words, &r, sizeof(r));
}

/// Returns int3 (0xCC), one byte.
uint64_t spr_breakpoint_instruction(int *length) {
    *length = 1;
    return 0xCC;
}

/// Returns 1: the trap is reported with rip just past the int3.
int spr_breakpoint_pc_advance(void) { return 1; }

/// Returns 231 (__NR_exit_group on x86_64).
int64_t spr_arch_exit_group_syscall(void) { return 231; }

static const spr_remote_unwinder_t spr_remote = {
    .library = "libunwind-x86_64.so.8",
    .prefix = "_Ux86_64_",
};

/// Returns the x86_64 remote unwinder's soname and symbol prefix.
const spr_remote_unwinder_t *spr_arch_remote_unwinder(void) { return &spr_remote; }

static const spr_local_unwinder_t spr_local = {
    .library = "libunwind.so.8",
    .init_local2 = "_ULx86_64_init_local2",
    .get_reg = "_ULx86_64_get_reg",
    .step = "_ULx86_64_step",
    .ip_register = SPR_UNW_REG_IP,
};

/// Returns the x86_64 local unwinder's soname, symbol names and UNW_REG_IP.
const spr_local_unwinder_t *spr_arch_local_unwinder(void) { return &spr_local; }

/// Returns uc_mcontext.gregs[REG_RIP].
uint64_t spr_arch_context_ip(const void *ucontext) {
    return (uint64_t)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
}

#ifdef SPR_UNWIND_STATIC
// The fully static release build (scripts/build-release.sh) links libunwind's remote archives:
// on x86_64 unw_resume's _Ux86_64_setcontext is the one symbol they leave undefined (aarch64's
// leave none), and remote unwinding never calls it.
int _Ux86_64_setcontext(void *context);

/// Never called (remote unwinding does not resume). Returns -UNW_EINVAL.
int _Ux86_64_setcontext(void *context) {
    (void)context;
    return -UNW_EINVAL;
}
#endif

#endif
