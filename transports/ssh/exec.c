/*
 * exec.c: exec sessions, a "session" channel that runs one command on the
 * gateway (the remote pppd of ppp-ssh, the X program of x11).
 *
 * The channel opens through the session's request queue like any other
 * (rule 5); once it is open, one more queued request carries the pty-req,
 * the x11-req and the exec, in that order, each a step that is repeated
 * with the same arguments while libssh2 says EAGAIN (rule 1). Only when the
 * exec is accepted does the owner hear of the channel, so that a refused pty
 * or command is one error, not a channel that opens and dies.
 *
 * Once bridged, channel.c calls wssh_exec_io on every visit: it drains the
 * command's stderr (logged, bridged to an fd, or merged into stdout by
 * libssh2 itself) and notices the command's end. The end is the peer's
 * CLOSE, not its EOF: OpenSSH may send exit-status after EOF, and the exit
 * callback must see the status before the owner's closed callback runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ERR_CHUNK     (16u * 1024) /* one read of stderr */
#define LOG_LINE_MAX  512          /* longer stderr lines are logged in pieces */
#define LOG_BURST     50           /* stderr lines logged per LOG_WINDOW_MS ... */
#define LOG_WINDOW_MS 10000        /* ... the rest are counted, not logged */
#define PTY_COLS      80
#define PTY_ROWS      24

enum exec_step {
	STEP_PTY = 0,
	STEP_X11,
	STEP_EXEC,
	STEP_DONE,
};

/* The libssh2 call of exec_io that left a half-sent packet (rule 1). */
enum exec_call {
	EC_NONE = 0,
	EC_STDERR,
	EC_CLOSED,
};

struct wssh_exec {
	struct wssh_request req; /* first: the queue hands back this pointer */
	struct wssh_channel *c;
	enum exec_step step;

	char *command;
	bool pty;
	char *term;
	bool x11;
	bool x11_single;
	char *x11_proto;
	char *x11_cookie;
	int x11_screen;
	enum wssh_stderr_mode mode;

	wssh_open_cb cb;
	void *arg;
	wssh_exit_cb exit_cb;
	void *exit_arg;

	enum exec_call pending;
	bool ended;          /* the peer closed and the exit was told */
	uint64_t rx_checked; /* s->rx_total when CLOSE was last looked for */

	/* WSSH_STDERR_FD: one chunk in flight, as for stdout in channel.c */
	int err_fd;
	bool err_sock;
	bool err_broken; /* the reader went away: stderr is read and dropped */
	struct warren_watch *err_watch;
	unsigned err_armed;
	char *err_buf;
	size_t err_off, err_len;

	/* WSSH_STDERR_LOG */
	char line[LOG_LINE_MAX + 1];
	size_t line_len;
	uint64_t log_window_start;
	unsigned log_count;
	unsigned long log_dropped;
};

/* Terminal modes of a raw pty (RFC 4254 8): opcode, then a uint32 value. */
static const unsigned char raw_modes[] = {
    50, 0, 0, 0, 0, /* ISIG */
    51, 0, 0, 0, 0, /* ICANON */
    53, 0, 0, 0, 0, /* ECHO */
    56, 0, 0, 0, 0, /* ECHONL */
    59, 0, 0, 0, 0, /* IEXTEN */
    32, 0, 0, 0, 0, /* ISTRIP */
    34, 0, 0, 0, 0, /* IGNCR */
    35, 0, 0, 0, 0, /* INLCR */
    36, 0, 0, 0, 0, /* ICRNL */
    38, 0, 0, 0, 0, /* IXON */
    40, 0, 0, 0, 0, /* IXOFF */
    70, 0, 0, 0, 0, /* OPOST */
    72, 0, 0, 0, 0, /* ONLCR */
    91, 0, 0, 0, 1, /* CS8 */
    92, 0, 0, 0, 0, /* PARENB */
    0,              /* TTY_OP_END */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- stderr: log ---- */

static void log_line(struct wssh_exec *e)
{
	struct wssh_session *s = e->c->s;
	uint64_t now = now_ms();
	size_t i;

	if (now - e->log_window_start >= LOG_WINDOW_MS) {
		if (e->log_dropped)
			s->host->log(s->t, WARREN_LOG_INFO,
			             "remote: (%lu more lines of stderr were not logged)",
			             e->log_dropped);
		e->log_window_start = now;
		e->log_count = 0;
		e->log_dropped = 0;
	}
	/* A chatty command must not flood the daemon's log. */
	if (e->log_count >= LOG_BURST) {
		e->log_dropped++;
		goto out;
	}
	e->log_count++;
	/* Terminal escapes and other control bytes stay out of the log. */
	for (i = 0; i < e->line_len; i++)
		if ((unsigned char)e->line[i] < 0x20 && e->line[i] != '\t')
			e->line[i] = '?';
	e->line[e->line_len] = '\0';
	s->host->log(s->t, WARREN_LOG_INFO, "remote: %s", e->line);
out:
	e->line_len = 0;
}

static void log_bytes(struct wssh_exec *e, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			log_line(e);
			continue;
		}
		if (p[i] == '\r')
			continue;
		e->line[e->line_len++] = p[i];
		if (e->line_len == LOG_LINE_MAX)
			log_line(e);
	}
}

static void log_flush(struct wssh_exec *e)
{
	struct wssh_session *s = e->c->s;

	if (e->line_len)
		log_line(e);
	if (e->log_dropped)
		s->host->log(s->t, WARREN_LOG_INFO,
		             "remote: (%lu more lines of stderr were not logged)", e->log_dropped);
	e->log_dropped = 0;
}

/* ---- stderr: fd ---- */

static void err_update_watch(struct wssh_exec *e)
{
	unsigned ev = e->err_buf ? WARREN_EV_WRITE : 0;

	if (e->err_watch && ev != e->err_armed) {
		e->c->s->host->watch_set(e->err_watch, ev);
		e->err_armed = ev;
	}
}

static void err_close(struct wssh_exec *e)
{
	if (e->c && e->c->s)
		e->c->s->host->watch_free(e->err_watch);
	e->err_watch = NULL;
	e->err_armed = 0;
	if (e->err_fd >= 0)
		close(e->err_fd);
	e->err_fd = -1;
	free(e->err_buf);
	e->err_buf = NULL;
	e->err_off = e->err_len = 0;
}

/* Write what is buffered for the stderr fd. A reader that went away turns
 * stderr into a sink: the command must not stall on a full window. */
static void err_flush(struct wssh_exec *e)
{
	ssize_t n;

	while (e->err_buf) {
		if (e->err_sock)
			n = send(e->err_fd, e->err_buf + e->err_off, e->err_len - e->err_off,
			         MSG_NOSIGNAL);
		else
			n = write(e->err_fd, e->err_buf + e->err_off, e->err_len - e->err_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			e->err_broken = true;
			err_close(e);
			break;
		}
		e->err_off += (size_t)n;
		if (e->err_off == e->err_len) {
			free(e->err_buf);
			e->err_buf = NULL;
			e->err_off = e->err_len = 0;
		}
	}
	err_update_watch(e);
}

static void on_err_fd(int fd, unsigned events, void *arg)
{
	struct wssh_exec *e = arg;
	struct wssh_session *s = e->c->s;

	(void)fd;
	(void)events;
	err_flush(e);
	/* Room again: the pump may read more stderr (and, with it, let the
	 * peer's window grow), unless a half-sent packet comes first. */
	if (!e->err_buf && s->blocked == WSSH_OP_NONE)
		wssh_pump(s);
}

/* ---- stderr: reading ---- */

/* May stderr be read now? Reading is what opens the window again, so FD
 * mode reads only when the previous chunk is out (flow control). */
static bool err_wanted(struct wssh_exec *e)
{
	if (e->mode == WSSH_STDERR_MERGE)
		return false;
	if (e->mode == WSSH_STDERR_FD && !e->err_broken && (e->err_fd < 0 || e->err_buf))
		return false;
	return true;
}

/* One read of stderr. DONE progress, WAIT nothing there, BLOCK, -1, -2. */
static int err_read(struct wssh_channel *c)
{
	struct wssh_exec *e = c->exec;
	struct wssh_session *s = c->s;
	ssize_t n;
	int k;

	n = libssh2_channel_read_stderr(c->ch, s->scratch, ERR_CHUNK);
	if (n == 0)
		return WSSH_WAIT;
	if (n < 0) {
		k = wssh_classify(s, (int)n);
		return k == WSSH_DONE ? WSSH_WAIT : k;
	}
	if (e->mode == WSSH_STDERR_LOG) {
		log_bytes(e, s->scratch, (size_t)n);
		return WSSH_DONE;
	}
	if (e->err_broken)
		return WSSH_DONE;
	e->err_buf = malloc((size_t)n);
	if (!e->err_buf)
		return -2;
	memcpy(e->err_buf, s->scratch, (size_t)n);
	e->err_off = 0;
	e->err_len = (size_t)n;
	err_flush(e);
	return WSSH_DONE;
}

/* ---- the command's end ---- */

static int tell_exit(struct wssh_channel *c)
{
	struct wssh_exec *e = c->exec;
	struct wssh_session *s = c->s;
	char signame[32] = "", *sig = NULL;
	size_t siglen = 0;
	wssh_exit_cb cb = e->exit_cb;
	int status;

	libssh2_channel_get_exit_signal(c->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
	if (sig) {
		snprintf(signame, sizeof(signame), "%.*s", (int)siglen, sig);
		libssh2_free(s->ssh, sig);
	}
	/* libssh2 reports 0 when the server sent no exit-status at all. */
	status = signame[0] ? -1 : libssh2_channel_get_exit_status(c->ch);
	if (status >= 0)
		s->host->log(s->t, WARREN_LOG_DEBUG, "remote command exited with status %d",
		             status);
	else
		s->host->log(s->t, WARREN_LOG_DEBUG, "remote command killed by signal %s", signame);
	e->ended = true;
	e->exit_cb = NULL;
	if (cb)
		cb(c, status, signame[0] ? signame : NULL, e->exit_arg);
	/* The owner may have freed the session from its callback. */
	if (s->zombie || s->state != WSSH_S_UP)
		return -1;
	return WSSH_DONE;
}

static bool err_drained(struct wssh_exec *e)
{
	return e->mode == WSSH_STDERR_MERGE || !e->err_buf;
}

/* Remote EOF seen and every byte delivered: wait for the CLOSE, which
 * comes after exit-status (RFC 4254 6.10). */
static int wait_closed(struct wssh_channel *c)
{
	struct wssh_exec *e = c->exec;
	int rc, k;

	e->rx_checked = c->s->rx_total;
	rc = libssh2_channel_wait_closed(c->ch);
	if (rc == 0)
		return tell_exit(c);
	k = wssh_classify(c->s, rc);
	return k == WSSH_DONE ? WSSH_WAIT : k;
}

static int repeat(struct wssh_channel *c, enum exec_call call)
{
	switch (call) {
	case EC_STDERR:
		return err_read(c);
	case EC_CLOSED:
		return wait_closed(c);
	case EC_NONE:
		break;
	}
	return WSSH_DONE;
}

static int do_call(struct wssh_channel *c, enum exec_call call)
{
	int rc = repeat(c, call);

	c->exec->pending = rc == WSSH_BLOCK ? call : EC_NONE;
	return rc;
}

int wssh_exec_io(struct wssh_channel *c)
{
	struct wssh_exec *e = c->exec;
	int rc, progress = 0, i;

	if (e->ended)
		return WSSH_DONE;
	if (e->pending != EC_NONE) {
		rc = do_call(c, e->pending);
		if (rc == WSSH_BLOCK || rc < 0 || e->ended)
			return rc;
	}
	for (i = 0; i < 16 && err_wanted(e); i++) {
		rc = do_call(c, EC_STDERR);
		if (rc == WSSH_BLOCK || rc < 0)
			return rc;
		if (rc != WSSH_DONE)
			break;
		progress = 1;
	}
	if (c->remote_eof && !c->down && err_drained(e)) {
		if (e->mode == WSSH_STDERR_LOG)
			log_flush(e);
		if (e->err_fd >= 0)
			err_close(e); /* the reader sees EOF */
		rc = do_call(c, EC_CLOSED);
		if (rc == WSSH_BLOCK || rc < 0 || e->ended)
			return rc;
	}
	return progress ? WSSH_DONE : WSSH_WAIT;
}

bool wssh_exec_ended(const struct wssh_channel *c)
{
	return c->exec && c->exec->ended;
}

/* Work that no fd event will announce: stderr, or a CLOSE, pulled in by
 * another channel's read (rule 4). Looks at libssh2's lists only. */
bool wssh_exec_ready(const struct wssh_channel *c)
{
	const struct wssh_exec *e = c->exec;

	if (e->ended || c->state != WSSH_C_OPEN || c->fd < 0)
		return false;
	if (err_wanted(c->exec) && libssh2_poll_channel_read(c->ch, 1))
		return true;
	/* Bytes arrived since the last look for the CLOSE: look again. */
	return c->remote_eof && !c->down && err_drained(c->exec) && e->rx_checked != c->s->rx_total;
}

/* The channel is closing: its stderr fd goes now (its reader sees EOF).
 * The channel must not be freed while its request is half way: libssh2
 * still holds that state. A request not started yet just leaves. */
bool wssh_exec_closing(struct wssh_channel *c)
{
	struct wssh_exec *e = c->exec;

	err_close(e);
	if (!e->req.queued)
		return false;
	if (!e->req.started) {
		wssh_request_unqueue(c->s, &e->req);
		return false;
	}
	return true;
}

void wssh_exec_destroy(struct wssh_channel *c)
{
	struct wssh_exec *e = c->exec;

	if (!e)
		return;
	if (e->req.queued)
		wssh_request_unqueue(c->s, &e->req);
	err_close(e);
	free(e->command);
	free(e->term);
	free(e->x11_proto);
	free(e->x11_cookie);
	free(e);
	c->exec = NULL;
}

/* ---- the requests ---- */

static void refused(struct wssh_channel *c, int rc, const char *what)
{
	struct wssh_exec *e = c->exec;
	wssh_open_cb cb = c->state == WSSH_C_OPEN ? e->cb : NULL;
	char reason[600];

	e->cb = NULL;
	if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED)
		snprintf(reason, sizeof(reason), "the gateway refused the %s request", what);
	else
		snprintf(reason, sizeof(reason), "the %s request failed: %s", what,
		         wssh_last_error(c->s));
	if (cb)
		cb(c, rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED ? -EACCES : -EIO, reason, e->arg);
	/* The owner was told the channel is gone: close it for it. */
	if (!c->s->zombie && c->state == WSSH_C_OPEN)
		wssh_channel_close(c);
}

int wssh_exec_request_step(struct wssh_session *s, struct wssh_request *r)
{
	struct wssh_exec *e = (struct wssh_exec *)r;
	struct wssh_channel *c = e->c;
	const char *what = "exec";
	wssh_open_cb cb;
	int rc = 0, k;

	if (c->state != WSSH_C_OPEN && !r->started) {
		wssh_request_unqueue(s, r); /* closed by the owner meanwhile */
		return WSSH_DONE;
	}
	r->started = true;
	while (e->step != STEP_DONE) {
		rc = 0;
		switch (e->step) {
		case STEP_PTY:
			what = "pty";
			if (e->pty)
				rc = libssh2_channel_request_pty_ex(
				    c->ch, e->term, (unsigned)strlen(e->term),
				    (const char *)raw_modes, sizeof(raw_modes), PTY_COLS, PTY_ROWS,
				    0, 0);
			break;
		case STEP_X11:
			what = "X11 forwarding";
			if (e->x11)
				rc = libssh2_channel_x11_req_ex(c->ch, e->x11_single, e->x11_proto,
				                                e->x11_cookie, e->x11_screen);
			break;
		case STEP_EXEC:
			what = "exec";
			rc = libssh2_channel_process_startup(c->ch, "exec", 4, e->command,
			                                     (unsigned)strlen(e->command));
			break;
		case STEP_DONE:
			break;
		}
		if (rc == 0) {
			e->step++;
			continue;
		}
		k = wssh_classify(s, rc);
		if (k == WSSH_WAIT || k == WSSH_BLOCK)
			return k;
		wssh_request_unqueue(s, r);
		if (k == -1)
			return WSSH_DONE;
		refused(c, rc, what);
		return WSSH_DONE;
	}
	wssh_request_unqueue(s, r);
	cb = c->state == WSSH_C_OPEN ? e->cb : NULL;
	e->cb = NULL;
	if (cb)
		cb(c, 0, NULL, e->arg);
	return WSSH_DONE;
}

/* The session channel is open: the requests follow it through the queue. */
static void on_open(struct wssh_channel *c, int error, const char *reason, void *arg)
{
	struct wssh_exec *e = arg;

	if (error) {
		/* channel.c frees c, and e with it (wssh_exec_destroy). */
		if (e->cb)
			e->cb(c, error, reason, e->arg);
		return;
	}
	/* A local setting, no packet: before exec, so no byte is missed. */
	if (e->mode == WSSH_STDERR_MERGE)
		libssh2_channel_handle_extended_data2(c->ch, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
	wssh_request_queue(c->s, &e->req);
}

/* ---- public ---- */

static char *dup_or_null(const char *str, bool *failed)
{
	char *copy;

	if (!str)
		return NULL;
	copy = strdup(str);
	if (!copy)
		*failed = true;
	return copy;
}

struct wssh_channel *wssh_exec(struct wssh_session *s, const struct wssh_exec_opts *o,
                               wssh_open_cb cb, void *arg)
{
	struct wssh_exec *e = NULL;
	struct wssh_channel *c = NULL;
	bool failed = false;

	if (!o->command || (o->x11 && (!o->x11_auth_proto || !o->x11_auth_cookie)))
		goto out;
	/* libssh2 caps term and modes at 256 bytes together. */
	if (o->pty && o->term && strlen(o->term) > 128)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	e->req.kind = WSSH_REQ_EXEC;
	e->err_fd = -1;
	e->command = dup_or_null(o->command, &failed);
	e->pty = o->pty;
	e->term = dup_or_null(o->term ? o->term : "dumb", &failed);
	e->x11 = o->x11;
	e->x11_single = o->x11_single_connection;
	e->x11_proto = dup_or_null(o->x11_auth_proto, &failed);
	e->x11_cookie = dup_or_null(o->x11_auth_cookie, &failed);
	e->x11_screen = o->x11_screen;
	e->mode = o->stderr_mode;
	e->cb = cb;
	e->arg = arg;
	e->log_window_start = now_ms();
	if (failed)
		goto out;
	/* RFC 4254 6.1: a session channel carries no open message. */
	c = wssh_channel_open(s, "session", o->window, NULL, 0, on_open, e);
	if (!c)
		goto out;
	e->c = c;
	c->exec = e;
	e = NULL;
out:
	if (e) {
		free(e->command);
		free(e->term);
		free(e->x11_proto);
		free(e->x11_cookie);
		free(e);
	}
	return c;
}

int wssh_channel_attach_stderr(struct wssh_channel *c, int fd)
{
	struct wssh_exec *e = c->exec;
	int flags;

	if (!e || e->mode != WSSH_STDERR_FD || e->err_fd >= 0 || e->err_broken ||
	    c->state != WSSH_C_OPEN)
		return -EINVAL;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	e->err_watch = c->s->host->watch_new(c->s->t, fd, 0, on_err_fd, e);
	if (!e->err_watch)
		return -ENOMEM;
	e->err_fd = fd;
	e->err_sock = is_socket(fd);
	wssh_kick(c->s);
	return 0;
}

void wssh_channel_set_exit_cb(struct wssh_channel *c, wssh_exit_cb cb, void *arg)
{
	if (!c->exec)
		return;
	c->exec->exit_cb = cb;
	c->exec->exit_arg = arg;
}
