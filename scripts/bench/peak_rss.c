/* peak_rss OUT COMMAND...: runs COMMAND, and writes its own VmHWM (and RssAnon, RssFile) as it
 * ends, read at its exit stop (PTRACE_O_TRACEEXIT), to the file OUT: the true peak of that one
 * process, which sampling /proc/PID/status misses near the end and getrusage mixes with its
 * children's. OUT gets "VmHWM_kB RssAnon_kB RssFile_kB"; COMMAND keeps stdout and stderr.
 * Exit status: COMMAND's (128+N for signal N). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static long field(const char *status, const char *name) {
    const char *at = strstr(status, name);
    return at ? atol(at + strlen(name)) : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss OUT COMMAND...\n");
        return 64;
    }
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);  /* seized while stopped: traced before it execs */
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, WSTOPPED) < 0 || ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT) != 0) {
        perror("peak_rss: seize");
        return 70;
    }
    kill(pid, SIGCONT);
    for (;;) {
        if (waitpid(pid, &status, 0) < 0) return 70;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
            char path[64], text[4096];
            snprintf(path, sizeof path, "/proc/%d/status", pid);
            FILE *file = fopen(path, "r");
            size_t n = file ? fread(text, 1, sizeof text - 1, file) : 0;
            if (file) fclose(file);
            text[n] = 0;
            FILE *out = fopen(argv[1], "w");
            if (out) {
                fprintf(out, "%ld %ld %ld\n", field(text, "VmHWM:"), field(text, "RssAnon:"), field(text, "RssFile:"));
                fclose(out);
            }
            ptrace(PTRACE_CONT, pid, 0, 0);
            continue;
        }
        /* Signal-delivery stops pass the signal on; group stops (SIGSTOP etc.) are let go. */
        int signal = WSTOPSIG(status);
        int event = status >> 16;
        ptrace(PTRACE_CONT, pid, 0, event == 0 && signal != SIGTRAP ? signal : 0);
    }
}
