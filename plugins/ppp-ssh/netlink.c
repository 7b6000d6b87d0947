/*
 * netlink.c: the link and route side of ppp-ssh, on libnl-route-3.
 *
 * pppd names its interface itself (ppp0, ppp1, ... or what `ifname` says),
 * so the link is recognised by what only it carries: the IPv4 address
 * local_ip with remote_ip as its point-to-point peer. The link is up while
 * that address is on an interface that is IFF_UP.
 *
 * Two sockets: events arrive on one that belongs to the multicast groups
 * and nothing else; requests (route add and delete, link queries, the dump
 * after an overflow) go on another, so that an answer never has to be told
 * apart from an event.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlink.h"

#define RECV_ROUNDS  64            /* batches read per wakeup: fairness */
#define EVENT_RCVBUF (1024 * 1024) /* a burst of events must not overflow */

struct pnl {
	const struct warren_host *host;
	struct warren_tunnel *t;
	struct in_addr local, peer;
	pnl_link_cb cb;
	void *arg;
	struct nl_sock *ev;
	struct nl_sock *req;
	struct warren_watch *watch;

	int ifindex; /* the interface holding local/peer; 0: none seen */
	bool if_up;  /* that interface is IFF_UP */
	char ifname[IF_NAMESIZE];
	bool told_up; /* what the owner was told */
};

static bool addr_is(struct nl_addr *a, struct in_addr want)
{
	return a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == sizeof(want) &&
	       memcmp(nl_addr_get_binary_addr(a), &want, sizeof(want)) == 0;
}

/* Tell the owner when "our address on an interface that is up" changes. */
static void update(struct pnl *n)
{
	bool up = n->ifindex > 0 && n->if_up;

	if (up == n->told_up)
		return;
	n->told_up = up;
	n->cb(up ? n->ifindex : 0, up ? n->ifname : NULL, n->arg);
}

static void link_seen(struct pnl *n, struct rtnl_link *l)
{
	const char *name = rtnl_link_get_name(l);

	n->if_up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
	if (name)
		snprintf(n->ifname, sizeof(n->ifname), "%s", name);
}

/* The address event says which interface; its flags come from a query. */
static void query_link(struct pnl *n)
{
	struct rtnl_link *l = NULL;

	n->if_up = false;
	if (rtnl_link_get_kernel(n->req, n->ifindex, NULL, &l) == 0 && l) {
		link_seen(n, l);
		rtnl_link_put(l);
	}
}

static bool addr_ours(struct pnl *n, struct rtnl_addr *a)
{
	return rtnl_addr_get_family(a) == AF_INET && addr_is(rtnl_addr_get_local(a), n->local) &&
	       addr_is(rtnl_addr_get_peer(a), n->peer);
}

static void on_addr(struct pnl *n, struct rtnl_addr *a, bool gone)
{
	int ifindex = rtnl_addr_get_ifindex(a);

	if (!addr_ours(n, a))
		return;
	if (gone) {
		if (ifindex == n->ifindex)
			n->ifindex = 0;
		return;
	}
	n->ifindex = ifindex;
	if (!if_indextoname((unsigned)ifindex, n->ifname))
		snprintf(n->ifname, sizeof(n->ifname), "if%d", ifindex);
	query_link(n);
}

static void on_link(struct pnl *n, struct rtnl_link *l, bool gone)
{
	if (n->ifindex <= 0 || rtnl_link_get_ifindex(l) != n->ifindex)
		return;
	if (gone)
		n->ifindex = 0;
	else
		link_seen(n, l);
}

static void on_object(struct nl_object *obj, void *arg)
{
	struct pnl *n = arg;
	const char *type = nl_object_get_type(obj);
	int msgtype = nl_object_get_msgtype(obj);

	if (strcmp(type, "route/addr") == 0)
		on_addr(n, (struct rtnl_addr *)obj, msgtype == RTM_DELADDR);
	else if (strcmp(type, "route/link") == 0)
		on_link(n, (struct rtnl_link *)obj, msgtype == RTM_DELLINK);
}

static int on_message(struct nl_msg *msg, void *arg)
{
	nl_msg_parse(msg, on_object, arg);
	return NL_OK;
}

static void rescan_addr(struct nl_object *obj, void *arg)
{
	struct pnl *n = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)obj;

	if (addr_ours(n, a))
		n->ifindex = rtnl_addr_get_ifindex(a);
}

/* Events were lost (the socket overflowed): ask for the whole picture. */
static void rescan(struct pnl *n)
{
	struct nl_cache *cache = NULL;

	n->host->log(n->t, WARREN_LOG_DEBUG, "netlink events overflowed: rescanning addresses");
	n->ifindex = 0;
	if (rtnl_addr_alloc_cache(n->req, &cache) == 0) {
		nl_cache_foreach(cache, rescan_addr, n);
		nl_cache_free(cache);
	}
	if (n->ifindex > 0) {
		if (!if_indextoname((unsigned)n->ifindex, n->ifname))
			snprintf(n->ifname, sizeof(n->ifname), "if%d", n->ifindex);
		query_link(n);
	}
}

static void on_readable(int fd, unsigned events, void *arg)
{
	struct pnl *n = arg;
	int i, rc = 0;

	(void)fd;
	(void)events;
	for (i = 0; i < RECV_ROUNDS; i++) {
		rc = nl_recvmsgs_default(n->ev);
		if (rc < 0)
			break;
	}
	if (rc == -NLE_NOMEM)
		rescan(n); /* ENOBUFS: the kernel dropped events */
	else if (rc < 0 && rc != -NLE_AGAIN)
		n->host->log(n->t, WARREN_LOG_DEBUG, "netlink: %s", nl_geterror(rc));
	update(n);
}

struct pnl *pnl_open(const struct warren_host *host, struct warren_tunnel *t, struct in_addr local,
                     struct in_addr peer, pnl_link_cb cb, void *arg, char *err, size_t errlen)
{
	struct pnl *n = calloc(1, sizeof(*n));
	int rc;

	if (!n) {
		snprintf(err, errlen, "netlink: out of memory");
		return NULL;
	}
	n->host = host;
	n->t = t;
	n->local = local;
	n->peer = peer;
	n->cb = cb;
	n->arg = arg;
	n->ev = nl_socket_alloc();
	n->req = nl_socket_alloc();
	if (!n->ev || !n->req) {
		snprintf(err, errlen, "netlink: out of memory");
		goto fail;
	}
	/* Events carry no sequence numbers of ours. */
	nl_socket_disable_seq_check(n->ev);
	nl_socket_modify_cb(n->ev, NL_CB_VALID, NL_CB_CUSTOM, on_message, n);
	rc = nl_connect(n->ev, NETLINK_ROUTE);
	if (rc == 0)
		rc = nl_socket_add_memberships(n->ev, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, 0);
	if (rc == 0)
		rc = nl_socket_set_nonblocking(n->ev);
	if (rc == 0)
		rc = nl_connect(n->req, NETLINK_ROUTE);
	if (rc == 0)
		rc = nl_socket_set_nonblocking(n->req);
	if (rc != 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(rc));
		goto fail;
	}
	nl_socket_set_buffer_size(n->ev, EVENT_RCVBUF, 0);
	n->watch = host->watch_new(t, nl_socket_get_fd(n->ev), WARREN_EV_READ, on_readable, n);
	if (!n->watch) {
		snprintf(err, errlen, "netlink: out of memory");
		goto fail;
	}
	return n;
fail:
	pnl_close(n);
	return NULL;
}

void pnl_close(struct pnl *n)
{
	if (!n)
		return;
	n->host->watch_free(n->watch);
	if (n->ev)
		nl_socket_free(n->ev); /* closes the fd */
	if (n->req)
		nl_socket_free(n->req);
	free(n);
}

static struct rtnl_route *build_route(int ifindex, struct in_addr dst, unsigned prefix)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *a = nl_addr_build(AF_INET, &dst, sizeof(dst));

	if (!r || !nh || !a)
		goto fail;
	nl_addr_set_prefixlen(a, (int)prefix);
	rtnl_route_set_family(r, AF_INET);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_type(r, RTN_UNICAST);
	/* What `ip route add NET dev ppp0` makes: no gateway, scope link. */
	rtnl_route_set_scope(r, RT_SCOPE_LINK);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	if (rtnl_route_set_dst(r, a) != 0)
		goto fail;
	nl_addr_put(a);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh); /* the route owns nh now */
	return r;
fail:
	if (a)
		nl_addr_put(a);
	if (nh)
		rtnl_route_nh_free(nh);
	if (r)
		rtnl_route_put(r);
	return NULL;
}

int pnl_route_add(struct pnl *n, int ifindex, struct in_addr dst, unsigned prefix, char *err,
                  size_t errlen)
{
	struct rtnl_route *r = build_route(ifindex, dst, prefix);
	int rc, ret = -1;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* EXCL: a route the user already has is theirs, not ours to replace. */
	rc = rtnl_route_add(n->req, r, NLM_F_EXCL);
	if (rc == -NLE_EXIST) {
		snprintf(err, errlen, "a route to it exists already");
		goto out;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", nl_geterror(rc));
		goto out;
	}
	ret = 0;
out:
	if (r)
		rtnl_route_put(r);
	return ret;
}

int pnl_route_del(struct pnl *n, int ifindex, struct in_addr dst, unsigned prefix)
{
	struct rtnl_route *r = build_route(ifindex, dst, prefix);
	int rc;

	if (!r)
		return -1;
	rc = rtnl_route_delete(n->req, r, 0);
	rtnl_route_put(r);
	/* Gone with its interface already: that is what we wanted. */
	return rc == 0 || rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV ? 0 : -1;
}

int pnl_link_bytes(struct pnl *n, int ifindex, uint64_t *rx, uint64_t *tx)
{
	struct rtnl_link *l = NULL;

	if (ifindex <= 0 || rtnl_link_get_kernel(n->req, ifindex, NULL, &l) != 0 || !l)
		return -1;
	*rx = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
	*tx = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
	rtnl_link_put(l);
	return 0;
}
