/*
 * ssh-forward.c: the `ssh-forward` transport: ssh -L, -R and -D kept up by
 * the daemon, on the SSH layer of transports/ssh.
 *
 * One SSH connection per tunnel, even when several tunnels name the same
 * gateway: simpler, and a failure (a stuck channel, a dead link, a
 * reconnect) stays inside one tunnel. The cost is one more TCP connection
 * and handshake per tunnel.
 *
 * Life: start() connects the session; when it is up every forward starts:
 * local and dynamic forwards bind their local port, remote forwards ask the
 * gateway to listen. A forward that cannot (port in use here, tcpip-forward
 * refused there: often the gateway still holding the port of a dead session
 * after a reconnect) is `failed` with the reason and retried with backoff,
 * and the tunnel is degraded while the others work. A dead session fails
 * the tunnel; the core stops and retries it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
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
#include <unistd.h>

#include "socks.h"
#include "ssh/ssh.h"
#include "warren-plugin.h"

#define SF_VERSION            "0.1.0"
#define SF_ERR_LEN            512
#define SF_RETRY_MIN_MS       1000
#define SF_RETRY_MAX_MS       30000
#define SF_ACCEPT_BATCH       64
#define SF_ACCEPT_PAUSE_MS    1000
#define SF_CONNECT_TIMEOUT_MS 10000 /* -R: per local target address */
#define SF_SOCKS_MAX          1024  /* bytes of a SOCKS handshake */
#define SF_SOCKS_TIMEOUT_MS   30000
/* Connections at once on each forward: each may hold up to a channel window
 * of data in memory behind a client that does not read (transports/ssh). */
#define SF_MAX_CONNS_DEFAULT 1024
#define SF_MAX_CONNS_LIMIT   1000000

static const struct warren_host *host;

/* ---- configuration ---- */

enum fwd_kind {
	FWD_LOCAL = 0,
	FWD_REMOTE,
	FWD_DYNAMIC,
};

static const char *const kind_names[] = {"local", "remote", "dynamic"};

struct fwd_conf {
	enum fwd_kind kind;
	char *spec;     /* as written */
	char bind[256]; /* local/dynamic: numeric address; remote: as written or "" */
	uint16_t port;
	char host[256]; /* local/remote target */
	uint16_t host_port;
	int line;
};

struct sf_conf {
	struct fwd_conf *fwds;
	size_t nfwds;
	bool accept_remote;
	unsigned max_connections; /* per forward */
	const struct warren_gateway *gw;
};

/* ---- instance ---- */

enum fwd_state {
	FS_DOWN = 0,   /* the session is not up */
	FS_REQUESTING, /* remote: tcpip-forward sent */
	FS_LISTENING,
	FS_FAILED, /* retry_timer armed */
};

static const char *const state_names[] = {"down", "requesting", "listening", "failed"};

struct sf;
struct conn;

struct forward {
	struct sf *sf;
	const struct fwd_conf *fc;
	enum fwd_state state;
	int fd; /* local listening socket */
	struct warren_watch *watch;
	struct wssh_listener *rl; /* remote listener */
	struct warren_timer *retry_timer;
	struct warren_timer *pause_timer;
	bool paused; /* accept failed (EMFILE...): pause_timer resumes */
	uint64_t retry_ms;
	char bound[300];
	char last_error[SF_ERR_LEN];
	struct conn *conns;
	size_t nconns;
};

enum conn_state {
	CS_SOCKS = 0,  /* dynamic: reading the SOCKS request */
	CS_OPENING,    /* channel open queued */
	CS_CONNECTING, /* remote: connecting to the local target */
	CS_BRIDGED,    /* the SSH layer moves the bytes */
};

struct conn {
	struct conn *prev, *next;
	struct forward *f;
	enum conn_state state;
	int fd; /* ours until handed to the channel */
	struct warren_watch *watch;
	struct wssh_channel *ch;
	/* dynamic */
	int socks_stage;
	int socks_version;
	unsigned char *buf;
	size_t len;
	struct warren_timer *timer; /* SOCKS handshake or connect timeout */
	/* remote */
	void *resolve_req;
	struct addrinfo *ai, *ai_next;
	char error[SF_ERR_LEN];
};

enum sf_report {
	REPORTED_NONE = 0,
	REPORTED_UP,
	REPORTED_DEGRADED,
};

struct sf {
	struct warren_tunnel *t;
	const struct sf_conf *conf;
	struct wssh_session *s;
	struct forward *fwds;
	size_t nfwds;
	bool running;
	bool up;
	/* Reports go out from a zero-delay timer: never from inside start, and
	 * a burst of forward changes makes one report. */
	struct warren_timer *report_timer;
	enum sf_report reported;
	char reported_reason[SF_ERR_LEN];
};

static void forward_start(struct forward *f);
static void report_schedule(struct sf *sf);

/* ---- helpers ---- */

static void format_addr(const struct sockaddr *sa, socklen_t salen, char *host_out, size_t hlen,
                        uint16_t *port)
{
	char s[8] = "0";

	if (getnameinfo(sa, salen, host_out, (socklen_t)hlen, s, sizeof(s),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(host_out, hlen, "?");
	*port = (uint16_t)atoi(s);
}

static void format_hostport(const char *h, unsigned port, char *buf, size_t len)
{
	if (strchr(h, ':'))
		snprintf(buf, len, "[%s]:%u", h, port);
	else
		snprintf(buf, len, "%s:%u", h, port);
}

/* ---- config ---- */

static void sf_config_free(void *p)
{
	struct sf_conf *conf = p;
	size_t i;

	if (!conf)
		return;
	for (i = 0; i < conf->nfwds; i++)
		free(conf->fwds[i].spec);
	free(conf->fwds);
	free(conf);
}

/* "" and localhost bind loopback (OpenSSH binds a bare port to loopback);
 * anything else must be numeric, so start binds exactly what was checked. */
static int canon_bind(const char *in, char *out, size_t outlen)
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
		snprintf(out, outlen, "0.0.0.0");
		return 0;
	}
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

static int parse_forward(struct warren_diag *diag, const struct warren_kv *kv, enum fwd_kind kind,
                         struct fwd_conf *fc)
{
	struct warren_endpoint_spec spec;
	char err[SF_ERR_LEN];

	memset(&spec, 0, sizeof(spec));
	if (host->parse_endpoint(kv->value,
	                         kind == FWD_DYNAMIC ? WARREN_SPEC_LISTEN : WARREN_SPEC_FORWARD,
	                         &spec, err, sizeof(err)) != 0) {
		host->config_error(diag, kv->line, "%s: %s", kind_names[kind], err);
		return -1;
	}
	fc->kind = kind;
	fc->line = kv->line;
	fc->port = spec.port;
	fc->host_port = spec.host_port;
	snprintf(fc->host, sizeof(fc->host), "%s", spec.host);
	if (kind != FWD_REMOTE && spec.port == 0) {
		host->config_error(diag, kv->line,
		                   "%s: port 0 is allowed only for remote forwards (the gateway "
		                   "picks one)",
		                   kind_names[kind]);
		return -1;
	}
	if (kind != FWD_DYNAMIC && (!spec.host[0] || spec.host_port == 0)) {
		host->config_error(diag, kv->line, "%s: a target host:port is required",
		                   kind_names[kind]);
		return -1;
	}
	if (kind == FWD_REMOTE) {
		/* The gateway binds it; it resolves the name. */
		snprintf(fc->bind, sizeof(fc->bind), "%s", spec.bind);
	} else if (canon_bind(spec.bind, fc->bind, sizeof(fc->bind)) != 0) {
		host->config_error(
		    diag, kv->line,
		    "%s: bind address '%s' must be a numeric IP address or localhost",
		    kind_names[kind], spec.bind);
		return -1;
	}
	fc->spec = strdup(kv->value);
	if (!fc->spec) {
		host->config_error(diag, kv->line, "out of memory");
		return -1;
	}
	return 0;
}

static int parse_max_connections(struct warren_diag *diag, const struct warren_kv *kv,
                                 unsigned *max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(kv->value, &end, 10);
	if (errno || end == kv->value || *end != '\0' || kv->value[0] == '-' || v < 1 ||
	    v > SF_MAX_CONNS_LIMIT) {
		host->config_error(diag, kv->line,
		                   "max_connections must be a whole number from 1 to %u, not '%s'",
		                   SF_MAX_CONNS_LIMIT, kv->value);
		return -1;
	}
	*max = (unsigned)v;
	return 0;
}

static bool bind_is_remote(const struct fwd_conf *fc)
{
	if (fc->kind == FWD_REMOTE)
		return fc->bind[0] && !host->is_loopback(fc->bind);
	return !host->is_loopback(fc->bind);
}

static int sf_config_parse(struct warren_diag *diag, const char *tunnel_name, int section_line,
                           const struct warren_kv *keys, size_t nkeys,
                           const struct warren_gateway *gw, void **confp)
{
	struct sf_conf *conf = calloc(1, sizeof(*conf));
	int errors = 0, art_line = 0;
	size_t i;

	if (!conf) {
		host->config_error(diag, section_line, "out of memory");
		return -1;
	}
	conf->gw = gw;
	conf->max_connections = SF_MAX_CONNS_DEFAULT;
	conf->fwds = calloc(nkeys ? nkeys : 1, sizeof(*conf->fwds));
	if (!conf->fwds) {
		host->config_error(diag, section_line, "out of memory");
		errors++;
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		const struct warren_kv *kv = &keys[i];
		enum fwd_kind kind;

		if (strcmp(kv->key, "local") == 0) {
			kind = FWD_LOCAL;
		} else if (strcmp(kv->key, "remote") == 0) {
			kind = FWD_REMOTE;
		} else if (strcmp(kv->key, "dynamic") == 0) {
			kind = FWD_DYNAMIC;
		} else if (strcmp(kv->key, "accept_remote_clients") == 0) {
			char err[SF_ERR_LEN];

			if (host->parse_bool(kv->value, &conf->accept_remote, err, sizeof(err))) {
				host->config_error(diag, kv->line, "accept_remote_clients: %s",
				                   err);
				errors++;
			}
			art_line = kv->line;
			continue;
		} else if (strcmp(kv->key, "max_connections") == 0) {
			if (parse_max_connections(diag, kv, &conf->max_connections) != 0)
				errors++;
			continue;
		} else {
			host->config_error(diag, kv->line,
			                   "unknown key '%s' for transport ssh-forward (known: "
			                   "local, remote, dynamic, accept_remote_clients, "
			                   "max_connections)",
			                   kv->key);
			errors++;
			continue;
		}
		if (parse_forward(diag, kv, kind, &conf->fwds[conf->nfwds]) != 0) {
			errors++;
			continue;
		}
		conf->nfwds++;
	}
	if (!gw) {
		host->config_error(diag, section_line,
		                   "tunnel %s: transport ssh-forward needs gateway = NAME",
		                   tunnel_name);
		errors++;
	}
	if (conf->nfwds == 0 && errors == 0) {
		host->config_error(diag, section_line,
		                   "tunnel %s forwards nothing: add local, remote or dynamic",
		                   tunnel_name);
		errors++;
	}
	for (i = 0; i < conf->nfwds; i++) {
		const struct fwd_conf *fc = &conf->fwds[i];

		if (!conf->accept_remote && bind_is_remote(fc)) {
			host->config_error(
			    diag, fc->line,
			    "%s = %s binds %s, which other hosts can reach: set "
			    "accept_remote_clients = yes if that is meant (an open forward hands "
			    "the "
			    "network behind the gateway to anyone who can reach the port)",
			    kind_names[fc->kind], fc->spec,
			    fc->bind[0] ? fc->bind : "all addresses");
			errors++;
		}
	}
	(void)art_line;
out:
	if (errors) {
		sf_config_free(conf);
		return -1;
	}
	*confp = conf;
	return 0;
}

/* ---- reports ---- */

static void report_cb(void *arg)
{
	struct sf *sf = arg;
	char reason[SF_ERR_LEN] = "";
	const char *first = NULL;
	size_t i, nfailed = 0, off = 0;

	if (!sf->running || !sf->up)
		return;
	for (i = 0; i < sf->nfwds; i++) {
		struct forward *f = &sf->fwds[i];

		if (f->state == FS_REQUESTING || f->state == FS_DOWN)
			return; /* not settled yet: report once every forward is */
		if (f->state != FS_FAILED)
			continue;
		nfailed++;
		if (!first)
			first = f->last_error;
		if (off < sizeof(reason))
			off += (size_t)snprintf(reason + off, sizeof(reason) - off, "%s%s: %s",
			                        off ? "; " : "", f->fc->spec, f->last_error);
	}
	if (nfailed == 0) {
		if (sf->reported != REPORTED_UP) {
			sf->reported = REPORTED_UP;
			sf->reported_reason[0] = '\0';
			host->report_up(sf->t);
		}
		return;
	}
	if (sf->reported == REPORTED_DEGRADED && strcmp(reason, sf->reported_reason) == 0)
		return;
	sf->reported = REPORTED_DEGRADED;
	snprintf(sf->reported_reason, sizeof(sf->reported_reason), "%s", reason);
	host->report_degraded(sf->t, "%zu of %zu forwards failed: %s", nfailed, sf->nfwds, reason);
}

static void report_schedule(struct sf *sf)
{
	host->timer_arm(sf->report_timer, 0);
}

/* ---- connections ---- */

/* Accept while listening, not paused and under max_connections: the
 * kernel's backlog holds the clients meanwhile. */
static void forward_update_accept(struct forward *f)
{
	if (!f->watch)
		return;
	host->watch_set(f->watch, !f->paused && f->nconns < f->sf->conf->max_connections
	                              ? WARREN_EV_READ
	                              : 0);
}

static void conn_free(struct conn *c)
{
	struct forward *f = c->f;

	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	f->nconns--;
	if (c->resolve_req)
		host->resolve_cancel(c->resolve_req);
	if (c->ai)
		freeaddrinfo(c->ai);
	host->timer_free(c->timer);
	host->watch_free(c->watch);
	if (c->fd >= 0)
		close(c->fd);
	if (c->ch)
		wssh_channel_close(c->ch);
	free(c->buf);
	free(c);
	if (f->nconns + 1 == f->sf->conf->max_connections)
		forward_update_accept(f);
}

static struct conn *conn_new(struct forward *f, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->f = f;
	c->fd = fd;
	c->next = f->conns;
	if (f->conns)
		f->conns->prev = c;
	f->conns = c;
	f->nconns++;
	return c;
}

static void on_bridge_closed(struct wssh_channel *ch, void *arg)
{
	struct conn *c = arg;

	(void)ch;
	c->ch = NULL; /* the layer frees it */
	conn_free(c);
}

/* Hand fd (and any bytes already read from it) to the open channel. */
static void conn_bridge(struct conn *c, const void *initial, size_t len)
{
	host->watch_free(c->watch);
	c->watch = NULL;
	host->timer_free(c->timer);
	c->timer = NULL;
	if (wssh_channel_attach(c->ch, c->fd, initial, len, on_bridge_closed, c) != 0) {
		conn_free(c);
		return;
	}
	c->fd = -1;
	c->state = CS_BRIDGED;
}

static void send_all(int fd, const void *buf, size_t len)
{
	/* A reply of a few bytes on a socket with an empty send buffer: it
	 * goes out whole or the client is gone. */
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		errno = EPIPE;
}

static void on_local_open(struct wssh_channel *ch, int error, const char *reason, void *arg)
{
	struct conn *c = arg;
	struct forward *f = c->f;
	unsigned char reply[16];
	size_t n;

	if (error) {
		c->ch = NULL;
		host->log(f->sf->t, WARREN_LOG_INFO, "%s %s: %s", kind_names[f->fc->kind],
		          f->fc->spec, reason);
		/* A -L forward has one destination: say in status why its
		 * clients are closed (the forward itself still listens). */
		if (f->fc->kind == FWD_LOCAL && f->state == FS_LISTENING)
			snprintf(f->last_error, sizeof(f->last_error), "%s", reason);
		if (f->fc->kind == FWD_DYNAMIC) {
			n = socks_connect_reply(c->socks_version, error, reply);
			send_all(c->fd, reply, n);
		}
		conn_free(c);
		return;
	}
	if (f->fc->kind == FWD_DYNAMIC) {
		n = socks_connect_reply(c->socks_version, 0, reply);
		send_all(c->fd, reply, n);
		conn_bridge(c, c->buf, c->len);
		return;
	}
	(void)ch;
	if (f->state == FS_LISTENING)
		f->last_error[0] = '\0'; /* the destination answers again */
	conn_bridge(c, NULL, 0);
}

static void conn_open_direct(struct conn *c, const char *target, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[INET6_ADDRSTRLEN + 8] = "127.0.0.1";
	uint16_t peer_port = 0;

	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0)
		format_addr((struct sockaddr *)&ss, sl, peer, sizeof(peer), &peer_port);
	c->state = CS_OPENING;
	c->ch = wssh_direct_tcpip(c->f->sf->s, target, port, peer, peer_port, 0, on_local_open, c);
	if (!c->ch)
		conn_free(c);
}

/* -D: read the SOCKS handshake. */
static void on_socks(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	struct socks_req req;
	enum socks_result r;
	ssize_t n;

	(void)events;
	n = recv(fd, c->buf + c->len, SF_SOCKS_MAX - c->len, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(c);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		memset(&req, 0, sizeof(req));
		r = socks_parse(c->socks_stage, c->buf, c->len, &req);
		if (r == SOCKS_MORE) {
			if (c->len == SF_SOCKS_MAX)
				conn_free(c);
			return;
		}
		if (r == SOCKS_ERROR) {
			host->log(c->f->sf->t, WARREN_LOG_INFO, "dynamic %s: %s", c->f->fc->spec,
			          req.error);
			if (req.reply_len)
				send_all(fd, req.reply, req.reply_len);
			conn_free(c);
			return;
		}
		c->len -= req.consumed;
		memmove(c->buf, c->buf + req.consumed, c->len);
		if (r == SOCKS_GREETING) {
			send_all(fd, req.reply, req.reply_len);
			c->socks_stage = 1;
			continue;
		}
		break;
	}
	/* CONNECT: the rest of the buffer is the client's first bytes. */
	c->socks_version = req.version;
	host->watch_set(c->watch, 0);
	conn_open_direct(c, req.host, req.port);
}

static void on_socks_timeout(void *arg)
{
	struct conn *c = arg;

	if (c->state == CS_SOCKS)
		conn_free(c);
}

static void on_accept(int lfd, unsigned events, void *arg)
{
	struct forward *f = arg;
	struct conn *c;
	int fd, i, one = 1;

	(void)events;
	for (i = 0; i < SF_ACCEPT_BATCH; i++) {
		/* At the cap: the rest wait in the backlog (memory bound). */
		if (f->nconns >= f->sf->conf->max_connections) {
			forward_update_accept(f);
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* EMFILE and friends: a level-triggered watch would
			 * spin; pause accepting for a moment. */
			host->log(f->sf->t, WARREN_LOG_WARN, "%s %s: accept: %s; pausing",
			          kind_names[f->fc->kind], f->fc->spec, strerror(errno));
			f->paused = true;
			forward_update_accept(f);
			host->timer_arm(f->pause_timer, SF_ACCEPT_PAUSE_MS);
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_new(f, fd);
		if (!c) {
			close(fd);
			continue;
		}
		if (f->fc->kind == FWD_LOCAL) {
			conn_open_direct(c, f->fc->host, f->fc->host_port);
			continue;
		}
		c->state = CS_SOCKS;
		c->buf = malloc(SF_SOCKS_MAX);
		c->watch = host->watch_new(f->sf->t, fd, WARREN_EV_READ, on_socks, c);
		c->timer = host->timer_new(f->sf->t, on_socks_timeout, c);
		if (!c->buf || !c->watch || !c->timer) {
			conn_free(c);
			continue;
		}
		host->timer_arm(c->timer, SF_SOCKS_TIMEOUT_MS);
	}
}

static void on_pause(void *arg)
{
	struct forward *f = arg;

	f->paused = false;
	forward_update_accept(f);
}

/* ---- -R: connections from the gateway to a local target ---- */

static void remote_try_next(struct conn *c);

static void remote_connect_failed(struct conn *c, const char *why)
{
	char target[300];

	format_hostport(c->f->fc->host, c->f->fc->host_port, target, sizeof(target));
	snprintf(c->error, sizeof(c->error), "connect %s: %s", target, why);
	host->watch_free(c->watch);
	c->watch = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	remote_try_next(c);
}

static void on_remote_connected(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	int err = 0, one = 1;
	socklen_t len = sizeof(err);

	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		remote_connect_failed(c, strerror(err));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_bridge(c, NULL, 0);
}

static void on_remote_timeout(void *arg)
{
	struct conn *c = arg;

	if (c->state == CS_CONNECTING)
		remote_connect_failed(c, "timed out");
}

static void remote_try_next(struct conn *c)
{
	struct addrinfo *ai;

	while ((ai = c->ai_next) != NULL) {
		c->ai_next = ai->ai_next;
		c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			c->watch = host->watch_new(c->f->sf->t, c->fd, WARREN_EV_WRITE,
			                           on_remote_connected, c);
			if (!c->watch)
				break;
			host->timer_arm(c->timer, SF_CONNECT_TIMEOUT_MS);
			return;
		}
		snprintf(c->error, sizeof(c->error), "connect: %s", strerror(errno));
		close(c->fd);
		c->fd = -1;
	}
	host->log(c->f->sf->t, WARREN_LOG_INFO, "remote %s: %s", c->f->fc->spec,
	          c->error[0] ? c->error : "no address");
	conn_free(c); /* closes the channel: the gateway's client sees EOF */
}

static void on_remote_resolved(int error, struct addrinfo *addrs, void *arg)
{
	struct conn *c = arg;

	c->resolve_req = NULL;
	if (error || !addrs) {
		host->log(c->f->sf->t, WARREN_LOG_INFO, "remote %s: resolve %s: %s", c->f->fc->spec,
		          c->f->fc->host, error ? gai_strerror(error) : "no address");
		if (addrs)
			freeaddrinfo(addrs);
		conn_free(c);
		return;
	}
	c->ai = c->ai_next = addrs;
	remote_try_next(c);
}

static void on_remote_accept(struct wssh_listener *l, struct wssh_channel *ch, void *arg)
{
	struct forward *f = arg;
	struct conn *c;

	(void)l;
	/* The gateway accepted the connection already: past the cap it can
	 * only be refused (closed at once: no window of data piles up). */
	if (f->nconns >= f->sf->conf->max_connections) {
		host->log(f->sf->t, WARREN_LOG_DEBUG,
		          "remote %s: %u connections already (max_connections): refused",
		          f->fc->spec, f->sf->conf->max_connections);
		wssh_channel_close(ch);
		return;
	}
	c = conn_new(f, -1);
	if (!c) {
		wssh_channel_close(ch);
		return;
	}
	c->ch = ch;
	c->state = CS_CONNECTING;
	c->timer = host->timer_new(f->sf->t, on_remote_timeout, c);
	c->resolve_req =
	    c->timer ? host->resolve(f->sf->t, f->fc->host, f->fc->host_port, on_remote_resolved, c)
	             : NULL;
	if (!c->resolve_req)
		conn_free(c);
}

/* ---- forwards ---- */

static void forward_failed(struct forward *f)
{
	f->state = FS_FAILED;
	f->bound[0] = '\0';
	host->log(f->sf->t, WARREN_LOG_WARN, "%s %s failed: %s; retrying in %llus",
	          kind_names[f->fc->kind], f->fc->spec, f->last_error,
	          (unsigned long long)(f->retry_ms / 1000));
	host->timer_arm(f->retry_timer, f->retry_ms);
	f->retry_ms = f->retry_ms * 2 > SF_RETRY_MAX_MS ? SF_RETRY_MAX_MS : f->retry_ms * 2;
	report_schedule(f->sf);
}

static void on_listen_done(struct wssh_listener *l, int error, const char *reason,
                           uint16_t bound_port, void *arg)
{
	struct forward *f = arg;

	if (error) {
		f->rl = NULL; /* gone */
		snprintf(f->last_error, sizeof(f->last_error), "%s", reason);
		forward_failed(f);
		return;
	}
	(void)l;
	f->state = FS_LISTENING;
	f->last_error[0] = '\0';
	f->retry_ms = SF_RETRY_MIN_MS;
	format_hostport(f->fc->bind[0] ? f->fc->bind : "localhost", bound_port, f->bound,
	                sizeof(f->bound));
	host->log(f->sf->t, WARREN_LOG_INFO, "remote %s: the gateway listens on %s", f->fc->spec,
	          f->bound);
	report_schedule(f->sf);
}

static int local_listen(struct forward *f)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	int fd = -1, one = 1, gerr, ret = -1;

	format_hostport(f->fc->bind, f->fc->port, f->bound, sizeof(f->bound));
	snprintf(port, sizeof(port), "%u", f->fc->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	gerr = getaddrinfo(f->fc->bind, port, &hints, &ai);
	if (gerr != 0 || !ai) {
		snprintf(f->last_error, sizeof(f->last_error), "bind %s: %s", f->bound,
		         gerr ? gai_strerror(gerr) : "no address");
		goto out;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(f->last_error, sizeof(f->last_error), "socket: %s", strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(f->last_error, sizeof(f->last_error), "bind %s: %s", f->bound,
		         strerror(errno));
		goto out;
	}
	f->watch = host->watch_new(f->sf->t, fd, WARREN_EV_READ, on_accept, f);
	if (!f->watch) {
		snprintf(f->last_error, sizeof(f->last_error), "bind %s: out of memory", f->bound);
		goto out;
	}
	f->fd = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return ret;
}

static void forward_start(struct forward *f)
{
	if (!f->sf->up)
		return;
	if (f->fc->kind == FWD_REMOTE) {
		f->state = FS_REQUESTING;
		f->rl = wssh_listen(f->sf->s, f->fc->bind, f->fc->port, on_listen_done,
		                    on_remote_accept, f);
		if (!f->rl) {
			snprintf(f->last_error, sizeof(f->last_error),
			         "cannot request the remote forward: session not up");
			forward_failed(f);
		}
		return;
	}
	if (local_listen(f) != 0) {
		forward_failed(f);
		return;
	}
	f->state = FS_LISTENING;
	f->last_error[0] = '\0';
	f->retry_ms = SF_RETRY_MIN_MS;
	host->log(f->sf->t, WARREN_LOG_INFO, "%s %s: listening on %s", kind_names[f->fc->kind],
	          f->fc->spec, f->bound);
	report_schedule(f->sf);
}

static void on_retry(void *arg)
{
	struct forward *f = arg;

	if (f->state == FS_FAILED && f->sf->up)
		forward_start(f);
}

/* Close what the forward opened; it can start again. */
static void forward_stop(struct forward *f)
{
	while (f->conns)
		conn_free(f->conns);
	host->timer_cancel(f->retry_timer);
	host->timer_cancel(f->pause_timer);
	f->paused = false;
	host->watch_free(f->watch);
	f->watch = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	wssh_listener_free(f->rl);
	f->rl = NULL;
	f->state = FS_DOWN;
	f->bound[0] = '\0';
	f->retry_ms = SF_RETRY_MIN_MS;
}

/* ---- session ---- */

static void on_session_up(struct wssh_session *s, void *arg)
{
	struct sf *sf = arg;
	size_t i;

	(void)s;
	sf->up = true;
	for (i = 0; i < sf->nfwds; i++)
		forward_start(&sf->fwds[i]);
	report_schedule(sf);
}

static void on_session_down(struct wssh_session *s, void *arg, const char *reason)
{
	struct sf *sf = arg;

	(void)s;
	sf->up = false;
	/* The core stops us (later, never from inside this call) and retries. */
	host->report_failure(sf->t, "%s", reason);
}

static const struct wssh_session_cbs session_cbs = {
    .up = on_session_up,
    .down = on_session_down,
};

/* ---- lifecycle ---- */

static void sf_destroy(void *state);

static int sf_create(struct warren_tunnel *t, const void *conf_p, void **statep)
{
	const struct sf_conf *conf = conf_p;
	struct sf *sf = calloc(1, sizeof(*sf));
	size_t i;

	if (!sf)
		return -ENOMEM;
	sf->t = t;
	sf->conf = conf;
	sf->nfwds = conf->nfwds;
	sf->fwds = calloc(conf->nfwds, sizeof(*sf->fwds));
	sf->report_timer = host->timer_new(t, report_cb, sf);
	if (!sf->fwds || !sf->report_timer)
		goto fail;
	for (i = 0; i < sf->nfwds; i++) {
		struct forward *f = &sf->fwds[i];

		f->sf = sf;
		f->fc = &conf->fwds[i];
		f->fd = -1;
		f->retry_ms = SF_RETRY_MIN_MS;
		f->retry_timer = host->timer_new(t, on_retry, f);
		f->pause_timer = host->timer_new(t, on_pause, f);
		if (!f->retry_timer || !f->pause_timer)
			goto fail;
	}
	*statep = sf;
	return 0;
fail:
	sf_destroy(sf);
	return -ENOMEM;
}

static int sf_start(void *state)
{
	struct sf *sf = state;
	int rc;

	sf->running = true;
	sf->up = false;
	sf->reported = REPORTED_NONE;
	sf->s = wssh_session_new(host, sf->t, sf->conf->gw, &session_cbs, sf);
	if (!sf->s)
		return -ENOMEM;
	rc = wssh_session_start(sf->s);
	if (rc < 0) {
		wssh_session_free(sf->s);
		sf->s = NULL;
	}
	return rc;
}

static int sf_stop(void *state)
{
	struct sf *sf = state;
	size_t i;

	sf->running = false;
	sf->up = false;
	host->timer_cancel(sf->report_timer);
	for (i = 0; i < sf->nfwds; i++)
		forward_stop(&sf->fwds[i]);
	wssh_session_free(sf->s);
	sf->s = NULL;
	return 0;
}

static void sf_destroy(void *state)
{
	struct sf *sf = state;
	size_t i;

	if (!sf)
		return;
	for (i = 0; sf->fwds && i < sf->nfwds; i++) {
		host->timer_free(sf->fwds[i].retry_timer);
		host->timer_free(sf->fwds[i].pause_timer);
	}
	host->timer_free(sf->report_timer);
	free(sf->fwds);
	free(sf);
}

static void sf_status(void *state, struct warren_json *j)
{
	struct sf *sf = state;
	size_t i;

	host->json_array_begin(j, "forwards");
	for (i = 0; i < sf->nfwds; i++) {
		struct forward *f = &sf->fwds[i];

		host->json_object_begin(j, NULL);
		host->json_string(j, "kind", kind_names[f->fc->kind]);
		host->json_string(j, "spec", f->fc->spec);
		host->json_string(j, "bound", f->state == FS_LISTENING ? f->bound : NULL);
		host->json_string(j, "state", state_names[f->state]);
		host->json_int(j, "connections", (int64_t)f->nconns);
		host->json_string(j, "last_error", f->last_error[0] ? f->last_error : NULL);
		host->json_object_end(j);
	}
	host->json_array_end(j);
}

static const struct warren_transport_ops sf_ops = {
    .abi = WARREN_PLUGIN_ABI,
    .size = sizeof(struct warren_transport_ops),
    .name = "ssh-forward",
    .version = SF_VERSION,
    .description = "SSH port forwarding: local (-L), remote (-R) and dynamic (-D, SOCKS)",
    .needs_gateway = true,
    .config_parse = sf_config_parse,
    .config_free = sf_config_free,
    .create = sf_create,
    .start = sf_start,
    .stop = sf_stop,
    .destroy = sf_destroy,
    .status = sf_status,
};

/* The host table must reach the last member this file calls. */
#define SF_HOST_SIZE_NEEDED                                                                        \
	(offsetof(struct warren_host, json_array_end) +                                            \
	 sizeof(((struct warren_host *)0)->json_array_end))

WARREN_EXPORT const struct warren_transport_ops *WARREN_PLUGIN_ENTRY(const struct warren_host *h)
{
	if (!h || h->abi < WARREN_PLUGIN_ABI || h->size < SF_HOST_SIZE_NEEDED)
		return NULL;
	host = h;
	return &sf_ops;
}
