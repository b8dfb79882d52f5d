// The floor under probe-exec's traced start-up, in C (scripts/bench.py times it in each start-up
// round): what the tracing mechanism itself costs before any backtrace or naming. It forks the
// program with PTRACE_TRACEME, takes its exec stop, opens two hardware execution breakpoints on
// it (perf_event_open, ring buffers) at AT_ENTRY, takes its exit stop (PTRACE_O_TRACEEXIT) and
// its registers there, appends five NDJSON lines to a 0600 trace file, and exits with the
// program's status. Not product code: no signal forwarding, no pumps, no error handling.
// Usage: traced_floor TRACE-FILE PROGRAM [ARGS...]
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/// A hardware execution breakpoint on `pid` at `address`; its ring buffer in `*ring` (NULL if none).
static int breakpoint(pid_t pid, unsigned long address, struct perf_event_mmap_page **ring) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof a;
    a.bp_type = HW_BREAKPOINT_X;
    a.bp_addr = address;
    a.bp_len = sizeof(long);
    a.sample_period = 1;
    a.sample_type = PERF_SAMPLE_TIME;
    a.wakeup_events = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    int fd = (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    *ring = NULL;
    if (fd >= 0) {
        void *mapped = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mapped != MAP_FAILED) *ring = mapped;
    }
    return fd;
}

static void record(int fd, const char *line) { (void)!write(fd, line, strlen(line)); }

int main(int argc, char **argv) {
    if (argc < 3) return 64;
    int trace = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    char line[512];
    snprintf(line, sizeof line, "{\"event\":\"start\",\"pid\":%d}\n", getpid());
    record(trace, line);
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);  // the exec stop
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/auxv", pid);
    int auxv = open(path, O_RDONLY | O_CLOEXEC);
    unsigned long words[128];
    ssize_t got = read(auxv, words, sizeof words);
    close(auxv);
    unsigned long entry = 0;
    for (ssize_t i = 0; i + 1 < got / (ssize_t)sizeof(long); i += 2)
        if (words[i] == AT_ENTRY) entry = words[i + 1];
    struct perf_event_mmap_page *ring = NULL, *unused = NULL;
    int first = breakpoint(pid, entry, &ring), second = breakpoint(pid, entry + 4, &unused);
    snprintf(line, sizeof line, "{\"event\":\"target_exec\",\"pid\":%d,\"entry\":\"0x%lx\"}\n", pid, entry);
    record(trace, line);
    ptrace(PTRACE_CONT, pid, 0, 0);
    waitpid(pid, &status, 0);  // the exit stop
    struct user_regs_struct regs;
    struct iovec vector = {.iov_base = &regs, .iov_len = sizeof regs};
    ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, &vector);
    snprintf(line, sizeof line, "{\"event\":\"milestone\",\"name\":\"entry\",\"hit\":%d}\n",
             ring != NULL && ring->data_head > 0);
    record(trace, line);
    snprintf(line, sizeof line, "{\"event\":\"exit_stop\",\"registers\":%zu}\n", vector.iov_len);
    record(trace, line);
    ptrace(PTRACE_CONT, pid, 0, 0);
    waitpid(pid, &status, 0);
    if (first >= 0) close(first);
    if (second >= 0) close(second);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    snprintf(line, sizeof line, "{\"event\":\"exit\",\"status\":%d}\n", code);
    record(trace, line);
    return code;
}
