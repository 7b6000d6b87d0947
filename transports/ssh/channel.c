/*
 * channel.c: channels bridged to local fds, the open queue, remote
 * listeners.
 *
 * A bridged channel moves bytes both ways with at most one chunk in flight
 * per direction: a chunk read from the fd is written to the channel before
 * the fd is read again, and a chunk read from the channel is written to the
 * fd before the channel is read again. The channel is not read while the fd
 * is full, so libssh2 sends no window adjust and the peer stops once the
 * window is used: a slow reader slows the sender, and memory per connection
 * stays bounded by the window plus two chunks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PACKET_SIZE  32768
#define LISTEN_QUEUE 4096 /* un-accepted remote connections libssh2 may hold */
#define STEP_ROUNDS  16   /* chunks per direction and wakeup: fairness */

/* Receive window autotuning for channels opened with more than
 * WINDOW_START asked (direct-tcpip asks WSSH_WINDOW_LARGE). The channel opens
 * with WINDOW_START, what OpenSSH's client gives, and is then kept at what
 * the path needs: WINDOW_RATE times the session's shortest open round trip,
 * at most what was asked. Opening every channel at 16 MiB cost a lot on
 * short paths: sshd's per-channel buffer (c->input) may hold the whole
 * window, and OpenSSH grows it by copying (recallocarray) a few KiB at a
 * time, so a fast source behind sshd made sshd burn 1-3 s of CPU per 100 MB
 * and cut loopback downloads to 40-150 MB/s, where 2 MiB gives ~250 MB/s.
 * On a 100 ms path 2 MiB caps a channel near 20 MB/s; the tuned window
 * (16 MiB there) lifts that. */
#define WINDOW_START LIBSSH2_CHANNEL_WINDOW_DEFAULT /* 2 MiB */
#define WINDOW_RATE  (256u * 1024 * 1024)           /* bytes/s: a libssh2 channel's best */

/* The memory bound. A window is what the peer may send that nobody has read
 * yet: behind a slow or stalled local reader libssh2 holds up to a whole
 * window per channel, and with the tuned window granted to every channel 30
 * clients that read nothing pinned 480 MB on a long path. So the part of
 * the windows above WINDOW_START comes from one budget per session,
 * WINDOW_BUDGET: four channels at 16 MiB. It is claimed only once data
 * flows (adjust_due: a quarter of the opening window used), not at the
 * open, so that idle channels hold none, and returned when the channel
 * goes. The few bulk transfers of a long path (the benchmark's 100 ms one)
 * keep their throughput; channels beyond the budget keep 2 MiB, what
 * OpenSSH's client gives every channel. What a tunnel may hold is then the
 * budget plus 2 MiB per connection, and connections are capped
 * (ssh-forward's max_connections). */
#define WINDOW_BUDGET (64ull * 1024 * 1024)

/* A direct-tcpip open not answered by then is given up: its client is told
 * (and closed by its owner), and the answer, when it comes, is consumed and
 * the channel closed. sshd answers only once its connect to the target is
 * done, ~127 s for one that drops SYNs, and libssh2 opens one channel at a
 * time (rule 5), so the opens queued behind wait as long: they time out the
 * same way, counted from when they were asked for. */
#define OPEN_TIMEOUT_US (30ull * 1000000)

enum pending_call {
	CALL_NONE = 0,
	CALL_READ,
	CALL_WRITE,
	CALL_EOF,
	CALL_FREE,
	CALL_EXEC, /* exec.c repeats its own call */
	CALL_ADJUST,
};

/* The call of a channel that left a half-sent packet: libssh2 must see
 * exactly that call again before any other (rule 1). */
static int *pending_of(struct wssh_channel *c)
{
	return &c->pending;
}

/* ---- helpers ---- */

static void unlink_channel(struct wssh_channel *c)
{
	struct wssh_session *s = c->s;

	if (c->prev)
		c->prev->next = c->next;
	else if (s->channels == c)
		s->channels = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void link_channel(struct wssh_channel *c)
{
	struct wssh_session *s = c->s;

	c->prev = NULL;
	c->next = s->channels;
	if (s->channels)
		s->channels->prev = c;
	s->channels = c;
}

/* Close the local fd. reset: the bridge was cut short (the session lost, a
 * channel or fd error), and the client must learn it: a RST (SO_LINGER 0, as
 * relay.c does) instead of the FIN that would pass a truncated download off
 * as complete. An orderly end keeps its FIN, and so does a close by the
 * owner while the session lives (a tunnel stopped: ssh -L closes its
 * clients so too, and an idle client lost nothing). */
static void close_fd(struct wssh_channel *c, bool reset)
{
	c->s->host->watch_free(c->watch);
	c->watch = NULL;
	c->armed = 0;
	if (c->fd >= 0) {
		if (reset && !c->not_socket) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c->fd);
	}
	c->fd = -1;
}

/* Free the wrapper only; libssh2's channel is freed by the caller (or by
 * libssh2_session_free). */
void wssh_channel_destroy(struct wssh_channel *c)
{
	if (c->state != WSSH_C_OPENING)
		unlink_channel(c);
	c->s->window_extra -= c->window_extra;
	wssh_exec_destroy(c);
	/* Still attached: the session is being freed, lost or stopped. */
	close_fd(c, c->s->state == WSSH_S_DEAD);
	free(c->type);
	free(c->msg);
	free(c->up);
	free(c->down);
	free(c);
}

/* The bridge is over: close the fd (reset: cut short, see close_fd), tell
 * the owner, and let the pump close the channel with the peer (rule 7). */
static void finish(struct wssh_channel *c, bool reset)
{
	wssh_closed_cb cb = c->closed_cb;
	void *arg = c->closed_arg;

	if (c->state == WSSH_C_CLOSING)
		return;
	c->state = WSSH_C_CLOSING;
	c->closed_cb = NULL;
	c->open_cb = NULL;
	close_fd(c, reset);
	if (cb)
		cb(c, arg);
}

/* blocked: the session has a half-sent packet to finish first (rule 1),
 * so what the fd gives could not go anywhere: leave it unread. */
static void update_watch(struct wssh_channel *c, bool blocked)
{
	unsigned ev = 0;

	if (!c->watch)
		return;
	if (c->state == WSSH_C_OPEN) {
		if (!c->local_eof && !c->up && !blocked)
			ev |= WARREN_EV_READ;
		if (c->down)
			ev |= WARREN_EV_WRITE;
	}
	if (ev != c->armed) {
		c->s->host->watch_set(c->watch, ev);
		c->armed = ev;
	}
}

/* The fd may be a pty master or a pipe (ppp-ssh), where send and recv
 * fail with ENOTSOCK. */
static ssize_t fd_send(struct wssh_channel *c, const void *buf, size_t len)
{
	if (c->not_socket)
		return write(c->fd, buf, len);
	return send(c->fd, buf, len, MSG_NOSIGNAL);
}

/* A pty master reads EIO once no slave is open: that is its EOF. */
static ssize_t fd_recv(struct wssh_channel *c, void *buf, size_t len)
{
	ssize_t n;

	if (!c->not_socket)
		return recv(c->fd, buf, len, 0);
	n = read(c->fd, buf, len);
	return n < 0 && errno == EIO ? 0 : n;
}

/* Write what is buffered for the fd. 0 done or waiting, -1 the fd failed. */
static int flush_down(struct wssh_channel *c)
{
	ssize_t n;

	while (c->down) {
		n = fd_send(c, c->down + c->down_off, c->down_len - c->down_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->down_off += (size_t)n;
		if (c->down_off == c->down_len) {
			free(c->down);
			c->down = NULL;
			c->down_off = c->down_len = 0;
		}
	}
	return 0;
}

/* Channel -> fd. DONE progress, WAIT nothing to read, BLOCK, -1 session
 * failed, -2 this channel failed. */
static int do_read(struct wssh_channel *c)
{
	struct wssh_session *s = c->s;
	ssize_t n, w;
	int k;

	/* Repeated to finish a reply its read left half-sent (below) while
	 * the last chunk still waits for the fd: drive the transport only. */
	n = libssh2_channel_read(c->ch, s->scratch, c->down ? 0 : WSSH_IO_CHUNK);
	if (n > 0) {
		s->host->add_bytes(s->t, (uint64_t)n, 0);
		w = fd_send(c, s->scratch, (size_t)n);
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -2;
			w = 0;
		}
		if (w < n) {
			c->down = malloc((size_t)(n - w));
			if (!c->down)
				return -2;
			memcpy(c->down, s->scratch + w, (size_t)(n - w));
			c->down_off = 0;
			c->down_len = (size_t)(n - w);
		}
		/* Data, and yet one of libssh2's automatic replies from
		 * inside the read may be half-sent: the read is the call to
		 * repeat (rule 1). */
		if (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			return WSSH_BLOCK;
		return WSSH_DONE;
	}
	if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
		if (n == LIBSSH2_ERROR_EAGAIN) {
			k = wssh_classify(s, (int)n);
			if (k == WSSH_BLOCK)
				return k;
		}
		/* A read of 0 is not EOF (rule 4). */
		if (libssh2_channel_eof(c->ch)) {
			c->remote_eof = true;
			return WSSH_DONE;
		}
		return WSSH_WAIT;
	}
	k = wssh_classify(s, (int)n);
	if (k == -1)
		return -1;
	return -2;
}

/* Local chunk -> channel. */
static int do_write(struct wssh_channel *c)
{
	struct wssh_session *s = c->s;
	ssize_t n;
	int k;

	n = libssh2_channel_write(c->ch, c->up + c->up_off, c->up_len - c->up_off);
	if (n > 0) {
		s->host->add_bytes(s->t, 0, (uint64_t)n);
		c->up_off += (size_t)n;
		if (c->up_off == c->up_len) {
			free(c->up);
			c->up = NULL;
			c->up_off = c->up_len = 0;
		}
		return WSSH_DONE;
	}
	if (n == 0)
		return WSSH_WAIT; /* window used up (rule 3): wait for input */
	k = wssh_classify(s, (int)n);
	if (k >= 0)
		return k;
	return k;
}

static int do_eof(struct wssh_channel *c)
{
	int rc = libssh2_channel_send_eof(c->ch);
	int k;

	if (rc == 0) {
		c->eof_sent = true;
		return WSSH_DONE;
	}
	k = wssh_classify(c->s, rc);
	if (k == WSSH_WAIT || k == WSSH_BLOCK || k == -1)
		return k;
	c->eof_sent = true; /* the channel is closing anyway */
	return WSSH_DONE;
}

/* Bring the receive window back up to what it was granted (adjust_due):
 * libssh2 itself only refills it to the window the channel opened with.
 * c->adjust is fixed when the adjust starts and passed again unchanged after
 * EAGAIN (rule 1: libssh2 sends the packet it built, but adds the amount it
 * is given to its own count). */
static int do_adjust(struct wssh_channel *c)
{
	unsigned int win = 0;
	int rc = libssh2_channel_receive_window_adjust2(c->ch, c->adjust, 1, &win);
	int k;

	if (rc == 0) {
		c->adjust = 0;
		return WSSH_DONE;
	}
	k = wssh_classify(c->s, rc);
	if (k == WSSH_WAIT || k == WSSH_BLOCK || k == -1)
		return k;
	c->adjust = 0;
	return WSSH_DONE;
}

/* Does the window want topping up before the next read? Up to what the
 * channel was granted: its opening window and its share of the budget,
 * which grows toward window_target here, once data flows (WINDOW_BUDGET). */
static bool adjust_due(struct wssh_channel *c)
{
	struct wssh_session *s = c->s;
	unsigned long win;
	uint64_t room, more;
	uint32_t granted = c->window + c->window_extra;

	if (c->adjust)
		return true;
	if (c->window_target <= c->window)
		return false;
	win = libssh2_channel_window_read_ex(c->ch, NULL, NULL);
	/* The mark where libssh2 refills by itself, inside the read that
	 * follows: a claim must come first, or the window would never leave
	 * its opening size. */
	if (win >= (uint64_t)granted / 4 * 3 + WSSH_IO_CHUNK)
		return false;
	if (granted < c->window_target) {
		room = s->window_extra < WINDOW_BUDGET ? WINDOW_BUDGET - s->window_extra : 0;
		more = c->window_target - granted;
		if (more > room)
			more = room;
		c->window_extra += (uint32_t)more;
		s->window_extra += more;
		granted += (uint32_t)more;
	}
	/* Without a share libssh2 refills the opening window by itself. */
	if (granted > c->window && win < (uint64_t)granted / 4 * 3 + WSSH_IO_CHUNK)
		c->adjust = granted - (uint32_t)win;
	return c->adjust != 0;
}

/* channel_free waits for the peer's CLOSE (rule 7): call it again on later
 * wakeups until it is done. Frees c when done. */
static int do_free(struct wssh_channel *c)
{
	int rc, k;

	/* The first channel_free sends the EOF that was not sent yet, built
	 * on libssh2's stack as in send_eof: the same care. */
	if (!c->free_called && !c->eof_sent && !wssh_small_send_ok(c->s))
		return WSSH_WAIT;
	c->free_called = true;
	rc = libssh2_channel_free(c->ch);

	if (rc == LIBSSH2_ERROR_EAGAIN) {
		k = wssh_classify(c->s, rc);
		if (k == WSSH_BLOCK || k == WSSH_WAIT)
			return k;
	}
	c->ch = NULL;
	wssh_channel_destroy(c);
	return WSSH_DONE;
}

static int redo(struct wssh_channel *c, enum pending_call call)
{
	switch (call) {
	case CALL_READ:
		return do_read(c);
	case CALL_WRITE:
		return do_write(c);
	case CALL_EOF:
		return do_eof(c);
	case CALL_FREE:
		return do_free(c);
	case CALL_EXEC:
		return wssh_exec_io(c);
	case CALL_ADJUST:
		return do_adjust(c);
	case CALL_NONE:
		break;
	}
	return WSSH_DONE;
}

/* Run one call; remember it when it left a packet half-sent. Returns the
 * call's result; on -2 the channel is finished (error). */
static int call(struct wssh_channel *c, enum pending_call which, int *freed)
{
	int *pending = pending_of(c);
	int rc = redo(c, which);

	if (which == CALL_FREE && rc == WSSH_DONE) {
		*freed = 1;
		return rc;
	}
	*pending = rc == WSSH_BLOCK ? which : CALL_NONE;
	return rc;
}

int wssh_channel_step(struct wssh_channel *c)
{
	struct wssh_session *s = c->s;
	int *pending = pending_of(c);
	int rounds, rc, freed = 0, progress;
	ssize_t n;

	if (c->state == WSSH_C_OPENING)
		return WSSH_DONE;
	c->wake = false;
	if (*pending != CALL_NONE) {
		rc = call(c, (enum pending_call) * pending, &freed);
		if (freed || rc == WSSH_BLOCK || rc == -1)
			return rc == -1 ? WSSH_DONE : rc;
		if (rc == -2)
			finish(c, true);
	}
	if (c->state == WSSH_C_CLOSING) {
		if (c->exec && wssh_exec_closing(c))
			return WSSH_DONE; /* its exec request must finish first */
		/* An unfinished write must complete before CLOSE is sent. */
		rc = call(c, CALL_FREE, &freed);
		return rc == WSSH_BLOCK ? rc : WSSH_DONE;
	}
	if (c->fd < 0)
		return WSSH_DONE; /* held until the owner attaches an fd */

	for (rounds = 0; rounds < STEP_ROUNDS; rounds++) {
		progress = 0;
		/* Channel -> fd, when the previous chunk has gone out. */
		if (c->down && flush_down(c) != 0)
			goto failed;
		if (!c->down && !c->remote_eof && adjust_due(c)) {
			rc = call(c, CALL_ADJUST, &freed);
			if (rc == WSSH_BLOCK)
				goto out_block;
			if (rc == -1)
				return WSSH_DONE;
		}
		/* Not while an adjust waits: libssh2 would send it with its
		 * own amount. Only when libssh2 holds data or the EOF for this
		 * channel: the pump's reader and every channel write have
		 * pulled the socket in already, and a read with nothing to
		 * take still costs a recv() that says EAGAIN (two per 32 KiB
		 * packet on uploads). */
		if (!c->down && !c->remote_eof && !c->adjust &&
		    (libssh2_poll_channel_read(c->ch, 1) || libssh2_channel_eof(c->ch))) {
			rc = call(c, CALL_READ, &freed);
			if (rc == WSSH_BLOCK)
				goto out_block;
			if (rc == -1)
				return WSSH_DONE;
			if (rc == -2)
				goto failed;
			if (rc == WSSH_DONE)
				progress = 1;
		}
		if (c->remote_eof && !c->down && !c->shut_wr) {
			/* Nothing to half-close on a pty or pipe. */
			if (!c->not_socket)
				shutdown(c->fd, SHUT_WR);
			c->shut_wr = true;
			progress = 1;
		}
		/* fd -> channel. */
		if (!c->up && !c->local_eof && c->readable) {
			c->up = malloc(WSSH_IO_CHUNK);
			if (!c->up)
				goto failed;
			n = fd_recv(c, c->up, WSSH_IO_CHUNK);
			if (n > 0) {
				c->up_off = 0;
				c->up_len = (size_t)n;
				progress = 1;
			} else {
				free(c->up);
				c->up = NULL;
				if (n == 0) {
					c->local_eof = true;
					progress = 1;
				} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->readable = false;
				} else if (errno != EINTR) {
					goto failed;
				}
			}
		}
		if (c->up) {
			rc = call(c, CALL_WRITE, &freed);
			if (rc == WSSH_BLOCK)
				goto out_block;
			if (rc == -1)
				return WSSH_DONE;
			if (rc == -2)
				goto failed;
			if (rc == WSSH_DONE)
				progress = 1;
		}
		/* libssh2 builds the EOF on its stack: it goes only when it
		 * cannot be left half-sent (wssh_small_send_ok); the socket
		 * is armed for writable meanwhile. */
		if (c->local_eof && !c->up && !c->eof_sent && wssh_small_send_ok(s)) {
			rc = call(c, CALL_EOF, &freed);
			if (rc == WSSH_BLOCK)
				goto out_block;
			if (rc == -1)
				return WSSH_DONE;
			progress = 1;
		}
		/* Exec sessions: stderr, and the command's end (exec.c). */
		if (c->exec) {
			rc = call(c, CALL_EXEC, &freed);
			if (rc == WSSH_BLOCK)
				goto out_block;
			if (rc == -1)
				return WSSH_DONE;
			if (rc == -2)
				goto failed;
			if (wssh_exec_ended(c)) {
				/* The exit was told; now the owner's closed_cb. */
				finish(c, false);
				rc = call(c, CALL_FREE, &freed);
				return rc == WSSH_BLOCK ? rc : WSSH_DONE;
			}
			if (rc == WSSH_DONE)
				progress = 1;
		}
		/* An exec channel ends with the peer's CLOSE instead, once
		 * its exit status is known. */
		if (c->eof_sent && c->shut_wr && !c->exec) {
			/* Both directions closed: the bridge is done. */
			finish(c, false);
			rc = call(c, CALL_FREE, &freed);
			return rc == WSSH_BLOCK ? rc : WSSH_DONE;
		}
		if (!progress)
			break;
	}
	/* Done, even when this step was the repeat of the session's
	 * blocked call: the pump clears the block on return, and nothing else
	 * would arm the fd again (a disarmed fd sends no event). */
	update_watch(c, false);
	return WSSH_DONE;
out_block:
	update_watch(c, true);
	return WSSH_BLOCK;
failed:
	s->host->log(s->t, WARREN_LOG_DEBUG, "channel closed on error: %s",
	             c->fd >= 0 ? strerror(errno) : "channel error");
	finish(c, true);
	rc = call(c, CALL_FREE, &freed);
	return rc == WSSH_BLOCK ? rc : WSSH_DONE;
}

/* Has this channel work that no fd event will announce? Another call may
 * have pulled its data, its EOF or a window adjust in from the socket (rule
 * 4): then the pump must visit it again. Scans libssh2's lists only. */
bool wssh_channel_ready(struct wssh_channel *c)
{
	if (c->state != WSSH_C_OPEN || c->fd < 0 || c->pending != CALL_NONE)
		return false;
	if (!c->down && !c->remote_eof &&
	    (libssh2_poll_channel_read(c->ch, 0) || libssh2_channel_eof(c->ch)))
		return true;
	if (c->up && libssh2_channel_window_write_ex(c->ch, NULL) > 0)
		return true;
	if (c->readable && !c->up && !c->local_eof)
		return true;
	if (c->exec && wssh_exec_ready(c))
		return true;
	return false;
}

/* Should the pump step this channel on this pass? Each step calls libssh2,
 * and each libssh2 call tries the socket (a recv() that says EAGAIN), so
 * stepping every channel on every wakeup cost O(channels) syscalls per
 * packet: with 600 idle connections open, each new one took ~20 ms. A
 * channel is stepped when an fd event or an attach woke it, when it is on
 * its way out, when libssh2 holds something for it (after the pump's
 * reader pulled the socket in), or when it has a call to finish. */
bool wssh_channel_wants_step(struct wssh_channel *c)
{
	if (c->state == WSSH_C_OPENING)
		return false;
	if (c->state == WSSH_C_CLOSING || c->wake || c->exec || c->pending != CALL_NONE)
		return true;
	if (c->fd < 0)
		return false; /* held until the owner attaches an fd */
	if (c->adjust || (c->local_eof && !c->up && !c->eof_sent) ||
	    (c->remote_eof && !c->down && !c->shut_wr))
		return true;
	return wssh_channel_ready(c);
}

static void on_fd(int fd, unsigned events, void *arg)
{
	struct wssh_channel *c = arg;
	struct wssh_session *s = c->s;

	(void)fd;
	c->wake = true;
	if (events & WARREN_EV_READ)
		c->readable = true;
	if (s->blocked != WSSH_OP_NONE) {
		/* The session must finish its half-sent packet first; only
		 * the fd side can move meanwhile. */
		if ((events & WARREN_EV_WRITE) && c->down && flush_down(c) != 0) {
			wssh_enter(s);
			finish(c, true);
			wssh_leave(s);
			return;
		}
		update_watch(c, true);
		return;
	}
	/* A channel call reads the transport for every channel (rule 4):
	 * run the whole pump, not just this channel. */
	wssh_pump(s);
}

/* ---- requests ---- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The window an open channel would like: the path's bandwidth-delay product
 * at WINDOW_RATE, measured by the shortest open round trip of the session
 * (an open costs one round trip plus the gateway's connect to the target),
 * between what it opened with and what was asked. What it gets above its
 * opening window comes from the session's budget (adjust_due). */
static void window_tune(struct wssh_session *s, struct wssh_channel *c)
{
	uint64_t rtt = now_us() - c->open_start_us, bdp;

	if (!s->min_rtt_us || rtt < s->min_rtt_us)
		s->min_rtt_us = rtt ? rtt : 1;
	c->window_target = c->window;
	if (c->window_max <= c->window)
		return;
	bdp = s->min_rtt_us * WINDOW_RATE / 1000000;
	if (bdp > c->window_max)
		bdp = c->window_max;
	/* A little more is not worth the adjusts (and keeps libssh2's own
	 * refill, at 3/4 of the opening window, from ever firing). */
	if (bdp >= (uint64_t)c->window + c->window / 8)
		c->window_target = (uint32_t)bdp;
}

static int open_step(struct wssh_session *s, struct wssh_channel *c)
{
	LIBSSH2_CHANNEL *ch;
	wssh_open_cb cb;
	const char *msg;
	char reason[300];
	int rc, k, err;

	if (c->cancelled && !c->req.started) {
		wssh_request_unqueue(s, &c->req);
		wssh_channel_destroy(c);
		return WSSH_DONE;
	}
	if (!c->req.started)
		c->open_start_us = now_us();
	c->req.started = true;
	ch = libssh2_channel_open_ex(s->ssh, c->type, (unsigned)strlen(c->type), c->window,
	                             PACKET_SIZE, c->msg, (unsigned)c->msglen);
	if (!ch) {
		rc = libssh2_session_last_errno(s->ssh);
		k = wssh_classify(s, rc);
		if (k == WSSH_WAIT || k == WSSH_BLOCK)
			return k;
		if (k == -1)
			return WSSH_DONE;
		wssh_request_unqueue(s, &c->req);
		msg = wssh_last_error(s);
		err = strstr(msg, "connect failed")    ? -ECONNREFUSED
		      : strstr(msg, "prohibited")      ? -EACCES
		      : strstr(msg, "unknown channel") ? -EPROTONOSUPPORT
		                                       : -EIO;
		snprintf(reason, sizeof(reason), "the gateway refused the channel: %s", msg);
		cb = c->cancelled ? NULL : c->open_cb;
		if (cb)
			cb(c, err, reason, c->open_arg);
		wssh_channel_destroy(c);
		return WSSH_DONE;
	}
	wssh_request_unqueue(s, &c->req);
	c->ch = ch;
	c->state = WSSH_C_OPEN;
	window_tune(s, c);
	link_channel(c);
	if (c->cancelled) {
		c->state = WSSH_C_CLOSING;
		return WSSH_DONE;
	}
	if (c->open_cb)
		c->open_cb(c, 0, NULL, c->open_arg);
	return WSSH_DONE;
}

/* Give up on an open that waited too long (OPEN_TIMEOUT_US): its owner
 * hears ETIMEDOUT now; one already sent stays at the head of the queue,
 * cancelled, until its answer comes (open_step then closes or drops it). */
static void open_expire(struct wssh_session *s, struct wssh_channel *c)
{
	wssh_open_cb cb = c->open_cb;
	void *arg = c->open_arg;
	char reason[160];

	c->open_cb = NULL;
	c->open_deadline_us = 0;
	snprintf(reason, sizeof(reason),
	         "the gateway did not answer the channel open within %llus",
	         (unsigned long long)(OPEN_TIMEOUT_US / 1000000));
	if (c->req.started) {
		c->cancelled = true;
		if (cb)
			cb(c, -ETIMEDOUT, reason, arg);
		return;
	}
	wssh_request_unqueue(s, &c->req);
	if (cb)
		cb(c, -ETIMEDOUT, reason, arg);
	wssh_channel_destroy(c);
}

void wssh_open_timeouts(struct wssh_session *s)
{
	struct wssh_request *r;
	struct wssh_channel *c;
	uint64_t now = now_us(), next;

	/* From the head again after each expiry: the owner's callback may
	 * close other queued channels. */
	for (;;) {
		next = 0;
		for (r = s->req_head; r; r = r->next) {
			c = (struct wssh_channel *)r;
			if (r->kind != WSSH_REQ_OPEN || !c->open_deadline_us || c->cancelled)
				continue;
			if (c->open_deadline_us <= now)
				break;
			if (!next || c->open_deadline_us < next)
				next = c->open_deadline_us;
		}
		if (!r)
			break;
		open_expire(s, c);
		if (s->state != WSSH_S_UP || s->zombie)
			return;
	}
	if (next && !s->open_timer_armed) {
		s->host->timer_arm(s->open_timer, (next - now) / 1000 + 1);
		s->open_timer_armed = true;
	}
}

static int probe_step(struct wssh_session *s)
{
	LIBSSH2_CHANNEL *ch;
	int k;

	s->probe.started = true;
	ch = libssh2_channel_open_ex(s->ssh, "keepalive@openssh.com",
	                             sizeof("keepalive@openssh.com") - 1, 32768, PACKET_SIZE, NULL,
	                             0);
	if (!ch) {
		k = wssh_classify(s, libssh2_session_last_errno(s->ssh));
		if (k == WSSH_WAIT || k == WSSH_BLOCK)
			return k;
		if (k == -1)
			return WSSH_DONE;
	} else {
		/* A server that accepts it gets it closed again. */
		struct wssh_channel *c = calloc(1, sizeof(*c));

		if (c) {
			c->s = s;
			c->fd = -1;
			c->ch = ch;
			c->state = WSSH_C_CLOSING;
			link_channel(c);
		}
	}
	wssh_request_unqueue(s, &s->probe);
	return WSSH_DONE;
}

static void link_listener(struct wssh_listener *l)
{
	struct wssh_session *s = l->s;

	l->prev = NULL;
	l->next = s->listeners;
	if (s->listeners)
		s->listeners->prev = l;
	s->listeners = l;
}

void wssh_listener_destroy(struct wssh_listener *l)
{
	struct wssh_session *s = l->s;

	if (l->state != WSSH_L_REQUESTING) {
		if (l->prev)
			l->prev->next = l->next;
		else if (s->listeners == l)
			s->listeners = l->next;
		if (l->next)
			l->next->prev = l->prev;
	}
	free(l->bind);
	free(l);
}

static int listen_step(struct wssh_session *s, struct wssh_listener *l)
{
	LIBSSH2_LISTENER *ll;
	char reason[300];
	int bound = 0, rc, k;

	if (l->cancelled && !l->req.started) {
		wssh_request_unqueue(s, &l->req);
		wssh_listener_destroy(l);
		return WSSH_DONE;
	}
	l->req.started = true;
	ll = libssh2_channel_forward_listen_ex(s->ssh, l->bind, l->port, &bound, LISTEN_QUEUE);
	if (!ll) {
		rc = libssh2_session_last_errno(s->ssh);
		k = wssh_classify(s, rc);
		if (k == WSSH_WAIT || k == WSSH_BLOCK)
			return k;
		if (k == -1)
			return WSSH_DONE;
		wssh_request_unqueue(s, &l->req);
		if (rc == LIBSSH2_ERROR_REQUEST_DENIED)
			snprintf(reason, sizeof(reason),
			         "remote port forwarding failed for listen port %u on the gateway "
			         "(port in use there, or forwarding not permitted)",
			         l->port);
		else
			snprintf(reason, sizeof(reason), "remote port forwarding failed: %s",
			         wssh_last_error(s));
		if (!l->cancelled && l->done)
			l->done(l, -EADDRINUSE, reason, 0, l->arg);
		wssh_listener_destroy(l);
		return WSSH_DONE;
	}
	wssh_request_unqueue(s, &l->req);
	l->l = ll;
	l->bound_port = bound;
	l->state = WSSH_L_BOUND;
	link_listener(l);
	if (l->cancelled) {
		l->state = WSSH_L_CANCELLING;
		return WSSH_DONE;
	}
	if (l->done)
		l->done(l, 0, NULL, (uint16_t)bound, l->arg);
	return WSSH_DONE;
}

int wssh_request_step(struct wssh_session *s, struct wssh_request *r)
{
	if (!r)
		return WSSH_DONE;
	switch (r->kind) {
	case WSSH_REQ_OPEN:
		return open_step(s, (struct wssh_channel *)r);
	case WSSH_REQ_LISTEN:
		return listen_step(s, (struct wssh_listener *)r);
	case WSSH_REQ_PROBE:
		return probe_step(s);
	case WSSH_REQ_EXEC:
		return wssh_exec_request_step(s, r);
	}
	return WSSH_DONE;
}

int wssh_listener_accept(struct wssh_listener *l)
{
	struct wssh_session *s = l->s;
	struct wssh_channel *c;
	LIBSSH2_CHANNEL *ch;
	int i, k;

	if (l->state != WSSH_L_BOUND)
		return WSSH_DONE;
	for (i = 0; i < 256; i++) {
		ch = libssh2_channel_forward_accept(l->l);
		if (!ch) {
			k = wssh_classify(s, libssh2_session_last_errno(s->ssh));
			return k == WSSH_BLOCK ? k : WSSH_DONE;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			libssh2_channel_free(ch); /* refused; freed with the session otherwise */
			continue;
		}
		c->s = s;
		c->fd = -1;
		c->ch = ch;
		c->state = WSSH_C_OPEN;
		link_channel(c);
		if (l->accept)
			l->accept(l, c, l->arg);
		else
			c->state = WSSH_C_CLOSING;
		if (s->state != WSSH_S_UP || s->zombie || l->state != WSSH_L_BOUND)
			break;
	}
	/* A reply left half-sent by the reads of forward_accept (rule 1). */
	if (s->state == WSSH_S_UP &&
	    (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND))
		return WSSH_BLOCK;
	return WSSH_DONE;
}

int wssh_listener_cancel_step(struct wssh_listener *l)
{
	int rc = libssh2_channel_forward_cancel(l->l);
	int k;

	if (rc == LIBSSH2_ERROR_EAGAIN) {
		k = wssh_classify(l->s, rc);
		if (k == WSSH_BLOCK || k == WSSH_WAIT)
			return k;
	}
	wssh_listener_destroy(l);
	return WSSH_DONE;
}

/* ---- public ---- */

struct wssh_channel *wssh_channel_open(struct wssh_session *s, const char *type, uint32_t window,
                                       const void *msg, size_t msglen, wssh_open_cb cb, void *arg)
{
	struct wssh_channel *c;

	if (s->state != WSSH_S_UP || s->zombie)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->fd = -1;
	c->req.kind = WSSH_REQ_OPEN;
	c->state = WSSH_C_OPENING;
	c->window_max = window ? window : WINDOW_START;
	c->window = c->window_max < WINDOW_START ? c->window_max : WINDOW_START;
	c->type = strdup(type);
	c->msg = msglen ? malloc(msglen) : NULL;
	if (!c->type || (msglen && !c->msg)) {
		free(c->type);
		free(c->msg);
		free(c);
		return NULL;
	}
	if (msglen)
		memcpy(c->msg, msg, msglen);
	c->msglen = msglen;
	c->open_cb = cb;
	c->open_arg = arg;
	wssh_request_queue(s, &c->req);
	/* Start it now when the queue was empty; otherwise it waits. */
	wssh_kick(s);
	return c;
}

static void put_u32(unsigned char **p, uint32_t v)
{
	(*p)[0] = (unsigned char)(v >> 24);
	(*p)[1] = (unsigned char)(v >> 16);
	(*p)[2] = (unsigned char)(v >> 8);
	(*p)[3] = (unsigned char)v;
	*p += 4;
}

static void put_str(unsigned char **p, const char *str)
{
	size_t len = strlen(str);

	put_u32(p, (uint32_t)len);
	memcpy(*p, str, len);
	*p += len;
}

struct wssh_channel *wssh_direct_tcpip(struct wssh_session *s, const char *host, uint16_t port,
                                       const char *orig_ip, uint16_t orig_port, uint32_t window,
                                       wssh_open_cb cb, void *arg)
{
	/* string host, u32 port, string originator ip, u32 originator port
	 * (RFC 4254 7.2): libssh2_channel_direct_tcpip_ex fixes the window at
	 * 2 MiB, open_ex takes ours (notes, API). */
	unsigned char msg[4 + 256 + 4 + 4 + 64 + 4], *p = msg;
	struct wssh_channel *c;

	if (strlen(host) > 255 || strlen(orig_ip) > 63)
		return NULL;
	put_str(&p, host);
	put_u32(&p, port);
	put_str(&p, orig_ip);
	put_u32(&p, orig_port);
	c = wssh_channel_open(s, "direct-tcpip", window ? window : WSSH_WINDOW_LARGE, msg,
	                      (size_t)(p - msg), cb, arg);
	if (c) {
		c->open_deadline_us = now_us() + OPEN_TIMEOUT_US;
		if (!s->open_timer_armed) {
			s->host->timer_arm(s->open_timer, OPEN_TIMEOUT_US / 1000 + 1);
			s->open_timer_armed = true;
		}
	}
	return c;
}

int wssh_channel_attach(struct wssh_channel *c, int fd, const void *initial, size_t len,
                        wssh_closed_cb closed, void *arg)
{
	struct wssh_session *s = c->s;
	struct stat st;

	if (c->state != WSSH_C_OPEN || c->fd >= 0)
		return -EINVAL;
	if (len) {
		c->up = malloc(len);
		if (!c->up)
			return -ENOMEM;
		memcpy(c->up, initial, len);
		c->up_off = 0;
		c->up_len = len;
	}
	c->watch = s->host->watch_new(s->t, fd, WARREN_EV_READ, on_fd, c);
	if (!c->watch) {
		free(c->up);
		c->up = NULL;
		return -ENOMEM;
	}
	c->armed = WARREN_EV_READ;
	c->fd = fd;
	c->wake = true;
	c->not_socket = fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode);
	c->readable = true; /* data may wait already */
	c->closed_cb = closed;
	c->closed_arg = arg;
	wssh_kick(s);
	return 0;
}

void wssh_channel_close(struct wssh_channel *c)
{
	if (!c)
		return;
	c->open_cb = NULL;
	c->closed_cb = NULL;
	if (c->state == WSSH_C_OPENING) {
		if (!c->req.started) {
			wssh_request_unqueue(c->s, &c->req);
			wssh_channel_destroy(c);
		} else {
			c->cancelled = true;
		}
		return;
	}
	/* A reset only when the session is lost (see close_fd). */
	finish(c, c->s->state == WSSH_S_DEAD);
}

struct wssh_listener *wssh_listen(struct wssh_session *s, const char *bind, uint16_t port,
                                  wssh_listen_cb done, wssh_accept_cb accept, void *arg)
{
	struct wssh_listener *l;

	if (s->state != WSSH_S_UP || s->zombie)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->s = s;
	l->req.kind = WSSH_REQ_LISTEN;
	l->bind = strdup(bind && *bind ? bind : "localhost");
	if (!l->bind) {
		free(l);
		return NULL;
	}
	l->port = port;
	l->done = done;
	l->accept = accept;
	l->arg = arg;
	wssh_request_queue(s, &l->req);
	wssh_kick(s);
	return l;
}

void wssh_listener_free(struct wssh_listener *l)
{
	if (!l)
		return;
	l->done = NULL;
	l->accept = NULL;
	switch (l->state) {
	case WSSH_L_REQUESTING:
		if (!l->req.started) {
			wssh_request_unqueue(l->s, &l->req);
			wssh_listener_destroy(l);
		} else {
			l->cancelled = true;
		}
		break;
	case WSSH_L_BOUND:
		l->state = WSSH_L_CANCELLING;
		wssh_kick(l->s);
		break;
	case WSSH_L_CANCELLING:
		break;
	}
}
