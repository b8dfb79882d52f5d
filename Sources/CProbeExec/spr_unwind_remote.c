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

/// find_proc_info from our own tables: reads the .eh_frame_hdr header from the target and hands
/// libunwind its binary-search table (the standard encodings only); anything else falls back to
/// libunwind-ptrace's own lookup.
static int spr_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info, void *arg) {
    for (int i = 0; i < spr_table_count; i++) {
        const spr_unwind_table_t *t = &spr_tables[i];
        if (ip < t->start || ip >= t->end) {
            continue;
        }
        unw_word_t header = 0;
        unw_word_t count_word = 0;
        if (spr_cached_access_mem(as, t->eh_frame_hdr, &header, 0, arg) != 0 ||
            spr_cached_access_mem(as, t->eh_frame_hdr + 8, &count_word, 0, arg) != 0) {
            break;
        }
        unsigned version = header & 0xff;
        unsigned eh_frame_ptr_encoding = (header >> 8) & 0xff;
        unsigned fde_count_encoding = (header >> 16) & 0xff;
        unsigned table_encoding = (header >> 24) & 0xff;
        // version 1; eh_frame_ptr pcrel|sdata4; fde_count udata4; table datarel|sdata4.
        if (version != 1 || eh_frame_ptr_encoding != 0x1b || fde_count_encoding != 0x03 || table_encoding != 0x3b) {
            break;
        }
        uint32_t fde_count = (uint32_t)(count_word & 0xffffffffu);
        unw_dyn_info_t di;
        memset(&di, 0, sizeof(di));
        di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
        di.start_ip = t->start;
        di.end_ip = t->end;
        di.u.rti.segbase = t->eh_frame_hdr;
        di.u.rti.table_data = t->eh_frame_hdr + 12;
        di.u.rti.table_len = (fde_count * 8) / sizeof(unw_word_t);
        if (spr_unw.search_unwind_table(as, ip, &di, pi, need_unwind_info, arg) == 0) {
            return 0;
        }
        break;
    }
    return spr_unw.upt_accessors->find_proc_info(as, ip, pi, need_unwind_info, arg);
}

static int spr_cached_access_mem(unw_addr_space_t as, unw_word_t address, unw_word_t *value, int write, void *arg) {
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

int spr_unwind_thread(pid_t tid, spr_frame_t *frames, int capacity, int *error) {
    *error = 0;
    char ignored[8];
    if (!spr_unwind_load(ignored, 0)) {
        *error = -UNW_EUNSPEC;
        return 0;
    }
    spr_page_cache.pid = tid;
    spr_page_cache.used = 0;
    spr_page_cache.next = 0;
    void *info = spr_unw.upt_create(tid);
    if (info == NULL) {
        *error = -UNW_ENOMEM;
        return 0;
    }
    unw_cursor_t cursor;
    int rc = spr_unw.init_remote(&cursor, spr_unw.address_space, info);
    int count = 0;
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
            frame->ip = ip;
            frame->sp = sp;
            frame->signal_frame = spr_unw.is_signal_frame(&cursor) > 0;
            // Names are given by the caller from the modules' symbol tables (SymbolResolver):
            // unw_get_proc_name maps and scans the whole ELF file again for every frame.
            count++;
            if (ip == 0) {
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
