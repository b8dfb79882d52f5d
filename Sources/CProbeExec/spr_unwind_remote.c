#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_arch.h"
#include "spr_unwind.h"

#include <dlfcn.h>
#include <libunwind-ptrace.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

// The libunwind entry points, found with dlsym (their real, architecture-mangled names).
static struct {
    int loaded;
    int available;
    char why[256];
    unw_addr_space_t (*create_addr_space)(unw_accessors_t *, int);
    int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
    int (*init_remote)(unw_cursor_t *, unw_addr_space_t, void *);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
    int (*is_signal_frame)(unw_cursor_t *);
    int (*search_unwind_table)(unw_addr_space_t, unw_word_t, unw_dyn_info_t *, unw_proc_info_t *, int, void *);
    void *(*upt_create)(pid_t);
    void (*upt_destroy)(void *);
    unw_accessors_t *upt_accessors;
    unw_addr_space_t address_space;
    /// _UPT_accessors with access_mem replaced by spr_cached_access_mem.
    unw_accessors_t accessors;
} spr_unw;

// libunwind-ptrace reads the target's memory one word per PTRACE_PEEKDATA; an unwind needs
// thousands of words (stack and unwind tables), and each ptrace call costs a system call and a
// page-table walk. This cache reads whole pages with process_vm_readv instead. It is used only
// on the supervisor loop's thread, for one process at a time, and emptied for every backtrace.
#define SPR_PAGE 4096
#define SPR_CACHED_PAGES 64
static struct {
    pid_t pid;
    int used;
    int next;
    uint64_t address[SPR_CACHED_PAGES];
    unsigned char data[SPR_CACHED_PAGES][SPR_PAGE];
} spr_page_cache;

static const unsigned char *spr_cached_page(uint64_t page) {
    for (int i = 0; i < spr_page_cache.used; i++) {
        if (spr_page_cache.address[i] == page) {
            return spr_page_cache.data[i];
        }
    }
    int slot = spr_page_cache.next;
    spr_page_cache.next = (spr_page_cache.next + 1) % SPR_CACHED_PAGES;
    struct iovec local = {spr_page_cache.data[slot], SPR_PAGE};
    struct iovec remote = {(void *)(uintptr_t)page, SPR_PAGE};
    if (process_vm_readv(spr_page_cache.pid, &local, 1, &remote, 1, 0) != SPR_PAGE) {
        return NULL;
    }
    spr_page_cache.address[slot] = page;
    if (spr_page_cache.used < SPR_CACHED_PAGES) {
        spr_page_cache.used++;
    }
    return spr_page_cache.data[slot];
}

#define SPR_MAX_TABLES 512
static spr_unwind_table_t spr_tables[SPR_MAX_TABLES];
static int spr_table_count;

void spr_unwind_set_tables(const spr_unwind_table_t *tables, int count) {
    spr_table_count = 0;
    for (int i = 0; tables != NULL && i < count && i < SPR_MAX_TABLES; i++) {
        spr_tables[spr_table_count++] = tables[i];
    }
}

static int spr_cached_access_mem(unw_addr_space_t as, unw_word_t address, unw_word_t *value, int write, void *arg);

/// Where a local search table (spr_unwind_table_t.local_table) appears to libunwind: kernel space,
/// which no process maps, so no read of the target's memory is ever served from it.
#define SPR_LOCAL_TABLE_ADDRESS ((unw_word_t)0xffff900000000000ULL)
/// The local table being searched, while spr_search_table runs.
static const spr_unwind_table_t *spr_local_table;

/// Looks `ip` up in table `t` (the .eh_frame_hdr header read from the target, its binary-search
/// table handed to libunwind; the standard encodings only). Returns 0 with *pi filled, 1 when the
/// table has no entry for `ip`, -1 when the table cannot be read here.
static int spr_search_table(unw_addr_space_t as, const spr_unwind_table_t *t, unw_word_t ip, unw_proc_info_t *pi,
                            int need_unwind_info, void *arg) {
    unw_dyn_info_t di;
    memset(&di, 0, sizeof(di));
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = t->start;
    di.end_ip = t->end;
    if (t->local_table != NULL) {
        // Our own table, read by libunwind through access_mem at an address no process maps.
        di.u.rti.segbase = t->local_base;
        di.u.rti.table_data = SPR_LOCAL_TABLE_ADDRESS;
        di.u.rti.table_len = (t->local_count * 8) / sizeof(unw_word_t);
        spr_local_table = t;
        int rc = spr_unw.search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
        spr_local_table = NULL;
        return rc == 0 ? 0 : 1;
    }
    unw_word_t header = 0;
    unw_word_t count_word = 0;
    if (spr_cached_access_mem(as, t->eh_frame_hdr, &header, 0, arg) != 0 ||
        spr_cached_access_mem(as, t->eh_frame_hdr + 8, &count_word, 0, arg) != 0) {
        return -1;
    }
    unsigned version = header & 0xff;
    unsigned eh_frame_ptr_encoding = (header >> 8) & 0xff;
    unsigned fde_count_encoding = (header >> 16) & 0xff;
    unsigned table_encoding = (header >> 24) & 0xff;
    // version 1; eh_frame_ptr pcrel|sdata4; fde_count udata4; table datarel|sdata4.
    if (version != 1 || eh_frame_ptr_encoding != 0x1b || fde_count_encoding != 0x03 || table_encoding != 0x3b) {
        return -1;
    }
    uint32_t fde_count = (uint32_t)(count_word & 0xffffffffu);
    di.u.rti.segbase = t->eh_frame_hdr;
    di.u.rti.table_data = t->eh_frame_hdr + 12;
    di.u.rti.table_len = (fde_count * 8) / sizeof(unw_word_t);
    return spr_unw.search_unwind_table(as, ip, &di, pi, need_unwind_info, arg) == 0 ? 0 : 1;
}

/// The table of the mapping that holds `ip`, or NULL.
static const spr_unwind_table_t *spr_table_for(unw_word_t ip) {
    for (int i = 0; i < spr_table_count; i++) {
        if (ip >= spr_tables[i].start && ip < spr_tables[i].end) {
            return &spr_tables[i];
        }
    }
    return NULL;
}

/// find_proc_info from our own tables; anything else falls back to libunwind-ptrace's own lookup.
static int spr_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info, void *arg) {
    const spr_unwind_table_t *t = spr_table_for(ip);
    if (t != NULL && (t->eh_frame_hdr != 0 || t->local_table != NULL) &&
        spr_search_table(as, t, ip, pi, need_unwind_info, arg) == 0) {
        return 0;
    }
    return spr_unw.upt_accessors->find_proc_info(as, ip, pi, need_unwind_info, arg);
}

/// 1 when `ip` lies in a mapping whose unwind table has no entry for it: code built without
/// unwind information (musl's C library, hand-written assembly).
static int spr_lacks_unwind_info(unw_addr_space_t as, unw_word_t ip, void *arg) {
    const spr_unwind_table_t *t = spr_table_for(ip);
    if (t != NULL && t->eh_frame_hdr == 0 && t->local_table == NULL) {
        return 1;  // a module built without any
    }
    unw_proc_info_t pi;
    return t != NULL && spr_search_table(as, t, ip, &pi, 0, arg) == 1;
}

// Registers handed to libunwind in place of the thread's own when an unwind goes on from a caller
// found by spr_caller_finder_t: the frame's registers as libunwind had them, with its ip and sp.
#if defined(__x86_64__)
#define SPR_OVERRIDE_FIRST UNW_X86_64_RAX
#define SPR_OVERRIDE_LAST UNW_X86_64_RIP
#elif defined(__aarch64__)
#define SPR_OVERRIDE_FIRST UNW_AARCH64_X0
#define SPR_OVERRIDE_LAST UNW_AARCH64_PC
#endif
static struct {
    int active;
    unsigned char has[SPR_OVERRIDE_LAST + 1];
    unw_word_t value[SPR_OVERRIDE_LAST + 1];
} spr_override;

static int spr_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *value, int write, void *arg) {
    if (!write && spr_override.active && reg >= SPR_OVERRIDE_FIRST && reg <= SPR_OVERRIDE_LAST &&
        spr_override.has[reg]) {
        *value = spr_override.value[reg];
        return 0;
    }
    return spr_unw.upt_accessors->access_reg(as, reg, value, write, arg);
}

#if defined(__x86_64__)
#define SPR_FRAME_POINTER UNW_X86_64_RBP
#elif defined(__aarch64__)
#define SPR_FRAME_POINTER UNW_AARCH64_X29
#endif

/// Takes the registers of `cursor`'s frame, with ip, sp and the frame pointer replaced, as the
/// next unwind's start.
static void spr_override_from(unw_cursor_t *cursor, unw_word_t ip, unw_word_t sp, unw_word_t fp) {
    unsigned char has[SPR_OVERRIDE_LAST + 1];
    unw_word_t value[SPR_OVERRIDE_LAST + 1];
    for (int reg = SPR_OVERRIDE_FIRST; reg <= SPR_OVERRIDE_LAST; reg++) {
        has[reg] = spr_unw.get_reg(cursor, reg, &value[reg]) == 0;
    }
    has[UNW_REG_IP] = 1;
    value[UNW_REG_IP] = ip;
    has[UNW_REG_SP] = 1;
    value[UNW_REG_SP] = sp;
    has[SPR_FRAME_POINTER] = 1;
    value[SPR_FRAME_POINTER] = fp;
    memcpy(spr_override.has, has, sizeof(has));
    memcpy(spr_override.value, value, sizeof(value));
    spr_override.active = 1;
}

static int spr_cached_access_mem(unw_addr_space_t as, unw_word_t address, unw_word_t *value, int write, void *arg) {
    if (!write && spr_local_table != NULL && address >= SPR_LOCAL_TABLE_ADDRESS) {
        uint64_t offset = address - SPR_LOCAL_TABLE_ADDRESS;
        if (offset + sizeof(unw_word_t) > (uint64_t)spr_local_table->local_count * 8) {
            return -UNW_EINVAL;
        }
        memcpy(value, (const unsigned char *)spr_local_table->local_table + offset, sizeof(unw_word_t));
        return 0;
    }
    if (!write) {
        uint64_t page = address & ~(uint64_t)(SPR_PAGE - 1);
        uint64_t offset = address - page;
        if (offset + sizeof(unw_word_t) <= SPR_PAGE) {
            const unsigned char *data = spr_cached_page(page);
            if (data != NULL) {
                memcpy(value, data + offset, sizeof(unw_word_t));
                return 0;
            }
        }
    }
    return spr_unw.upt_accessors->access_mem(as, address, value, write, arg);
}

#ifdef SPR_UNWIND_STATIC
// The fully static release build (scripts/build-release.sh) links libunwind's archives into the
// binary: no dlopen (which in a static binary loads a second C library), nothing to install.
// Only remote unwinding is linked, never libunwind.a, whose _Unwind_* would collide with
// libgcc_eh's (x86_64's one symbol then left undefined is stubbed in spr_arch_x86_64.c).
// UNW_OBJ is libunwind's own name mangling: _Ux86_64_/_Uaarch64_ + name.
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t, unw_word_t, unw_dyn_info_t *, unw_proc_info_t *, int,
                                              void *);

/// Points spr_unw at the linked-in entry points. Returns 1.
static int spr_unwind_bind(void) {
    spr_unw.create_addr_space = unw_create_addr_space;
    spr_unw.set_caching_policy = unw_set_caching_policy;
    spr_unw.init_remote = unw_init_remote;
    spr_unw.step = unw_step;
    spr_unw.get_reg = unw_get_reg;
    spr_unw.is_signal_frame = unw_is_signal_frame;
    spr_unw.upt_create = _UPT_create;
    spr_unw.upt_destroy = _UPT_destroy;
    spr_unw.upt_accessors = &_UPT_accessors;
    spr_unw.search_unwind_table = UNW_OBJ(dwarf_search_unwind_table);
    return 1;
}
#else
/// dlsym of `prefix` + `name` (libunwind's architecture-mangled names, spr_arch's prefix). Returns
/// the symbol, or NULL and sets *missing.
static void *spr_symbol(void *library, const char *prefix, const char *name, int *missing) {
    char full[96];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    void *p = dlsym(library, full);
    if (p == NULL) {
        *missing = 1;
    }
    return p;
}

/// Loads libunwind with dlopen and finds its entry points. Returns 1, or 0 with spr_unw.why set.
static int spr_unwind_bind(void) {
    // The generic (remote-capable) library first and globally, so that libunwind-ptrace finds
    // its _U<arch>_* symbols.
    const spr_remote_unwinder_t *names = spr_arch_remote_unwinder();
    void *generic = dlopen(names->library, RTLD_NOW | RTLD_GLOBAL);
    void *ptrace_library = generic ? dlopen("libunwind-ptrace.so.0", RTLD_NOW | RTLD_GLOBAL) : NULL;
    if (generic == NULL || ptrace_library == NULL) {
        snprintf(spr_unw.why, sizeof(spr_unw.why), "libunwind is not installed (%s); install libunwind8 for backtraces",
                 dlerror());
        return 0;
    }
    int missing = 0;
    spr_unw.create_addr_space = spr_symbol(generic, names->prefix, "create_addr_space", &missing);
    spr_unw.set_caching_policy = spr_symbol(generic, names->prefix, "set_caching_policy", &missing);
    spr_unw.init_remote = spr_symbol(generic, names->prefix, "init_remote", &missing);
    spr_unw.step = spr_symbol(generic, names->prefix, "step", &missing);
    spr_unw.get_reg = spr_symbol(generic, names->prefix, "get_reg", &missing);
    spr_unw.is_signal_frame = spr_symbol(generic, names->prefix, "is_signal_frame", &missing);
    spr_unw.upt_create = spr_symbol(ptrace_library, "", "_UPT_create", &missing);
    spr_unw.upt_destroy = spr_symbol(ptrace_library, "", "_UPT_destroy", &missing);
    spr_unw.upt_accessors = spr_symbol(ptrace_library, "", "_UPT_accessors", &missing);
    spr_unw.search_unwind_table = spr_symbol(generic, names->prefix, "dwarf_search_unwind_table", &missing);
    if (missing) {
        snprintf(spr_unw.why, sizeof(spr_unw.why), "libunwind is installed but lacks expected symbols");
        return 0;
    }
    return 1;
}
#endif

int spr_unwind_load(char *why, size_t why_size) {
    if (!spr_unw.loaded) {
        spr_unw.loaded = 1;
        if (spr_unwind_bind()) {
            spr_unw.accessors = *spr_unw.upt_accessors;
            spr_unw.accessors.access_mem = spr_cached_access_mem;
            spr_unw.accessors.find_proc_info = spr_find_proc_info;
            spr_unw.accessors.access_reg = spr_access_reg;
            spr_unw.address_space = spr_unw.create_addr_space(&spr_unw.accessors, 0);
            if (spr_unw.address_space == NULL) {
                snprintf(spr_unw.why, sizeof(spr_unw.why), "libunwind could not create an address space");
            } else {
                spr_unw.set_caching_policy(spr_unw.address_space, UNW_CACHE_NONE);
                spr_unw.available = 1;
            }
        }
    }
    if (!spr_unw.available && why_size > 0) {
        snprintf(why, why_size, "%s", spr_unw.why);
    }
    return spr_unw.available;
}

/// Whether the eight bytes before a code address end with a call instruction (any form).
static int spr_bytes_end_in_call(const unsigned char b[8]) {
#if defined(__x86_64__)
    // call rel32; call *reg (ff /2, mod 3); ff /2 with a disp8, disp32, SIB or rip-relative operand.
    if (b[3] == 0xe8) return 1;
    if (b[6] == 0xff && (b[7] & 0xf8) == 0xd0) return 1;
    for (int length = 3; length <= 7; length++) {
        unsigned char modrm = b[8 - length + 1];
        if (b[8 - length] == 0xff && (modrm & 0x38) == 0x10 && (modrm & 0xc0) != 0xc0) return 1;
    }
    return 0;
#elif defined(__aarch64__)
    uint32_t insn;
    memcpy(&insn, b + 4, sizeof(insn));
    return (insn & 0xfc000000u) == 0x94000000u || (insn & 0xfffffc1fu) == 0xd63f0000u;  // bl, blr
#else
    return 1;
#endif
}

/// Whether the instruction before `ip` is a call (any form): what a return address follows.
static int spr_follows_call(unw_addr_space_t as, unw_word_t ip, void *arg) {
    unw_word_t word = 0;
    if (ip < 8 || spr_cached_access_mem(as, ip - 8, &word, 0, arg) != 0) {
        return 0;
    }
    unsigned char b[8];  // b[7] is the byte right before ip
    memcpy(b, &word, sizeof(b));
    return spr_bytes_end_in_call(b);
}

int spr_is_return_address(pid_t pid, uint64_t ip) {
    unsigned char b[8];
    struct iovec local = {b, sizeof(b)};
    struct iovec remote = {(void *)(uintptr_t)(ip - 8), sizeof(b)};
    return ip >= 8 && process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(b) && spr_bytes_end_in_call(b);
}

/// The most callers taken from a spr_caller_finder_t in one backtrace.
#define SPR_MAX_FOUND_CALLERS 16

int spr_unwind_thread(pid_t tid, spr_frame_t *frames, int capacity, int *error, spr_caller_finder_t finder,
                      void *context) {
    *error = 0;
    char ignored[8];
    if (!spr_unwind_load(ignored, 0)) {
        *error = -UNW_EUNSPEC;
        return 0;
    }
    spr_page_cache.pid = tid;
    spr_page_cache.used = 0;
    spr_page_cache.next = 0;
    spr_override.active = 0;
    void *info = spr_unw.upt_create(tid);
    if (info == NULL) {
        *error = -UNW_ENOMEM;
        return 0;
    }
    unw_cursor_t cursor;
    int rc = spr_unw.init_remote(&cursor, spr_unw.address_space, info);
    int count = 0;
    int found_callers = 0;
    // Once a caller was found (not unwound from tables), the registers libunwind goes on from may
    // be off (what the function without unwind information saved): each later frame must return
    // after a call and lie higher on the stack, or the backtrace ends there rather than invent one.
    int checking = 0;
    unw_word_t previous_sp = 0;
    // After a found caller the cursor starts at its return address minus one (inside the call, so
    // that a call ending its function finds that function's unwind entry): its frame reports +1.
    unw_word_t ip_adjust = 0;
    if (rc < 0) {
        *error = rc;
    } else {
        while (count < capacity) {
            spr_frame_t *frame = &frames[count];
            memset(frame, 0, sizeof(*frame));
            unw_word_t ip = 0;
            unw_word_t sp = 0;
            spr_unw.get_reg(&cursor, UNW_REG_IP, &ip);
            spr_unw.get_reg(&cursor, UNW_REG_SP, &sp);
            ip += ip_adjust;
            ip_adjust = 0;
            if (checking && (sp <= previous_sp || spr_table_for(ip) == NULL ||
                             !spr_follows_call(spr_unw.address_space, ip, info))) {
                break;
            }
            frame->ip = ip;
            frame->sp = sp;
            frame->signal_frame = spr_unw.is_signal_frame(&cursor) > 0;
            // Names are given by the caller from the modules' symbol tables (SymbolResolver):
            // unw_get_proc_name maps and scans the whole ELF file again for every frame.
            count++;
            previous_sp = sp;
            if (ip == 0) {
                break;
            }
            unw_word_t lookup = (count == 1 || frame->signal_frame) ? ip : ip - 1;
            if (finder != NULL && !frame->signal_frame && spr_lacks_unwind_info(spr_unw.address_space, lookup, info)) {
                uint64_t caller_ip = 0;
                uint64_t caller_sp = 0;
                unw_word_t fp = 0;
                spr_unw.get_reg(&cursor, SPR_FRAME_POINTER, &fp);
                uint64_t caller_fp = fp;
                if (found_callers < SPR_MAX_FOUND_CALLERS &&
                    finder(context, lookup, sp, fp, &caller_ip, &caller_sp, &caller_fp) && caller_ip > 0) {
                    found_callers++;
                    checking = 1;
                    frame->caller_found_by_call = 1;
                    spr_override_from(&cursor, caller_ip - 1, caller_sp, caller_fp);
                    ip_adjust = 1;
                    rc = spr_unw.init_remote(&cursor, spr_unw.address_space, info);
                    if (rc < 0) {
                        *error = rc;
                        break;
                    }
                    continue;
                }
                // No proven caller: libunwind would follow the frame-pointer register, which code
                // built without frame pointers uses for anything (musl's), skipping the real caller
                // or yielding garbage. The backtrace ends here.
                break;
            }
            int step = spr_unw.step(&cursor);
            if (step <= 0) {
                if (step < 0) {
                    *error = step;
                }
                break;
            }
        }
    }
    spr_override.active = 0;
    spr_unw.upt_destroy(info);
    return count;
}

// Exported by the Swift runtime (libswiftCore), which every Swift executable links.
extern char *swift_demangle(const char *mangled, size_t length, char *output, size_t *output_size, uint32_t flags);
// Exported by libstdc++ (linked by the Swift runtime).
extern char *__cxa_demangle(const char *mangled, char *output, size_t *length, int *status);

char *spr_swift_demangle(const char *symbol) {
    return swift_demangle(symbol, strlen(symbol), NULL, NULL, 0);
}

char *spr_cxx_demangle(const char *symbol) {
    int status = 0;
    char *result = __cxa_demangle(symbol, NULL, NULL, &status);
    return status == 0 ? result : NULL;
}
