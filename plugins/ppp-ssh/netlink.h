/*
 * netlink.h: what ppp-ssh needs from the kernel's routing netlink, through
 * libnl: notice the interface that carries the link's addresses come and
 * go, and add or remove routes through it. Never blocks: the event socket
 * is non-blocking and watched by the core's loop; the request socket is
 * non-blocking too, and the kernel answers route and link requests before
 * the send returns, so the answer is read at once.
 */
#ifndef WARREN_PPP_SSH_NETLINK_H
#define WARREN_PPP_SSH_NETLINK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warren-plugin.h"

struct pnl;

/* The interface holding local (with peer as its point-to-point address)
 * came up (ifindex > 0, ifname set) or went away (ifindex 0). */
typedef void (*pnl_link_cb)(int ifindex, const char *ifname, void *arg);

/* Open both sockets and subscribe to link and IPv4 address events. NULL on
 * failure, with the reason in err. */
struct pnl *pnl_open(const struct warren_host *host, struct warren_tunnel *t, struct in_addr local,
                     struct in_addr peer, pnl_link_cb cb, void *arg, char *err, size_t errlen);
/* NULL is fine. No callback runs after this. */
void pnl_close(struct pnl *n);

/* Add or remove dst/prefix through ifindex (main table, scope link). 0, or
 * -1 with the reason in err. Removing a route that is gone already is 0. */
int pnl_route_add(struct pnl *n, int ifindex, struct in_addr dst, unsigned prefix, char *err,
                  size_t errlen);
int pnl_route_del(struct pnl *n, int ifindex, struct in_addr dst, unsigned prefix);

/* The interface's byte counters; -1 when they cannot be read now. */
int pnl_link_bytes(struct pnl *n, int ifindex, uint64_t *rx, uint64_t *tx);

#endif /* WARREN_PPP_SSH_NETLINK_H */
