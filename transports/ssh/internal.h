/*
 * internal.h: what the files of the SSH layer share; not for plugins.
 */
#ifndef WARREN_TRANSPORTS_SSH_INTERNAL_H
#define WARREN_TRANSPORTS_SSH_INTERNAL_H

#include <libssh2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh.h"

/* Size of one read from a local fd or from a channel: big reads keep the
 * per-packet overhead of libssh2 down (notes: 64-256 KiB reads). */
#define WSSH_IO_CHUNK (64u * 1024)

/* Outcome of one step of a libssh2 operation. */
enum wssh_rc {
	WSSH_DONE = 0,  /* finished, or made progress */
	WSSH_WAIT = 1,  /* would block on input; nothing half-sent */
	WSSH_BLOCK = 2, /* a packet is half-sent: repeat this very call first (rule 1) */
};

enum wssh_state {
	WSSH_S_IDLE = 0,
	WSSH_S_RESOLVING,
	WSSH_S_CONNECTING,
	WSSH_S_HANDSHAKE,
	WSSH_S_AUTH,
	WSSH_S_UP,
	WSSH_S_DEAD,
};

/* The call that left a half-sent packet (rule 1). */
enum wssh_op {
	WSSH_OP_NONE = 0,
	WSSH_OP_REQUEST, /* head of the request queue */
	WSSH_OP_ACCEPT,  /* forward_accept on a listener */
	WSSH_OP_CHANNEL, /* a step of a channel (read, write, eof or free) */
	WSSH_OP_CANCEL,  /* forward_cancel of a listener */
	WSSH_OP_READER,  /* the pure reader of the pump (session.c) */
};

enum wssh_req_kind {
	WSSH_REQ_OPEN = 1,
	WSSH_REQ_LISTEN,
	WSSH_REQ_PROBE,
	WSSH_REQ_EXEC, /* pty-req, x11-req, exec of an open session channel (exec.c) */
};

/* A queued request: one at a time per session, since libssh2 keeps the
 * state of a pending open (and of a pending tcpip-forward) in the session
 * (rule 5). Embedded in the channel, listener or session it belongs to. */
struct wssh_request {
	struct wssh_request *next;
	enum wssh_req_kind kind;
	bool queued;
	bool started; /* libssh2 holds state for it: it must be finished */
};

enum wssh_chan_state {
	WSSH_C_OPENING = 0, /* in the request queue */
	WSSH_C_OPEN,        /* open; bridged when fd >= 0, held otherwise */
	WSSH_C_CLOSING,     /* on its way out through channel_free (rule 7) */
};

struct wssh_channel {
	struct wssh_request req; /* the open request */
	struct wssh_session *s;
	struct wssh_channel *prev, *next; /* s->channels, once open */
	LIBSSH2_CHANNEL *ch;
	enum wssh_chan_state state;
	bool cancelled; /* closed by the plugin while its open was queued */

	char *type;
	uint32_t window;        /* the receive window the channel is opened with */
	uint32_t window_max;    /* what was asked for: the most it may grow to */
	uint32_t window_target; /* the window kept once open (channel.c) */
	uint32_t adjust;        /* a window adjust on its way: repeated as is */
	uint64_t open_start_us; /* the open was sent (CLOCK_MONOTONIC) */
	char *msg;
	size_t msglen;
	wssh_open_cb open_cb;
	void *open_arg;
	wssh_closed_cb closed_cb;
	void *closed_arg;

	int fd;
	struct warren_watch *watch;
	unsigned armed;  /* events the watch is armed for */
	bool readable;   /* the fd said readable and has not said EAGAIN since */
	bool local_eof;  /* read 0 from fd */
	bool eof_sent;   /* channel_send_eof done */
	bool remote_eof; /* the channel said EOF */
	bool shut_wr;    /* shutdown(fd, SHUT_WR) done */
	int pending;     /* enum pending_call in channel.c: the call to repeat */
	bool wake;       /* an fd event or an attach: the pump must step it */
	bool not_socket; /* fd is a pty or pipe: read/write, no half-close */
	bool lib_eof;    /* libssh2 holds the peer's EOF: wait_eof cannot read */
	bool lib_closed; /* ... and its CLOSE: wait_closed cannot read either */
	bool free_called; /* channel_free ran once (its own EOF went out then) */
	uint64_t open_deadline_us; /* direct-tcpip: the owner hears no by then */
	uint32_t window_extra; /* granted above window, from s->window_extra */
	struct wssh_exec *exec; /* exec sessions (exec.c); NULL otherwise */

	/* Bytes read from fd and not yet taken by the channel, and bytes read
	 * from the channel and not yet written to fd. Allocated only while
	 * non-empty, so an idle connection holds no buffers. */
	char *up;
	size_t up_off, up_len;
	char *down;
	size_t down_off, down_len;

	/* Incoming x11 channels (x11.c): waiting to be handed to the owner
	 * from the loop; the originator's address is kept in msg. */
	bool x11_pending;
	int x11_port;
};

enum wssh_listener_state {
	WSSH_L_REQUESTING = 0,
	WSSH_L_BOUND,
	WSSH_L_CANCELLING,
};

struct wssh_listener {
	struct wssh_request req;
	struct wssh_session *s;
	struct wssh_listener *prev, *next; /* s->listeners, once requested */
	LIBSSH2_LISTENER *l;
	enum wssh_listener_state state;
	bool cancelled;
	char *bind;
	uint16_t port;
	int bound_port;
	wssh_listen_cb done;
	wssh_accept_cb accept;
	void *arg;
};

struct wssh_session {
	const struct warren_host *host;
	struct warren_tunnel *t;
	const struct warren_gateway *gw;
	const struct wssh_session_cbs *cbs;
	void *arg;

	enum wssh_state state;
	int depth;   /* nesting of entries from the loop: frees wait for 0 */
	bool zombie; /* freed by the owner while depth > 0 */
	bool kick;   /* work was queued from inside the pump: run it again */

	/* connect */
	void *resolve_req;
	struct addrinfo *addrs, *next_addr;
	char peer[80]; /* "127.0.0.1:2222", "[::1]:2222" of the current attempt */
	char last_error[1536];
	int fd;
	struct warren_watch *watch;
	unsigned armed;
	struct warren_timer *timer; /* connect timeout, then handshake+auth timeout */

	LIBSSH2_SESSION *ssh;

	/* auth */
	int auth_step;
	char *methods;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *identity;
	size_t key_index;
	char *passphrase;
	bool passphrase_loaded;
	char tried[512]; /* "agent (2 keys), ~/.ssh/id_ed25519" */
	bool rsa_refused;
	/* A .ppk identity, converted in memory (ppk.c), held from its
	 * load until its try ends: libssh2 reads it again on each repeat of
	 * the call after EAGAIN. Wiped when dropped. */
	struct wssh_ppk *ppk;
	char ppk_error[1024]; /* why the first unusable .ppk was refused */

	/* liveness (rule 8): any byte received proves the peer alive; with
	 * no traffic a probe that the server must answer is queued */
	struct warren_timer *ka_timer;
	struct warren_timer *kick_timer; /* runs work queued outside the loop's callbacks */
	bool rx_seen;
	uint64_t rx_total; /* bytes received, for exec.c's look for a CLOSE */
	unsigned ka_missed;
	struct wssh_request probe;
	uint64_t min_rtt_us; /* shortest channel open round trip: 0 none yet */

	/* rule 1: the call to repeat before anything else */
	enum wssh_op blocked;
	void *blocked_obj;
	unsigned bad_use;
	bool bad_use_seen; /* the last call wssh_classify saw returned BAD_USE */
	bool want_write;   /* a step waits for a writable socket (send_eof) */
	bool sock_closed;  /* the recv callback saw the end of the stream */

	/* What the kernel did not take of small packets (session_send): sent
	 * before anything else, so libssh2 never holds a half-sent packet
	 * that lives on its own stack. */
	char *stash;
	size_t stash_len, stash_cap;

	/* Bytes of window granted above WINDOW_START, all channels together
	 * (channel.c, adjust_due): bounded by WINDOW_BUDGET there. */
	uint64_t window_extra;
	struct warren_timer *open_timer; /* direct-tcpip opens that wait too long */
	bool open_timer_armed;
	bool agent_timed_out; /* the agent did not answer in time: skip it */

	struct wssh_request *req_head, *req_tail;
	struct wssh_channel *channels;
	struct wssh_listener *listeners;
	char *scratch; /* WSSH_IO_CHUNK bytes for reads */

	/* x11.c: the owner's handler, and the timer that calls it from the
	 * loop for channels libssh2 announced from inside one of its calls */
	wssh_x11_cb x11_cb;
	void *x11_arg;
	struct warren_timer *x11_timer;
	unsigned x11_waiting;
};

/* session.c */
void wssh_enter(struct wssh_session *s);
void wssh_leave(struct wssh_session *s);
int wssh_classify(struct wssh_session *s, int rc);
void wssh_fail(struct wssh_session *s, const char *fmt, ...) WARREN_PRINTF(2, 3);
void wssh_pump(struct wssh_session *s);
void wssh_kick(struct wssh_session *s);
void wssh_request_queue(struct wssh_session *s, struct wssh_request *r);
void wssh_request_unqueue(struct wssh_session *s, struct wssh_request *r);
const char *wssh_last_error(struct wssh_session *s);
bool wssh_small_send_ok(struct wssh_session *s);

/* channel.c */
int wssh_request_step(struct wssh_session *s, struct wssh_request *r);
int wssh_channel_step(struct wssh_channel *c);
bool wssh_channel_ready(struct wssh_channel *c);
bool wssh_channel_wants_step(struct wssh_channel *c);
int wssh_listener_accept(struct wssh_listener *l);
int wssh_listener_cancel_step(struct wssh_listener *l);
void wssh_channel_destroy(struct wssh_channel *c);
void wssh_listener_destroy(struct wssh_listener *l);
void wssh_open_timeouts(struct wssh_session *s);

/* x11.c: set libssh2's X11 callback on a new LIBSSH2_SESSION when a
 * handler is set; free what the handler used */
void wssh_x11_register(struct wssh_session *s);
void wssh_x11_free(struct wssh_session *s);

/* exec.c */
int wssh_exec_request_step(struct wssh_session *s, struct wssh_request *r);
int wssh_exec_io(struct wssh_channel *c);
bool wssh_exec_ended(const struct wssh_channel *c);
bool wssh_exec_ready(const struct wssh_channel *c);
bool wssh_exec_closing(struct wssh_channel *c);
void wssh_exec_destroy(struct wssh_channel *c);

/* hostkey.c: 0 accepted, -1 refused (reason in s->last_error) */
int wssh_hostkey_prefs(struct wssh_session *s);
int wssh_hostkey_check(struct wssh_session *s);

/* keyfile.c */
int wssh_key_check_perms(const char *path, char *err, size_t errlen);
int wssh_passphrase_load(const char *path, char **out, char *err, size_t errlen);
bool wssh_key_is_rsa_file(const char *path);
bool wssh_key_is_rsa_blob(const unsigned char *blob, size_t len);
const char *wssh_tilde(const char *path, char *buf, size_t len);
void wssh_appendf(char *buf, size_t size, const char *fmt, ...) WARREN_PRINTF(3, 4);
/* snprintf for messages that may be cut: paths make their length unknown */
void wssh_setf(char *buf, size_t size, const char *fmt, ...) WARREN_PRINTF(3, 4);

/* ppk.c: PuTTY's .ppk key files, formats 2 and 3, when unencrypted: checked
 * (MAC, private half against public half) and converted in memory to an
 * unencrypted private key for libssh2_userauth_publickey_frommemory (OpenSSH
 * format for ed25519, PKCS#8 for ECDSA nistp256/384/521); RSA and the rest
 * are refused. */
enum wssh_ppk_rc {
	WSSH_PPK_OK = 0,
	WSSH_PPK_ENCRYPTED,   /* err holds the puttygen command that converts it */
	WSSH_PPK_RSA,         /* libssh2 1.10 has no rsa-sha2 */
	WSSH_PPK_UNSUPPORTED, /* another key type, or format 1 or > 3 */
	WSSH_PPK_CORRUPT,     /* malformed, truncated, bad MAC, halves do not match */
	WSSH_PPK_ERROR,       /* cannot read the file, out of memory */
};

struct wssh_ppk {
	char *alg; /* "ssh-ed25519", "ecdsa-sha2-nistp256"... */
	char *comment;
	unsigned char *pub; /* the public key blob, as in authorized_keys */
	size_t pub_len;
	char *pem; /* the private key in PEM armour, NUL-terminated */
	size_t pem_len;
	size_t pem_cap; /* what wssh_ppk_free wipes */
};

/* The file starts with "PuTTY-User-Key-File-" (the header decides, not the
 * name). */
bool wssh_ppk_detect(const char *path);
/* An enum wssh_ppk_rc; err says why when not WSSH_PPK_OK, k is filled when
 * it is. path names the key in messages. */
int wssh_ppk_load(const char *path, struct wssh_ppk *k, char *err, size_t errlen);
int wssh_ppk_parse(const char *text, size_t len, const char *path, struct wssh_ppk *k, char *err,
                   size_t errlen);
/* Wipes and frees what k holds; k may be reused after. */
void wssh_ppk_free(struct wssh_ppk *k);
/* The same, allocated for a session to hold; release wipes, frees and
 * clears *k (NULL is fine). */
int wssh_ppk_open(const char *path, struct wssh_ppk **k, char *err, size_t errlen);
void wssh_ppk_release(struct wssh_ppk **k);
/* A few words for the list of keys tried: "encrypted PuTTY key". */
const char *wssh_ppk_what(int rc);

#endif /* WARREN_TRANSPORTS_SSH_INTERNAL_H */
