/*
 * x11.c: incoming x11 channels, the ones the gateway opens for each X client
 * once an x11-req was accepted (RFC 4254 6.3.2).
 *
 * libssh2 1.10 confirms such a channel itself and then calls
 * LIBSSH2_CALLBACK_X11 from deep inside whatever call read the packet
 * (packet.c, packet_x11_open): a channel read, a write, an open. Nothing may
 * call libssh2 from there (rule 1: the call in progress may have half a
 * packet out), and the owner must not see the channel before that call has
 * returned. So the callback only wraps the channel, links it with the
 * session's channels (held: no fd yet, and freed with the session if it
 * goes first) and arms a zero-delay timer; the timer hands each waiting
 * channel to the owner from the loop, which attaches or closes it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* An originator address is an IP address; anything longer is cut. */
#define X11_HOST_MAX 63

static void link_x11(struct wssh_session *s, struct wssh_channel *c)
{
	c->prev = NULL;
	c->next = s->channels;
	if (s->channels)
		s->channels->prev = c;
	s->channels = c;
}

static LIBSSH2_X11_OPEN_FUNC(x11_open)
{
	struct wssh_session *s = *abstract;
	struct wssh_channel *c;
	size_t hlen;

	(void)session;
	c = calloc(1, sizeof(*c));
	if (!c) {
		/* Left in libssh2's list; libssh2_session_free closes it. */
		return;
	}
	c->s = s;
	c->fd = -1;
	c->ch = channel;
	c->state = WSSH_C_OPEN;
	/* shost points into the packet and has no NUL of its own (#1703);
	 * the u32 port after it starts with a zero byte for any real port,
	 * and the bound keeps a hostile server's string from running on. */
	hlen = shost ? strnlen(shost, X11_HOST_MAX) : 0;
	c->msg = malloc(hlen + 1);
	if (c->msg) {
		if (hlen)
			memcpy(c->msg, shost, hlen);
		c->msg[hlen] = '\0';
		c->msglen = hlen;
	}
	c->x11_port = sport;
	link_x11(s, c);
	if (!s->x11_cb || s->zombie || s->state != WSSH_S_UP) {
		/* Nobody to take it: the pump closes it (refused). */
		c->state = WSSH_C_CLOSING;
		wssh_kick(s);
		return;
	}
	c->x11_pending = true;
	s->x11_waiting++;
	s->host->timer_arm(s->x11_timer, 0);
}

/* From the loop: each waiting channel to the owner, then a pump for what
 * the owner queued (attaches, closes). */
static void x11_deliver(void *arg)
{
	struct wssh_session *s = arg;
	struct wssh_channel *c;
	bool again = true;

	wssh_enter(s);
	while (again && s->x11_waiting > 0 && s->state == WSSH_S_UP && !s->zombie) {
		again = false;
		for (c = s->channels; c; c = c->next) {
			if (!c->x11_pending)
				continue;
			c->x11_pending = false;
			s->x11_waiting--;
			if (s->x11_cb)
				s->x11_cb(s, c, c->msg ? c->msg : "", c->x11_port, s->x11_arg);
			else
				c->state = WSSH_C_CLOSING;
			/* The handler may have closed channels or freed the
			 * session: scan again from the start. */
			again = true;
			break;
		}
	}
	if (s->state == WSSH_S_UP && !s->zombie)
		wssh_pump(s);
	wssh_leave(s);
}

void wssh_x11_register(struct wssh_session *s)
{
	if (s->ssh && s->x11_cb)
		libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_X11, (void *)x11_open);
}

void wssh_x11_free(struct wssh_session *s)
{
	s->host->timer_free(s->x11_timer);
	s->x11_timer = NULL;
}

void wssh_session_set_x11_handler(struct wssh_session *s, wssh_x11_cb cb, void *arg)
{
	struct wssh_channel *c;

	if (cb && !s->x11_timer) {
		s->x11_timer = s->host->timer_new(s->t, x11_deliver, s);
		if (!s->x11_timer) {
			s->host->log(s->t, WARREN_LOG_ERROR,
			             "x11: out of memory: X11 channels will be refused");
			cb = NULL;
		}
	}
	s->x11_cb = cb;
	s->x11_arg = arg;
	if (!s->ssh)
		return; /* session_setup registers it */
	/* Without a callback libssh2 refuses x11 opens itself. */
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_X11, cb ? (void *)x11_open : NULL);
	if (!cb) {
		/* Channels already waiting go back to the pump, to be closed. */
		for (c = s->channels; c; c = c->next) {
			if (c->x11_pending) {
				c->x11_pending = false;
				c->state = WSSH_C_CLOSING;
			}
		}
		s->x11_waiting = 0;
		wssh_kick(s);
	}
}
