/* notify.c: systemd's notification protocol, without libsystemd (notify.h). */
#include "notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tunnel.h"
#include "util.h"

/* STATUS= follows state changes, but a tunnel flapping every few
 * milliseconds must not flood the manager: at most one update a second,
 * the last one always sent. */
#define STATUS_MIN_INTERVAL_MS 1000
#define NSTATES                (WR_STATE_FAILED + 1)

static struct {
	int fd;
	struct sockaddr_un addr;
	socklen_t addrlen;
	bool enabled;
	struct event_base *base;
	struct event *watchdog_ev;

	bool startup_done;
	bool ready_sent;
	bool reloading;
	bool stopping;
	char **first_try; /* names of start-up tunnels still connecting */
	size_t nfirst_try;
	struct event *ready_ev;

	char status[256]; /* the last STATUS= sent */
	uint64_t status_ms;
	struct event *status_ev;
} notify = {.fd = -1};

/* $NOTIFY_SOCKET: "/path" or "@abstract". Other forms (vsock:...) are not
 * for a daemon on the host. */
static int parse_address(const char *text)
{
	size_t len = strlen(text);

	if ((text[0] != '/' && text[0] != '@') || len < 2 || len > sizeof(notify.addr.sun_path))
		return -1;
	if (text[0] == '/' && len == sizeof(notify.addr.sun_path))
		return -1; /* no room for the NUL a path needs */
	memset(&notify.addr, 0, sizeof(notify.addr));
	notify.addr.sun_family = AF_UNIX;
	memcpy(notify.addr.sun_path, text, len);
	if (text[0] == '@') {
		/* An abstract name is counted, not terminated. */
		notify.addr.sun_path[0] = '\0';
		notify.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		notify.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	return 0;
}

static void watchdog_fired(evutil_socket_t fd, short what, void *arg)
{
	wr_notify_send("WATCHDOG=1");
}

/* $WATCHDOG_USEC, when it is meant for this process ($WATCHDOG_PID). */
static uint64_t watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long value;
	char *end;

	if (!usec || !*usec)
		return 0;
	if (pid && *pid && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	errno = 0;
	value = strtoull(usec, &end, 10);
	if (errno || *end || value == 0) {
		wr_log(WARREN_LOG_WARN, NULL,
		       "ignoring WATCHDOG_USEC='%s': not a number of "
		       "microseconds",
		       usec);
		return 0;
	}
	return value;
}

int wr_notify_init(struct event_base *base)
{
	const char *socket_env = getenv("NOTIFY_SOCKET");
	uint64_t usec = watchdog_usec();
	int ret = 0;

	wr_notify_close();
	notify.base = base;
	if (!socket_env || !*socket_env)
		goto out;
	if (parse_address(socket_env) < 0) {
		wr_log(WARREN_LOG_WARN, NULL,
		       "NOTIFY_SOCKET='%s' is not a Unix socket path or @abstract name: "
		       "running without service manager notifications",
		       socket_env);
		ret = -1;
		goto out;
	}
	notify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (notify.fd < 0) {
		wr_log(WARREN_LOG_WARN, NULL, "cannot notify the service manager: socket: %s",
		       strerror(errno));
		ret = -1;
		goto out;
	}
	notify.enabled = true;
	if (usec && base) {
		/* Half the interval, as sd_watchdog_enabled(3) advises: one late
		 * loop turn must not cost a restart. */
		struct timeval tv = {.tv_sec = (time_t)(usec / 2 / 1000000),
		                     .tv_usec = (suseconds_t)(usec / 2 % 1000000)};

		notify.watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_fired, NULL);
		if (notify.watchdog_ev)
			event_add(notify.watchdog_ev, &tv);
		wr_log(WARREN_LOG_DEBUG, NULL, "watchdog: WATCHDOG=1 every %llu ms",
		       (unsigned long long)(usec / 2000));
	}
out:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return ret;
}

static void free_first_try(void)
{
	for (size_t i = 0; i < notify.nfirst_try; i++)
		free(notify.first_try[i]);
	free(notify.first_try);
	notify.first_try = NULL;
	notify.nfirst_try = 0;
}

void wr_notify_close(void)
{
	struct event **events[] = {&notify.watchdog_ev, &notify.ready_ev, &notify.status_ev};

	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (*events[i])
			event_free(*events[i]);
		*events[i] = NULL;
	}
	if (notify.fd >= 0)
		close(notify.fd);
	free_first_try();
	memset(&notify, 0, sizeof(notify));
	notify.fd = -1;
}

int wr_notify_send(const char *message)
{
	ssize_t n;

	if (!notify.enabled)
		return 0;
	do {
		n = sendto(notify.fd, message, strlen(message), MSG_NOSIGNAL,
		           (struct sockaddr *)&notify.addr, notify.addrlen);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = errno;

		wr_log(WARREN_LOG_DEBUG, NULL, "cannot notify the service manager: %s",
		       strerror(err));
		return -err;
	}
	return 0;
}

void wr_notify_format_summary(const unsigned *counts, size_t nstates, char *buf, size_t len)
{
	/* The states people look for first come first. */
	static const enum wr_state order[] = {
	    WR_STATE_UP,     WR_STATE_DEGRADED, WR_STATE_CONNECTING, WR_STATE_RETRYING,
	    WR_STATE_FAILED, WR_STATE_STOPPING, WR_STATE_DOWN,
	};
	unsigned total = 0;
	size_t used;

	for (size_t i = 0; i < nstates; i++)
		total += counts[i];
	if (total == 0) {
		snprintf(buf, len, "no tunnels");
		return;
	}
	snprintf(buf, len, "%u tunnel%s:", total, total == 1 ? "" : "s");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((size_t)order[i] >= nstates || counts[order[i]] == 0)
			continue;
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s %u %s", buf[used - 1] == ':' ? "" : ",",
		         counts[order[i]], wr_state_name(order[i]));
	}
}

static void current_summary(char *buf, size_t len)
{
	unsigned counts[NSTATES] = {0};

	for (struct warren_tunnel *t = wr_tunnels_first(); t; t = wr_tunnels_next(t))
		counts[wr_tunnel_state(t)]++;
	wr_notify_format_summary(counts, NSTATES, buf, len);
}

/* Send STATUS= when it changed; extra lines (READY=1) go in the same
 * datagram so the manager never shows a stale status beside them. */
static void send_status(const char *extra)
{
	char summary[sizeof(notify.status)];
	char *message;

	current_summary(summary, sizeof(summary));
	if (!extra && strcmp(summary, notify.status) == 0)
		return;
	message = wr_xasprintf("%s%sSTATUS=%s", extra ? extra : "", extra ? "\n" : "", summary);
	wr_notify_send(message);
	free(message);
	snprintf(notify.status, sizeof(notify.status), "%s", summary);
	notify.status_ms = wr_now_ms();
}

static void status_fired(evutil_socket_t fd, short what, void *arg)
{
	if (!notify.stopping)
		send_status(NULL);
}

static void update_status(void)
{
	uint64_t now = wr_now_ms();
	uint64_t wait_ms;
	struct timeval tv;

	if (notify.status_ms == 0 || now - notify.status_ms >= STATUS_MIN_INTERVAL_MS) {
		send_status(NULL);
		return;
	}
	if (!notify.base || (notify.status_ev && evtimer_pending(notify.status_ev, NULL)))
		return;
	if (!notify.status_ev)
		notify.status_ev = evtimer_new(notify.base, status_fired, NULL);
	if (!notify.status_ev)
		return;
	wait_ms = STATUS_MIN_INTERVAL_MS - (now - notify.status_ms);
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
	evtimer_add(notify.status_ev, &tv);
}

static void send_ready(void)
{
	if (notify.ready_sent)
		return;
	notify.ready_sent = true;
	free_first_try();
	if (notify.ready_ev)
		evtimer_del(notify.ready_ev);
	send_status("READY=1");
}

/* Drop the start-up tunnels whose first try is over (they left
 * `connecting`, or a reload removed them); ready when none is left. */
static void check_ready(void)
{
	size_t kept = 0;

	if (notify.ready_sent || !notify.startup_done)
		return;
	for (size_t i = 0; i < notify.nfirst_try; i++) {
		struct warren_tunnel *t = wr_tunnels_find(notify.first_try[i]);

		if (t && wr_tunnel_state(t) == WR_STATE_CONNECTING)
			notify.first_try[kept++] = notify.first_try[i];
		else
			free(notify.first_try[i]);
	}
	notify.nfirst_try = kept;
	if (kept == 0)
		send_ready();
}

static void ready_timed_out(evutil_socket_t fd, short what, void *arg)
{
	if (notify.ready_sent)
		return;
	wr_log(WARREN_LOG_INFO, NULL,
	       "telling the service manager we are ready while %zu tunnel(s) are still on their "
	       "first try (%s%s)",
	       notify.nfirst_try, notify.first_try[0], notify.nfirst_try > 1 ? ", ..." : "");
	send_ready();
}

void wr_notify_startup_done(uint64_t bound_ms)
{
	struct timeval tv = {.tv_sec = (time_t)(bound_ms / 1000),
	                     .tv_usec = (suseconds_t)(bound_ms % 1000) * 1000};

	if (!notify.enabled)
		return;
	notify.startup_done = true;
	for (struct warren_tunnel *t = wr_tunnels_first(); t; t = wr_tunnels_next(t)) {
		if (wr_tunnel_state(t) != WR_STATE_CONNECTING)
			continue;
		notify.first_try =
		    wr_xrealloc(notify.first_try, (notify.nfirst_try + 1) * sizeof(char *));
		notify.first_try[notify.nfirst_try++] = wr_xstrdup(wr_tunnel_name(t));
	}
	if (notify.nfirst_try > 0 && notify.base) {
		notify.ready_ev = evtimer_new(notify.base, ready_timed_out, NULL);
		if (notify.ready_ev)
			evtimer_add(notify.ready_ev, &tv);
	}
	check_ready();
}

void wr_notify_tunnels_changed(void)
{
	if (!notify.enabled || notify.stopping)
		return;
	check_ready();
	/* Before READY=1, and while reloading, the status goes out with the
	 * READY=1 that ends the wait. */
	if (notify.ready_sent && !notify.reloading)
		update_status();
}

void wr_notify_reloading(void)
{
	struct timespec now;
	char message[64];

	/* A reload during start-up is part of start-up: the manager is
	 * still waiting for the first READY=1. */
	if (!notify.enabled || !notify.ready_sent)
		return;
	/* MONOTONIC_USEC lets systemd (253 and later) tell this reload from
	 * an earlier one. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(message, sizeof(message), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)now.tv_sec * 1000000ULL +
	             (unsigned long long)now.tv_nsec / 1000ULL);
	wr_notify_send(message);
	notify.reloading = true;
}

void wr_notify_reloaded(void)
{
	if (!notify.enabled || !notify.reloading)
		return;
	notify.reloading = false;
	send_status("READY=1");
}

void wr_notify_stopping(void)
{
	if (!notify.enabled || notify.stopping)
		return;
	notify.stopping = true;
	wr_notify_send("STOPPING=1\nSTATUS=stopping every tunnel");
}
