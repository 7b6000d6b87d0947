/*
 * relay.c: the `relay` transport, a plain TCP relay in the manner of rinetd.
 *
 * Each `listen` key opens a local listening socket; every client accepted on
 * it is joined to a fresh TCP connection to its `connect` target, and bytes
 * are pumped both ways until both sides are done. There is no gateway and no
 * protocol of its own: the transport exists so that the core's own tests can
 * drive the plugin ABI end to end (config, fds, timers, resolver, reports,
 * counters, status) with nothing but loopback sockets.
 *
 * Design points:
 *  - A listener that cannot bind does not fail the tunnel: the tunnel is
 *    degraded with the reason and the bind is retried on a timer, so one
 *    port held by someone else never takes the other forwards down.
 *  - Every connection resolves its target afresh (a DNS change takes effect
 *    for the next client) and tries each address in turn.
 *  - Each direction has one fixed 64 KiB ring buffer; a side is read only
 *    while its buffer has room, so a slow reader stalls its writer through
 *    TCP flow control instead of growing memory.
 *  - Watches are armed with exactly the events wanted now: a level-triggered
 *    watch armed for a direction with nothing to do would spin the loop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, SOCK_NONBLOCK */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "warren-plugin.h"

#define RELAY_VERSION "0.1.0"

#define RELAY_BUF_SIZE           (64 * 1024) /* per direction of a connection */
#define RELAY_ACCEPT_BATCH       64          /* accepts per wakeup: other fds get their turn */
#define RELAY_MAX_CONNS_DEFAULT  1024        /* per listener */
#define RELAY_MAX_CONNS_LIMIT    1000000
#define RELAY_BIND_RETRY_MIN_MS  1000
#define RELAY_BIND_RETRY_MAX_MS  30000
#define RELAY_ACCEPT_PAUSE_MS    1000  /* after EMFILE and friends */
#define RELAY_CONNECT_TIMEOUT_MS 10000 /* per target address, then the next */
#define RELAY_STATUS_CONNS_MAX   100
#define RELAY_ERR_LEN            256

/* The host table, kept by the entry point. One per process, like the core. */
static const struct warren_host *host;

/* ---- configuration ---------------------------------------------------- */

struct relay_listen_conf {
	char *text;    /* the value as written, for status */
	char bind[64]; /* canonical numeric address, or "*" for all */
	uint16_t port;
	int line;
	bool remote; /* reachable from other hosts */
};

struct relay_connect_conf {
	char *text;
	char host[256];
	uint16_t port;
};

struct relay_conf {
	struct relay_listen_conf *listens;
	size_t nlistens;
	struct relay_connect_conf *connects;
	size_t nconnects; /* 1 (shared by all listens) or nlistens (paired) */
	unsigned max_connections;
	bool accept_remote;
};

/* ---- instance --------------------------------------------------------- */

enum relay_listener_state {
	RELAY_LISTENER_STOPPED = 0,
	RELAY_LISTENER_LISTENING,
	RELAY_LISTENER_FAILED, /* bind failed; retry_timer is armed */
};

struct relay_conn;

struct relay_listener {
	struct relay *r;
	size_t index;
	const struct relay_listen_conf *lc;
	const struct relay_connect_conf *cc;
	enum relay_listener_state state;
	int fd;
	struct warren_watch *watch;
	unsigned watch_events;
	struct warren_timer *retry_timer; /* rebind after a failed bind */
	uint64_t retry_ms;
	struct warren_timer *pause_timer; /* resume accepting after EMFILE */
	bool paused;
	char bound[80];                 /* "127.0.0.1:2323", valid while listening */
	char last_error[RELAY_ERR_LEN]; /* "" when none */
	struct relay_conn *conns;       /* doubly linked, newest first */
	size_t nconns;
	uint64_t total_connections;
	uint64_t failed_connections;
	uint64_t bytes_in;
	uint64_t bytes_out;
};

enum relay_report {
	RELAY_REPORTED_NONE = 0,
	RELAY_REPORTED_UP,
	RELAY_REPORTED_DEGRADED,
};

struct relay {
	struct warren_tunnel *t;
	const struct relay_conf *conf;
	struct relay_listener *listeners;
	size_t nlisteners;
	bool running;
	/* Reports are made from a zero-delay timer, never from inside start():
	 * the header does not promise that report_* may be called before start
	 * has returned, and coalescing also avoids repeating a report. */
	struct warren_timer *report_timer;
	enum relay_report reported;
	char reported_reason[512];
};

/* One direction of a connection: a ring buffer from one socket to the other. */
struct relay_dir {
	char *buf;
	size_t head; /* first byte of data */
	size_t len;  /* bytes of data */
	bool eof;    /* the source sent FIN */
	bool done;   /* FIN passed on: shutdown(SHUT_WR) done on the sink */
};

enum relay_conn_state {
	RELAY_CONN_RESOLVING = 0,
	RELAY_CONN_CONNECTING,
	RELAY_CONN_OPEN,
};

struct relay_conn {
	struct relay_conn *prev, *next;
	struct relay_listener *l;
	enum relay_conn_state state;
	int cfd; /* client side */
	int tfd; /* target side, -1 until a connect is under way */
	struct warren_watch *cwatch;
	struct warren_watch *twatch;
	unsigned cwatch_events;
	unsigned twatch_events;
	void *resolve_req;
	struct addrinfo *ai_list; /* target addresses while connecting */
	struct addrinfo *ai_next; /* the next one to try */
	unsigned tried;
	struct warren_timer *connect_timer;
	char connect_error[RELAY_ERR_LEN];
	struct relay_dir up;   /* client -> target: "out" */
	struct relay_dir down; /* target -> client: "in" */
	char client[80];
	char target[80];
	uint64_t bytes_in;
	uint64_t bytes_out;
};

static void relay_report_schedule(struct relay *r);
static void relay_listener_update(struct relay_listener *l);
static void relay_conn_try_next(struct relay_conn *c);
static void relay_conn_target_cb(int fd, unsigned events, void *arg);

/* ---- small helpers ----------------------------------------------------- */

/* "a.b.c.d:port" or "[v6]:port"; IPv4-mapped IPv6 shown as IPv4, since
 * dual-stack listeners see IPv4 clients that way. */
static void relay_format_addr(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN + 16], s[8];
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], h, sizeof(h));
		snprintf(buf, len, "%s:%u", h, (unsigned)ntohs(sin6->sin6_port));
		return;
	}
	if (getnameinfo(sa, salen, h, sizeof(h), s, sizeof(s), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", h, s);
	else
		snprintf(buf, len, "%s:%s", h, s);
}

/* The endpoint as people write it: brackets around IPv6. */
static void relay_format_hostport(const char *h, uint16_t port, char *buf, size_t len)
{
	if (strchr(h, ':'))
		snprintf(buf, len, "[%s]:%u", h, (unsigned)port);
	else
		snprintf(buf, len, "%s:%u", h, (unsigned)port);
}

static bool relay_errno_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* ---- config ------------------------------------------------------------ */

static void relay_config_free(void *p)
{
	struct relay_conf *conf = p;
	size_t i;

	if (!conf)
		return;
	for (i = 0; i < conf->nlistens; i++)
		free(conf->listens[i].text);
	for (i = 0; i < conf->nconnects; i++)
		free(conf->connects[i].text);
	free(conf->listens);
	free(conf->connects);
	free(conf);
}

/*
 * Canonicalise a bind address: "" and localhost are 127.0.0.1 (a bare port
 * binds loopback), "*" stays, anything else must be a numeric address.
 * Parsing a numeric address with getaddrinfo(AI_NUMERICHOST) touches no
 * network, so config_parse may do it and start binds exactly what was
 * checked.
 */
static int relay_canon_bind(const char *in, char *out, size_t outlen)
{
	struct addrinfo hints, *ai = NULL;
	char tmp[256];
	size_t n = strlen(in);
	int ret = -1;

	if (n == 0 || strcasecmp(in, "localhost") == 0) {
		snprintf(out, outlen, "127.0.0.1");
		return 0;
	}
	if (strcmp(in, "*") == 0) {
		snprintf(out, outlen, "*");
		return 0;
	}
	/* parse_endpoint may or may not strip the brackets of [v6]; accept both */
	if (n >= 2 && in[0] == '[' && in[n - 1] == ']')
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - 2), in + 1);
	else
		snprintf(tmp, sizeof(tmp), "%s", in);

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(tmp, NULL, &hints, &ai) != 0 || !ai)
		goto out;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)outlen, NULL, 0,
	                NI_NUMERICHOST) != 0)
		goto out;
	ret = 0;
out:
	if (ai)
		freeaddrinfo(ai);
	return ret;
}

static int relay_parse_listen(struct warren_diag *diag, const struct warren_kv *kv,
                              struct relay_listen_conf *lc)
{
	struct warren_endpoint_spec spec;
	char err[RELAY_ERR_LEN];

	memset(&spec, 0, sizeof(spec));
	if (host->parse_endpoint(kv->value, WARREN_SPEC_LISTEN, &spec, err, sizeof(err)) != 0) {
		host->config_error(diag, kv->line, "listen: %s", err);
		return -1;
	}
	if (spec.port == 0) {
		host->config_error(diag, kv->line,
		                   "listen port 0 is not allowed for transport relay: clients need "
		                   "a fixed port to connect to");
		return -1;
	}
	if (relay_canon_bind(spec.bind, lc->bind, sizeof(lc->bind)) != 0) {
		host->config_error(diag, kv->line,
		                   "listen address '%s' must be a numeric IP address, localhost "
		                   "or * (all addresses)",
		                   spec.bind);
		return -1;
	}
	lc->port = spec.port;
	lc->line = kv->line;
	lc->remote = strcmp(lc->bind, "*") == 0 || !host->is_loopback(lc->bind);
	lc->text = strdup(kv->value);
	if (!lc->text) {
		host->config_error(diag, kv->line, "out of memory");
		return -1;
	}
	return 0;
}

static int relay_parse_connect(struct warren_diag *diag, const struct warren_kv *kv,
                               struct relay_connect_conf *cc)
{
	struct warren_endpoint_spec spec;
	char err[RELAY_ERR_LEN];

	memset(&spec, 0, sizeof(spec));
	if (host->parse_endpoint(kv->value, WARREN_SPEC_CONNECT, &spec, err, sizeof(err)) != 0) {
		host->config_error(diag, kv->line, "connect: %s", err);
		return -1;
	}
	if (spec.host[0] == '\0' || spec.host_port == 0) {
		host->config_error(diag, kv->line,
		                   "connect needs host:port with a port of 1-65535");
		return -1;
	}
	snprintf(cc->host, sizeof(cc->host), "%s", spec.host);
	cc->port = spec.host_port;
	cc->text = strdup(kv->value);
	if (!cc->text) {
		host->config_error(diag, kv->line, "out of memory");
		return -1;
	}
	return 0;
}

static int relay_parse_max(struct warren_diag *diag, const struct warren_kv *kv, unsigned *max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(kv->value, &end, 10);
	if (errno || end == kv->value || *end != '\0' || kv->value[0] == '-' || v < 1 ||
	    v > RELAY_MAX_CONNS_LIMIT) {
		host->config_error(diag, kv->line,
		                   "max_connections must be a whole number from 1 to %u, not '%s'",
		                   RELAY_MAX_CONNS_LIMIT, kv->value);
		return -1;
	}
	*max = (unsigned)v;
	return 0;
}

/* Checks across keys, once all are read (order in the file is free). */
static int relay_config_check(struct warren_diag *diag, int section_line, struct relay_conf *conf,
                              size_t listen_keys, size_t connect_keys)
{
	size_t i, k;
	int ret = 0;

	/* Counted by key, not by good key: a bad listen is already reported,
	 * and "needs at least one listen" on top of it would only mislead. */
	if (listen_keys == 0) {
		host->config_error(diag, section_line,
		                   "transport relay needs at least one 'listen = [bind:]port'");
		ret = -1;
	}
	if (connect_keys == 0) {
		host->config_error(diag, section_line,
		                   "transport relay needs at least one 'connect = host:port'");
		ret = -1;
	}
	if (connect_keys > 1 && connect_keys != listen_keys) {
		host->config_error(diag, section_line,
		                   "%zu listen but %zu connect keys: give one connect per listen "
		                   "(paired in order) or a single connect for all",
		                   listen_keys, connect_keys);
		ret = -1;
	}
	for (i = 0; i < conf->nlistens; i++) {
		const struct relay_listen_conf *lc = &conf->listens[i];

		if (lc->remote && !conf->accept_remote) {
			host->config_error(diag, lc->line,
			                   "listen on %s needs accept_remote_clients = yes: an "
			                   "open relay hands the network behind it to anyone who "
			                   "can reach the port",
			                   lc->bind);
			ret = -1;
		}
		for (k = 0; k < i; k++) {
			const struct relay_listen_conf *o = &conf->listens[k];

			if (o->port == lc->port &&
			    (strcmp(o->bind, lc->bind) == 0 || strcmp(o->bind, "*") == 0 ||
			     strcmp(lc->bind, "*") == 0)) {
				host->config_error(diag, lc->line,
				                   "listen '%s' uses the same port as line %d",
				                   lc->text, o->line);
				ret = -1;
				break;
			}
		}
	}
	return ret;
}

static int relay_config_parse(struct warren_diag *diag, const char *tunnel_name, int section_line,
                              const struct warren_kv *keys, size_t nkeys,
                              const struct warren_gateway *gw, void **confp)
{
	struct relay_conf *conf;
	int accept_line = 0, max_line = 0;
	size_t listen_keys = 0, connect_keys = 0;
	char err[RELAY_ERR_LEN];
	int ret = -1;
	size_t i;

	(void)tunnel_name;
	*confp = NULL;
	conf = calloc(1, sizeof(*conf));
	if (!conf)
		goto nomem;
	conf->max_connections = RELAY_MAX_CONNS_DEFAULT;
	/* sized for the worst case: every key a listen, or every key a connect */
	conf->listens = calloc(nkeys ? nkeys : 1, sizeof(*conf->listens));
	conf->connects = calloc(nkeys ? nkeys : 1, sizeof(*conf->connects));
	if (!conf->listens || !conf->connects)
		goto nomem;

	ret = 0;
	if (gw) {
		/* a gateway would be silently unused: say so rather than ignore it */
		host->config_error(diag, section_line,
		                   "transport relay does not use a gateway (remove 'gateway = %s')",
		                   gw->name);
		ret = -1;
	}
	for (i = 0; i < nkeys; i++) {
		const struct warren_kv *kv = &keys[i];

		if (strcmp(kv->key, "listen") == 0) {
			listen_keys++;
			if (relay_parse_listen(diag, kv, &conf->listens[conf->nlistens]) == 0)
				conf->nlistens++;
			else
				ret = -1;
		} else if (strcmp(kv->key, "connect") == 0) {
			connect_keys++;
			if (relay_parse_connect(diag, kv, &conf->connects[conf->nconnects]) == 0)
				conf->nconnects++;
			else
				ret = -1;
		} else if (strcmp(kv->key, "accept_remote_clients") == 0) {
			if (accept_line) {
				host->config_error(diag, kv->line,
				                   "accept_remote_clients given twice (first at "
				                   "line %d)",
				                   accept_line);
				ret = -1;
			} else if (host->parse_bool(kv->value, &conf->accept_remote, err,
			                            sizeof(err)) != 0) {
				host->config_error(diag, kv->line, "accept_remote_clients: %s",
				                   err);
				ret = -1;
			}
			accept_line = kv->line;
		} else if (strcmp(kv->key, "max_connections") == 0) {
			if (max_line) {
				host->config_error(diag, kv->line,
				                   "max_connections given twice (first at line %d)",
				                   max_line);
				ret = -1;
			} else if (relay_parse_max(diag, kv, &conf->max_connections) != 0) {
				ret = -1;
			}
			max_line = kv->line;
		} else {
			host->config_error(diag, kv->line, "unknown key '%s' for transport relay",
			                   kv->key);
			ret = -1;
		}
	}
	if (relay_config_check(diag, section_line, conf, listen_keys, connect_keys) != 0)
		ret = -1;
	goto out;

nomem:
	host->config_error(diag, section_line, "out of memory");
	ret = -1;
out:
	if (ret == 0)
		*confp = conf;
	else
		relay_config_free(conf);
	return ret;
}

/* ---- link reports -------------------------------------------------------- */

static void relay_report_cb(void *arg)
{
	struct relay *r = arg;
	char reason[sizeof(r->reported_reason)];
	size_t i, nfailed = 0, off = 0;

	if (!r->running)
		return;
	reason[0] = '\0';
	for (i = 0; i < r->nlisteners; i++) {
		struct relay_listener *l = &r->listeners[i];

		if (l->state != RELAY_LISTENER_FAILED)
			continue;
		nfailed++;
		if (off < sizeof(reason))
			off += snprintf(reason + off, sizeof(reason) - off, "%s%s", off ? "; " : "",
			                l->last_error);
	}
	if (nfailed == 0) {
		if (r->reported != RELAY_REPORTED_UP) {
			r->reported = RELAY_REPORTED_UP;
			host->report_up(r->t);
		}
		return;
	}
	if (r->reported == RELAY_REPORTED_DEGRADED && strcmp(reason, r->reported_reason) == 0)
		return;
	r->reported = RELAY_REPORTED_DEGRADED;
	snprintf(r->reported_reason, sizeof(r->reported_reason), "%s", reason);
	/* One failure is the common case: show its error as it is. */
	if (nfailed == 1)
		host->report_degraded(r->t, "%s", reason);
	else
		host->report_degraded(r->t, "%zu of %zu listeners not bound: %s", nfailed,
		                      r->nlisteners, reason);
}

static void relay_report_schedule(struct relay *r)
{
	host->timer_arm(r->report_timer, 0);
}

/* ---- connections ------------------------------------------------------- */

static void relay_conn_unlink(struct relay_conn *c)
{
	struct relay_listener *l = c->l;

	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	l->nconns--;
}

/* Close a socket; with reset, by RST (SO_LINGER 0) so that the peer learns at
 * once that the other side failed instead of seeing a clean end of stream. */
static void relay_close_fd(int fd, bool reset)
{
	if (fd < 0)
		return;
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
}

/* Free a connection in any state. accepting tells whether the listener may
 * take new clients again (false while the whole tunnel stops). */
static void relay_conn_free(struct relay_conn *c, bool reset, bool accepting)
{
	struct relay_listener *l = c->l;

	if (c->resolve_req)
		host->resolve_cancel(c->resolve_req);
	if (c->ai_list)
		freeaddrinfo(c->ai_list);
	host->timer_free(c->connect_timer);
	host->watch_free(c->cwatch);
	host->watch_free(c->twatch);
	relay_close_fd(c->cfd, reset);
	relay_close_fd(c->tfd, reset);
	free(c->up.buf); /* down.buf shares the allocation */
	relay_conn_unlink(c);
	free(c);
	if (accepting)
		relay_listener_update(l);
}

static void relay_conn_close(struct relay_conn *c, bool reset, const char *why)
{
	struct relay_listener *l = c->l;

	host->log(l->r->t, WARREN_LOG_DEBUG,
	          "relay %zu: %s -> %s closed%s%s (%llu bytes in, %llu out)", l->index, c->client,
	          c->target[0] ? c->target : l->cc->text, why ? ": " : "", why ? why : "",
	          (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
	relay_conn_free(c, reset, true);
}

/* Free space of the ring as up to two segments. */
static int relay_dir_space(struct relay_dir *d, struct iovec iov[2])
{
	size_t tail = (d->head + d->len) % RELAY_BUF_SIZE;
	size_t room = RELAY_BUF_SIZE - d->len;
	size_t first;

	if (room == 0)
		return 0;
	first = RELAY_BUF_SIZE - tail;
	if (first > room)
		first = room;
	iov[0].iov_base = d->buf + tail;
	iov[0].iov_len = first;
	if (first == room)
		return 1;
	iov[1].iov_base = d->buf;
	iov[1].iov_len = room - first;
	return 2;
}

/* Data of the ring as up to two segments. */
static int relay_dir_data(struct relay_dir *d, struct iovec iov[2])
{
	size_t first;

	if (d->len == 0)
		return 0;
	first = RELAY_BUF_SIZE - d->head;
	if (first > d->len)
		first = d->len;
	iov[0].iov_base = d->buf + d->head;
	iov[0].iov_len = first;
	if (first == d->len)
		return 1;
	iov[1].iov_base = d->buf;
	iov[1].iov_len = d->len - first;
	return 2;
}

/* One read into the free space. Returns 0 or a negative errno. */
static int relay_dir_fill(struct relay_dir *d, int fd)
{
	struct iovec iov[2];
	ssize_t n;
	int niov;

	if (d->eof)
		return 0;
	niov = relay_dir_space(d, iov);
	if (niov == 0)
		return 0;
	n = readv(fd, iov, niov);
	if (n < 0)
		return relay_errno_transient(errno) ? 0 : -errno;
	if (n == 0)
		d->eof = true;
	d->len += (size_t)n;
	return 0;
}

/* Write what the ring holds until the socket would block, then pass a FIN
 * on once the source has ended and everything before it is written.
 * Returns 0 or a negative errno. */
static int relay_dir_flush(struct relay_conn *c, struct relay_dir *d, int fd, bool toward_client)
{
	struct relay_listener *l = c->l;
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t n;

	while (d->len > 0) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)relay_dir_data(d, iov);
		/* MSG_NOSIGNAL: a peer gone away is an error to handle, not SIGPIPE */
		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		d->head = (d->head + (size_t)n) % RELAY_BUF_SIZE;
		d->len -= (size_t)n;
		if (d->len == 0)
			d->head = 0; /* keep the next read in one piece */
		if (toward_client) {
			c->bytes_in += (uint64_t)n;
			l->bytes_in += (uint64_t)n;
			host->add_bytes(l->r->t, (uint64_t)n, 0);
		} else {
			c->bytes_out += (uint64_t)n;
			l->bytes_out += (uint64_t)n;
			host->add_bytes(l->r->t, 0, (uint64_t)n);
		}
	}
	if (d->len == 0 && d->eof && !d->done) {
		if (shutdown(fd, SHUT_WR) < 0)
			return -errno;
		d->done = true;
	}
	return 0;
}

static void relay_watch_set(struct warren_watch *w, unsigned *cur, unsigned want)
{
	if (*cur != want) {
		host->watch_set(w, want);
		*cur = want;
	}
}

/* Arm each side for exactly what it can do now: read while its buffer has
 * room and it has not ended, write while the other direction holds data. */
static void relay_conn_rearm(struct relay_conn *c)
{
	unsigned cw = 0, tw = 0;

	if (!c->up.eof && c->up.len < RELAY_BUF_SIZE)
		cw |= WARREN_EV_READ;
	if (c->down.len > 0)
		cw |= WARREN_EV_WRITE;
	if (!c->down.eof && c->down.len < RELAY_BUF_SIZE)
		tw |= WARREN_EV_READ;
	if (c->up.len > 0)
		tw |= WARREN_EV_WRITE;
	relay_watch_set(c->cwatch, &c->cwatch_events, cw);
	relay_watch_set(c->twatch, &c->twatch_events, tw);
}

/* Traffic on one side of an open connection. */
static void relay_conn_io(struct relay_conn *c, bool client_side, unsigned events)
{
	int fd = client_side ? c->cfd : c->tfd;
	int other = client_side ? c->tfd : c->cfd;
	struct relay_dir *from = client_side ? &c->up : &c->down; /* read from fd */
	struct relay_dir *to = client_side ? &c->down : &c->up;   /* written to fd */
	const char *where = client_side ? "client" : "target";
	const char *op = "write";
	char why[RELAY_ERR_LEN];
	int err;

	if (events & WARREN_EV_WRITE) {
		err = relay_dir_flush(c, to, fd, client_side);
		if (err < 0)
			goto fail;
	}
	if (events & WARREN_EV_READ) {
		op = "read";
		err = relay_dir_fill(from, fd);
		if (err < 0)
			goto fail;
		/* Write at once what was read: usually the other side has room,
		 * and this saves a loop round trip per chunk. */
		op = "write";
		where = client_side ? "target" : "client";
		err = relay_dir_flush(c, from, other, !client_side);
		if (err < 0)
			goto fail;
	}
	if (c->up.done && c->down.done) {
		relay_conn_close(c, false, NULL);
		return;
	}
	relay_conn_rearm(c);
	return;

fail:
	snprintf(why, sizeof(why), "%s %s: %s", where, op, strerror(-err));
	relay_conn_close(c, true, why);
}

static void relay_conn_client_cb(int fd, unsigned events, void *arg)
{
	(void)fd;
	relay_conn_io(arg, true, events);
}

/* Every attempt failed: the client cannot be served. */
static void relay_conn_fail(struct relay_conn *c, const char *why)
{
	struct relay_listener *l = c->l;

	l->failed_connections++;
	snprintf(l->last_error, sizeof(l->last_error), "%s", why);
	host->log(l->r->t, WARREN_LOG_INFO, "relay %zu: client %s refused: %s", l->index, c->client,
	          why);
	/* RST: the client should see a refusal, as if the target had refused */
	relay_conn_free(c, true, true);
}

/* The target is connected: set up both buffers and start pumping. */
static void relay_conn_open(struct relay_conn *c)
{
	struct relay_listener *l = c->l;
	struct relay *r = l->r;
	int one = 1;
	char *buf;

	host->timer_free(c->connect_timer);
	c->connect_timer = NULL;
	freeaddrinfo(c->ai_list);
	c->ai_list = c->ai_next = NULL;

	/* Buffers only now, so that clients of a dead target cost little. */
	buf = malloc(2 * RELAY_BUF_SIZE);
	if (!buf) {
		relay_conn_close(c, true, "out of memory");
		return;
	}
	c->up.buf = buf;
	c->down.buf = buf + RELAY_BUF_SIZE;
	c->state = RELAY_CONN_OPEN;

	/* The relay passes on each chunk as it comes; Nagle on our side would
	 * add a delay to interactive traffic whose ends turned it off. */
	setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if (!c->twatch) {
		c->twatch = host->watch_new(r->t, c->tfd, 0, relay_conn_target_cb, c);
		c->twatch_events = 0;
	}
	c->cwatch = host->watch_new(r->t, c->cfd, 0, relay_conn_client_cb, c);
	c->cwatch_events = 0;
	if (!c->cwatch || !c->twatch) {
		relay_conn_close(c, true, "out of memory");
		return;
	}
	host->log(r->t, WARREN_LOG_DEBUG, "relay %zu: %s -> %s open", l->index, c->client,
	          c->target);
	relay_conn_rearm(c);
}

/* The target watch serves both the connect and then the pump. */
static void relay_conn_target_cb(int fd, unsigned events, void *arg)
{
	struct relay_conn *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == RELAY_CONN_OPEN) {
		relay_conn_io(c, false, events);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		relay_conn_open(c);
		return;
	}
	snprintf(c->connect_error, sizeof(c->connect_error), "%s", strerror(err));
	host->watch_free(c->twatch);
	c->twatch = NULL;
	relay_close_fd(c->tfd, false);
	c->tfd = -1;
	relay_conn_try_next(c);
}

static void relay_conn_connect_timeout_cb(void *arg)
{
	struct relay_conn *c = arg;

	snprintf(c->connect_error, sizeof(c->connect_error), "connect timed out after %us",
	         RELAY_CONNECT_TIMEOUT_MS / 1000);
	host->watch_free(c->twatch);
	c->twatch = NULL;
	relay_close_fd(c->tfd, false);
	c->tfd = -1;
	relay_conn_try_next(c);
}

/* Try the target's addresses in order until one connects or none is left. */
static void relay_conn_try_next(struct relay_conn *c)
{
	struct relay_listener *l = c->l;
	struct relay *r = l->r;
	char why[2 * RELAY_ERR_LEN];

	c->state = RELAY_CONN_CONNECTING;
	while (c->ai_next) {
		struct addrinfo *ai = c->ai_next;
		int fd;

		c->ai_next = ai->ai_next;
		c->tried++;
		relay_format_addr(ai->ai_addr, ai->ai_addrlen, c->target, sizeof(c->target));
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			snprintf(c->connect_error, sizeof(c->connect_error), "socket: %s",
			         strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			c->tfd = fd;
			relay_conn_open(c);
			return;
		}
		if (errno != EINPROGRESS) {
			snprintf(c->connect_error, sizeof(c->connect_error), "%s", strerror(errno));
			close(fd);
			continue;
		}
		c->tfd = fd;
		c->twatch = host->watch_new(r->t, fd, WARREN_EV_WRITE, relay_conn_target_cb, c);
		c->twatch_events = WARREN_EV_WRITE;
		if (!c->twatch) {
			relay_conn_fail(c, "out of memory");
			return;
		}
		if (!c->connect_timer)
			c->connect_timer = host->timer_new(r->t, relay_conn_connect_timeout_cb, c);
		if (c->connect_timer)
			host->timer_arm(c->connect_timer, RELAY_CONNECT_TIMEOUT_MS);
		/* without a timer the kernel's own connect timeout still ends it */
		return;
	}
	c->target[0] = '\0';
	snprintf(why, sizeof(why), "connect %s: %s (%u address%s tried)", l->cc->text,
	         c->connect_error[0] ? c->connect_error : "no address", c->tried,
	         c->tried == 1 ? "" : "es");
	relay_conn_fail(c, why);
}

static void relay_conn_resolved(int error, struct addrinfo *addrs, void *arg)
{
	struct relay_conn *c = arg;
	char why[2 * RELAY_ERR_LEN];

	c->resolve_req = NULL;
	if (error != 0 || !addrs) {
		/* error is taken to be a getaddrinfo (EAI_*) code */
		if (addrs)
			freeaddrinfo(addrs);
		snprintf(why, sizeof(why), "resolve %s: %s", c->l->cc->host,
		         error ? gai_strerror(error) : "no address");
		relay_conn_fail(c, why);
		return;
	}
	c->ai_list = c->ai_next = addrs;
	relay_conn_try_next(c);
}

static void relay_conn_new(struct relay_listener *l, int cfd, const struct sockaddr *sa,
                           socklen_t salen)
{
	struct relay *r = l->r;
	struct relay_conn *c;

	l->total_connections++;
	c = calloc(1, sizeof(*c));
	if (!c) {
		host->log(r->t, WARREN_LOG_WARN, "relay %zu: out of memory, client dropped",
		          l->index);
		relay_close_fd(cfd, true);
		return;
	}
	c->l = l;
	c->cfd = cfd;
	c->tfd = -1;
	relay_format_addr(sa, salen, c->client, sizeof(c->client));
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;

	/* Resolved for every client: a changed DNS record takes effect for the
	 * next one, and nothing stale is kept. */
	c->state = RELAY_CONN_RESOLVING;
	c->resolve_req = host->resolve(r->t, l->cc->host, l->cc->port, relay_conn_resolved, c);
	if (!c->resolve_req)
		relay_conn_fail(c, "could not start resolving the target");
}

/* ---- listeners --------------------------------------------------------- */

/* Accept only while listening, not paused and under max_connections; the
 * kernel backlog holds clients meanwhile. */
static void relay_listener_update(struct relay_listener *l)
{
	unsigned want = 0;

	if (l->state != RELAY_LISTENER_LISTENING || !l->watch)
		return;
	if (!l->paused && l->nconns < l->r->conf->max_connections)
		want = WARREN_EV_READ;
	relay_watch_set(l->watch, &l->watch_events, want);
}

static void relay_listener_pause_cb(void *arg)
{
	struct relay_listener *l = arg;

	l->paused = false;
	relay_listener_update(l);
}

static void relay_listener_accept_cb(int fd, unsigned events, void *arg)
{
	struct relay_listener *l = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, cfd;

	(void)events;
	for (i = 0; i < RELAY_ACCEPT_BATCH; i++) {
		if (l->nconns >= l->r->conf->max_connections)
			break;
		len = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			relay_conn_new(l, cfd, (struct sockaddr *)&ss, len);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* A client that left before we took it, or a signal: next. */
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
			continue;
		/* Out of fds or memory: the pending client stays readable, so a
		 * level-triggered watch would spin. Pause accepting instead. */
		snprintf(l->last_error, sizeof(l->last_error), "accept: %s", strerror(errno));
		host->log(l->r->t, WARREN_LOG_WARN, "relay %zu: %s; pausing accept for %ums",
		          l->index, l->last_error, RELAY_ACCEPT_PAUSE_MS);
		l->paused = true;
		host->timer_arm(l->pause_timer, RELAY_ACCEPT_PAUSE_MS);
		break;
	}
	relay_listener_update(l);
}

/* Open, bind and listen; returns 0 or a negative errno with last_error set. */
static int relay_listener_open(struct relay_listener *l, const char *addr, bool dual)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	int fd = -1, one = 1, v6only = dual ? 0 : 1;
	int gerr, ret;

	snprintf(port, sizeof(port), "%u", (unsigned)l->lc->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	gerr = getaddrinfo(addr, port, &hints, &ai);
	if (gerr != 0 || !ai) {
		snprintf(l->last_error, sizeof(l->last_error), "bind %s: %s", l->bound,
		         gerr ? gai_strerror(gerr) : "no address");
		ret = -EINVAL;
		goto out;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		ret = -errno;
		snprintf(l->last_error, sizeof(l->last_error), "socket for %s: %s", l->bound,
		         strerror(-ret));
		goto out;
	}
	/* SO_REUSEADDR: a restart must not wait for TIME_WAIT of old clients */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* An IPv6 bind takes only IPv6, unless "*" asked for both families. */
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0) {
		ret = -errno;
		snprintf(l->last_error, sizeof(l->last_error), "IPV6_V6ONLY on %s: %s", l->bound,
		         strerror(-ret));
		goto out;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		ret = -errno;
		snprintf(l->last_error, sizeof(l->last_error), "bind %s: %s", l->bound,
		         strerror(-ret));
		goto out;
	}
	l->watch = host->watch_new(l->r->t, fd, WARREN_EV_READ, relay_listener_accept_cb, l);
	if (!l->watch) {
		ret = -ENOMEM;
		snprintf(l->last_error, sizeof(l->last_error), "bind %s: out of memory", l->bound);
		goto out;
	}
	l->watch_events = WARREN_EV_READ;
	l->fd = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return ret;
}

static int relay_listener_bind(struct relay_listener *l)
{
	const struct relay_listen_conf *lc = l->lc;
	int ret;

	relay_format_hostport(lc->bind, lc->port, l->bound, sizeof(l->bound));
	if (strcmp(lc->bind, "*") == 0) {
		/* All addresses: one dual-stack socket when the host has IPv6,
		 * else IPv4 only. */
		ret = relay_listener_open(l, "::", true);
		if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL)
			ret = relay_listener_open(l, "0.0.0.0", false);
	} else {
		ret = relay_listener_open(l, lc->bind, false);
	}
	if (ret < 0) {
		l->state = RELAY_LISTENER_FAILED;
		return ret;
	}
	l->state = RELAY_LISTENER_LISTENING;
	l->last_error[0] = '\0';
	l->retry_ms = RELAY_BIND_RETRY_MIN_MS;
	l->paused = false;
	return 0;
}

static void relay_listener_retry_cb(void *arg)
{
	struct relay_listener *l = arg;
	struct relay *r = l->r;
	char before[RELAY_ERR_LEN];

	snprintf(before, sizeof(before), "%s", l->last_error);
	if (relay_listener_bind(l) == 0) {
		host->log(r->t, WARREN_LOG_INFO, "relay %zu: listening on %s", l->index, l->bound);
		relay_report_schedule(r);
		return;
	}
	/* Warn when the reason changes; the same one again is only noise. */
	host->log(r->t, strcmp(before, l->last_error) ? WARREN_LOG_WARN : WARREN_LOG_DEBUG,
	          "relay %zu: %s; retrying in %llus", l->index, l->last_error,
	          (unsigned long long)(l->retry_ms / 1000));
	host->timer_arm(l->retry_timer, l->retry_ms);
	l->retry_ms *= 2;
	if (l->retry_ms > RELAY_BIND_RETRY_MAX_MS)
		l->retry_ms = RELAY_BIND_RETRY_MAX_MS;
	relay_report_schedule(r);
}

/* ---- ops ----------------------------------------------------------------- */

static int relay_create(struct warren_tunnel *t, const void *conf_p, void **statep)
{
	const struct relay_conf *conf = conf_p;
	struct relay *r;
	size_t i;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->listeners = calloc(conf->nlistens, sizeof(*r->listeners));
	if (!r->listeners) {
		free(r);
		return -ENOMEM;
	}
	r->t = t;
	r->conf = conf;
	r->nlisteners = conf->nlistens;
	for (i = 0; i < r->nlisteners; i++) {
		struct relay_listener *l = &r->listeners[i];

		l->r = r;
		l->index = i;
		l->lc = &conf->listens[i];
		l->cc = &conf->connects[conf->nconnects == 1 ? 0 : i];
		l->fd = -1;
		l->state = RELAY_LISTENER_STOPPED;
	}
	*statep = r;
	return 0;
}

static int relay_stop(void *state)
{
	struct relay *r = state;
	size_t i;

	for (i = 0; i < r->nlisteners; i++) {
		struct relay_listener *l = &r->listeners[i];

		if (l->nconns)
			host->log(r->t, WARREN_LOG_DEBUG, "relay %zu: closing %zu connections",
			          l->index, l->nconns);
		/* By RST: a stream cut short must not look to either end like
		 * one that ended normally. */
		while (l->conns)
			relay_conn_free(l->conns, true, false);
		host->watch_free(l->watch);
		l->watch = NULL;
		l->watch_events = 0;
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		host->timer_free(l->retry_timer);
		l->retry_timer = NULL;
		host->timer_free(l->pause_timer);
		l->pause_timer = NULL;
		l->paused = false;
		l->state = RELAY_LISTENER_STOPPED;
	}
	host->timer_free(r->report_timer);
	r->report_timer = NULL;
	r->reported = RELAY_REPORTED_NONE;
	r->reported_reason[0] = '\0';
	r->running = false;
	return 0;
}

static int relay_start(void *state)
{
	struct relay *r = state;
	size_t i;

	r->report_timer = host->timer_new(r->t, relay_report_cb, r);
	if (!r->report_timer)
		goto nomem;
	for (i = 0; i < r->nlisteners; i++) {
		struct relay_listener *l = &r->listeners[i];

		l->retry_timer = host->timer_new(r->t, relay_listener_retry_cb, l);
		l->pause_timer = host->timer_new(r->t, relay_listener_pause_cb, l);
		if (!l->retry_timer || !l->pause_timer)
			goto nomem;
	}
	r->running = true;
	for (i = 0; i < r->nlisteners; i++) {
		struct relay_listener *l = &r->listeners[i];

		l->retry_ms = RELAY_BIND_RETRY_MIN_MS;
		if (relay_listener_bind(l) == 0) {
			host->log(r->t, WARREN_LOG_DEBUG, "relay %zu: listening on %s -> %s",
			          l->index, l->bound, l->cc->text);
			continue;
		}
		/* Not fatal: the other listeners work; this one is retried. */
		host->log(r->t, WARREN_LOG_WARN, "relay %zu: %s; retrying in %llus", l->index,
		          l->last_error, (unsigned long long)(l->retry_ms / 1000));
		host->timer_arm(l->retry_timer, l->retry_ms);
		l->retry_ms *= 2;
	}
	relay_report_schedule(r);
	return 0;

nomem:
	relay_stop(r);
	return -ENOMEM;
}

static void relay_destroy(void *state)
{
	struct relay *r = state;

	if (!r)
		return;
	if (r->running)
		relay_stop(r); /* the core stops first; this only guards a leak */
	free(r->listeners);
	free(r);
}

static const char *relay_listener_state_name(enum relay_listener_state s)
{
	switch (s) {
	case RELAY_LISTENER_LISTENING:
		return "listening";
	case RELAY_LISTENER_FAILED:
		return "failed";
	case RELAY_LISTENER_STOPPED:
		break;
	}
	return "stopped";
}

static const char *relay_conn_state_name(enum relay_conn_state s)
{
	switch (s) {
	case RELAY_CONN_RESOLVING:
		return "resolving";
	case RELAY_CONN_CONNECTING:
		return "connecting";
	case RELAY_CONN_OPEN:
		break;
	}
	return "open";
}

static void relay_status(void *state, struct warren_json *j)
{
	struct relay *r = state;
	char spec[600];
	size_t i, shown = 0, omitted = 0;

	host->json_array_begin(j, "forwards");
	for (i = 0; i < r->nlisteners; i++) {
		struct relay_listener *l = &r->listeners[i];

		snprintf(spec, sizeof(spec), "%s -> %s", l->lc->text, l->cc->text);
		host->json_object_begin(j, NULL);
		host->json_string(j, "kind", "relay");
		host->json_string(j, "spec", spec);
		host->json_string(j, "bound",
		                  l->state == RELAY_LISTENER_LISTENING ? l->bound : NULL);
		host->json_string(j, "state", relay_listener_state_name(l->state));
		host->json_int(j, "connections", (int64_t)l->nconns);
		host->json_int(j, "total_connections", (int64_t)l->total_connections);
		host->json_int(j, "failed_connections", (int64_t)l->failed_connections);
		host->json_int(j, "bytes_in", (int64_t)l->bytes_in);
		host->json_int(j, "bytes_out", (int64_t)l->bytes_out);
		host->json_string(j, "last_error", l->last_error[0] ? l->last_error : NULL);
		host->json_object_end(j);
	}
	host->json_array_end(j);

	host->json_array_begin(j, "connections");
	for (i = 0; i < r->nlisteners; i++) {
		struct relay_conn *c;

		for (c = r->listeners[i].conns; c; c = c->next) {
			if (shown == RELAY_STATUS_CONNS_MAX) {
				omitted++;
				continue;
			}
			shown++;
			host->json_object_begin(j, NULL);
			host->json_string(j, "client", c->client);
			host->json_int(j, "listener", (int64_t)i);
			host->json_string(j, "state", relay_conn_state_name(c->state));
			host->json_string(j, "target", c->target[0] ? c->target : NULL);
			host->json_int(j, "bytes_in", (int64_t)c->bytes_in);
			host->json_int(j, "bytes_out", (int64_t)c->bytes_out);
			host->json_object_end(j);
		}
	}
	host->json_array_end(j);
	host->json_int(j, "connections_omitted", (int64_t)omitted);
}

static const struct warren_transport_ops relay_ops = {
    .abi = WARREN_PLUGIN_ABI,
    .size = sizeof(struct warren_transport_ops),
    .name = "relay",
    .version = RELAY_VERSION,
    .description = "plain TCP relay: listen locally, connect to a host:port (like rinetd)",
    .needs_gateway = false,
    .config_parse = relay_config_parse,
    .config_free = relay_config_free,
    .create = relay_create,
    .start = relay_start,
    .stop = relay_stop,
    .destroy = relay_destroy,
    .status = relay_status,
};

/* The host table must reach the last member this file calls. */
#define RELAY_HOST_SIZE_NEEDED                                                                     \
	(offsetof(struct warren_host, json_array_end) +                                            \
	 sizeof(((struct warren_host *)0)->json_array_end))
#define RELAY_HOST_HAS_LOG(h)                                                                      \
	((h)->size >= offsetof(struct warren_host, log) + sizeof((h)->log) && (h)->log)

WARREN_EXPORT const struct warren_transport_ops *WARREN_PLUGIN_ENTRY(const struct warren_host *h)
{
	if (!h)
		return NULL;
	/* Growth is append-only, so a newer host serves us; an older or
	 * smaller one lacks functions we would call. */
	if (h->abi < WARREN_PLUGIN_ABI || h->size < RELAY_HOST_SIZE_NEEDED) {
		if (RELAY_HOST_HAS_LOG(h))
			h->log(NULL, WARREN_LOG_ERROR,
			       "relay: the host table (ABI %u, %u bytes) lacks functions this "
			       "plugin calls (it needs ABI %u, %zu bytes)",
			       (unsigned)h->abi, (unsigned)h->size, WARREN_PLUGIN_ABI,
			       (size_t)RELAY_HOST_SIZE_NEEDED);
		return NULL;
	}
	host = h;
	return &relay_ops;
}
