/*
 * session.c: one SSH session to a gateway, non-blocking in the core's loop.
 *
 * Life of a session: resolve (again at every start: gateways on dynamic DNS
 * move) -> connect to each address in turn, each bounded by connect_timeout
 * -> handshake -> host key check -> auth (agent, then key files) -> up, then
 * the pump that drives every channel and listener -> down (reported once)
 * -> freed by the owner.
 *
 * The pump follows ../shared/notes/libssh2-1.10.md:
 *  rule 1: a call that leaves a half-sent packet (EAGAIN with OUTBOUND, or
 *          BAD_USE, or OUTBOUND after a call that returned success) is
 *          recorded in s->blocked and repeated before any other call on the
 *          session; small packets are never left half-sent at all, since
 *          libssh2 builds some on its own stack (session_send);
 *  rule 2: the socket watch follows libssh2_session_block_directions;
 *  rule 5: opens and tcpip-forward requests wait in one queue;
 *  rule 6: every wakeup has a reader that really reads (read_fallback), so
 *          a readable socket is always drained and never busy-loops;
 *  rule 7: channels leave through channel_free on later wakeups;
 *  rule 8: no libssh2_keepalive_send: liveness is tracked by the bytes the
 *          recv callback sees, and an idle link is probed with a channel open
 *          of an unknown type, which every server must refuse (RFC 4254 5.1):
 *          a request with a reply that libssh2 consumes, unlike the global
 *          request replies that pile up (#623) and would later be taken for
 *          the answer to a tcpip-forward. TCP keepalive and TCP_USER_TIMEOUT
 *          catch a dead link below SSH, also while the probe must wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PROBE_TYPE "keepalive@openssh.com"

/* session_send: a packet this small is never refused (libssh2's packets
 * built on its stack are all far smaller); the stash holds at most
 * STASH_MAX bytes. */
#define STASH_PACKET 1024
#define STASH_MAX    (256u * 1024)
/* How long an open that was sent and not answered keeps silence from
 * counting as missed keepalives: above Linux's default connect timeout
 * (~127 s), which is how long sshd takes to answer an open to a target
 * that drops SYNs. */
#define OPEN_REPLY_MAX_US (180ull * 1000000)
/* Each read or write on the agent's socket waits at most this long. */
#define AGENT_IO_MS 1000
/* BAD_USE wakeups in a row before the session is given up. */
#define BAD_USE_MAX 64

enum auth_step {
	AUTH_LIST = 0,
	AUTH_AGENT_START,
	AUTH_AGENT_NEXT,
	AUTH_AGENT_TRY,
	AUTH_KEY_NEXT,
	AUTH_KEY_TRY,
};

static void on_socket(int fd, unsigned events, void *arg);
static void try_next_addr(struct wssh_session *s);
static void session_destroy(struct wssh_session *s);

void wssh_appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strnlen(buf, size);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

void wssh_setf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

void wssh_enter(struct wssh_session *s)
{
	s->depth++;
}

/* Leaving the last nested entry frees a session its owner freed meanwhile. */
void wssh_leave(struct wssh_session *s)
{
	if (--s->depth == 0 && s->zombie)
		session_destroy(s);
}

const char *wssh_last_error(struct wssh_session *s)
{
	char *msg = NULL;

	if (!s->ssh)
		return "no session";
	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown libssh2 error";
}

/* Map a libssh2 return code: how the caller must wait, or whether the
 * session itself is broken (then it is failed here and -1 returned). */
int wssh_classify(struct wssh_session *s, int rc)
{
	if (rc >= 0)
		return WSSH_DONE;
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		           ? WSSH_BLOCK
		           : WSSH_WAIT;
	/* Another packet is half-sent (an automatic reply sent from inside a
	 * read, packet.c): repeat this call once the socket drains. */
	if (rc == LIBSSH2_ERROR_BAD_USE) {
		s->bad_use_seen = true;
		return WSSH_BLOCK;
	}
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_INVALID_MAC:
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
	case LIBSSH2_ERROR_PROTO:
	case LIBSSH2_ERROR_ALLOC:
	case LIBSSH2_ERROR_OUT_OF_BOUNDARY:
	case LIBSSH2_ERROR_BUFFER_TOO_SMALL:
		if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV)
			wssh_fail(s, "connection to %s closed by the gateway", s->peer);
		else
			wssh_fail(s, "connection to %s lost: %s", s->peer, wssh_last_error(s));
		return -1;
	default:
		return -2; /* an error of this call only (a channel's, a request's) */
	}
}

static void arm_socket(struct wssh_session *s, unsigned events)
{
	if (s->watch && events != s->armed) {
		s->host->watch_set(s->watch, events);
		s->armed = events;
	}
}

/* Arm by block_directions (rule 2); a half-sent packet waits for writable
 * only, so that a readable socket nobody may read cannot spin the loop. A
 * packet in the way that is not the blocked call's own (BAD_USE) is one
 * that only a read finishes: wait for input then, not for writable, which
 * would repeat the call at once, again and again. Stashed bytes
 * (session_send) wait for writable in every case. */
static void arm_by_directions(struct wssh_session *s)
{
	int dirs = libssh2_session_block_directions(s->ssh);
	unsigned ev = 0;

	if (s->blocked != WSSH_OP_NONE) {
		ev = s->bad_use_seen ? WARREN_EV_READ : WARREN_EV_WRITE;
	} else {
		if ((dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) || s->want_write)
			ev |= WARREN_EV_WRITE;
		ev |= WARREN_EV_READ;
	}
	if (s->stash_len)
		ev |= WARREN_EV_WRITE;
	arm_socket(s, ev);
}

static void stop_io(struct wssh_session *s)
{
	if (s->timer)
		s->host->timer_cancel(s->timer);
	if (s->ka_timer)
		s->host->timer_cancel(s->ka_timer);
	if (s->kick_timer)
		s->host->timer_cancel(s->kick_timer);
	if (s->open_timer)
		s->host->timer_cancel(s->open_timer);
	s->open_timer_armed = false;
	arm_socket(s, 0);
}

void wssh_fail(struct wssh_session *s, const char *fmt, ...)
{
	char reason[sizeof(s->last_error)];
	va_list ap;

	if (s->state == WSSH_S_DEAD || s->zombie)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	s->state = WSSH_S_DEAD;
	stop_io(s);
	snprintf(s->last_error, sizeof(s->last_error), "%s", reason);
	wssh_enter(s);
	if (s->cbs->down)
		s->cbs->down(s, s->arg, reason);
	wssh_leave(s);
}

/* ---- requests (rule 5) ---- */

void wssh_request_queue(struct wssh_session *s, struct wssh_request *r)
{
	r->next = NULL;
	r->queued = true;
	r->started = false;
	if (s->req_tail)
		s->req_tail->next = r;
	else
		s->req_head = r;
	s->req_tail = r;
}

void wssh_request_unqueue(struct wssh_session *s, struct wssh_request *r)
{
	struct wssh_request **pp = &s->req_head, *prev = NULL;

	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = r->next;
	if (s->req_tail == r)
		s->req_tail = prev;
	r->next = NULL;
	r->queued = false;
}

/* ---- the pump ---- */

static int read_fallback(struct wssh_session *s);

static int run_blocked(struct wssh_session *s)
{
	switch (s->blocked) {
	case WSSH_OP_REQUEST:
		return wssh_request_step(s, s->req_head);
	case WSSH_OP_ACCEPT:
		return wssh_listener_accept(s->blocked_obj);
	case WSSH_OP_CHANNEL:
		return wssh_channel_step(s->blocked_obj);
	case WSSH_OP_CANCEL:
		return wssh_listener_cancel_step(s->blocked_obj);
	case WSSH_OP_READER:
		return read_fallback(s);
	case WSSH_OP_NONE:
		break;
	}
	return WSSH_DONE;
}

static bool set_blocked(struct wssh_session *s, int rc, enum wssh_op op, void *obj)
{
	if (rc != WSSH_BLOCK)
		return false;
	s->blocked = op;
	s->blocked_obj = obj;
	return true;
}

/* set_blocked after any call (rule 1): a call that finished may still have
 * left a packet half-sent, one of libssh2's automatic replies from inside
 * its reads. A read finishes it, so the reader is the call to repeat. */
static bool check_blocked(struct wssh_session *s, int rc, enum wssh_op op, void *obj)
{
	if (set_blocked(s, rc, op, obj))
		return true;
	if (s->blocked == WSSH_OP_NONE &&
	    (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND))
		return set_blocked(s, WSSH_BLOCK, WSSH_OP_READER, NULL);
	return false;
}

/* Has the peer sent bytes nobody read yet (or closed the connection)? */
static bool socket_has_input(struct wssh_session *s)
{
	char byte;
	ssize_t n = recv(s->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The outcome of a reader's call: a read may leave one of libssh2's
 * automatic replies half-sent even when it returns 0 (rule 1), and then
 * it is the call to repeat. */
static int reader_rc(struct wssh_session *s, int rc)
{
	if (rc < 0)
		return wssh_classify(s, rc);
	if (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		return WSSH_BLOCK;
	return WSSH_DONE;
}

/* The pure reader, run on every pass (rule 6). It must really read
 * whenever the socket is readable, or the level-triggered watch spins:
 * wait_eof reads until EAGAIN, but returns 0 at once, reading nothing, for
 * a channel whose EOF libssh2 already holds (the peer's EOF behind data a
 * slow local reader has not taken yet), which kept a core busy until sshd
 * gave up on its unanswered keepalives. For such a channel wait_closed
 * reads instead, until its CLOSE; a channel past both is skipped. When no
 * channel can, libssh2_poll with timeout 0 reads through any channel or
 * listener: it reads until EAGAIN whenever poll(2) calls the socket
 * readable (packets libssh2 buffered without processing wait for the next
 * arrival then; a channel just opened, which wait_eof reads through, takes
 * them at once). None of these sends a packet of its
 * own, and none opens a window. With neither, an open in flight reads in
 * its own step; with nothing at all, the liveness probe does, whose open
 * reads until the server's answer: queued only when bytes wait (sshd's own
 * keepalive wants an answer: left unread until the keepalive timer, it got
 * idle sessions dropped by sshd), so its answer's wakeup queues none. */
static int read_fallback(struct wssh_session *s)
{
	LIBSSH2_POLLFD pfd;
	struct wssh_channel *c;
	struct wssh_listener *l;
	int rc, k;

	for (c = s->channels; c; c = c->next) {
		if (c->state != WSSH_C_OPEN || !c->ch)
			continue;
		if (!c->lib_eof && !c->remote_eof) {
			rc = libssh2_channel_wait_eof(c->ch);
			/* 0: it holds the EOF; an error of this channel
			 * alone: it cannot serve as the reader either. */
			if (rc < 0 && (k = wssh_classify(s, rc)) != -2)
				return k == -1 ? WSSH_DONE : reader_rc(s, rc);
			c->lib_eof = true;
		}
		if (!c->lib_closed) {
			rc = libssh2_channel_wait_closed(c->ch);
			if (rc < 0 && (k = wssh_classify(s, rc)) != -2)
				return k == -1 ? WSSH_DONE : reader_rc(s, rc);
			c->lib_closed = true;
		}
	}
	memset(&pfd, 0, sizeof(pfd));
	for (c = s->channels; c && !pfd.type; c = c->next) {
		if (c->ch) {
			pfd.type = LIBSSH2_POLLFD_CHANNEL;
			pfd.fd.channel = c->ch;
		}
	}
	for (l = s->listeners; l && !pfd.type; l = l->next) {
		if (l->l) {
			pfd.type = LIBSSH2_POLLFD_LISTENER;
			pfd.fd.listener = l->l;
		}
	}
	if (!pfd.type) {
		if (!s->req_head && socket_has_input(s)) {
			wssh_request_queue(s, &s->probe);
			s->kick = true; /* the next pass starts it */
		}
		return WSSH_DONE;
	}
	pfd.events = LIBSSH2_POLLFD_POLLIN;
	libssh2_poll(&pfd, 1, 0);
	/* libssh2_poll keeps a read's errors to itself. */
	if (s->sock_closed) {
		wssh_fail(s, "connection to %s closed by the gateway", s->peer);
		return WSSH_DONE;
	}
	return reader_rc(s, 0);
}

/* Work queued from a plugin call: run it now, or, when we are inside the
 * pump already, once more before the pump returns. */
void wssh_kick(struct wssh_session *s)
{
	/* Never from inside the plugin's call: a callback run before the
	 * call returns would see the plugin half way through its own work. */
	if (s->depth > 0)
		s->kick = true;
	else
		s->host->timer_arm(s->kick_timer, 0);
}

static void on_kick(void *arg)
{
	wssh_pump(arg);
}

static void pump_once(struct wssh_session *s);

void wssh_pump(struct wssh_session *s)
{
	int pass;

	if (s->state != WSSH_S_UP || s->zombie)
		return;
	wssh_enter(s);
	s->want_write = false; /* the steps of this pump set it again */
	for (pass = 0; pass < 8; pass++) {
		s->kick = false;
		pump_once(s);
		if (!s->kick || s->state != WSSH_S_UP || s->zombie || s->blocked != WSSH_OP_NONE)
			break;
	}
	if (s->state == WSSH_S_UP && !s->zombie) {
		arm_by_directions(s);
		/* Still more to do: after the other fds had their turn. */
		if (s->kick && s->blocked == WSSH_OP_NONE)
			s->host->timer_arm(s->kick_timer, 0);
	}
	wssh_leave(s);
}

static void pump_once(struct wssh_session *s)
{
	struct wssh_request *r;
	struct wssh_listener *l, *lnext;
	struct wssh_channel *c, *cnext;
	uint64_t rx_mark;
	int rc;

	s->bad_use_seen = false;
	if (s->blocked != WSSH_OP_NONE) {
		rc = run_blocked(s);
		if (s->state != WSSH_S_UP || s->zombie)
			goto out;
		if (rc == WSSH_BLOCK && s->bad_use_seen) {
			/* BAD_USE: the packet in the way is not this call's.
			 * The only packets no call of ours owns are libssh2's
			 * automatic replies from inside a read: give a read the
			 * chance to finish it (arm_by_directions waits for
			 * input meanwhile), and give up after a while rather
			 * than try forever: nothing else can be sent. */
			if (++s->bad_use > BAD_USE_MAX) {
				wssh_fail(s,
				          "connection to %s stuck: libssh2 cannot finish a packet",
				          s->peer);
				goto out;
			}
			if (s->blocked != WSSH_OP_READER)
				read_fallback(s);
			goto out;
		}
		if (rc == WSSH_BLOCK)
			goto out;
		s->bad_use = 0;
		s->blocked = WSSH_OP_NONE;
		s->blocked_obj = NULL;
	}

	/* The head request; a finished one lets the next start at once. */
	while ((r = s->req_head) != NULL) {
		rc = wssh_request_step(s, r);
		if (s->state != WSSH_S_UP || s->zombie)
			goto out;
		if (check_blocked(s, rc, WSSH_OP_REQUEST, r))
			goto out;
		if (s->req_head == r)
			break; /* waiting for the server's answer */
	}

	for (l = s->listeners; l; l = lnext) {
		/* Decided before the call: a finished cancel frees l. */
		enum wssh_op op = l->state == WSSH_L_CANCELLING ? WSSH_OP_CANCEL : WSSH_OP_ACCEPT;

		lnext = l->next;
		if (op == WSSH_OP_CANCEL)
			rc = wssh_listener_cancel_step(l);
		else
			rc = wssh_listener_accept(l);
		if (s->state != WSSH_S_UP || s->zombie)
			goto out;
		if (check_blocked(s, rc, op, l))
			goto out;
	}

	rx_mark = s->rx_total;
	/* The reader first, so that what it pulls in is seen by the
	 * channel steps of this pass. */
	rc = read_fallback(s);
	if (s->state != WSSH_S_UP || s->zombie)
		goto out;
	/* A read that left one of libssh2's automatic replies half-sent is
	 * the call to repeat, like any other (rule 1). */
	if (set_blocked(s, rc, WSSH_OP_READER, NULL))
		goto out;

	for (c = s->channels; c; c = cnext) {
		cnext = c->next;
		if (!wssh_channel_wants_step(c))
			continue;
		rc = wssh_channel_step(c);
		if (s->state != WSSH_S_UP || s->zombie)
			goto out;
		if (check_blocked(s, rc, WSSH_OP_CHANNEL, c))
			goto out;
	}
	for (c = s->channels; c; c = c->next) {
		if (wssh_channel_ready(c)) {
			s->kick = true;
			break;
		}
	}
	/* The answer to the request in flight, or a connection for a
	 * listener, may have come in through the reads after their step:
	 * libssh2 keeps it in its lists and no socket event will announce
	 * it. Without this, 1000 connections opened without sending a byte
	 * stalled after a few dozen opens. */
	if (s->rx_total != rx_mark && ((s->req_head && s->req_head->started) || s->listeners))
		s->kick = true;
out:
	return;
}

/* ---- the socket: libssh2's send and recv callbacks ---- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The agent's socket: libssh2 (agent.c) talks to the agent blocking, and
 * through the session's own send and recv callbacks. An agent that asks the
 * user before each signature (ssh-add -c), or one that hangs, would hold the
 * whole daemon: each read and write waits at most AGENT_IO_MS, then fails,
 * and the agent is skipped for the rest of this authentication. */
static ssize_t agent_io(struct wssh_session *s, int fd, void *buf, size_t len, int flags,
                        bool out)
{
	struct pollfd p = {.fd = fd, .events = out ? POLLOUT : POLLIN};
	ssize_t n;
	int rc;

	do
		rc = poll(&p, 1, AGENT_IO_MS);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		s->agent_timed_out = true;
		return -ETIMEDOUT;
	}
	if (rc < 0)
		return -errno;
	n = out ? send(fd, buf, len, flags | MSG_NOSIGNAL) : recv(fd, buf, len, flags);
	if (n < 0)
		return -errno;
	/* The agent hung up: libssh2's agent code reads 0 as "nothing yet"
	 * and would poll a hung-up socket for ever, so EOF is an error. */
	if (!out && n == 0 && len > 0)
		return -ECONNRESET;
	return n;
}

static LIBSSH2_RECV_FUNC(session_recv)
{
	struct wssh_session *s = *abstract;
	ssize_t n;

	if (socket != s->fd)
		return agent_io(s, socket, buffer, length, flags, false);
	n = recv(socket, buffer, length, flags);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -EAGAIN;
		s->sock_closed = true;
		return -errno;
	}
	if (n == 0)
		s->sock_closed = true;
	if (n > 0) {
		s->rx_seen = true;
		s->rx_total += (uint64_t)n;
		/* A short read emptied the socket: acknowledge now. sshd sets
		 * TCP_NODELAY only for interactive sessions, so with Nagle it
		 * holds a small packet (an open confirmation, a 1-byte echo)
		 * until its last one is acknowledged, and a delayed ACK made
		 * that 40 ms: channel opens took 8 ms each on average. Full
		 * reads (bulk transfer) skip the syscall. */
		if ((size_t)n < length) {
			int one = 1;

			setsockopt(socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		}
	}
	return n;
}

/* Hand the stash to the kernel: 0 when it is empty now or the socket is
 * full, -1 when the socket failed (errno). */
static int stash_flush(struct wssh_session *s)
{
	ssize_t n;

	while (s->stash_len > 0) {
		n = send(s->fd, s->stash, s->stash_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		s->stash_len -= (size_t)n;
		memmove(s->stash, s->stash + n, s->stash_len);
	}
	/* Rarely needed: an idle session holds no buffer. */
	free(s->stash);
	s->stash = NULL;
	s->stash_cap = 0;
	return 0;
}

static int stash_add(struct wssh_session *s, const void *p, size_t len)
{
	size_t cap = s->stash_cap ? s->stash_cap : 4096;
	char *grown;

	while (cap < s->stash_len + len)
		cap *= 2;
	if (cap != s->stash_cap) {
		grown = realloc(s->stash, cap);
		if (!grown)
			return -1;
		s->stash = grown;
		s->stash_cap = cap;
	}
	memcpy(s->stash + s->stash_len, p, len);
	s->stash_len += len;
	return 0;
}

/* libssh2's send. libssh2 1.10 builds a few packets on its own stack: the
 * EOF of channel_send_eof (also sent from inside channel_free), and the
 * CHANNEL_FAILURE it answers sshd's keepalive@openssh.com channel requests
 * with from inside any read (packet.c:900-915). When such a packet cannot
 * be sent whole, libssh2 keeps the rest and finishes it only when the very
 * same call repeats with the same buffer address: a repeat from another
 * stack depth fails with BAD_USE (which send_eof reports as SOCKET_SEND),
 * nothing can finish the packet any more, and the session is lost. So a
 * small packet is never refused here: what the kernel does not take is
 * stashed and sent before any later byte. Every packet built on a stack is
 * small (5 to 27 bytes of payload). A large one (channel data, opens,
 * requests: all kept in libssh2's own structures, so a repeat finds them)
 * is refused as usual while the stash is not empty, which keeps the order
 * and bounds the stash; past STASH_MAX even a small one is (a peer that
 * has read nothing for that long is dead, and the keepalive says so). */
static LIBSSH2_SEND_FUNC(session_send)
{
	struct wssh_session *s = *abstract;
	ssize_t n = 0;

	if (socket != s->fd)
		return agent_io(s, socket, (void *)buffer, length, flags, true);
	if (s->stash_len > 0 && stash_flush(s) != 0)
		return -errno;
	if (s->stash_len == 0) {
		n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
		if (n == (ssize_t)length)
			return n;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -errno;
			n = 0;
		}
	}
	if (length > STASH_PACKET || s->stash_len + length - (size_t)n > STASH_MAX ||
	    stash_add(s, (const char *)buffer + n, length - (size_t)n) != 0)
		return n > 0 ? n : -EAGAIN;
	return (ssize_t)length;
}

bool wssh_small_send_ok(struct wssh_session *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLOUT};

	/* Nothing half-sent, nothing stashed, and poll() calls the socket
	 * writable (tcp_poll says so only with a third of the send buffer
	 * free, far more than one small packet needs). */
	if (s->blocked == WSSH_OP_NONE && s->stash_len == 0 &&
	    !(libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND) &&
	    poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
		return true;
	s->want_write = true;
	return false;
}

/* ---- liveness (rule 8) ---- */

/* The head of the queue is a channel open that was sent and has no answer
 * yet, and not for too long. */
static bool open_awaits_reply(struct wssh_session *s)
{
	struct wssh_request *r = s->req_head;

	return r && r->started && r->kind == WSSH_REQ_OPEN &&
	       now_us() - ((struct wssh_channel *)r)->open_start_us < OPEN_REPLY_MAX_US;
}

static void on_keepalive(void *arg)
{
	struct wssh_session *s = arg;

	if (s->state != WSSH_S_UP)
		return;
	wssh_enter(s);
	if (s->rx_seen) {
		s->rx_seen = false;
		s->ka_missed = 0;
	} else if (open_awaits_reply(s)) {
		/* sshd answers a direct-tcpip open only once its own connect
		 * is done (~127 s to a target that drops SYNs), and the probe
		 * waits behind it (rule 5): silence then says nothing about
		 * the link. TCP keepalive and TCP_USER_TIMEOUT (connected())
		 * still catch a dead one meanwhile. */
	} else if (++s->ka_missed >= s->gw->keepalive_max) {
		wssh_fail(s,
		          "gateway %s not responding: nothing received for %u keepalive intervals "
		          "of %llus",
		          s->peer, s->ka_missed, (unsigned long long)(s->gw->keepalive_ms / 1000));
		goto out;
	}
	if (s->ka_missed > 0 && !s->probe.queued)
		wssh_request_queue(s, &s->probe);
	s->host->timer_arm(s->ka_timer, s->gw->keepalive_ms);
	wssh_pump(s);
out:
	wssh_leave(s);
}

static void on_open_timer(void *arg)
{
	struct wssh_session *s = arg;

	s->open_timer_armed = false;
	if (s->state != WSSH_S_UP)
		return;
	wssh_enter(s);
	wssh_open_timeouts(s);
	wssh_leave(s);
}

/* ---- auth ---- */

static int auth_done(struct wssh_session *s)
{
	wssh_ppk_release(&s->ppk);
	if (s->agent) {
		libssh2_agent_disconnect(s->agent);
		libssh2_agent_free(s->agent);
		s->agent = NULL;
	}
	s->state = WSSH_S_UP;
	s->host->timer_cancel(s->timer);
	s->host->log(s->t, WARREN_LOG_INFO,
	             "connected to %s as %s (kex %s, cipher %s, mac %s, compression %s)", s->peer,
	             s->gw->user, libssh2_session_methods(s->ssh, LIBSSH2_METHOD_KEX),
	             libssh2_session_methods(s->ssh, LIBSSH2_METHOD_CRYPT_CS),
	             libssh2_session_methods(s->ssh, LIBSSH2_METHOD_MAC_CS),
	             libssh2_session_methods(s->ssh, LIBSSH2_METHOD_COMP_CS));
	if (s->gw->keepalive_ms > 0 && s->gw->keepalive_max > 0)
		s->host->timer_arm(s->ka_timer, s->gw->keepalive_ms);
	if (s->cbs->up)
		s->cbs->up(s, s->arg);
	return 0;
}

static const char *identity_path(struct wssh_session *s, size_t i, char *buf, size_t len)
{
	static const char *const defaults[] = {"id_ed25519", "id_ecdsa", NULL};
	const char *home;

	if (s->gw->identities && s->gw->identities[0])
		return s->gw->identities[i];
	/* No identity configured: OpenSSH's default files (RSA left out:
	 * libssh2 1.10 cannot sign with it in a way OpenSSH 8.8+ accepts). */
	home = getenv("HOME");
	if (!home || i >= sizeof(defaults) / sizeof(defaults[0]) - 1)
		return NULL;
	snprintf(buf, len, "%s/.ssh/%s", home, defaults[i]);
	return buf;
}

static void tried_add(struct wssh_session *s, const char *fmt, ...) WARREN_PRINTF(2, 3);
static void tried_add(struct wssh_session *s, const char *fmt, ...)
{
	char item[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	wssh_appendf(s->tried, sizeof(s->tried), "%s%s", s->tried[0] ? ", " : "", item);
}

static void auth_refused(struct wssh_session *s)
{
	wssh_fail(s, "authentication refused for user %s (tried: %s)%s%s%s", s->gw->user,
	          s->tried[0] ? s->tried : "nothing: no agent, no key file",
	          s->rsa_refused
	              ? "; RSA keys cannot work: libssh2 1.10 signs only with ssh-rsa "
	                "(SHA-1), which OpenSSH 8.8+ refuses; use an ed25519 or ECDSA key"
	              : "",
	          s->ppk_error[0] ? "; " : "", s->ppk_error);
}

/* Is an agent listening at $SSH_AUTH_SOCK? A non-blocking connect: a stale
 * path (refused) or an agent too busy to accept (its backlog full: libssh2's
 * blocking connect would wait there) is skipped at once. */
static int agent_probe(char *err, size_t errlen)
{
	const char *path = getenv("SSH_AUTH_SOCK");
	struct sockaddr_un sa;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		wssh_setf(err, errlen, "SSH_AUTH_SOCK is not a usable socket path");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wssh_setf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc != 0)
		wssh_setf(err, errlen, "%s: %s", path,
		          errno == EAGAIN ? "busy (its backlog is full)" : strerror(errno));
	close(fd);
	return rc;
}

/* One step of auth; returns WSSH_WAIT/WSSH_BLOCK to wait, WSSH_DONE when
 * finished either way (authenticated, or failed and reported). */
static int auth_step(struct wssh_session *s)
{
	const char *user = s->gw->user;
	unsigned ulen = (unsigned)strlen(user);
	char pathbuf[4096], shown[4096], err[512];
	const char *path;
	int rc, c;

	for (;;) {
		switch (s->auth_step) {
		case AUTH_LIST: {
			char *list = libssh2_userauth_list(s->ssh, user, ulen);

			if (!list) {
				if (libssh2_userauth_authenticated(s->ssh))
					return auth_done(s), WSSH_DONE;
				c = wssh_classify(s, libssh2_session_last_errno(s->ssh));
				if (c == WSSH_WAIT || c == WSSH_BLOCK)
					return c;
				if (c == -2)
					wssh_fail(s, "authentication with %s failed: %s", s->peer,
					          wssh_last_error(s));
				return WSSH_DONE;
			}
			if (!strstr(list, "publickey")) {
				wssh_fail(
				    s,
				    "authentication refused for user %s: the gateway offers only "
				    "%s, and warren authenticates with public keys",
				    user, list);
				return WSSH_DONE;
			}
			s->auth_step = AUTH_AGENT_START;
			break;
		}
		case AUTH_AGENT_START:
			s->auth_step = AUTH_KEY_NEXT;
			if (s->gw->agent == WARREN_AGENT_NO)
				break;
			if (!getenv("SSH_AUTH_SOCK")) {
				if (s->gw->agent == WARREN_AGENT_YES)
					tried_add(s, "agent (SSH_AUTH_SOCK not set)");
				break;
			}
			/* libssh2 connects to the agent blocking: a dead
			 * agent's socket whose backlog is full would hold the
			 * daemon there. Every later read and write of libssh2
			 * on it is bounded (agent_io). */
			if (agent_probe(err, sizeof(err)) != 0) {
				tried_add(s, "agent (%s)", err);
				break;
			}
			s->agent_timed_out = false;
			s->agent = libssh2_agent_init(s->ssh);
			if (!s->agent || libssh2_agent_connect(s->agent) != 0 ||
			    libssh2_agent_list_identities(s->agent) != 0) {
				tried_add(s, "agent (unreachable: %s)",
				          s->agent_timed_out ? "no answer within 1s"
				                             : wssh_last_error(s));
				break;
			}
			s->identity = NULL;
			s->key_index = 0; /* counts agent keys meanwhile */
			s->auth_step = AUTH_AGENT_NEXT;
			break;
		case AUTH_AGENT_NEXT: {
			struct libssh2_agent_publickey *next = NULL;

			rc = libssh2_agent_get_identity(s->agent, &next, s->identity);
			if (rc != 0) {
				tried_add(s, "agent (%zu key%s)", s->key_index,
				          s->key_index == 1 ? "" : "s");
				libssh2_agent_disconnect(s->agent);
				libssh2_agent_free(s->agent);
				s->agent = NULL;
				s->key_index = 0;
				s->auth_step = AUTH_KEY_NEXT;
				break;
			}
			s->identity = next;
			s->key_index++;
			s->auth_step = AUTH_AGENT_TRY;
			break;
		}
		case AUTH_AGENT_TRY:
			rc = libssh2_agent_userauth(s->agent, user, s->identity);
			if (rc == 0)
				return auth_done(s), WSSH_DONE;
			c = wssh_classify(s, rc);
			if (c == WSSH_WAIT || c == WSSH_BLOCK)
				return c;
			if (c == -1)
				return WSSH_DONE;
			if (s->agent_timed_out) {
				/* A key that asks the user before it signs
				 * (ssh-add -c), or a hung agent: the daemon
				 * cannot wait for it. */
				tried_add(s, "agent (no signature within 1s: a key added with "
				             "ssh-add -c cannot be used by the daemon)");
				libssh2_agent_disconnect(s->agent);
				libssh2_agent_free(s->agent);
				s->agent = NULL;
				s->key_index = 0;
				s->auth_step = AUTH_KEY_NEXT;
				break;
			}
			if (wssh_key_is_rsa_blob(s->identity->blob, s->identity->blob_len))
				s->rsa_refused = true;
			s->auth_step = AUTH_AGENT_NEXT;
			break;
		case AUTH_KEY_NEXT:
			wssh_ppk_release(&s->ppk); /* the previous key's, tried */
			path = identity_path(s, s->key_index, pathbuf, sizeof(pathbuf));
			if (!path) {
				auth_refused(s);
				return WSSH_DONE;
			}
			wssh_tilde(path, shown, sizeof(shown));
			if (access(path, F_OK) != 0) {
				if (s->gw->identities && s->gw->identities[0])
					tried_add(s, "%s (%s)", shown, strerror(errno));
				s->key_index++;
				break;
			}
			if (wssh_key_check_perms(path, err, sizeof(err)) != 0) {
				s->host->log(s->t, WARREN_LOG_ERROR, "%s", err);
				tried_add(s, "%s (ignored: %s)", shown, err);
				s->key_index++;
				break;
			}
			/* PuTTY's format, known by its header: libssh2 reads it
			 * only converted, in memory (ppk.c). */
			if (wssh_ppk_detect(path)) {
				char perr[1024];

				rc = wssh_ppk_open(path, &s->ppk, perr, sizeof(perr));
				if (rc != WSSH_PPK_OK) {
					s->host->log(s->t, WARREN_LOG_ERROR, "%s", perr);
					tried_add(s, "%s (%s)", shown, wssh_ppk_what(rc));
					if (rc == WSSH_PPK_RSA)
						s->rsa_refused = true;
					else if (!s->ppk_error[0])
						wssh_setf(s->ppk_error, sizeof(s->ppk_error), "%s",
						          perr);
					s->key_index++;
					break;
				}
			}
			if (s->gw->passphrase_file && !s->passphrase_loaded) {
				if (wssh_passphrase_load(s->gw->passphrase_file, &s->passphrase,
				                         err, sizeof(err)) != 0) {
					wssh_fail(s, "%s", err);
					return WSSH_DONE;
				}
				s->passphrase_loaded = true;
			}
			s->auth_step = AUTH_KEY_TRY;
			break;
		case AUTH_KEY_TRY:
			path = identity_path(s, s->key_index, pathbuf, sizeof(pathbuf));
			if (s->ppk)
				rc = libssh2_userauth_publickey_frommemory(
				    s->ssh, user, ulen, NULL, 0, s->ppk->pem, s->ppk->pem_len, "");
			else
				rc = libssh2_userauth_publickey_fromfile_ex(
				    s->ssh, user, ulen, NULL, path,
				    s->passphrase ? s->passphrase : "");
			if (rc == 0)
				return auth_done(s), WSSH_DONE;
			c = wssh_classify(s, rc);
			if (c == WSSH_WAIT || c == WSSH_BLOCK)
				return c;
			if (c == -1)
				return WSSH_DONE;
			wssh_tilde(path, shown, sizeof(shown));
			if (s->ppk && rc == LIBSSH2_ERROR_FILE)
				tried_add(s, "%s (PuTTY key: libssh2 cannot use it: %s)", shown,
				          wssh_last_error(s));
			else if (rc == LIBSSH2_ERROR_FILE ||
			         rc == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
				tried_add(s, "%s (cannot load: %s)", shown,
				          s->passphrase ? "wrong passphrase or unsupported format"
				                        : "encrypted (no passphrase_file) or "
				                          "unsupported format");
			else
				tried_add(s, "%s", shown);
			if (wssh_key_is_rsa_file(path))
				s->rsa_refused = true;
			s->key_index++;
			s->auth_step = AUTH_KEY_NEXT;
			break;
		}
	}
}

/* ---- handshake ---- */

static int set_pref(struct wssh_session *s, int type, const char *what, const char *list)
{
	if (!list || !*list)
		return 0;
	if (libssh2_session_method_pref(s->ssh, type, list) != 0) {
		wssh_fail(s, "%s = %s: none of these is supported by libssh2 %s", what, list,
		          libssh2_version(0));
		return -1;
	}
	return 0;
}

static int session_setup(struct wssh_session *s)
{
	const struct warren_gateway *gw = s->gw;

	s->ssh = libssh2_session_init_ex(NULL, NULL, NULL, s);
	if (!s->ssh) {
		wssh_fail(s, "cannot create an SSH session: out of memory");
		return -1;
	}
	libssh2_session_set_blocking(s->ssh, 0);
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_RECV, (void *)session_recv);
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_SEND, (void *)session_send);
	wssh_x11_register(s);
	if (gw->compression)
		libssh2_session_flag(s->ssh, LIBSSH2_FLAG_COMPRESS, 1);
	if (set_pref(s, LIBSSH2_METHOD_CRYPT_CS, "ciphers", gw->ciphers) ||
	    set_pref(s, LIBSSH2_METHOD_CRYPT_SC, "ciphers", gw->ciphers) ||
	    set_pref(s, LIBSSH2_METHOD_MAC_CS, "macs", gw->macs) ||
	    set_pref(s, LIBSSH2_METHOD_MAC_SC, "macs", gw->macs) ||
	    set_pref(s, LIBSSH2_METHOD_KEX, "kex", gw->kex) ||
	    set_pref(s, LIBSSH2_METHOD_HOSTKEY, "host_key_types", gw->host_key_types))
		return -1;
	if (!gw->host_key_types && wssh_hostkey_prefs(s) != 0)
		return -1;
	return 0;
}

/* Drive the handshake and auth; returns when waiting or finished. */
static void handshake_step(struct wssh_session *s)
{
	int rc, c;

	if (s->state == WSSH_S_HANDSHAKE) {
		rc = libssh2_session_handshake(s->ssh, s->fd);
		if (rc != 0) {
			c = wssh_classify(s, rc);
			if (c == WSSH_WAIT || c == WSSH_BLOCK)
				goto arm;
			if (c == -2)
				wssh_fail(s, "SSH handshake with %s failed: %s", s->peer,
				          wssh_last_error(s));
			return;
		}
		if (wssh_hostkey_check(s) != 0) {
			wssh_fail(s, "%s", s->last_error);
			return;
		}
		s->state = WSSH_S_AUTH;
		s->auth_step = AUTH_LIST;
	}
	if (s->state == WSSH_S_AUTH) {
		c = auth_step(s);
		if (c == WSSH_DONE) {
			/* Requests queued by the up callback start now. */
			if (s->state == WSSH_S_UP && !s->zombie)
				wssh_pump(s);
			return;
		}
	}
arm:
	if (s->state == WSSH_S_HANDSHAKE || s->state == WSSH_S_AUTH) {
		int dirs = libssh2_session_block_directions(s->ssh);
		unsigned ev = 0;

		if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
			ev |= WARREN_EV_READ;
		if ((dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) || s->stash_len)
			ev |= WARREN_EV_WRITE;
		arm_socket(s, ev ? ev : WARREN_EV_READ);
	}
}

/* ---- connect ---- */

static void format_peer(struct wssh_session *s, const struct addrinfo *ai)
{
	char host[INET6_ADDRSTRLEN] = "?";
	char port[8] = "?";

	getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), port, sizeof(port),
	            NI_NUMERICHOST | NI_NUMERICSERV);
	if (ai->ai_family == AF_INET6)
		snprintf(s->peer, sizeof(s->peer), "[%s]:%s", host, port);
	else
		snprintf(s->peer, sizeof(s->peer), "%s:%s", host, port);
}

static void close_socket(struct wssh_session *s)
{
	s->host->watch_free(s->watch);
	s->watch = NULL;
	s->armed = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Dead-link detection below SSH (rule 8): while an open waits for its
 * answer the keepalive probe cannot go out (rule 5) and silence is not
 * counted (on_keepalive), and a link that died with data unacknowledged
 * would otherwise take TCP's retransmission timeout (~15 min). Probes after
 * keepalive of silence, keepalive apart, keepalive_max of them; and no
 * byte may stay unacknowledged for keepalive * keepalive_max. */
static void set_tcp_liveness(struct wssh_session *s)
{
	uint64_t ms = s->gw->keepalive_ms, total;
	int one = 1, secs, cnt;
	unsigned int user_timeout;

	if (ms == 0 || s->gw->keepalive_max == 0)
		return;
	secs = ms / 1000 < 1 ? 1 : ms / 1000 > 32767 ? 32767 : (int)(ms / 1000);
	cnt = s->gw->keepalive_max > 127 ? 127 : (int)s->gw->keepalive_max;
	total = ms * s->gw->keepalive_max;
	user_timeout = total > UINT32_MAX ? UINT32_MAX : (unsigned int)total;
	if (setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0 ||
	    setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs)) != 0 ||
	    setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs)) != 0 ||
	    setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) != 0 ||
	    setsockopt(s->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
	               sizeof(user_timeout)) != 0)
		s->host->log(s->t, WARREN_LOG_DEBUG, "TCP keepalive settings refused: %s",
		             strerror(errno));
}

static void connected(struct wssh_session *s)
{
	int one = 1;

	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_tcp_liveness(s);
	freeaddrinfo(s->addrs);
	s->addrs = s->next_addr = NULL;
	s->host->log(s->t, WARREN_LOG_DEBUG, "TCP connected to %s", s->peer);
	if (session_setup(s) != 0)
		return;
	s->state = WSSH_S_HANDSHAKE;
	/* connect_timeout bounds the handshake and auth too: a server that
	 * accepts and then hangs must not hold the tunnel forever. */
	if (s->gw->connect_timeout_ms)
		s->host->timer_arm(s->timer, s->gw->connect_timeout_ms);
	handshake_step(s);
}

static void connect_failed(struct wssh_session *s, const char *why)
{
	snprintf(s->last_error, sizeof(s->last_error), "connect %s: %s", s->peer, why);
	s->host->log(s->t, WARREN_LOG_DEBUG, "%s", s->last_error);
	close_socket(s);
	s->host->timer_cancel(s->timer);
	try_next_addr(s);
}

static void try_next_addr(struct wssh_session *s)
{
	struct addrinfo *ai;

	while ((ai = s->next_addr) != NULL) {
		s->next_addr = ai->ai_next;
		format_peer(s, ai);
		s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		               ai->ai_protocol);
		if (s->fd < 0) {
			snprintf(s->last_error, sizeof(s->last_error), "connect %s: %s", s->peer,
			         strerror(errno));
			continue;
		}
		if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			s->state = WSSH_S_CONNECTING;
			s->watch = s->host->watch_new(s->t, s->fd, WARREN_EV_WRITE, on_socket, s);
			if (!s->watch) {
				wssh_fail(s, "out of memory");
				return;
			}
			s->armed = WARREN_EV_WRITE;
			if (s->gw->connect_timeout_ms)
				s->host->timer_arm(s->timer, s->gw->connect_timeout_ms);
			return;
		}
		snprintf(s->last_error, sizeof(s->last_error), "connect %s: %s", s->peer,
		         strerror(errno));
		close(s->fd);
		s->fd = -1;
	}
	freeaddrinfo(s->addrs);
	s->addrs = NULL;
	wssh_fail(s, "%s", s->last_error[0] ? s->last_error : "no address to connect to");
}

static void on_timer(void *arg)
{
	struct wssh_session *s = arg;
	unsigned secs = (unsigned)(s->gw->connect_timeout_ms / 1000);

	wssh_enter(s);
	if (s->state == WSSH_S_CONNECTING)
		connect_failed(s, "timed out");
	else if (s->state == WSSH_S_HANDSHAKE)
		wssh_fail(s, "SSH handshake with %s timed out after %us", s->peer, secs);
	else if (s->state == WSSH_S_AUTH)
		wssh_fail(s, "authentication with %s timed out after %us", s->peer, secs);
	wssh_leave(s);
}

static void on_socket(int fd, unsigned events, void *arg)
{
	struct wssh_session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	wssh_enter(s);
	/* Stashed bytes (session_send) go before anything libssh2 sends. */
	if (s->stash_len && s->state >= WSSH_S_HANDSHAKE && s->state <= WSSH_S_UP &&
	    stash_flush(s) != 0) {
		wssh_fail(s, "connection to %s lost: %s", s->peer, strerror(errno));
		goto out;
	}
	switch (s->state) {
	case WSSH_S_CONNECTING:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err)
			connect_failed(s, strerror(err));
		else
			connected(s);
		break;
	case WSSH_S_HANDSHAKE:
	case WSSH_S_AUTH:
		handshake_step(s);
		break;
	case WSSH_S_UP:
		wssh_pump(s);
		break;
	default:
		arm_socket(s, 0);
		break;
	}
out:
	wssh_leave(s);
}

static void on_resolved(int error, struct addrinfo *addrs, void *arg)
{
	struct wssh_session *s = arg;

	s->resolve_req = NULL;
	wssh_enter(s);
	if (error || !addrs) {
		if (addrs)
			freeaddrinfo(addrs);
		wssh_fail(s, "resolve %s: %s", s->gw->host,
		          error < 0 ? gai_strerror(error)
		                    : (error ? strerror(error) : "no address"));
		goto out;
	}
	s->addrs = s->next_addr = addrs;
	try_next_addr(s);
out:
	wssh_leave(s);
}

/* ---- public ---- */

struct wssh_session *wssh_session_new(const struct warren_host *host, struct warren_tunnel *t,
                                      const struct warren_gateway *gw,
                                      const struct wssh_session_cbs *cbs, void *arg)
{
	static bool initialised;
	struct wssh_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (!initialised) {
		/* libssh2_init is reference counted and not thread safe; the
		 * core has one thread. */
		libssh2_init(0);
		initialised = true;
	}
	s->host = host;
	s->t = t;
	s->gw = gw;
	s->cbs = cbs;
	s->arg = arg;
	s->fd = -1;
	s->probe.kind = WSSH_REQ_PROBE;
	s->timer = host->timer_new(t, on_timer, s);
	s->ka_timer = host->timer_new(t, on_keepalive, s);
	s->kick_timer = host->timer_new(t, on_kick, s);
	s->open_timer = host->timer_new(t, on_open_timer, s);
	s->scratch = malloc(WSSH_IO_CHUNK);
	if (!s->timer || !s->ka_timer || !s->kick_timer || !s->open_timer || !s->scratch) {
		session_destroy(s);
		return NULL;
	}
	return s;
}

int wssh_session_start(struct wssh_session *s)
{
	if (s->state != WSSH_S_IDLE)
		return -EBUSY;
	s->state = WSSH_S_RESOLVING;
	s->host->log(s->t, WARREN_LOG_DEBUG, "connecting to gateway %s (%s port %u)", s->gw->name,
	             s->gw->host, s->gw->port);
	s->resolve_req = s->host->resolve(s->t, s->gw->host, s->gw->port, on_resolved, s);
	if (!s->resolve_req) {
		s->state = WSSH_S_DEAD;
		return -EAGAIN;
	}
	return 0;
}

/* Disconnect without waiting: one DISCONNECT if nothing is half-sent, then
 * a socket on which every later send fails and every read sees EOF, so that
 * libssh2_session_free, which closes each channel and cancels each listener,
 * can neither block nor return EAGAIN (session.c:873-888 in 1.10). */
static void session_close_ssh(struct wssh_session *s)
{
	char sink[4096];
	int i;

	if (s->state == WSSH_S_UP && s->blocked == WSSH_OP_NONE && s->fd >= 0) {
		libssh2_session_disconnect_ex(s->ssh, SSH_DISCONNECT_BY_APPLICATION,
		                              "warren: tunnel stopped", "");
		stash_flush(s); /* best effort, as the DISCONNECT itself */
	}
	if (s->fd >= 0) {
		/* Unread input would make close() send a RST that can drop the
		 * DISCONNECT still queued; read what is there (bounded). */
		for (i = 0; i < 64; i++)
			if (recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
				break;
		shutdown(s->fd, SHUT_RDWR);
	}
	if (s->agent) {
		libssh2_agent_disconnect(s->agent);
		libssh2_agent_free(s->agent);
		s->agent = NULL;
	}
	libssh2_session_free(s->ssh);
	s->ssh = NULL;
}

static void session_destroy(struct wssh_session *s)
{
	struct wssh_request *r;

	if (s->resolve_req)
		s->host->resolve_cancel(s->resolve_req);
	s->host->timer_free(s->timer);
	s->host->timer_free(s->ka_timer);
	s->host->timer_free(s->kick_timer);
	s->host->timer_free(s->open_timer);
	wssh_x11_free(s);
	/* Channels still in the request queue were never in s->channels. */
	while ((r = s->req_head) != NULL) {
		wssh_request_unqueue(s, r);
		if (r->kind == WSSH_REQ_OPEN)
			wssh_channel_destroy((struct wssh_channel *)r);
		else if (r->kind == WSSH_REQ_LISTEN)
			wssh_listener_destroy((struct wssh_listener *)r);
	}
	while (s->channels)
		wssh_channel_destroy(s->channels);
	while (s->listeners)
		wssh_listener_destroy(s->listeners);
	if (s->ssh)
		session_close_ssh(s);
	close_socket(s);
	if (s->addrs)
		freeaddrinfo(s->addrs);
	free(s->methods);
	wssh_ppk_release(&s->ppk);
	if (s->passphrase) {
		explicit_bzero(s->passphrase, strlen(s->passphrase));
		free(s->passphrase);
	}
	free(s->scratch);
	free(s->stash);
	free(s);
}

void wssh_session_free(struct wssh_session *s)
{
	if (!s)
		return;
	if (s->depth > 0) {
		/* Inside one of our callbacks: stop everything now, free when
		 * the outermost entry unwinds. */
		s->zombie = true;
		stop_io(s);
		return;
	}
	session_destroy(s);
}
