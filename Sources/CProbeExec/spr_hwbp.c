#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_hwbp.h"

#include <errno.h>
#include <pthread.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// The length of an execution breakpoint: x86 wants sizeof(long), arm64 one instruction.
#if defined(__aarch64__)
#define SPR_HWBP_LENGTH HW_BREAKPOINT_LEN_4
#else
#define SPR_HWBP_LENGTH sizeof(long)
#endif

static int spr_hwbp_descriptor(pid_t tid, uint64_t address) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.type = PERF_TYPE_BREAKPOINT;
    attr.size = sizeof(attr);
    attr.bp_type = HW_BREAKPOINT_X;
    attr.bp_addr = address;
    attr.bp_len = SPR_HWBP_LENGTH;
    attr.sample_period = 1;
    attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_IP;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.wakeup_events = 1;
    return (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

int spr_hwbp_open(pid_t tid, uint64_t address, spr_hwbp_t *breakpoint) {
    breakpoint->fd = -1;
    breakpoint->ring = NULL;
    breakpoint->ring_size = 0;
    int fd = spr_hwbp_descriptor(tid, address);
    if (fd < 0) {
        return errno;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t size = (size_t)(page > 0 ? page : 4096) * 2;  // the header page and one page of samples
    void *ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED) {
        int saved = errno;
        close(fd);
        return saved;
    }
    breakpoint->fd = fd;
    breakpoint->ring = ring;
    breakpoint->ring_size = size;
    return 0;
}

int spr_hwbp_first_hit(const spr_hwbp_t *breakpoint, spr_hwbp_hit_t *hit) {
    if (breakpoint->ring == NULL) {
        return 0;
    }
    const struct perf_event_mmap_page *header = breakpoint->ring;
    uint64_t head = __atomic_load_n(&header->data_head, __ATOMIC_ACQUIRE);
    uint64_t data_size = breakpoint->ring_size / 2;
    const unsigned char *data = (const unsigned char *)breakpoint->ring + header->data_offset;
    if (header->data_offset == 0) {
        data = (const unsigned char *)breakpoint->ring + data_size;  // kernels before 4.1
    }
    // Records from the start; the first sample is the hit (a lost-records note may precede it).
    for (uint64_t offset = 0; offset + sizeof(struct perf_event_header) <= head && offset < data_size;) {
        const struct perf_event_header *record = (const void *)(data + offset);
        if (record->size == 0 || offset + record->size > data_size) {
            return 0;
        }
        if (record->type == PERF_RECORD_SAMPLE && record->size >= sizeof(*record) + 3 * sizeof(uint64_t)) {
            uint64_t values[3];
            memcpy(values, record + 1, sizeof(values));  // ip, pid/tid, time (sample_type order)
            hit->address = values[0];
            hit->pid = (int32_t)(uint32_t)values[1];
            hit->tid = (int32_t)(uint32_t)(values[1] >> 32);
            hit->nanoseconds = (int64_t)values[2];
            return 1;
        }
        offset += record->size;
    }
    return 0;
}

void spr_hwbp_consume(spr_hwbp_t *breakpoint) {
    if (breakpoint->ring == NULL) {
        return;
    }
    struct perf_event_mmap_page *header = breakpoint->ring;
    uint64_t head = __atomic_load_n(&header->data_head, __ATOMIC_ACQUIRE);
    __atomic_store_n(&header->data_tail, head, __ATOMIC_RELEASE);
}

void spr_hwbp_close(spr_hwbp_t *breakpoint) {
    if (breakpoint->ring != NULL) {
        munmap(breakpoint->ring, (size_t)breakpoint->ring_size);
    }
    if (breakpoint->fd >= 0) {
        close(breakpoint->fd);
    }
    breakpoint->fd = -1;
    breakpoint->ring = NULL;
    breakpoint->ring_size = 0;
}

int spr_hwbp_probe(void) {
    int fd = spr_hwbp_descriptor(0, (uint64_t)(uintptr_t)&spr_hwbp_probe);
    if (fd < 0) {
        return errno;
    }
    close(fd);
    return 0;
}

// The early probe: one thread, started once, whose answer is waited for with a bound.
static pthread_mutex_t spr_hwbp_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spr_hwbp_probe_answered;
enum { SPR_PROBE_NOT_STARTED, SPR_PROBE_RUNNING, SPR_PROBE_ANSWERED };
static int spr_hwbp_probe_state = SPR_PROBE_NOT_STARTED;
static int spr_hwbp_probe_answer;
static int spr_hwbp_probe_fd = -1;
static int spr_hwbp_probe_released = 0;  // a late answer closes its descriptor at once

static void *spr_hwbp_probe_main(void *unused) {
    (void)unused;
    int fd = spr_hwbp_descriptor(0, (uint64_t)(uintptr_t)&spr_hwbp_probe);
    int answer = fd < 0 ? errno : 0;
    pthread_mutex_lock(&spr_hwbp_probe_lock);
    if (spr_hwbp_probe_released && fd >= 0) {
        close(fd);  // answered after the run gave up waiting: nothing to hold open for
        fd = -1;
    }
    spr_hwbp_probe_fd = fd;  // held open: the kernel's perf scheduling stays enabled
    spr_hwbp_probe_answer = answer;
    spr_hwbp_probe_state = SPR_PROBE_ANSWERED;
    pthread_cond_broadcast(&spr_hwbp_probe_answered);
    pthread_mutex_unlock(&spr_hwbp_probe_lock);
    return NULL;
}

void spr_hwbp_probe_start(void) {
    pthread_mutex_lock(&spr_hwbp_probe_lock);
    if (spr_hwbp_probe_state == SPR_PROBE_NOT_STARTED) {
        pthread_condattr_t condition;
        pthread_condattr_init(&condition);
        pthread_condattr_setclock(&condition, CLOCK_MONOTONIC);
        pthread_cond_init(&spr_hwbp_probe_answered, &condition);
        pthread_condattr_destroy(&condition);
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, 64 * 1024);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        if (pthread_create(&thread, &attributes, spr_hwbp_probe_main, NULL) == 0) {
            spr_hwbp_probe_state = SPR_PROBE_RUNNING;
        }
        pthread_attr_destroy(&attributes);
    }
    pthread_mutex_unlock(&spr_hwbp_probe_lock);
}

int spr_hwbp_probe_wait(int64_t limit_ns) {
    pthread_mutex_lock(&spr_hwbp_probe_lock);
    if (spr_hwbp_probe_state == SPR_PROBE_NOT_STARTED) {  // never started, or no thread: here
        pthread_mutex_unlock(&spr_hwbp_probe_lock);
        return spr_hwbp_probe();
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t now = (int64_t)deadline.tv_sec * 1000000000 + deadline.tv_nsec;
    int64_t end = limit_ns > INT64_MAX - now ? INT64_MAX : now + limit_ns;
    deadline.tv_sec = (time_t)(end / 1000000000);
    deadline.tv_nsec = (long)(end % 1000000000);
    while (spr_hwbp_probe_state != SPR_PROBE_ANSWERED) {
        if (pthread_cond_timedwait(&spr_hwbp_probe_answered, &spr_hwbp_probe_lock, &deadline) != 0) {
            break;  // ETIMEDOUT, or an error: never spin holding the lock the answer needs
        }
    }
    int answer = spr_hwbp_probe_state == SPR_PROBE_ANSWERED ? spr_hwbp_probe_answer : -1;
    pthread_mutex_unlock(&spr_hwbp_probe_lock);
    return answer;
}

void spr_hwbp_probe_release(void) {
    pthread_mutex_lock(&spr_hwbp_probe_lock);
    spr_hwbp_probe_released = 1;
    if (spr_hwbp_probe_fd >= 0) {
        close(spr_hwbp_probe_fd);
        spr_hwbp_probe_fd = -1;
    }
    pthread_mutex_unlock(&spr_hwbp_probe_lock);
}
