/* Benchmark programs for scripts/bench.py.
 *   signals storm N      raises SIGUSR1 N times at itself (a handler counts them), prints the count
 *   signals term N       prints "ready", then for each of N SIGTERMs prints the CLOCK_MONOTONIC
 *                        time (ns) at which its handler ran; exits after the Nth
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t count;
static void counted(int s) { (void)s; count++; }

static void stamped(int s) {
    (void)s;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    char line[32];
    int n = 0;
    unsigned long long ns = (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
    char digits[24];
    int d = 0;
    do { digits[d++] = (char)('0' + ns % 10); ns /= 10; } while (ns);
    while (d) line[n++] = digits[--d];
    line[n++] = '\n';
    (void)!write(1, line, (size_t)n);
    count++;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 50000;
    if (!strcmp(mode, "storm")) {
        signal(SIGUSR1, counted);
        for (int i = 0; i < n; i++) kill(getpid(), SIGUSR1);
        printf("%d\n", (int)count);
        return 0;
    }
    if (!strcmp(mode, "term")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = stamped;
        sigaction(SIGTERM, &sa, NULL);
        (void)!write(1, "ready\n", 6);
        while (count < n) pause();
        return 0;
    }
    fprintf(stderr, "usage: signals storm N | signals term N\n");
    return 64;
}
