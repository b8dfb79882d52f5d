// Programs of unusual shape for the tracing tests, one per -D flag. Compiled at test time.
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef STDERR_COPY_ONLY
// gcc gives the executable a copy relocation of `stderr` (it names it) and none of `stdout`
// (printf reaches it inside the C library): each stream lives in a different module.
int main(void) {
    fputs("warn\n", stderr);
    printf("abc-lost");
    _exit(0);
}
#endif

#if defined(DATA_FROM_START) && defined(__x86_64__)
// Built with -nostartfiles: an entry point of its own whose first call passes a pointer to
// read-only data, as `_start` passes main to __libc_start_main. A breakpoint planted there
// would corrupt the message.
__attribute__((used)) const char message[] = "MSG-from-start\n";
__attribute__((noinline, used)) void say(const char *text) { syscall(SYS_write, 1, text, 15); }
int main(void) {
    say("main reached!!\n");
    return 0;
}
__attribute__((naked)) void _start(void) {
    __asm__ volatile("xor %%ebp, %%ebp\n"
                     "lea message(%%rip), %%rdi\n"
                     "call say\n"
                     "call main\n"
                     "mov %%eax, %%edi\n"
                     "mov $231, %%eax\n"
                     "syscall\n" ::: "memory");
}
#endif

#ifdef QUICK_EXIT
#include <stdlib.h>
// quick_exit has an alias (`__new_quick_exit` in a static glibc): the name people call is shown.
int main(void) { quick_exit(7); }
#endif

#ifdef FORK_CONSTRUCTOR
#include <sys/types.h>
// A fork in a constructor, before main(): in the executable (with FORK_BEFORE_MAIN), or in a
// shared library (built alone with -shared -fPIC), whose constructors run before the entry point.
pid_t early_child = -1;
__attribute__((constructor)) static void fork_early(void) { early_child = fork(); }
#endif

#ifdef FORK_BEFORE_MAIN
#include <stdlib.h>
#include <sys/wait.h>
// The child forked by FORK_CONSTRUCTOR runs main() too. Its memory is a copy of the program's,
// taken while probe-exec's start-up breakpoints are planted: left there, the child would die of
// SIGTRAP at main() or at the entry point (bare it prints and exits 7).
extern pid_t early_child;
int main(void) {
    if (early_child == 0) {
        printf("child reached main\n");
        fflush(stdout);
        _exit(7);
    }
    int status = 0;
    waitpid(early_child, &status, 0);
    printf("child: exited %d, signal %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
}
#endif

#ifdef TRACES_ITS_CHILD
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
// A program that traces its own child (as strace, a debugger or a sandbox does) right after the
// fork: the child must be free to be seized, as it is bare (probe-exec's fork events must not
// leave it probe-exec's tracee meanwhile).
int main(void) {
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 100; i++) usleep(1000);
        _exit(0);
    }
    long r = ptrace(PTRACE_SEIZE, child, NULL, NULL);
    printf("seize: %s\n", r == 0 ? "ok" : strerror(errno));
    fflush(stdout);
    if (r == 0) ptrace(PTRACE_DETACH, child, NULL, NULL);
    int status = 0;
    waitpid(child, &status, 0);
    return r == 0 ? 0 : 1;
}
#endif

#ifdef CLONE_WITHOUT_SIGCHLD
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
// Processes made by clone() without SIGCHLD (the kernel reports them as clone events, like
// threads), from threads and from main: none may be held by probe-exec (a hang before), and
// they count as processes started.
static int clone_child(void *unused) {
    (void)unused;
    return 0;
}
static void *clone_from_thread(void *unused) {
    (void)unused;
    char *stack = malloc(1 << 16);
    pid_t pid = clone(clone_child, stack + (1 << 16), 0, NULL);
    waitpid(pid, NULL, __WALL);
    return NULL;
}
int main(void) {
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, clone_from_thread, NULL);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    clone_from_thread(NULL);
    printf("cloned\n");
    return 0;
}
#endif

#ifdef FORKING_CONSTRUCTOR_THREADS
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
// Threads started by a constructor fork in a loop while the main thread goes on to main(): a
// child's copy of the memory is taken while the breakpoint at main is planted, but its fork
// event may be handled after main() was reached. Each child calls main() too (it returns 3).
static volatile int in_child, stop;
static pid_t kids[4000];
static volatile int kid_count;
static pthread_t forkers[3];
static void *forker(void *unused) {
    (void)unused;
    while (!stop && kid_count < 3900) {
        pid_t pid = fork();
        if (pid == 0) {
            in_child = 1;
            _exit(main());
        }
        if (pid > 0) kids[__sync_fetch_and_add(&kid_count, 1)] = pid;
    }
    return NULL;
}
__attribute__((constructor)) static void start_forkers(void) {
    for (int i = 0; i < 3; i++) pthread_create(&forkers[i], NULL, forker, NULL);
    usleep(3000);
}
int main(void) {
    if (in_child) return 3;
    usleep(3000);
    stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(forkers[i], NULL);
    int bad = 0;
    for (int i = 0; i < kid_count; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 3) bad++;
    }
    printf("children that did not return 3 from main: %d\n", bad);
    return 0;
}
#endif

#ifdef PROBING_CRASH_HANDLER
#include <setjmp.h>
#include <signal.h>
#include <string.h>
// A crash handler that reads memory by probing, as the Swift runtime's backtracer does: it
// signals a thread first (the backtracer's SIGPROF; SIGURG here, ignored), then each probe of an
// unmapped address faults and is recovered from (siglongjmp); then the original fault is
// re-raised and the program dies of SIGSEGV.
static sigjmp_buf probe_jump;
static volatile int probing;
static void on_segv(int sig) {
    if (probing) siglongjmp(probe_jump, 1);
    probing = 1;
    raise(SIGURG);
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(probe_jump, 1) == 0) {
            volatile int *unmapped = (volatile int *)(long)(16 + i * 8);
            (void)*unmapped;
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}
int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_segv;
    action.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &action, NULL);
    volatile int *null_pointer = NULL;
    return *null_pointer;
}
#endif

#ifdef FORK_AND_WAIT_BEFORE_MAIN
#include <sys/wait.h>
// A constructor forks a child that lives 0.5 s, then waits 0.3 s itself before main(): a detach
// in that time (with --follow-forks the child is traced too) must take main's breakpoint out of
// the program itself, not only out of the child's copy.
static pid_t early;
__attribute__((constructor)) static void fork_and_wait(void) {
    early = fork();
    if (early == 0) {
        usleep(500000);
        _exit(0);
    }
    usleep(300000);
}
int main(void) {
    printf("main reached\n");
    waitpid(early, NULL, 0);
    return 0;
}
#endif

#ifdef JOB_CONTROL_OF_CHILDREN
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
/// A parent that stops and continues its children as a shell does, in a constructor and in main,
/// and prints each change waitpid(WUNTRACED | WCONTINUED) shows it.
static void report(const char *who, int status) {
    if (WIFSTOPPED(status)) printf("%s: stopped %d\n", who, WSTOPSIG(status));
    else if (WIFCONTINUED(status)) printf("%s: continued\n", who);
    else if (WIFEXITED(status)) printf("%s: exit %d\n", who, WEXITSTATUS(status));
    else printf("%s: signal %d\n", who, WTERMSIG(status));
    fflush(stdout);
}
static void stop_and_continue(const char *who) {
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 50; i++) usleep(1000);
        _exit(5);
    }
    int status;
    kill(child, SIGSTOP);
    waitpid(child, &status, WUNTRACED);
    report(who, status);
    kill(child, SIGCONT);
    waitpid(child, &status, WCONTINUED);
    report(who, status);
    waitpid(child, &status, 0);
    report(who, status);
}
__attribute__((constructor)) static void before_main(void) { stop_and_continue("constructor"); }
int main(void) {
    stop_and_continue("main");
    stop_and_continue("main again");
    return 0;
}
#endif

#if defined(OWN_START_PASSES_A_HOOK) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
/// Built with -nostartfiles: an entry point of its own that loads another function into rdi and
/// jumps on, as glibc's `_start` loads main before its call (decoded as main, the verdict said
/// "main() was NOT reached"). Prints "in main", exits 5.
__attribute__((used, noinline)) void cleanup(void) { write(1, "cleanup\n", 8); }
int main(void) {
    write(1, "in main\n", 8);
    return 5;
}
__attribute__((used, noreturn)) void run(void (*hook)(void)) {
    (void)hook;
    syscall(SYS_exit_group, main());
    __builtin_unreachable();
}
__asm__(".globl _start\n_start:\n xor %ebp,%ebp\n and $-16,%rsp\n sub $8,%rsp\n lea cleanup(%rip),%rdi\n jmp run\n");
#endif

#ifdef PLUGIN_LIBRARY
// Built as a shared library, loaded after main() by LOADS_A_PLUGIN: ends the process from code
// that was not mapped when the program started.
#include <stdlib.h>
void plugin_shutdown(int code) {
    printf("plugin-pending");  // in stdout's buffer: lost at _exit
    _exit(code);
}
#endif

#ifdef LOADS_A_PLUGIN
// dlopen()s the library named by argv[1] after main() and calls its plugin_shutdown(6).
#include <dlfcn.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *library = dlopen(argv[1], RTLD_NOW);
    if (!library) return 3;
    void (*shutdown)(int) = (void (*)(int))dlsym(library, "plugin_shutdown");
    if (!shutdown) return 4;
    shutdown(6);
    return 5;
}
#endif
