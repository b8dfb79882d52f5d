#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_relay.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

typedef struct {
    void *(*body)(void *);
    void *argument;
    sem_t running;
} spr_relay_start_t;

/// The new thread's first code: once it runs with its own mask (glibc starts a thread with every
/// signal blocked and sets its mask here), it lets the creator go on.
static void *spr_relay_trampoline(void *raw) {
    spr_relay_start_t *start = raw;
    void *(*body)(void *) = start->body;
    void *argument = start->argument;
    sem_post(&start->running);  // `start` is the creator's: not touched after this
    return body(argument);
}

int spr_relay_thread_start(const char *name, void *(*body)(void *), void *argument) {
    spr_relay_start_t start = {.body = body, .argument = argument};
    if (sem_init(&start.running, 0, 0) != 0) {
        return errno;
    }
    sigset_t all_but_prof;
    sigfillset(&all_but_prof);
    sigdelset(&all_but_prof, SIGPROF);
    sigset_t previous;
    pthread_sigmask(SIG_SETMASK, &all_but_prof, &previous);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    pthread_t thread;
    int err = pthread_create(&thread, &attributes, spr_relay_trampoline, &start);
    pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (err == 0) {
        (void)pthread_setname_np(thread, name);
        // Until the thread runs, its mask is glibc's all-blocked one: a crash in that window would
        // find it impossible to suspend. Wait for it (microseconds).
        while (sem_wait(&start.running) != 0 && errno == EINTR) {
        }
    }
    sem_destroy(&start.running);
    return err;
}

int spr_watch_file(const char *path) {
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    if (inotify_add_watch(fd, path, IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int spr_wait_for_change(int watch_fd) {
    char buffer[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(watch_fd, buffer, sizeof(buffer));
        if (n > 0) {
            const struct inotify_event *event = (const struct inotify_event *)buffer;
            if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                return ENOENT;
            }
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 ? errno : EIO;
    }
}
