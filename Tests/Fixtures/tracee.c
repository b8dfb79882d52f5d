// Programs that crash or exit in known places, for the tracing tests. Compiled at test time:
// cc -O0 -g -fno-omit-frame-pointer -pthread tracee.c (and stripped / -D variants).
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define NOINLINE __attribute__((noinline))

NOINLINE void level3(int *p) { *p = 42; }
NOINLINE void level2(int *p) { level3(p); __asm__ volatile(""); }
NOINLINE void level1(int *p) { level2(p); __asm__ volatile(""); }

NOINLINE void exit_d(int code) { exit(code); }
NOINLINE void exit_c(int code) { exit_d(code); __asm__ volatile(""); }
NOINLINE void exit_b(int code) { exit_c(code); __asm__ volatile(""); }
NOINLINE void exit_a(int code) { exit_b(code); __asm__ volatile(""); }

NOINLINE int divide(int a, int b) { return a / b; }

NOINLINE int recurse(volatile int depth) {
    volatile char pad[256];
    pad[0] = (char)depth;
    return recurse(depth + 1) + pad[0];
}

static void *crashing_thread(void *arg) {
    (void)arg;
    level1((int *)0x20);
    return NULL;
}

static void *buffered_worker(void *arg) {
    (void)arg;
    printf("config loaded, starting workers");
    fprintf(stderr, "unbuffered stderr line\n");
    _exit(0);
}

static void *crashing_thread_noop(void *arg) {
    // Threads that create threads: the grandchild's first stop and its creator's clone event
    // are then both pending when the tracer looks.
    long depth = (long)arg;
    if (depth > 0) {
        pthread_t t;
        pthread_create(&t, NULL, crashing_thread_noop, (void *)(depth - 1));
        pthread_join(t, NULL);
    }
    return NULL;
}

static pthread_barrier_t all_started;

static void *idle_thread(void *arg) {
    (void)arg;
    pthread_barrier_wait(&all_started);
    for (;;) pause();
    return NULL;
}

static void *crashing_after_barrier(void *arg) {
    pthread_barrier_wait(&all_started);
    usleep(50 * 1000);
    return crashing_thread(arg);
}

static void *overflowing_thread(void *arg) {
    (void)arg;
    recurse(0);
    return NULL;
}

#ifdef CRASH_IN_CONSTRUCTOR
__attribute__((constructor)) static void broken_initializer(void) { level1((int *)0x30); }
#endif

#ifdef EXIT_IN_INIT_ARRAY
static void exits_early(void) { exit(0); }
__attribute__((section(".init_array"), used)) static void (*early_exit_entry)(void) = exits_early;
#endif

#ifdef SLOW_CONSTRUCTOR
#include <time.h>
/// A start-up that takes 1.5 s before main(): probe-exec's breakpoints stay planted that long.
__attribute__((constructor)) static void slow_initializer(void) {
    struct timespec pause = {1, 500000000};
    while (nanosleep(&pause, &pause) != 0) {
    }
}
#endif

#ifdef READY_CONSTRUCTOR
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
/// Says it is about to reach main() (creates $READY_FILE), then spins 300 microseconds: a kill of
/// probe-exec upon that file lands in the last moments before main().
__attribute__((constructor)) static void ready_initializer(void) {
    const char *ready = getenv("READY_FILE");
    if (ready) close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 300000L);
}
#endif

#ifdef OWN_START
int main(int argc, char **argv);
/// Built with -nostartfiles: an entry point of its own that does not go through
/// __libc_start_main, so probe-exec cannot decode main from `_start` and finds it in the symbol
/// table. (The dynamic loader has initialised libc already.) Runs `tracee return 7`.
__attribute__((force_align_arg_pointer, noreturn, used)) void _start(void) {
    char *argv[] = {"tracee", "return", "7", NULL};
    exit(main(3, argv));
}
#endif

/// Runs argv[0] with ptrace forbidden by a seccomp filter (EPERM), as a locked-down container would.
static int run_without_ptrace(char **argv) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1 /* EPERM */),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof(filter) / sizeof(filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        perror("seccomp");
        return 99;
    }
    execv(argv[0], argv);
    perror("execv");
    return 98;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "segv3")) level1((int *)0x10);
    if (!strcmp(mode, "exit4")) exit_a(argc > 2 ? atoi(argv[2]) : 0);
    if (!strcmp(mode, "return")) return argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(mode, "mark") && argc > 2) {
        // Proof of main() that needs no parent: a file (stdout may be a pipe nobody reads).
        FILE *mark = fopen(argv[2], "w");
        if (mark) fputs("main reached\n", mark), fclose(mark);
        return 7;
    }
    if (!strcmp(mode, "abort")) abort();
    if (!strcmp(mode, "fpe")) return divide(1, argc - 2);
    if (!strcmp(mode, "overflow")) return recurse(0);
    if (!strcmp(mode, "thread-segv") || !strcmp(mode, "thread-overflow")) {
        pthread_t t;
        pthread_create(&t, NULL, !strcmp(mode, "thread-segv") ? crashing_thread : overflowing_thread, NULL);
        pthread_join(t, NULL);
        return 0;
    }
    if (!strcmp(mode, "threads-segv")) {
        // N threads in all (argv[2]): main, N-2 idle ones and one that crashes once all have
        // started and main is (after 50 ms) waiting in pthread_join. Not while main is still in
        // clone3: glibc's clone3 has no unwind info after its syscall, so no unwinder gets past it.
        int n = argc > 2 ? atoi(argv[2]) : 200;
        pthread_barrier_init(&all_started, NULL, (unsigned)n);
        pthread_attr_t small;
        pthread_attr_init(&small);
        pthread_attr_setstacksize(&small, 64 * 1024);
        for (int i = 0; i < n - 2; i++) {
            pthread_t t;
            pthread_create(&t, &small, idle_thread, NULL);
        }
        pthread_t crasher;
        pthread_create(&crasher, NULL, crashing_after_barrier, NULL);
        pthread_barrier_wait(&all_started);
        pthread_join(crasher, NULL);
    }
    if (!strcmp(mode, "wait")) {
        printf("ready %d\n", getpid());
        fflush(stdout);
        pause();
        return 0;
    }
    if (!strcmp(mode, "noptrace")) return run_without_ptrace(argv + 2);
    if (!strcmp(mode, "serve")) {
        // A server on 127.0.0.1:PORT (after an optional delay in ms): bind failure is reported
        // the way most C servers do, with perror and no port number.
        if (argc > 3) usleep((useconds_t)atoi(argv[3]) * 1000);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)atoi(argv[2]));
        a.sin_addr.s_addr = htonl(0x7f000001);
        if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
            perror("bind");
            return 1;
        }
        listen(s, 16);
        printf("listening\n");
        fflush(stdout);
        for (;;) pause();
    }
    if (!strcmp(mode, "buffered")) {
        if (argc > 3 && !strcmp(argv[3], "from-a-thread")) {
            // The worker writes and ends the process while main waits for it: the leader's
            // exit stop may be released (its memory gone) before the worker's is handled.
            pthread_t t;
            pthread_create(&t, NULL, buffered_worker, NULL);
            pthread_join(t, NULL);
        }
        if (argc > 3 && !strcmp(argv[3], "after-a-thread-ends")) {
            // A thread that ends alone first: its end is not the process's.
            pthread_t t;
            pthread_create(&t, NULL, crashing_thread_noop, (void *)3L);
            pthread_join(t, NULL);
        }
        // Into a pipe stdout is fully buffered: without a flush these bytes never leave.
        printf("config loaded, starting workers");
        fprintf(stderr, "unbuffered stderr line\n");
        if (argc > 2 && !strcmp(argv[2], "_exit")) _exit(0);
        if (argc > 2 && !strcmp(argv[2], "exit")) exit(0);
        // The `exit` system call of the only thread (not exit_group) ends the process too.
        if (argc > 2 && !strcmp(argv[2], "raw-exit")) syscall(SYS_exit, 0);
        abort();
    }
    if (!strcmp(mode, "thread-burst")) {
        // Threads that start and end as fast as possible: each one's first ptrace stop races
        // its creator's clone event.
        for (int round = 0; round < 20; round++) {
            pthread_t t[16];
            for (int i = 0; i < 16; i++) pthread_create(&t[i], NULL, crashing_thread_noop, (void *)3L);
            for (int i = 0; i < 16; i++) pthread_join(t[i], NULL);
        }
        return 7;
    }
    fprintf(stderr, "tracee: unknown mode %s\n", mode);
    return 64;
}
