// The differential harness's two halves, compiled with `cc` at test time (DifferentialTests.swift).
//
//   difftool launch [--ignore SIG,..] [--block SIG,..] [--send SIG@MS[:child]].. [--timeout MS] -- CMD ARGS..
//       Starts CMD as a job-control shell would (its own process group), with the given signals
//       ignored and blocked, sends the signals at the given times (to CMD, or with `:child` to
//       CMD's first child: probe-exec's program before it has exec'd), and prints every change the
//       parent sees through waitpid(WUNTRACED | WCONTINUED): "stopped N", "continued",
//       "exited N", "killed N", or "timeout" (then it kills the group).
//   difftool inspect [EXIT]
//       Prints what the program got: argv bytes, the environment (minus the accepted
//       differences), open descriptors, signal mask, ignored set, process group and session.
//   difftool count SIG,.. MS
//       Counts each signal with a handler for MS milliseconds, then prints the counts.
//   difftool sleep MS
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int signal_number(const char *name) {
    if (name[0] >= '0' && name[0] <= '9') return atoi(name);
    if (!strncmp(name, "SIG", 3)) name += 3;
    for (int sig = 1; sig < NSIG; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev != NULL && !strcmp(abbrev, name)) return sig;
    }
    fprintf(stderr, "difftool: unknown signal %s\n", name);
    exit(2);
}

static void for_each_signal(const char *list, void (*body)(int)) {
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", list);
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        body(signal_number(name));
    }
}

static sigset_t blocked;
static void ignore_one(int sig) { signal(sig, SIG_IGN); }
static void block_one(int sig) { sigaddset(&blocked, sig); }

typedef struct {
    int sig;
    long long at;
    int to_child;
    int done;
} planned_signal;

/// The first child of `pid` (probe-exec's program), or 0.
static pid_t first_child(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int child = 0;
    if (fscanf(f, "%d", &child) != 1) child = 0;
    fclose(f);
    return child;
}

static int launch(int argc, char **argv) {
    planned_signal plan[32];
    int planned = 0;
    long long timeout = 10000;
    sigemptyset(&blocked);
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--ignore")) {
            for_each_signal(argv[++i], ignore_one);
        } else if (!strcmp(argv[i], "--block")) {
            for_each_signal(argv[++i], block_one);
        } else if (!strcmp(argv[i], "--timeout")) {
            timeout = atoll(argv[++i]);
        } else if (!strcmp(argv[i], "--send") && planned < 32) {
            char spec[64];
            snprintf(spec, sizeof(spec), "%s", argv[++i]);
            char *at = strchr(spec, '@');
            if (!at) return 2;
            *at = 0;
            char *target = strchr(at + 1, ':');
            plan[planned] = (planned_signal){signal_number(spec), atoll(at + 1), target && !strcmp(target + 1, "child"), 0};
            planned++;
        }
    }
    if (i >= argc - 1) return 2;
    sigset_t previous;
    sigprocmask(SIG_BLOCK, &blocked, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execvp(argv[i + 1], argv + i + 1);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    setpgid(pid, pid);
    long long start = now_ms();
    for (;;) {
        long long elapsed = now_ms() - start;
        for (int p = 0; p < planned; p++) {
            if (plan[p].done || elapsed < plan[p].at) continue;
            pid_t target = pid;
            if (plan[p].to_child) {
                target = first_child(pid);
                if (target == 0) continue;  // not forked yet: try again
            }
            kill(target, plan[p].sig);
            plan[p].done = 1;
        }
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG | WUNTRACED | WCONTINUED);
        if (got == pid) {
            if (WIFSTOPPED(status)) {
                printf("stopped %d\n", WSTOPSIG(status));
            } else if (WIFCONTINUED(status)) {
                printf("continued\n");
            } else if (WIFEXITED(status)) {
                printf("exited %d\n", WEXITSTATUS(status));
                break;
            } else if (WIFSIGNALED(status)) {
                printf("killed %d\n", WTERMSIG(status));
                break;
            }
            fflush(stdout);
            continue;
        }
        if (elapsed > timeout) {
            printf("timeout\n");
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        sleep_ms(1);
    }
    fflush(stdout);
    return 0;
}

/// The accepted differences (README "Transparency"): the hand-over variables.
static int accepted_difference(const char *entry) {
    return !strncmp(entry, "PROBE_EXEC_TRACE=", 17) || !strncmp(entry, "PROBE_EXEC_START_NS=", 20) ||
           !strncmp(entry, "PROBE_EXEC_PID=", 15);
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void print_status_field(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, field, strlen(field))) fputs(line, stdout);
    }
    if (f) fclose(f);
}

static int inspect(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        printf("argv[%d]:", i);
        for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++) printf(" %02x", *p);
        printf("\n");
    }
    extern char **environ;
    int n = 0;
    while (environ[n]) n++;
    char **sorted = calloc((size_t)n + 1, sizeof(char *));
    memcpy(sorted, environ, (size_t)n * sizeof(char *));
    qsort(sorted, (size_t)n, sizeof(char *), compare_strings);
    for (int i = 0; i < n; i++) {
        if (!accepted_difference(sorted[i])) printf("env: %s\n", sorted[i]);
    }
    printf("fds:");
    DIR *d = opendir("/proc/self/fd");
    int fds[256];
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && count < 256) {
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d)) fds[count++] = atoi(e->d_name);
    }
    if (d) closedir(d);
    for (int a = 0; a < count; a++)
        for (int b = a + 1; b < count; b++)
            if (fds[b] < fds[a]) {
                int t = fds[a];
                fds[a] = fds[b];
                fds[b] = t;
            }
    for (int a = 0; a < count; a++) printf(" %d", fds[a]);
    printf("\n");
    print_status_field("SigBlk:");
    print_status_field("SigIgn:");
    printf("pgid is own pid: %d\n", getpgrp() == getpid());
    printf("session is parent's: %d\n", getsid(0) == getsid(getppid()) || getppid() == 1);
    fflush(stdout);
    return argc > 2 ? atoi(argv[2]) : 0;
}

static volatile sig_atomic_t counts[NSIG];
static void count_signal(int sig) { counts[sig]++; }
static void install_counter(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = count_signal;
    sigaction(sig, &sa, NULL);
}
static const char *count_list;

static int count(int argc, char **argv) {
    if (argc < 4) return 2;
    count_list = argv[2];
    for_each_signal(argv[2], install_counter);
    fprintf(stderr, "ready\n");
    long long end = now_ms() + atoll(argv[3]);
    while (now_ms() < end) sleep_ms(end - now_ms());
    for (int sig = 1; sig < NSIG; sig++) {
        if (counts[sig]) printf("%s %d\n", sigabbrev_np(sig), (int)counts[sig]);
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "launch")) return launch(argc, argv);
    if (!strcmp(mode, "inspect")) return inspect(argc, argv);
    if (!strcmp(mode, "count")) return count(argc, argv);
    if (!strcmp(mode, "sleep")) {
        sleep_ms(argc > 2 ? atoll(argv[2]) : 1000);
        return 0;
    }
    fprintf(stderr, "difftool: unknown mode %s\n", mode);
    return 2;
}
