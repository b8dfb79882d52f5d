#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "spr_sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int spr_sockdiag_open(void) { return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG); }

/// One dump request for `family`; appends the listeners to `out`. Returns the new count or -1.
static int spr_sockdiag_family(int fd, int family, spr_listener_t *out, int count, int capacity) {
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof(message));
    message.header.nlmsg_len = sizeof(message);
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request.sdiag_family = (uint8_t)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = 1u << TCP_LISTEN;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &message, sizeof(message), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        return -1;
    }
    static char buffer[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
            if (h->nlmsg_type == NLMSG_DONE) {
                return count;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *error = NLMSG_DATA(h);
                errno = error->error < 0 ? -error->error : EIO;
                return -1;
            }
            struct inet_diag_msg *diag = NLMSG_DATA(h);
            if (count < capacity) {
                spr_listener_t *l = &out[count++];
                l->inode = diag->idiag_inode;
                l->family = diag->idiag_family;
                l->port = ntohs(diag->id.idiag_sport);
                memcpy(l->address, diag->id.idiag_src, sizeof(l->address));
            }
        }
    }
}

int spr_sockdiag_listeners(int fd, spr_listener_t *out, int capacity) {
    int count = spr_sockdiag_family(fd, AF_INET, out, 0, capacity);
    if (count < 0) {
        return -1;
    }
    return spr_sockdiag_family(fd, AF_INET6, out, count, capacity);
}
