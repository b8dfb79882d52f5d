#ifndef SPR_FORMAT_H
#define SPR_FORMAT_H

// Async-signal-safe formatting into a caller's buffer (no allocation, no stdio): for the crash
// report. Text past `end` is dropped. Not part of the module.

#include <stdint.h>

typedef struct {
    char *p;
    char *end;
} spr_out_t;

static inline void spr_put(spr_out_t *o, const char *s) {
    while (*s && o->p < o->end) {
        *o->p++ = *s++;
    }
}

static inline void spr_put_hex(spr_out_t *o, uint64_t v) {
    char digits[17];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v && n < 16);
    spr_put(o, "0x");
    while (n > 0 && o->p < o->end) {
        *o->p++ = digits[--n];
    }
}

static inline void spr_put_dec(spr_out_t *o, int64_t v) {
    char digits[21];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    if (v < 0) {
        spr_put(o, "-");
    }
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n < 20);
    while (n > 0 && o->p < o->end) {
        *o->p++ = digits[--n];
    }
}

#endif
