/*
 * warren-plugin.h: the ABI between the warren core and a transport plugin.
 *
 * A transport is one shared object named after it (relay.so, ssh-forward.so)
 * that exports exactly one symbol, WARREN_PLUGIN_ENTRY_NAME. The core calls it
 * once after dlopen() with its host table and gets back a const ops table.
 * Before calling anything else the core checks ops->abi == WARREN_PLUGIN_ABI,
 * ops->size, and that the name is valid and unique; a plugin failing any check
 * is unloaded and the tunnels naming it fail with the file and the reason.
 *
 * Rules for plugins:
 *  - Never block. Every fd and timer goes through the host table; the core
 *    owns the event loop (one thread), child processes, signals and logging.
 *  - Never call exit(), never install signal handlers, never print: log
 *    through host->log, which prefixes the tunnel name.
 *  - Report the link's state through host->report_*; the core runs the state
 *    machine, the restart policy and the backoff.
 *
 * Growth is append-only: new members go at the end of a struct, and
 * the size fields let each side tell what the other knows.
 *
 * ABI history
 *   1  first version (warren 0.1).
 */
#ifndef WARREN_PLUGIN_H
#define WARREN_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WARREN_PLUGIN_ABI 1
#define WARREN_PLUGIN_ENTRY warren_transport_entry_v1
#define WARREN_PLUGIN_ENTRY_NAME "warren_transport_entry_v1"

#if defined(__GNUC__)
#define WARREN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define WARREN_EXPORT __attribute__((visibility("default")))
#else
#define WARREN_PRINTF(fmt, args)
#define WARREN_EXPORT
#endif

/* Opaque handles owned by the core. */
struct warren_tunnel;   /* one configured tunnel, as the plugin sees it */
struct warren_watch;    /* an fd registered with the event loop */
struct warren_timer;    /* a one-shot timer */
struct warren_json;     /* the status writer */
struct warren_diag;     /* where config errors go */
struct addrinfo;        /* <netdb.h> */

enum warren_log_level {
	WARREN_LOG_ERROR = 0,
	WARREN_LOG_WARN = 1,
	WARREN_LOG_INFO = 2,
	WARREN_LOG_DEBUG = 3,
};

/* Events for watch_new/watch_set; combine with |. */
#define WARREN_EV_READ 0x1u
#define WARREN_EV_WRITE 0x2u

/* One `key = value` line of a [tunnel] section that the core does not own. */
struct warren_kv {
	const char *key;
	const char *value; /* unquoted, ~ not expanded */
	int line;          /* line number in the config file */
};

enum warren_host_key_check {
	WARREN_HOSTKEY_STRICT = 0,
	WARREN_HOSTKEY_ACCEPT_NEW = 1,
	WARREN_HOSTKEY_OFF = 2,
};

enum warren_agent_mode {
	WARREN_AGENT_AUTO = 0,
	WARREN_AGENT_YES = 1,
	WARREN_AGENT_NO = 2,
};

/*
 * A [gateway] section, parsed and validated by the core (so `warren check`
 * validates gateways without loading a plugin). Paths have ~ expanded.
 * Strings are never NULL except where noted. Valid while the config that
 * produced it lives: a plugin copies what it keeps past config_free.
 */
struct warren_gateway {
	const char *name;
	const char *host;
	uint16_t port;              /* default 22 */
	const char *user;           /* default: the user running warren */
	const char *const *identities; /* NULL-terminated; may be empty */
	const char *passphrase_file;   /* NULL when unset */
	enum warren_agent_mode agent;
	const char *known_hosts;    /* default ~/.ssh/known_hosts */
	enum warren_host_key_check host_key_check;
	bool compression;
	uint64_t keepalive_ms;      /* 0 disables */
	unsigned keepalive_max;
	uint64_t connect_timeout_ms;
	const char *ciphers;        /* NULL when unset: library defaults */
	const char *macs;
	const char *kex;
	const char *host_key_types;
};

/* A forward spec in OpenSSH's -L/-R/-D syntax, or relay's listen/connect.
 * IPv6 addresses come without their brackets; a bind of `*` stays "*". */
struct warren_endpoint_spec {
	char bind[256];      /* bind address; "" when not given */
	uint16_t port;       /* listen port (0 allowed only where the caller says) */
	char host[256];      /* target host; "" for dynamic */
	uint16_t host_port;  /* target port */
};

enum warren_spec_kind {
	WARREN_SPEC_FORWARD = 0, /* [bind:]port:host:hostport (-L, -R) */
	WARREN_SPEC_LISTEN = 1,  /* [bind:]port (-D, relay listen) */
	WARREN_SPEC_CONNECT = 2, /* host:port (relay connect) */
};

/* Result of a name resolution; addrs is a getaddrinfo list (may be NULL). */
typedef void (*warren_resolve_cb)(int error, struct addrinfo *addrs, void *arg);
typedef void (*warren_fd_cb)(int fd, unsigned events, void *arg);
typedef void (*warren_timer_cb)(void *arg);
typedef void (*warren_child_cb)(pid_t pid, int wait_status, void *arg);

/*
 * What the core offers a plugin. Every function must be called from the
 * event loop's thread (the only thread). Handles created for a tunnel are
 * freed by the plugin; whatever is left when the tunnel is destroyed is freed
 * by the core, and children still running are sent SIGTERM then SIGKILL.
 *
 * Callbacks never run inside the call that set them up: a watch, timer
 * (even armed for 0 ms), resolution or child fires later, from the loop.
 * A handle may be freed from inside its own callback, and any handle of the
 * tunnel from inside any of its callbacks.
 */
struct warren_host {
	uint32_t abi;  /* WARREN_PLUGIN_ABI of the core */
	uint32_t size; /* sizeof(struct warren_host) of the core */

	/* Logging, prefixed with the tunnel name; t may be NULL. Never log secrets. */
	void (*log)(struct warren_tunnel *t, enum warren_log_level level, const char *fmt, ...)
		WARREN_PRINTF(3, 4);
	bool (*log_enabled)(enum warren_log_level level);

	/* The tunnel's name (valid for the tunnel's life). */
	const char *(*tunnel_name)(const struct warren_tunnel *t);

	/* Fds. events is WARREN_EV_READ|WARREN_EV_WRITE, level triggered;
	 * 0 keeps the watch but disarms it. The fd stays the plugin's to close
	 * (after watch_free). Returns NULL only on memory exhaustion. */
	struct warren_watch *(*watch_new)(struct warren_tunnel *t, int fd, unsigned events,
					  warren_fd_cb cb, void *arg);
	void (*watch_set)(struct warren_watch *w, unsigned events);
	void (*watch_free)(struct warren_watch *w); /* NULL is fine */

	/* One-shot timers. timer_arm re-arms (replacing a pending expiry).
	 * timer_new returns NULL only on memory exhaustion. */
	struct warren_timer *(*timer_new)(struct warren_tunnel *t, warren_timer_cb cb, void *arg);
	void (*timer_arm)(struct warren_timer *tm, uint64_t ms);
	void (*timer_cancel)(struct warren_timer *tm);
	void (*timer_free)(struct warren_timer *tm); /* NULL is fine */

	/* Asynchronous getaddrinfo (hints: AI_ADDRCONFIG, SOCK_STREAM, family
	 * unspecified; numeric addresses never reach a resolver). The callback
	 * runs later from the loop, never inside this call; error is 0 or a
	 * getaddrinfo EAI_* code (gai_strerror words it); the callback owns addrs
	 * and frees it with freeaddrinfo. Returns a request that resolve_cancel
	 * drops (the callback then never runs), or NULL when the request could
	 * not be started (error logged). */
	void *(*resolve)(struct warren_tunnel *t, const char *host, uint16_t port,
			 warren_resolve_cb cb, void *arg);
	void (*resolve_cancel)(void *request);

	/* Start a child process. argv[0] is the program (PATH not searched when it
	 * contains a '/'); stdin/stdout/stderr become the given fds (-1: /dev/null).
	 * All other fds are closed in the child. on_exit runs from the loop once
	 * the child is reaped. Returns the pid, or -1 with errno set. */
	pid_t (*spawn)(struct warren_tunnel *t, const char *const argv[], int stdin_fd,
		       int stdout_fd, int stderr_fd, warren_child_cb on_exit, void *arg);

	/* Link reports, allowed from any callback and from inside ops->start.
	 * The core turns them into the tunnel's state:
	 *  report_up:       the transport carries traffic (connecting/degraded -> up).
	 *  report_degraded: up, but part of it is not working (why is shown).
	 *  report_failure:  the link failed; the core calls ops->stop later, from
	 *                   the top of the loop (never inside this call), then
	 *                   retries by the restart policy. The first reason wins.
	 *  report_finished: the transport ended normally (a remote command exited 0).
	 *  report_stopped:  an asynchronous stop (ops->stop returned 1) finished. */
	void (*report_up)(struct warren_tunnel *t);
	void (*report_degraded)(struct warren_tunnel *t, const char *fmt, ...) WARREN_PRINTF(2, 3);
	void (*report_failure)(struct warren_tunnel *t, const char *fmt, ...) WARREN_PRINTF(2, 3);
	void (*report_finished)(struct warren_tunnel *t);
	void (*report_stopped)(struct warren_tunnel *t);

	/* Traffic counters of the tunnel: bytes_in arrived from the far side
	 * (toward local clients), bytes_out sent toward it. */
	void (*add_bytes)(struct warren_tunnel *t, uint64_t bytes_in, uint64_t bytes_out);

	/* Config helpers, the same syntax in every plugin. Each returns 0 or
	 * writes a one-line message into err (size errlen) and returns -1. */
	int (*parse_duration_ms)(const char *text, uint64_t *ms, char *err, size_t errlen);
	int (*parse_bool)(const char *text, bool *value, char *err, size_t errlen);
	int (*parse_endpoint)(const char *text, enum warren_spec_kind kind,
			      struct warren_endpoint_spec *spec, char *err, size_t errlen);
	bool (*is_loopback)(const char *address); /* 127/8, ::1, localhost */
	/* Report a config problem at a line of the file being checked. */
	void (*config_error)(struct warren_diag *diag, int line, const char *fmt, ...)
		WARREN_PRINTF(3, 4);

	/* Status writer: members of the current JSON object (key non-NULL) or
	 * elements of the current array (key NULL). Strings are escaped. */
	void (*json_string)(struct warren_json *j, const char *key, const char *value); /* NULL -> null */
	void (*json_int)(struct warren_json *j, const char *key, int64_t value);
	void (*json_bool)(struct warren_json *j, const char *key, bool value);
	void (*json_object_begin)(struct warren_json *j, const char *key);
	void (*json_object_end)(struct warren_json *j);
	void (*json_array_begin)(struct warren_json *j, const char *key);
	void (*json_array_end)(struct warren_json *j);
};

/* Return value of ops->stop when the stop completes later (report_stopped). */
#define WARREN_STOP_PENDING 1

/*
 * The table a transport hands the core. Lifecycle, mirrored:
 *
 *   config_parse -> create -> start -> (report_*) -> stop -> start ... -> stop
 *                -> destroy -> config_free
 *
 * stop leaves the instance restartable; destroy frees it. The core never
 * calls start twice without a stop between, and always stops before destroy.
 */
struct warren_transport_ops {
	uint32_t abi;            /* WARREN_PLUGIN_ABI the plugin was built for */
	uint32_t size;           /* sizeof(struct warren_transport_ops) */
	const char *name;        /* transport name, as in `transport =`; must match the file */
	const char *version;     /* plugin version string */
	const char *description; /* one line, for `warren plugins` */
	bool needs_gateway;      /* true: a tunnel must name a [gateway] */

	/* Validate the tunnel's own keys (everything but transport, gateway,
	 * autostart, restart, retry_min, retry_max) and build a config object.
	 * gw is NULL when the tunnel names none. Report each problem with
	 * host->config_error(diag, line, ...) and return -1; an unknown key is an
	 * error. Called for `warren check`, at start-up and on every reload. Must
	 * not touch the network or the filesystem beyond reading files (keys). */
	int (*config_parse)(struct warren_diag *diag, const char *tunnel_name, int section_line,
			    const struct warren_kv *keys, size_t nkeys,
			    const struct warren_gateway *gw, void **confp);
	void (*config_free)(void *conf);

	/* Make an instance for a parsed config (conf outlives the instance).
	 * Nothing is opened yet. Returns 0 and sets *statep, or a negative errno. */
	int (*create)(struct warren_tunnel *t, const void *conf, void **statep);

	/* Begin bringing the tunnel up: listeners, connections. Returns 0, or a
	 * negative errno for an immediate failure (the core then retries). Later
	 * outcomes go through host->report_*. */
	int (*start)(void *state);

	/* Close everything start opened. Return 0 when done, or WARREN_STOP_PENDING
	 * and call host->report_stopped later (the core bounds the wait and then
	 * destroys the instance regardless). */
	int (*stop)(void *state);

	/* Free the instance. Called once, after stop. */
	void (*destroy)(void *state);

	/* Write the transport's `details` members into the open JSON object. May
	 * be NULL. Called in any state, including down. */
	void (*status)(void *state, struct warren_json *j);
};

/* The one symbol a plugin exports. It keeps host for later calls. Return NULL
 * to refuse to load (log why through host->log first). */
typedef const struct warren_transport_ops *(*warren_entry_fn)(const struct warren_host *host);
WARREN_EXPORT const struct warren_transport_ops *WARREN_PLUGIN_ENTRY(const struct warren_host *host);

#ifdef __cplusplus
}
#endif
#endif /* WARREN_PLUGIN_H */
