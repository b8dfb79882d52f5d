#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_control.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/// The abstract address `\0probe-exec-<pid>`; returns its length.
static socklen_t spr_control_address(pid_t pid, struct sockaddr_un *address) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    int n = snprintf(address->sun_path + 1, sizeof(address->sun_path) - 1, "probe-exec-%d", (int)pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int spr_control_listen(pid_t pid) {
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un address;
    socklen_t length = spr_control_address(pid, &address);
    if (bind(fd, (struct sockaddr *)&address, length) != 0 || listen(fd, 4) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int spr_control_accept(int listener, uid_t *peer_uid, pid_t *peer_pid) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct ucred credentials;
    socklen_t size = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
        close(fd);
        return -1;
    }
    *peer_uid = credentials.uid;
    *peer_pid = credentials.pid;
    return fd;
}

int spr_control_connect(pid_t pid) {
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un address;
    socklen_t length = spr_control_address(pid, &address);
    if (connect(fd, (struct sockaddr *)&address, length) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}
