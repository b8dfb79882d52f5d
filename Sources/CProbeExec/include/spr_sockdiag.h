#ifndef SPR_SOCKDIAG_H
#define SPR_SOCKDIAG_H

// Provided in C because netlink's structures and macros (NLMSG_*, inet_diag) are not in Swift's
// Glibc overlay. Listening TCP sockets of the network namespace, asked of the kernel with one
// sock_diag request per address family: the kernel filters by state, so an idle server with a
// handful of listeners costs two small messages, not a formatted /proc/net/tcp.

#include <stdint.h>

#pragma clang assume_nonnull begin

/// One listening socket.
typedef struct spr_listener {
    /// The socket's inode (as in /proc/PID/fd's `socket:[N]`).
    uint64_t inode;
    /// AF_INET or AF_INET6.
    int family;
    /// Host byte order.
    int port;
    /// The local address, network order (4 bytes for AF_INET).
    uint8_t address[16];
} spr_listener_t;

/// A NETLINK_SOCK_DIAG socket (close-on-exec), kept open across scans. Returns the fd or -1.
int spr_sockdiag_open(void);

/// Fills `out` with up to `capacity` listening TCP sockets (IPv4 and IPv6) of the socket's
/// network namespace. Returns the count (more may exist when it equals `capacity`), or -1 with
/// errno set (then read /proc/net/tcp instead).
int spr_sockdiag_listeners(int fd, spr_listener_t *out, int capacity);

#pragma clang assume_nonnull end

#endif
