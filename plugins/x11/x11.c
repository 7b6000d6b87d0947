/*
 * x11.c: the `x11` transport: ssh -X kept up by the daemon.
 *
 * Life of a tunnel: start() first makes sure the local display answers (a
 * display that does not exist is a clear error in status, retried with
 * backoff, before anything is asked of the gateway), then connects the SSH
 * session. Once it is up, one session channel carries an x11-req with a fake
 * MIT-MAGIC-COOKIE-1, fresh from getrandom() for every session, and runs
 * the command (or, with none, a shell that prints $DISPLAY and waits, so the
 * display stays open for other programs on the gateway).
 *
 * Each X client on the gateway arrives as an x11 channel. It is bridged by
 * the SSH layer into one end of a socketpair; this file reads the client's
 * connection setup from the other end, checks that it carries the fake
 * cookie, connects to the local display and sends the X server the same
 * setup with the real cookie from the Xauthority file (which never leaves
 * this host), then moves bytes both ways. A client with a wrong or missing
 * cookie gets the X protocol's "Failed" reply and is closed; nothing else
 * is disturbed.
 *
 * The command's end ends the tunnel: exit status 0 is report_finished,
 * anything else report_failure; the core applies the restart policy. (For
 * warren x11 every end is report_finished: the status goes to @exit_fd.)
 *
 * `warren x11 GATEWAY -- COMMAND` (core/x11cmd.c) runs this transport once,
 * in-process, with three keys no config file can hold (keys there are
 * letters, digits, '_' and '-'): @stdout_fd and @stderr_fd, where the
 * command's output goes verbatim, and @exit_fd, a pipe that gets
 * "exit N\n" or "signal NAME\n" when the command ends.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "display.h"
#include "setup.h"
#include "ssh/ssh.h"
#include "warren-plugin.h"
#include "xauth.h"

#define X11_VERSION            "0.1.0"
#define X11_ERR_LEN            512
#define X11_BUF                (64 * 1024)
#define X11_SETUP_TIMEOUT_MS   30000 /* a client must send its setup by then */
#define X11_CONNECT_TIMEOUT_MS 10000 /* TCP displays */
#define X11_REFUSE_DRAIN_MS    5000  /* a refused client has this long to hang up */
#define X11_LINE_MAX           1024  /* of the command's output, when logged */
#define X11_PUMP_ROUNDS        16    /* chunks per direction and wakeup: fairness */
#define X11_LOG_BURST          50    /* output lines logged per X11_LOG_WINDOW_MS ... */
#define X11_LOG_WINDOW_MS      10000 /* ... the rest are counted, as exec.c does for stderr */
/* The first line the gateway's shell prints in daemon mode. */
#define X11_MARKER "WARREN_X11_DISPLAY="

static const struct warren_host *host;

/* ---- configuration ---- */

struct x11_conf {
	const struct warren_gateway *gw;
	char *display_text;
	struct x11_display display;
	char *xauthority;
	char *command; /* "": keep a display open */
	/* warren x11 only; -1 otherwise */
	int stdout_fd;
	int stderr_fd;
	int exit_fd;
};

/* ---- instance ---- */

enum x11_phase {
	XP_DOWN = 0,
	XP_PROBE,   /* checking that the local display answers */
	XP_SESSION, /* SSH session connecting */
	XP_EXEC,    /* session channel with x11-req and exec queued */
	XP_RUNNING, /* the command runs */
	XP_ENDED,   /* it ended and was reported */
};

enum xconn_state {
	XC_SETUP = 0,  /* reading the client's connection setup */
	XC_REFUSING,   /* Failed sent; waiting for the client to hang up */
	XC_CONNECTING, /* connecting to the local display */
	XC_PUMP,
	XC_CLOSED, /* fds closed; waiting for the SSH layer's closed callback */
};

struct x11;

/* One X client on the gateway. */
struct xconn {
	struct xconn *prev, *next;
	struct x11 *x;
	enum xconn_state state;
	struct wssh_channel *ch; /* bridged to the other end of cfd; NULL once closed */
	char peer[80];           /* the originator on the gateway, for logs */
	int cfd;                 /* our end of the socketpair */
	int sfd;                 /* the X server */
	struct warren_watch *cw, *sw;
	unsigned cev, sev;
	struct warren_timer *timer;
	/* client -> server: the setup while it is read, then data */
	unsigned char *c2s;
	size_t c2s_cap, c2s_len, c2s_off;
	bool c2s_secret; /* holds the real cookie: wiped before reuse */
	bool c_eof, s_shut;
	/* server -> client */
	unsigned char *s2c;
	size_t s2c_len, s2c_off;
	bool s_eof, c_shut;
	struct x11_setup setup;
};

/* The command's stdout or stderr, read from our end of a socketpair: logged
 * line by line, or (warren x11) passed to warren's own stdout/stderr. */
struct xstream {
	struct x11 *x;
	bool is_stderr;
	int in;
	struct warren_watch *in_w;
	int out; /* a dup of warren's fd; -1: log the lines */
	struct warren_watch *out_w;
	bool out_pollable; /* a pipe, tty or socket; regular files never wait */
	int out_flags;     /* fcntl flags to put back */
	unsigned char *buf;
	size_t len, off;
	bool eof;
	char line[X11_LINE_MAX];
	size_t line_len;
	bool first_line_seen;
	/* a chatty command must not flood the daemon's log */
	uint64_t log_window_start;
	unsigned log_count;
	unsigned long log_dropped;
};

struct x11 {
	struct warren_tunnel *t;
	const struct x11_conf *conf;
	enum x11_phase phase;
	bool passthrough; /* warren x11 */

	/* probe of the local display (TCP: resolve, then connect) */
	void *resolve_req;
	struct addrinfo *ai, *ai_next;
	int probe_fd;
	struct warren_watch *probe_w;
	struct warren_timer *probe_timer;
	struct sockaddr_storage server; /* TCP: the address that answered */
	socklen_t server_len;
	char probe_error[X11_ERR_LEN];

	struct wssh_session *s;
	struct wssh_channel *exec;
	int stdin_fd; /* our end of the command's stdin/stdout socketpair */
	struct xstream out, err;
	unsigned char fake[X11_COOKIE_LEN];
	char fake_hex[2 * X11_COOKIE_LEN + 1];

	bool exited, exec_closed;
	bool output_broken; /* warren x11: its stdout or stderr went away */
	int exit_status;
	char exit_signal[32];

	char remote_display[128];
	struct xconn *conns;
	size_t nconns;
	uint64_t total, refused;
	bool degraded;
	char last_error[X11_ERR_LEN];
};

static void xconn_free(struct xconn *xc);
static void xconn_close(struct xconn *xc);
static void maybe_ended(struct x11 *x);

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void wipe_free(void *p, size_t len)
{
	if (p)
		explicit_bzero(p, len);
	free(p);
}

static void degraded(struct x11 *x, const char *reason)
{
	snprintf(x->last_error, sizeof(x->last_error), "%s", reason);
	if (x->phase != XP_RUNNING)
		return;
	x->degraded = true;
	host->report_degraded(x->t, "%s", reason);
}

static void healthy(struct x11 *x)
{
	if (!x->degraded || x->phase != XP_RUNNING)
		return;
	x->degraded = false;
	x->last_error[0] = '\0';
	host->report_up(x->t);
}

/* ---- config ---- */

static void x11_config_free(void *p)
{
	struct x11_conf *conf = p;

	if (!conf)
		return;
	free(conf->display_text);
	free(conf->xauthority);
	free(conf->command);
	free(conf);
}

/* ~ and ~/x with $HOME; other values as they are. */
static char *expand_home(const char *path)
{
	const char *home = getenv("HOME");
	char *out;

	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/') || !home || !*home)
		return strdup(path);
	if (asprintf(&out, "%s%s", home, path + 1) < 0)
		return NULL;
	return out;
}

static int parse_fd(const char *text, int *fd)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v > 65535)
		return -1;
	*fd = (int)v;
	return 0;
}

static int x11_config_parse(struct warren_diag *diag, const char *tunnel_name, int section_line,
                            const struct warren_kv *keys, size_t nkeys,
                            const struct warren_gateway *gw, void **confp)
{
	struct x11_conf *conf = calloc(1, sizeof(*conf));
	const char *display = NULL, *xauth = NULL;
	int errors = 0, display_line = section_line, seen[6] = {0};
	char err[X11_ERR_LEN];
	size_t i;

	if (!conf) {
		host->config_error(diag, section_line, "out of memory");
		return -1;
	}
	conf->gw = gw;
	conf->stdout_fd = conf->stderr_fd = conf->exit_fd = -1;
	for (i = 0; i < nkeys; i++) {
		static const char *const names[] = {"display",    "xauthority", "command",
		                                    "@stdout_fd", "@stderr_fd", "@exit_fd"};
		const struct warren_kv *kv = &keys[i];
		size_t k;

		for (k = 0; k < 6 && strcmp(kv->key, names[k]) != 0; k++)
			;
		if (k == 6) {
			host->config_error(diag, kv->line,
			                   "unknown key '%s' for transport x11 (known: display, "
			                   "xauthority, command)",
			                   kv->key);
			errors++;
			continue;
		}
		if (seen[k]) {
			host->config_error(diag, kv->line, "%s given twice (first on line %d)",
			                   kv->key, seen[k]);
			errors++;
			continue;
		}
		seen[k] = kv->line;
		switch (k) {
		case 0:
			display = kv->value;
			display_line = kv->line;
			break;
		case 1:
			xauth = kv->value;
			if (!*xauth) {
				host->config_error(diag, kv->line, "xauthority: empty path");
				errors++;
			}
			break;
		case 2:
			free(conf->command);
			conf->command = strdup(kv->value);
			break;
		default:
			if (parse_fd(kv->value, k == 3   ? &conf->stdout_fd
			                        : k == 4 ? &conf->stderr_fd
			                                 : &conf->exit_fd) != 0) {
				host->config_error(diag, kv->line, "%s: bad fd '%s'", kv->key,
				                   kv->value);
				errors++;
			}
			break;
		}
	}
	if (!gw) {
		host->config_error(diag, section_line,
		                   "tunnel %s: transport x11 needs gateway = NAME", tunnel_name);
		errors++;
	}
	if (!display) {
		display = getenv("DISPLAY");
		if (!display || !*display) {
			host->config_error(diag, section_line,
			                   "tunnel %s: no display: DISPLAY is not set for "
			                   "warren and the tunnel has no display = (such as :0)",
			                   tunnel_name);
			errors++;
			display = NULL;
		}
	}
	if (display && x11_display_parse(display, &conf->display, err, sizeof(err)) != 0) {
		host->config_error(diag, display_line, "display: %s", err);
		errors++;
	}
	if (!xauth) {
		xauth = getenv("XAUTHORITY");
		if (!xauth || !*xauth)
			xauth = "~/.Xauthority";
	}
	conf->display_text = display ? strdup(display) : NULL;
	conf->xauthority = expand_home(xauth);
	if (!conf->command)
		conf->command = strdup("");
	if ((display && !conf->display_text) || !conf->xauthority || !conf->command) {
		host->config_error(diag, section_line, "out of memory");
		errors++;
	}
	if (errors) {
		x11_config_free(conf);
		return -1;
	}
	*confp = conf;
	return 0;
}

/* ---- X clients ---- */

static void xconn_watch(struct xconn *xc)
{
	unsigned cev = 0, sev = 0;

	switch (xc->state) {
	case XC_SETUP:
	case XC_REFUSING:
		cev = WARREN_EV_READ;
		break;
	case XC_CONNECTING:
		sev = WARREN_EV_WRITE;
		break;
	case XC_PUMP:
		if (xc->c2s_len == xc->c2s_off && !xc->c_eof)
			cev |= WARREN_EV_READ;
		if (xc->s2c_len > xc->s2c_off)
			cev |= WARREN_EV_WRITE;
		if (xc->s2c_len == xc->s2c_off && !xc->s_eof)
			sev |= WARREN_EV_READ;
		if (xc->c2s_len > xc->c2s_off)
			sev |= WARREN_EV_WRITE;
		break;
	case XC_CLOSED:
		break;
	}
	if (xc->cw && cev != xc->cev)
		host->watch_set(xc->cw, cev);
	if (xc->sw && sev != xc->sev)
		host->watch_set(xc->sw, sev);
	xc->cev = cev;
	xc->sev = sev;
}

static void on_bridge_closed(struct wssh_channel *ch, void *arg)
{
	struct xconn *xc = arg;

	(void)ch;
	xc->ch = NULL; /* the layer frees it */
	if (xc->state == XC_CLOSED)
		xconn_free(xc);
}

static void xconn_unlink(struct xconn *xc)
{
	struct x11 *x = xc->x;

	if (xc->prev)
		xc->prev->next = xc->next;
	else if (x->conns == xc)
		x->conns = xc->next;
	if (xc->next)
		xc->next->prev = xc->prev;
	xc->prev = xc->next = NULL;
}

static void xconn_release_fds(struct xconn *xc)
{
	host->watch_free(xc->cw);
	host->watch_free(xc->sw);
	xc->cw = xc->sw = NULL;
	host->timer_free(xc->timer);
	xc->timer = NULL;
	if (xc->cfd >= 0)
		close(xc->cfd);
	if (xc->sfd >= 0)
		close(xc->sfd);
	xc->cfd = xc->sfd = -1;
	wipe_free(xc->c2s, xc->c2s_secret ? xc->c2s_cap : 0);
	free(xc->s2c);
	xc->c2s = xc->s2c = NULL;
}

/* Free now; the channel (if still bridged) is aborted. */
static void xconn_free(struct xconn *xc)
{
	struct x11 *x = xc->x;

	if (xc->state != XC_CLOSED)
		x->nconns--;
	xconn_unlink(xc);
	xconn_release_fds(xc);
	if (xc->ch)
		wssh_channel_close(xc->ch);
	free(xc);
}

/* The connection is over on our side. Closing cfd lets the SSH layer pass
 * what is still in the socketpair, then EOF; the struct stays until the
 * layer's closed callback, which must find it. */
static void xconn_close(struct xconn *xc)
{
	if (!xc->ch) {
		xconn_free(xc);
		return;
	}
	xc->x->nconns--;
	xc->state = XC_CLOSED;
	xconn_release_fds(xc);
}

/* Send a Failed reply and wait (bounded) for the client to hang up: closing
 * with its bytes unread would reset the socketpair and could drop the
 * reply. */
static void xconn_refuse(struct xconn *xc, bool msb, const char *reason)
{
	unsigned char reply[8 + 256];
	ssize_t n = x11_setup_failed(msb, reason, reply, sizeof(reply));

	/* A few hundred bytes into an empty socketpair: all or nothing. */
	if (n > 0 && send(xc->cfd, reply, (size_t)n, MSG_NOSIGNAL) != n) {
		xconn_close(xc);
		return;
	}
	shutdown(xc->cfd, SHUT_WR);
	xc->state = XC_REFUSING;
	host->timer_arm(xc->timer, X11_REFUSE_DRAIN_MS);
	xconn_watch(xc);
}

static void xconn_pump(struct xconn *xc)
{
	int rounds, progress;
	ssize_t n;

	for (rounds = 0; rounds < X11_PUMP_ROUNDS; rounds++) {
		progress = 0;
		/* client -> server */
		if (xc->c2s_len > xc->c2s_off) {
			n = send(xc->sfd, xc->c2s + xc->c2s_off, xc->c2s_len - xc->c2s_off,
			         MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				goto failed;
			if (n > 0) {
				xc->c2s_off += (size_t)n;
				progress = 1;
			}
		}
		if (xc->c2s_len == xc->c2s_off) {
			if (xc->c2s_secret) {
				/* The setup with the real cookie has gone out. */
				explicit_bzero(xc->c2s, xc->c2s_cap);
				xc->c2s_secret = false;
			}
			xc->c2s_len = xc->c2s_off = 0;
			if (!xc->c_eof) {
				n = recv(xc->cfd, xc->c2s, xc->c2s_cap, 0);
				if (n > 0) {
					xc->c2s_len = (size_t)n;
					progress = 1;
				} else if (n == 0) {
					xc->c_eof = true;
					progress = 1;
				} else if (errno != EAGAIN && errno != EINTR) {
					goto failed;
				}
			}
		}
		if (xc->c_eof && xc->c2s_len == 0 && !xc->s_shut) {
			shutdown(xc->sfd, SHUT_WR);
			xc->s_shut = true;
		}
		/* server -> client */
		if (xc->s2c_len > xc->s2c_off) {
			n = send(xc->cfd, xc->s2c + xc->s2c_off, xc->s2c_len - xc->s2c_off,
			         MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				goto failed;
			if (n > 0) {
				xc->s2c_off += (size_t)n;
				progress = 1;
			}
		}
		if (xc->s2c_len == xc->s2c_off) {
			xc->s2c_len = xc->s2c_off = 0;
			if (!xc->s_eof) {
				n = recv(xc->sfd, xc->s2c, X11_BUF, 0);
				if (n > 0) {
					xc->s2c_len = (size_t)n;
					progress = 1;
				} else if (n == 0) {
					xc->s_eof = true;
					progress = 1;
				} else if (errno != EAGAIN && errno != EINTR) {
					goto failed;
				}
			}
		}
		if (xc->s_eof && xc->s2c_len == 0 && !xc->c_shut) {
			shutdown(xc->cfd, SHUT_WR);
			xc->c_shut = true;
		}
		if (xc->s_shut && xc->c_shut && xc->c_eof) {
			xconn_close(xc);
			return;
		}
		if (!progress)
			break;
	}
	xconn_watch(xc);
	return;
failed:
	host->log(xc->x->t, WARREN_LOG_DEBUG, "X11 connection from %s closed: %s", xc->peer,
	          strerror(errno));
	xconn_close(xc);
}

/* The local display answered: send the setup with the real cookie. */
static void xconn_connected(struct xconn *xc)
{
	struct x11 *x = xc->x;
	const struct x11_conf *conf = x->conf;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct x11_cookie cookie;
	unsigned char *buf;
	size_t extra = xc->c2s_len - xc->setup.total, need;
	char err[X11_ERR_LEN];
	int found;
	ssize_t n;

	if (getpeername(xc->sfd, (struct sockaddr *)&peer, &plen) != 0)
		plen = 0;
	memset(&cookie, 0, sizeof(cookie));
	found =
	    x11_xauth_find(conf->xauthority, &conf->display, plen ? (struct sockaddr *)&peer : NULL,
	                   plen, &cookie, err, sizeof(err));
	if (found < 0) {
		host->log(x->t, WARREN_LOG_WARN, "%s; connecting without a cookie", err);
	} else if (found == 0) {
		/* The server may admit the client by other means (xhost). */
		host->log(x->t, WARREN_LOG_INFO,
		          "no MIT-MAGIC-COOKIE-1 for display %s in %s; connecting without a "
		          "cookie",
		          conf->display_text, conf->xauthority);
	}
	need = x11_setup_len(found > 0 ? sizeof(X11_AUTH_MIT) - 1 : 0, cookie.len) + extra;
	if (need < X11_BUF)
		need = X11_BUF;
	buf = malloc(need);
	if (!buf) {
		explicit_bzero(&cookie, sizeof(cookie));
		xconn_close(xc);
		return;
	}
	n = x11_setup_rewrite(&xc->setup, X11_AUTH_MIT, found > 0 ? sizeof(X11_AUTH_MIT) - 1 : 0,
	                      cookie.data, found > 0 ? cookie.len : 0, buf, need);
	explicit_bzero(&cookie, sizeof(cookie));
	if (n < 0) {
		wipe_free(buf, need);
		xconn_close(xc);
		return;
	}
	/* Requests a client pipelined behind its setup follow it unchanged. */
	memcpy(buf + n, xc->c2s + xc->setup.total, extra);
	wipe_free(xc->c2s, xc->c2s_cap);
	xc->c2s = buf;
	xc->c2s_cap = need;
	xc->c2s_len = (size_t)n + extra;
	xc->c2s_off = 0;
	xc->c2s_secret = true;
	xc->s2c = malloc(X11_BUF);
	if (!xc->s2c) {
		xconn_close(xc);
		return;
	}
	host->timer_cancel(xc->timer);
	xc->state = XC_PUMP;
	healthy(x);
	host->log(x->t, WARREN_LOG_DEBUG, "X11 connection from %s to display %s", xc->peer,
	          conf->display_text);
	xconn_pump(xc);
}

static void xconn_connect_failed(struct xconn *xc, const char *why)
{
	struct x11 *x = xc->x;
	char reason[X11_ERR_LEN];

	snprintf(reason, sizeof(reason), "cannot connect to the local X display %s: %s",
	         x->conf->display_text, why);
	host->log(x->t, WARREN_LOG_WARN, "X11 connection from %s: %s", xc->peer, reason);
	degraded(x, reason);
	host->watch_free(xc->sw);
	xc->sw = NULL;
	if (xc->sfd >= 0)
		close(xc->sfd);
	xc->sfd = -1;
	/* The client's X library prints the reason. */
	xconn_refuse(xc, xc->setup.msb, reason);
}

static void on_server(int fd, unsigned events, void *arg);

static void xconn_connect(struct xconn *xc)
{
	struct x11 *x = xc->x;
	const struct x11_display *d = &x->conf->display;
	char err[X11_ERR_LEN];
	int fd;

	host->watch_set(xc->cw, 0);
	xc->cev = 0;
	if (d->kind == X11_DISPLAY_TCP) {
		fd = socket(x->server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || (connect(fd, (struct sockaddr *)&x->server, x->server_len) != 0 &&
		               errno != EINPROGRESS)) {
			snprintf(err, sizeof(err), "%s port %u: %s", d->host, d->port,
			         strerror(errno));
			if (fd >= 0)
				close(fd);
			xconn_connect_failed(xc, err);
			return;
		}
	} else {
		fd = x11_display_connect_local(d, err, sizeof(err));
		if (fd < 0) {
			xconn_connect_failed(xc, err);
			return;
		}
	}
	xc->sfd = fd;
	xc->sw = host->watch_new(x->t, fd, WARREN_EV_WRITE, on_server, xc);
	if (!xc->sw) {
		xconn_close(xc);
		return;
	}
	xc->sev = WARREN_EV_WRITE;
	xc->state = XC_CONNECTING;
	host->timer_arm(xc->timer, X11_CONNECT_TIMEOUT_MS);
}

/* XC_SETUP: read until the whole setup is here, then judge it. */
static void xconn_read_setup(struct xconn *xc)
{
	struct x11 *x = xc->x;
	enum x11_setup_rc rc;
	unsigned char *grown;
	ssize_t n;

	for (;;) {
		if (xc->c2s_len == xc->c2s_cap) {
			if (xc->c2s_cap >= X11_SETUP_MAX + X11_BUF) {
				xconn_close(xc);
				return;
			}
			grown = realloc(xc->c2s, xc->c2s_cap * 2);
			if (!grown) {
				xconn_close(xc);
				return;
			}
			xc->c2s = grown;
			xc->c2s_cap *= 2;
		}
		n = recv(xc->cfd, xc->c2s + xc->c2s_len, xc->c2s_cap - xc->c2s_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			xconn_close(xc); /* the client went away before its setup */
			return;
		}
		if (n < 0)
			return;
		xc->c2s_len += (size_t)n;
		rc = x11_setup_parse(xc->c2s, xc->c2s_len, &xc->setup);
		if (rc == X11_SETUP_MORE)
			continue;
		break;
	}
	if (rc == X11_SETUP_BAD) {
		host->log(x->t, WARREN_LOG_INFO,
		          "X11 connection from %s closed: not an X11 connection setup", xc->peer);
		x->refused++;
		xconn_close(xc);
		return;
	}
	if (!x11_setup_auth_is(&xc->setup, X11_AUTH_MIT, x->fake, sizeof(x->fake))) {
		const char *why;

		if (xc->setup.name_len == 0)
			why = "Authorization required, but no authorization protocol specified";
		else if (xc->setup.name_len != sizeof(X11_AUTH_MIT) - 1 ||
		         memcmp(xc->setup.name, X11_AUTH_MIT, xc->setup.name_len) != 0)
			why = "Authorization protocol not supported: only MIT-MAGIC-COOKIE-1";
		else
			why = "Invalid MIT-MAGIC-COOKIE-1 key";
		/* The cookie itself is never logged. */
		host->log(x->t, WARREN_LOG_INFO, "X11 connection from %s refused: %s", xc->peer,
		          why);
		x->refused++;
		xconn_refuse(xc, xc->setup.msb, why);
		return;
	}
	xconn_connect(xc);
}

static void on_client(int fd, unsigned events, void *arg)
{
	struct xconn *xc = arg;
	char sink[4096];
	ssize_t n;

	(void)fd;
	(void)events;
	switch (xc->state) {
	case XC_SETUP:
		xconn_read_setup(xc);
		break;
	case XC_REFUSING:
		for (;;) {
			n = recv(xc->cfd, sink, sizeof(sink), 0);
			if (n > 0)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			xconn_close(xc);
			return;
		}
	case XC_PUMP:
		xconn_pump(xc);
		break;
	case XC_CONNECTING:
	case XC_CLOSED:
		break;
	}
}

static void on_server(int fd, unsigned events, void *arg)
{
	struct xconn *xc = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)events;
	if (xc->state == XC_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err) {
			xconn_connect_failed(xc, strerror(err));
			return;
		}
		xconn_connected(xc);
		return;
	}
	if (xc->state == XC_PUMP)
		xconn_pump(xc);
}

static void on_xconn_timer(void *arg)
{
	struct xconn *xc = arg;

	if (xc->state == XC_CONNECTING) {
		xconn_connect_failed(xc, "timed out");
		return;
	}
	if (xc->state == XC_SETUP)
		host->log(xc->x->t, WARREN_LOG_INFO,
		          "X11 connection from %s closed: no connection setup within %u s",
		          xc->peer, X11_SETUP_TIMEOUT_MS / 1000);
	xconn_close(xc);
}

/* The SSH layer's handler: a new X client on the gateway. */
static void on_x11_channel(struct wssh_session *s, struct wssh_channel *ch, const char *orig_host,
                           int orig_port, void *arg)
{
	struct x11 *x = arg;
	struct xconn *xc;
	int sp[2];

	(void)s;
	if (x->phase != XP_RUNNING && x->phase != XP_EXEC) {
		wssh_channel_close(ch);
		return;
	}
	xc = calloc(1, sizeof(*xc));
	if (!xc) {
		wssh_channel_close(ch);
		return;
	}
	xc->x = x;
	xc->cfd = xc->sfd = -1;
	snprintf(xc->peer, sizeof(xc->peer), "%s:%d", orig_host, orig_port);
	xc->c2s_cap = 4096; /* a setup with a 16-byte cookie is 48 bytes */
	xc->c2s = malloc(xc->c2s_cap);
	xc->timer = host->timer_new(x->t, on_xconn_timer, xc);
	if (!xc->c2s || !xc->timer ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) != 0) {
		host->timer_free(xc->timer);
		free(xc->c2s);
		free(xc);
		wssh_channel_close(ch);
		return;
	}
	if (wssh_channel_attach(ch, sp[0], NULL, 0, on_bridge_closed, xc) != 0) {
		close(sp[0]);
		close(sp[1]);
		host->timer_free(xc->timer);
		free(xc->c2s);
		free(xc);
		wssh_channel_close(ch);
		return;
	}
	xc->ch = ch;
	xc->cfd = sp[1];
	xc->next = x->conns;
	if (x->conns)
		x->conns->prev = xc;
	x->conns = xc;
	x->nconns++;
	x->total++;
	xc->cw = host->watch_new(x->t, xc->cfd, WARREN_EV_READ, on_client, xc);
	if (!xc->cw) {
		xconn_close(xc);
		return;
	}
	xc->cev = WARREN_EV_READ;
	host->timer_arm(xc->timer, X11_SETUP_TIMEOUT_MS);
}

/* ---- the command's output ---- */

static void stream_log_line(struct xstream *st, char *line)
{
	struct x11 *x = st->x;
	uint64_t now = now_ms();
	char *p;

	/* Terminal escapes and other control bytes stay out of the log. */
	for (p = line; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			*p = '?';

	if (!st->is_stderr && !st->first_line_seen) {
		st->first_line_seen = true;
		if (strncmp(line, X11_MARKER, sizeof(X11_MARKER) - 1) == 0) {
			snprintf(x->remote_display, sizeof(x->remote_display), "%s",
			         line + sizeof(X11_MARKER) - 1);
			if (!x->remote_display[0]) {
				host->report_failure(
				    x->t, "the gateway set no DISPLAY: X11 forwarding is off there "
				          "(sshd_config X11Forwarding no) or xauth is missing");
				return;
			}
			host->log(x->t, WARREN_LOG_INFO, "the gateway's display is %s",
			          x->remote_display);
			return;
		}
	}
	if (now - st->log_window_start >= X11_LOG_WINDOW_MS) {
		if (st->log_dropped)
			host->log(x->t, WARREN_LOG_INFO,
			          "remote stdout: (%lu more lines were not logged)",
			          st->log_dropped);
		st->log_window_start = now;
		st->log_count = 0;
		st->log_dropped = 0;
	}
	if (st->log_count >= X11_LOG_BURST) {
		st->log_dropped++;
		return;
	}
	st->log_count++;
	host->log(x->t, WARREN_LOG_INFO, "remote stdout: %s", line);
}

/* Log mode: cut the chunk into lines; a line longer than the buffer is
 * logged in pieces. */
static void stream_lines(struct xstream *st, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || st->line_len == sizeof(st->line) - 1) {
			if (st->line_len && st->line[st->line_len - 1] == '\r')
				st->line_len--;
			st->line[st->line_len] = '\0';
			stream_log_line(st, st->line);
			st->line_len = 0;
			if (p[i] == '\n')
				continue;
		}
		st->line[st->line_len++] = (char)p[i];
	}
}

static void stream_watch(struct xstream *st)
{
	if (st->in_w)
		host->watch_set(st->in_w, !st->eof && st->len == st->off ? WARREN_EV_READ : 0);
	if (st->out_w)
		host->watch_set(st->out_w, st->len > st->off ? WARREN_EV_WRITE : 0);
}

static void stream_close(struct xstream *st)
{
	host->watch_free(st->in_w);
	host->watch_free(st->out_w);
	st->in_w = st->out_w = NULL;
	if (st->in >= 0)
		close(st->in);
	st->in = -1;
	if (st->out >= 0) {
		/* O_NONBLOCK is on the open file, shared with the shell. */
		if (st->out_pollable)
			fcntl(st->out, F_SETFL, st->out_flags);
		close(st->out);
	}
	st->out = -1;
	free(st->buf);
	st->buf = NULL;
	st->len = st->off = 0;
}

static void stream_broken(struct xstream *st)
{
	struct x11 *x = st->x;

	host->log(x->t, WARREN_LOG_DEBUG, "the remote command's %s: %s",
	          st->is_stderr ? "stderr" : "stdout", strerror(errno ? errno : EPIPE));
	x->output_broken = true;
	host->watch_free(st->in_w);
	host->watch_free(st->out_w);
	st->in_w = st->out_w = NULL;
	if (st->in >= 0)
		close(st->in);
	if (st->in == x->stdin_fd)
		x->stdin_fd = -1;
	st->in = -1;
	st->eof = true;
	st->len = st->off = 0;
	maybe_ended(x);
}

static void stream_run(struct xstream *st)
{
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < X11_PUMP_ROUNDS; rounds++) {
		if (st->len > st->off) {
			n = write(st->out, st->buf + st->off, st->len - st->off);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				/* warren's stdout is gone (`warren x11 ... |
				 * head`): stop reading, so that the channel
				 * closes and the command sees its output
				 * closed, as with ssh. */
				stream_broken(st);
				return;
			}
			st->off += (size_t)n;
			if (st->off < st->len)
				continue;
		}
		st->len = st->off = 0;
		if (st->eof)
			break;
		n = recv(st->in, st->buf, X11_BUF, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			st->eof = true;
			if (st->line_len) {
				st->line[st->line_len] = '\0';
				stream_log_line(st, st->line);
				st->line_len = 0;
			}
			if (st->log_dropped)
				host->log(st->x->t, WARREN_LOG_INFO,
				          "remote stdout: (%lu more lines were not logged)",
				          st->log_dropped);
			st->log_dropped = 0;
			break;
		}
		if (st->out < 0)
			stream_lines(st, st->buf, (size_t)n);
		else
			st->len = (size_t)n;
	}
	stream_watch(st);
	if (st->eof && st->len == st->off)
		maybe_ended(st->x);
}

static void on_stream(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	stream_run(arg);
}

/* in: our end of the socketpair the layer writes into; out_fd: where the
 * bytes go (-1: the log). */
static int stream_open(struct x11 *x, struct xstream *st, bool is_stderr, int in, int out_fd)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	st->x = x;
	st->is_stderr = is_stderr;
	st->in = in;
	st->out = -1;
	st->buf = malloc(X11_BUF);
	if (!st->buf)
		return -1;
	if (out_fd >= 0) {
		st->out = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
		if (st->out < 0)
			return -1;
		if (fstat(st->out, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
			st->out_pollable = true;
			st->out_flags = fcntl(st->out, F_GETFL);
			set_nonblock(st->out);
			st->out_w = host->watch_new(x->t, st->out, 0, on_stream, st);
			if (!st->out_w)
				return -1;
		}
	}
	st->in_w = host->watch_new(x->t, in, WARREN_EV_READ, on_stream, st);
	return st->in_w ? 0 : -1;
}

/* ---- the command ---- */

static void write_exit(struct x11 *x)
{
	char msg[64];
	int n;

	if (x->conf->exit_fd < 0)
		return;
	if (x->exited && x->exit_status >= 0)
		n = snprintf(msg, sizeof(msg), "exit %d\n", x->exit_status);
	else if (x->exited && x->exit_signal[0])
		n = snprintf(msg, sizeof(msg), "signal %s\n", x->exit_signal);
	else
		return;
	/* A few bytes into an empty pipe that warren itself reads. */
	if (write(x->conf->exit_fd, msg, (size_t)n) != n)
		host->log(x->t, WARREN_LOG_DEBUG, "exit status pipe: %s", strerror(errno));
}

/* The command has ended once its channel closed and its output is out. */
static void maybe_ended(struct x11 *x)
{
	const char *what = x->conf->command[0] ? "the remote command" : "the remote session";

	if (x->phase != XP_RUNNING || !x->exec_closed)
		return;
	if ((x->out.in >= 0 && !(x->out.eof && x->out.len == x->out.off)) ||
	    (x->err.in >= 0 && !(x->err.eof && x->err.len == x->err.off)))
		return;
	x->phase = XP_ENDED;
	write_exit(x);
	if (x->passthrough && (x->exited || x->output_broken)) {
		/* warren x11 passes the status on itself: the tunnel just
		 * ends, with nothing in the log for a command's exit 1 or
		 * for a reader of its output that went away. */
		host->report_finished(x->t);
	} else if (!x->exited) {
		host->report_failure(
		    x->t, "%s ended without an exit status (the gateway closed it)", what);
	} else if (x->exit_status == 0 && x->conf->command[0]) {
		host->log(x->t, WARREN_LOG_INFO, "the remote command exited with status 0");
		host->report_finished(x->t);
	} else if (x->exit_status >= 0) {
		host->report_failure(x->t, "%s exited with status %d", what, x->exit_status);
	} else {
		host->report_failure(x->t, "%s was killed by signal %s", what, x->exit_signal);
	}
}

static void on_exit_status(struct wssh_channel *c, int exit_status, const char *exit_signal,
                           void *arg)
{
	struct x11 *x = arg;

	(void)c;
	x->exited = true;
	x->exit_status = exit_status;
	snprintf(x->exit_signal, sizeof(x->exit_signal), "%s", exit_signal ? exit_signal : "?");
}

static void on_exec_closed(struct wssh_channel *c, void *arg)
{
	struct x11 *x = arg;

	(void)c;
	x->exec = NULL;
	x->exec_closed = true;
	/* The socketpair may still hold output: each stream calls back once
	 * it has read to EOF. */
	if (x->out.in >= 0)
		stream_run(&x->out);
	if (x->err.in >= 0)
		stream_run(&x->err);
	maybe_ended(x);
}

static void on_exec_open(struct wssh_channel *c, int error, const char *reason, void *arg)
{
	struct x11 *x = arg;
	int sp[2] = {-1, -1}, ep[2] = {-1, -1};

	if (error) {
		x->exec = NULL;
		host->report_failure(x->t, "cannot run the remote command: %s", reason);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) != 0)
		goto fail;
	if (x->passthrough &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ep) != 0)
		goto fail;
	if (stream_open(x, &x->out, false, sp[1], x->conf->stdout_fd) != 0) {
		sp[1] = -1; /* the stream owns it */
		goto fail;
	}
	x->stdin_fd = sp[1];
	sp[1] = -1;
	if (ep[0] >= 0) {
		if (stream_open(x, &x->err, true, ep[1], x->conf->stderr_fd) != 0) {
			ep[1] = -1;
			goto fail;
		}
		ep[1] = -1;
		if (wssh_channel_attach_stderr(c, ep[0]) != 0)
			goto fail;
		ep[0] = -1;
	}
	if (wssh_channel_attach(c, sp[0], NULL, 0, on_exec_closed, x) != 0)
		goto fail;
	sp[0] = -1;
	/* The command's stdin: EOF at once (ssh -n), except for the shell
	 * that holds the display open, which waits on it. */
	if (x->conf->command[0])
		shutdown(x->stdin_fd, SHUT_WR);
	x->phase = XP_RUNNING;
	host->log(x->t, WARREN_LOG_INFO, "%s runs on the gateway with X11 forwarding",
	          x->conf->command[0] ? "the command" : "a session");
	host->report_up(x->t);
	return;
fail:
	for (int i = 0; i < 2; i++) {
		if (sp[i] >= 0)
			close(sp[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	host->report_failure(x->t, "cannot set up the remote command's output: %s",
	                     strerror(errno ? errno : ENOMEM));
}

/* The shell command sent to the gateway. */
static char *exec_command(const struct x11 *x)
{
	const char *cmd = x->conf->command;
	char *out = NULL;

	if (x->passthrough)
		return strdup(cmd);
	/* The first line tells status the gateway's DISPLAY. Without a
	 * command, `cat` holds the session (and the display) until warren
	 * closes its stdin; no timer, no loop on the gateway. */
	if (asprintf(&out, "echo \"" X11_MARKER "$DISPLAY\"; %s",
	             cmd[0] ? cmd : "exec cat >/dev/null") < 0)
		return NULL;
	return out;
}

static void on_session_up(struct wssh_session *s, void *arg)
{
	struct x11 *x = arg;
	struct wssh_exec_opts o;
	char *cmd = exec_command(x);

	if (!cmd) {
		host->report_failure(x->t, "out of memory");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.command = cmd;
	o.x11 = true;
	o.x11_single_connection = false;
	o.x11_auth_proto = X11_AUTH_MIT;
	o.x11_auth_cookie = x->fake_hex;
	o.x11_screen = (int)x->conf->display.screen;
	o.stderr_mode = x->passthrough ? WSSH_STDERR_FD : WSSH_STDERR_LOG;
	wssh_session_set_x11_handler(s, on_x11_channel, x);
	x->phase = XP_EXEC;
	x->exec = wssh_exec(s, &o, on_exec_open, x);
	free(cmd);
	if (!x->exec) {
		host->report_failure(x->t, "cannot queue the remote command: session not up");
		return;
	}
	wssh_channel_set_exit_cb(x->exec, on_exit_status, x);
}

static void on_session_down(struct wssh_session *s, void *arg, const char *reason)
{
	struct x11 *x = arg;

	(void)s;
	host->report_failure(x->t, "%s", reason);
}

static const struct wssh_session_cbs session_cbs = {
    .up = on_session_up,
    .down = on_session_down,
};

/* ---- the probe of the local display ---- */

static void session_start(struct x11 *x)
{
	int rc;

	x->phase = XP_SESSION;
	x->s = wssh_session_new(host, x->t, x->conf->gw, &session_cbs, x);
	if (!x->s) {
		host->report_failure(x->t, "out of memory");
		return;
	}
	rc = wssh_session_start(x->s);
	if (rc < 0)
		host->report_failure(x->t, "cannot start the SSH session: %s", strerror(-rc));
}

static void probe_cleanup(struct x11 *x)
{
	if (x->resolve_req)
		host->resolve_cancel(x->resolve_req);
	x->resolve_req = NULL;
	host->watch_free(x->probe_w);
	x->probe_w = NULL;
	if (x->probe_fd >= 0)
		close(x->probe_fd);
	x->probe_fd = -1;
	host->timer_cancel(x->probe_timer);
	if (x->ai)
		freeaddrinfo(x->ai);
	x->ai = x->ai_next = NULL;
}

static void probe_failed(struct x11 *x, const char *why)
{
	char reason[X11_ERR_LEN];

	probe_cleanup(x);
	snprintf(reason, sizeof(reason), "cannot connect to the local X display %s: %s",
	         x->conf->display_text, why);
	snprintf(x->last_error, sizeof(x->last_error), "%s", reason);
	host->report_failure(x->t, "%s", reason);
}

static void probe_next(struct x11 *x);

static void on_probe(int fd, unsigned events, void *arg)
{
	struct x11 *x = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		snprintf(x->probe_error, sizeof(x->probe_error), "%s port %u: %s",
		         x->conf->display.host, x->conf->display.port, strerror(err));
		host->watch_free(x->probe_w);
		x->probe_w = NULL;
		close(x->probe_fd);
		x->probe_fd = -1;
		probe_next(x);
		return;
	}
	probe_cleanup(x);
	session_start(x);
}

static void on_probe_timeout(void *arg)
{
	struct x11 *x = arg;

	snprintf(x->probe_error, sizeof(x->probe_error), "%s port %u: timed out",
	         x->conf->display.host, x->conf->display.port);
	host->watch_free(x->probe_w);
	x->probe_w = NULL;
	if (x->probe_fd >= 0)
		close(x->probe_fd);
	x->probe_fd = -1;
	probe_next(x);
}

static void probe_next(struct x11 *x)
{
	struct addrinfo *ai;
	int fd;

	while ((ai = x->ai_next) != NULL) {
		x->ai_next = ai->ai_next;
		if (ai->ai_addrlen > sizeof(x->server))
			continue;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			snprintf(x->probe_error, sizeof(x->probe_error), "%s port %u: %s",
			         x->conf->display.host, x->conf->display.port, strerror(errno));
			close(fd);
			continue;
		}
		/* Later X clients connect to the address that answers. */
		memcpy(&x->server, ai->ai_addr, ai->ai_addrlen);
		x->server_len = ai->ai_addrlen;
		x->probe_fd = fd;
		x->probe_w = host->watch_new(x->t, fd, WARREN_EV_WRITE, on_probe, x);
		if (!x->probe_w) {
			probe_failed(x, "out of memory");
			return;
		}
		host->timer_arm(x->probe_timer, X11_CONNECT_TIMEOUT_MS);
		return;
	}
	probe_failed(x, x->probe_error[0] ? x->probe_error : "no address");
}

static void on_probe_resolved(int error, struct addrinfo *addrs, void *arg)
{
	struct x11 *x = arg;
	char why[X11_ERR_LEN];

	x->resolve_req = NULL;
	if (error || !addrs) {
		if (addrs)
			freeaddrinfo(addrs);
		snprintf(why, sizeof(why), "resolve %s: %s", x->conf->display.host,
		         error ? gai_strerror(error) : "no address");
		probe_failed(x, why);
		return;
	}
	x->ai = x->ai_next = addrs;
	x->probe_error[0] = '\0';
	probe_next(x);
}

static void probe_start(struct x11 *x)
{
	const struct x11_display *d = &x->conf->display;
	char err[X11_ERR_LEN];
	int fd;

	x->phase = XP_PROBE;
	if (d->kind != X11_DISPLAY_TCP) {
		/* Local sockets connect at once; the server just sees a
		 * client that leaves before its setup. */
		fd = x11_display_connect_local(d, err, sizeof(err));
		if (fd < 0) {
			probe_failed(x, err);
			return;
		}
		close(fd);
		session_start(x);
		return;
	}
	x->resolve_req = host->resolve(x->t, d->host, d->port, on_probe_resolved, x);
	if (!x->resolve_req)
		probe_failed(x, "cannot start the name resolution");
}

/* ---- lifecycle ---- */

static void x11_destroy(void *state);

static int x11_create(struct warren_tunnel *t, const void *conf_p, void **statep)
{
	const struct x11_conf *conf = conf_p;
	struct x11 *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->t = t;
	x->conf = conf;
	x->passthrough = conf->stdout_fd >= 0;
	x->probe_fd = -1;
	x->stdin_fd = -1;
	x->out.in = x->err.in = -1;
	x->out.out = x->err.out = -1;
	x->probe_timer = host->timer_new(t, on_probe_timeout, x);
	if (!x->probe_timer) {
		x11_destroy(x);
		return -ENOMEM;
	}
	*statep = x;
	return 0;
}

static int x11_start(void *state)
{
	struct x11 *x = state;
	static const char hex[] = "0123456789abcdef";
	size_t i;

	x->exited = x->exec_closed = x->degraded = x->output_broken = false;
	x->exit_status = -1;
	x->exit_signal[0] = '\0';
	x->remote_display[0] = '\0';
	x->probe_error[0] = '\0';
	/* A fresh fake cookie for every session: the gateway (its root, the
	 * xauth file) sees only this one, never the real one. */
	if (getrandom(x->fake, sizeof(x->fake), GRND_NONBLOCK) != (ssize_t)sizeof(x->fake)) {
		host->report_failure(x->t, "no random bytes for the X11 cookie yet: %s",
		                     strerror(errno));
		return 0;
	}
	for (i = 0; i < sizeof(x->fake); i++) {
		x->fake_hex[2 * i] = hex[x->fake[i] >> 4];
		x->fake_hex[2 * i + 1] = hex[x->fake[i] & 15];
	}
	x->fake_hex[2 * sizeof(x->fake)] = '\0';
	probe_start(x);
	return 0;
}

static int x11_stop(void *state)
{
	struct x11 *x = state;

	x->phase = XP_DOWN;
	probe_cleanup(x);
	while (x->conns)
		xconn_free(x->conns);
	stream_close(&x->out);
	stream_close(&x->err);
	x->stdin_fd = -1; /* the same fd as x->out.in, closed with it */
	if (x->exec)
		wssh_channel_close(x->exec);
	x->exec = NULL;
	wssh_session_free(x->s);
	x->s = NULL;
	explicit_bzero(x->fake, sizeof(x->fake));
	explicit_bzero(x->fake_hex, sizeof(x->fake_hex));
	x->remote_display[0] = '\0';
	return 0;
}

static void x11_destroy(void *state)
{
	struct x11 *x = state;

	if (!x)
		return;
	host->timer_free(x->probe_timer);
	free(x);
}

static void x11_status(void *state, struct warren_json *j)
{
	struct x11 *x = state;

	host->json_string(j, "display", x->conf->display_text);
	host->json_string(j, "remote_display", x->remote_display[0] ? x->remote_display : NULL);
	host->json_int(j, "connections", (int64_t)x->nconns);
	host->json_int(j, "total_connections", (int64_t)x->total);
	host->json_int(j, "refused", (int64_t)x->refused);
	host->json_string(j, "last_error", x->last_error[0] ? x->last_error : NULL);
}

static const struct warren_transport_ops x11_ops = {
    .abi = WARREN_PLUGIN_ABI,
    .size = sizeof(struct warren_transport_ops),
    .name = "x11",
    .version = X11_VERSION,
    .description = "X11 forwarding (ssh -X) with a display that outlives a login",
    .needs_gateway = true,
    .config_parse = x11_config_parse,
    .config_free = x11_config_free,
    .create = x11_create,
    .start = x11_start,
    .stop = x11_stop,
    .destroy = x11_destroy,
    .status = x11_status,
};

/* The host table must reach the last member this file calls. */
#define X11_HOST_SIZE_NEEDED                                                                       \
	(offsetof(struct warren_host, json_array_end) +                                            \
	 sizeof(((struct warren_host *)0)->json_array_end))

WARREN_EXPORT const struct warren_transport_ops *WARREN_PLUGIN_ENTRY(const struct warren_host *h)
{
	if (!h || h->abi < WARREN_PLUGIN_ABI || h->size < X11_HOST_SIZE_NEEDED)
		return NULL;
	host = h;
	return &x11_ops;
}
