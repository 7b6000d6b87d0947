/*
 * ssh.h: the SSH layer shared by the SSH transports (ssh-forward, ppp-ssh,
 * x11), on libssh2 1.10, non-blocking inside the core's event loop.
 *
 * It talks to the core only through const struct warren_host *, and it hides
 * libssh2's EAGAIN discipline (../shared/notes/libssh2-1.10.md) from the
 * plugins: a plugin never calls libssh2 itself. It asks for a session, for
 * channels (opened one at a time, rule 5) and for remote listeners, and hands
 * each open channel a local fd; the layer then moves bytes both ways with
 * bounded buffers, flow control through the SSH window, half-close in each
 * direction and an orderly close (rule 7).
 *
 * Callbacks run from the event loop. Any callback may free the session or
 * close channels: the layer defers the actual frees until it has left the
 * libssh2 call stack.
 */
#ifndef WARREN_TRANSPORTS_SSH_H
#define WARREN_TRANSPORTS_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warren-plugin.h"

struct wssh_session;
struct wssh_channel;
struct wssh_listener;

/* The most a receive window of a channel this side opens may grow to. A
 * channel opens with 2 MiB, as OpenSSH's client does, which caps a 100 ms
 * path near 20 MB/s; above 2 MiB the layer sizes the window to the path (the
 * session's channel open round trip times 256 MB/s), so a long path gets up
 * to 16 MiB while a LAN keeps 2 MiB (a larger window there only makes sshd
 * buffer more). The window is also the bound on what libssh2 may queue for
 * one connection whose local reader is slow (the peer cannot send past it):
 * so what a window gets above 2 MiB comes from a budget of 64 MiB per
 * session, claimed once data flows (channel.c, WINDOW_BUDGET). */
#define WSSH_WINDOW_LARGE (16u * 1024 * 1024)

struct wssh_session_cbs {
	/* Authenticated: channels and listeners may be requested now. */
	void (*up)(struct wssh_session *s, void *arg);
	/* The connect, handshake, host key check or auth failed, or the link
	 * died later. reason is one line for status and logs. The session is
	 * dead: free it (from here is fine). Called at most once. */
	void (*down)(struct wssh_session *s, void *arg, const char *reason);
};

/* A session for one gateway. Nothing happens until wssh_session_start. The
 * gateway must outlive the session. Returns NULL on memory exhaustion. */
struct wssh_session *wssh_session_new(const struct warren_host *host, struct warren_tunnel *t,
                                      const struct warren_gateway *gw,
                                      const struct wssh_session_cbs *cbs, void *arg);

/* Resolve the gateway again (dynamic DNS), connect to each address in turn,
 * handshake, check the host key, authenticate. The outcome arrives through
 * cbs->up or cbs->down. Returns 0, or a negative errno. */
int wssh_session_start(struct wssh_session *s);

/* Orderly disconnect (best effort, never blocks) and free everything: every
 * channel and listener of the session with it, without their callbacks. The
 * fds handed to channels are closed. NULL is fine. */
void wssh_session_free(struct wssh_session *s);

/* Channels. */

/* Result of an open: error 0 and the channel open, or error != 0 (the
 * channel is gone, do not touch it) and a one-line reason. */
typedef void (*wssh_open_cb)(struct wssh_channel *c, int error, const char *reason, void *arg);
/* A bridged channel finished (both directions closed, or an error): its fd
 * is closed. The channel is freed by the layer after this returns. */
typedef void (*wssh_closed_cb)(struct wssh_channel *c, void *arg);

/* Queue a direct-tcpip open to host:port as seen from the gateway, with the
 * originator's address for the server's logs. window: the most the receive
 * window may grow to, 0 for WSSH_WINDOW_LARGE. */
struct wssh_channel *wssh_direct_tcpip(struct wssh_session *s, const char *host, uint16_t port,
                                       const char *orig_ip, uint16_t orig_port, uint32_t window,
                                       wssh_open_cb cb, void *arg);

/* Queue an open of any channel type, the message sent verbatim (the channel
 * types of ppp-ssh and x11). */
struct wssh_channel *wssh_channel_open(struct wssh_session *s, const char *type, uint32_t window,
                                       const void *msg, size_t msglen, wssh_open_cb cb, void *arg);

/* Start moving bytes between an open channel and fd (a connected stream
 * socket, non-blocking; the layer owns it from now on). initial/len: bytes
 * already read from fd that belong to the channel (copied). closed is called
 * once when the bridge ends. Returns 0 or -ENOMEM (fd then still the
 * caller's). */
int wssh_channel_attach(struct wssh_channel *c, int fd, const void *initial, size_t len,
                        wssh_closed_cb closed, void *arg);

/* Abort: close the fd (if attached), stop every callback of c and close the
 * channel with the peer. c must not be used afterwards. NULL is fine. */
void wssh_channel_close(struct wssh_channel *c);

/* Remote listeners (tcpip-forward). */

/* Result of a listen request: error 0 and the port the gateway bound (the
 * allocated one for port 0), or error != 0 and a reason (the listener is
 * gone). */
typedef void (*wssh_listen_cb)(struct wssh_listener *l, int error, const char *reason,
                               uint16_t bound_port, void *arg);
/* A connection arrived on the gateway: c is open; attach it or close it. */
typedef void (*wssh_accept_cb)(struct wssh_listener *l, struct wssh_channel *c, void *arg);

/* Ask the gateway to listen on bind:port ("localhost" when bind is NULL or
 * empty, as OpenSSH's ssh -R does). */
struct wssh_listener *wssh_listen(struct wssh_session *s, const char *bind, uint16_t port,
                                  wssh_listen_cb done, wssh_accept_cb accept, void *arg);

/* Cancel (best effort) and free a listener. NULL is fine. */
void wssh_listener_free(struct wssh_listener *l);


/* Exec sessions: a "session" channel that runs one command on the gateway
 * (the remote pppd of ppp-ssh, the X program of x11). Implemented in
 * exec.c. The open, the pty-req, x11-req and exec requests all go through
 * the session's request queue (rule 5) and the one-half-sent-packet rule. */

enum wssh_stderr_mode {
	WSSH_STDERR_LOG = 0, /* each line logged through host->log at info */
	WSSH_STDERR_MERGE,   /* into the channel's stdout stream */
	WSSH_STDERR_FD,      /* to the fd given to wssh_channel_attach_stderr */
};

struct wssh_exec_opts {
	const char *command; /* run by the user's shell on the gateway */
	bool pty;            /* request a pty (raw modes) before exec */
	const char *term;    /* TERM for the pty; NULL: "dumb" */
	/* X11 forwarding: an x11-req before exec carrying a fake cookie. */
	bool x11;
	bool x11_single_connection;
	const char *x11_auth_proto;  /* "MIT-MAGIC-COOKIE-1" */
	const char *x11_auth_cookie; /* the fake cookie, hex */
	int x11_screen;
	enum wssh_stderr_mode stderr_mode;
	uint32_t window; /* 0: the default */
};

/* The command's end, when the server reported it: exit_status >= 0, or -1
 * with exit_signal ("TERM") set. Called before the channel's closed_cb. */
typedef void (*wssh_exit_cb)(struct wssh_channel *c, int exit_status, const char *exit_signal,
			     void *arg);

/* Queue an exec session; cb reports when the command runs (after exec was
 * accepted) or why not. Then wssh_channel_attach bridges the command's
 * stdin/stdout with an fd. */
struct wssh_channel *wssh_exec(struct wssh_session *s, const struct wssh_exec_opts *o,
			       wssh_open_cb cb, void *arg);
/* WSSH_STDERR_FD: bridge the command's stderr into fd (the layer owns it). */
int wssh_channel_attach_stderr(struct wssh_channel *c, int fd);
void wssh_channel_set_exit_cb(struct wssh_channel *c, wssh_exit_cb cb, void *arg);

/* Incoming X11 channels (after an x11-req): each arrives open; attach it
 * or close it. Implemented in x11.c. */
typedef void (*wssh_x11_cb)(struct wssh_session *s, struct wssh_channel *c,
			    const char *orig_host, int orig_port, void *arg);
void wssh_session_set_x11_handler(struct wssh_session *s, wssh_x11_cb cb, void *arg);

#endif /* WARREN_TRANSPORTS_SSH_H */
