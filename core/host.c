/* host.c: the host table behind warren-plugin.h, on one libevent base. */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "tunnel.h"
#include "util.h"

static struct event_base *base;

/* ---- watches ---- */

static void watch_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct warren_watch *w = arg;
	unsigned events = 0;

	if (what & EV_READ)
		events |= WARREN_EV_READ;
	if (what & EV_WRITE)
		events |= WARREN_EV_WRITE;
	w->cb((int)fd, events, w->arg);
}

static void host_watch_set(struct warren_watch *w, unsigned events)
{
	if ((events & WARREN_EV_READ) && !(w->events & WARREN_EV_READ))
		event_add(w->read_ev, NULL);
	else if (!(events & WARREN_EV_READ) && (w->events & WARREN_EV_READ))
		event_del(w->read_ev);
	if ((events & WARREN_EV_WRITE) && !(w->events & WARREN_EV_WRITE))
		event_add(w->write_ev, NULL);
	else if (!(events & WARREN_EV_WRITE) && (w->events & WARREN_EV_WRITE))
		event_del(w->write_ev);
	w->events = events;
}

static struct warren_watch *host_watch_new(struct warren_tunnel *t, int fd, unsigned events,
					   warren_fd_cb cb, void *arg)
{
	struct warren_watch *w = wr_xcalloc(1, sizeof(*w));

	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	w->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, watch_dispatch, w);
	w->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, watch_dispatch, w);
	if (!w->read_ev || !w->write_ev) {
		if (w->read_ev)
			event_free(w->read_ev);
		if (w->write_ev)
			event_free(w->write_ev);
		free(w);
		return NULL;
	}
	w->owner = t;
	if (t)
		LIST_INSERT_HEAD(&wr_tunnel_resources(t)->watches, w, link);
	host_watch_set(w, events);
	return w;
}

static void host_watch_free(struct warren_watch *w)
{
	if (!w)
		return;
	if (w->owner)
		LIST_REMOVE(w, link);
	event_free(w->read_ev);
	event_free(w->write_ev);
	free(w);
}

/* ---- timers ---- */

static void timer_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct warren_timer *tm = arg;

	tm->cb(tm->arg);
}

static struct warren_timer *host_timer_new(struct warren_tunnel *t, warren_timer_cb cb, void *arg)
{
	struct warren_timer *tm = wr_xcalloc(1, sizeof(*tm));

	tm->cb = cb;
	tm->arg = arg;
	tm->ev = evtimer_new(base, timer_dispatch, tm);
	if (!tm->ev) {
		free(tm);
		return NULL;
	}
	tm->owner = t;
	if (t)
		LIST_INSERT_HEAD(&wr_tunnel_resources(t)->timers, tm, link);
	return tm;
}

static void host_timer_arm(struct warren_timer *tm, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(tm->ev, &tv);
}

static void host_timer_cancel(struct warren_timer *tm)
{
	evtimer_del(tm->ev);
}

static void host_timer_free(struct warren_timer *tm)
{
	if (!tm)
		return;
	if (tm->owner)
		LIST_REMOVE(tm, link);
	event_free(tm->ev);
	free(tm);
}

/* ---- name resolution ----
 * getaddrinfo_a runs glibc's resolver (nsswitch, /etc/hosts, gai.conf: what
 * users expect from OpenSSH) off the loop; its completion thread only writes
 * the request's address into a pipe that the loop reads. */

struct wr_resolve {
	struct gaicb req;
	struct addrinfo hints;
	struct sigevent sev;
	char host[256];
	char port[8];
	warren_resolve_cb cb;
	void *arg;
	struct warren_tunnel *owner;
	/* A numeric address needs no resolver thread: its result is made at
	 * once and handed over from the loop through this event. */
	struct event *numeric_ev;
	struct addrinfo *numeric_result;
	bool cancelled;
	bool linked;
	LIST_ENTRY(wr_resolve) link;
};

static int resolve_pipe[2] = {-1, -1};
static struct event *resolve_ev;
static unsigned resolves_in_flight;

static void resolve_notify(union sigval sv)
{
	void *p = sv.sival_ptr;
	ssize_t n;

	do
		n = write(resolve_pipe[1], &p, sizeof(p));
	while (n < 0 && errno == EINTR);
}

static void resolve_unlink(struct wr_resolve *r)
{
	if (r->linked) {
		LIST_REMOVE(r, link);
		r->linked = false;
	}
}

static void resolve_complete(evutil_socket_t fd, short what, void *arg)
{
	struct wr_resolve *r;

	while (read(resolve_pipe[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		int error = gai_error(&r->req);
		struct addrinfo *result = error == 0 ? r->req.ar_result : NULL;

		resolves_in_flight--;
		if (r->cancelled) {
			if (result)
				freeaddrinfo(result);
		} else {
			resolve_unlink(r);
			r->cb(error, result, r->arg);
		}
		free(r);
	}
}

static void resolve_numeric_done(evutil_socket_t fd, short what, void *arg)
{
	struct wr_resolve *r = arg;

	resolve_unlink(r);
	event_free(r->numeric_ev);
	r->cb(0, r->numeric_result, r->arg);
	free(r);
}

static void *host_resolve(struct warren_tunnel *t, const char *host, uint16_t port,
			  warren_resolve_cb cb, void *arg)
{
	struct wr_resolve *r = wr_xcalloc(1, sizeof(*r));
	struct gaicb *list[1] = {&r->req};
	int rc;

	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->port, sizeof(r->port), "%u", port);
	r->hints.ai_family = AF_UNSPEC;
	r->hints.ai_socktype = SOCK_STREAM;
	r->req.ar_name = r->host;
	r->req.ar_service = r->port;
	r->req.ar_request = &r->hints;
	r->sev.sigev_notify = SIGEV_THREAD;
	r->sev.sigev_notify_function = resolve_notify;
	r->sev.sigev_value.sival_ptr = r;
	r->cb = cb;
	r->arg = arg;
	/* A numeric address (what most forwards name) never blocks. */
	r->hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(r->host, r->port, &r->hints, &r->numeric_result) == 0) {
		r->numeric_ev = event_new(base, -1, 0, resolve_numeric_done, r);
		if (!r->numeric_ev) {
			freeaddrinfo(r->numeric_result);
			free(r);
			return NULL;
		}
		event_active(r->numeric_ev, EV_TIMEOUT, 0);
		goto started;
	}
	r->hints.ai_flags = AI_ADDRCONFIG;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &r->sev);
	if (rc != 0) {
		wr_log(WARREN_LOG_ERROR, t ? wr_tunnel_name(t) : NULL,
		       "cannot start resolving %s: %s", host, gai_strerror(rc));
		free(r);
		return NULL;
	}
	resolves_in_flight++;
started:
	r->owner = t;
	if (t) {
		LIST_INSERT_HEAD(&wr_tunnel_resources(t)->resolves, r, link);
		r->linked = true;
	}
	return r;
}

static void host_resolve_cancel(void *request)
{
	struct wr_resolve *r = request;

	/* The lookup thread still owns the request; it is freed when its
	 * completion arrives, and the callback is not run. */
	if (!r)
		return;
	resolve_unlink(r);
	if (r->numeric_ev) {
		event_free(r->numeric_ev);
		freeaddrinfo(r->numeric_result);
		free(r);
		return;
	}
	r->cancelled = true;
}

/* ---- children ---- */

struct wr_child {
	pid_t pid;
	struct warren_tunnel *owner;
	warren_child_cb on_exit;
	void *arg;
	struct event *kill_timer;
	LIST_ENTRY(wr_child) link;
};

static LIST_HEAD(, wr_child) children = LIST_HEAD_INITIALIZER(children);
static struct event *sigchld_ev;

static void child_free(struct wr_child *c)
{
	LIST_REMOVE(c, link);
	if (c->kill_timer)
		event_free(c->kill_timer);
	free(c);
}

static void reap_children(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct wr_child *c;

		LIST_FOREACH(c, &children, link)
			if (c->pid == pid)
				break;
		if (!c)
			continue;
		warren_child_cb cb = c->on_exit;
		void *cb_arg = c->arg;

		child_free(c);
		if (cb)
			cb(pid, status, cb_arg);
	}
}

/* Move fd above the standard ones so that dup2 onto 0-2 cannot clobber it. */
static int lift_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD, 3);
}

static pid_t host_spawn(struct warren_tunnel *t, const char *const argv[], int stdin_fd,
			int stdout_fd, int stderr_fd, warren_child_cb on_exit, void *arg)
{
	int report[2];
	int child_errno = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(report, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		int saved = errno;

		close(report[0]);
		close(report[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls from here on. */
		int src[3] = {lift_fd(stdin_fd), lift_fd(stdout_fd), lift_fd(stderr_fd)};
		sigset_t none;
		int err;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		/* Its own session: a Ctrl-C at warren's terminal must not hit
		 * children behind the core's back; the core stops them in order. */
		setsid();
		for (int i = 0; i < 3; i++) {
			int fd = src[i] >= 0 ? src[i] : open("/dev/null", O_RDWR);

			if (fd < 0 || dup2(fd, i) < 0)
				goto fail;
		}
		/* Nothing of the daemon's leaks into the child; report[1] is
		 * close-on-exec and tells the parent whether exec worked. */
		if (report[1] > 3)
			close_range(3, (unsigned)report[1] - 1, 0);
		close_range((unsigned)report[1] + 1, ~0u, 0);
		if (strchr(argv[0], '/'))
			execv(argv[0], (char *const *)argv);
		else
			execvp(argv[0], (char *const *)argv);
	fail:
		err = errno;
		n = write(report[1], &err, sizeof(err));
		(void)n;
		_exit(127);
	}
	close(report[1]);
	do
		n = read(report[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		/* exec failed: reap the child now, it has exited with 127. */
		waitpid(pid, NULL, 0);
		errno = child_errno;
		return -1;
	}
	struct wr_child *c = wr_xcalloc(1, sizeof(*c));

	c->pid = pid;
	c->owner = t;
	c->on_exit = on_exit;
	c->arg = arg;
	LIST_INSERT_HEAD(&children, c, link);
	return pid;
}

static void child_kill_now(evutil_socket_t fd, short what, void *arg)
{
	struct wr_child *c = arg;

	wr_log(WARREN_LOG_WARN, NULL, "child %d did not exit after SIGTERM: sending SIGKILL",
	       (int)c->pid);
	kill(-c->pid, SIGKILL);
}

void wr_host_children_terminate(struct warren_tunnel *owner, unsigned grace_ms)
{
	struct wr_child *c;
	struct timeval tv = {.tv_sec = grace_ms / 1000, .tv_usec = (grace_ms % 1000) * 1000};

	LIST_FOREACH(c, &children, link) {
		if (owner && c->owner != owner)
			continue;
		c->on_exit = NULL;
		c->owner = NULL;
		if (c->kill_timer)
			continue;
		kill(-c->pid, SIGTERM);
		c->kill_timer = evtimer_new(base, child_kill_now, c);
		if (c->kill_timer)
			evtimer_add(c->kill_timer, &tv);
	}
}

unsigned wr_host_children_alive(void)
{
	unsigned n = 0;
	struct wr_child *c;

	LIST_FOREACH(c, &children, link)
		n++;
	return n;
}

/* ---- reports, logging, config helpers ---- */

static void host_log(struct warren_tunnel *t, enum warren_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wr_vlog(level, t ? wr_tunnel_name(t) : NULL, fmt, ap);
	va_end(ap);
}

static const char *host_tunnel_name(const struct warren_tunnel *t)
{
	return wr_tunnel_name(t);
}

static void host_report_degraded(struct warren_tunnel *t, const char *fmt, ...)
{
	va_list ap;
	char *reason;

	va_start(ap, fmt);
	reason = wr_xvasprintf(fmt, ap);
	va_end(ap);
	wr_tunnel_report_degraded(t, reason);
	free(reason);
}

static void host_report_failure(struct warren_tunnel *t, const char *fmt, ...)
{
	va_list ap;
	char *reason;

	va_start(ap, fmt);
	reason = wr_xvasprintf(fmt, ap);
	va_end(ap);
	wr_tunnel_report_failure(t, reason);
	free(reason);
}

static void host_config_error(struct warren_diag *diag, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wr_diag_vadd(diag, line, fmt, ap);
	va_end(ap);
}

static const struct warren_host host_table = {
	.abi = WARREN_PLUGIN_ABI,
	.size = sizeof(struct warren_host),
	.log = host_log,
	.log_enabled = wr_log_enabled,
	.tunnel_name = host_tunnel_name,
	.watch_new = host_watch_new,
	.watch_set = host_watch_set,
	.watch_free = host_watch_free,
	.timer_new = host_timer_new,
	.timer_arm = host_timer_arm,
	.timer_cancel = host_timer_cancel,
	.timer_free = host_timer_free,
	.resolve = host_resolve,
	.resolve_cancel = host_resolve_cancel,
	.spawn = host_spawn,
	.report_up = wr_tunnel_report_up,
	.report_degraded = host_report_degraded,
	.report_failure = host_report_failure,
	.report_finished = wr_tunnel_report_finished,
	.report_stopped = wr_tunnel_report_stopped,
	.add_bytes = wr_tunnel_add_bytes,
	.parse_duration_ms = wr_parse_duration_ms,
	.parse_bool = wr_parse_bool,
	.parse_endpoint = wr_parse_endpoint,
	.is_loopback = wr_is_loopback,
	.config_error = host_config_error,
	.json_string = wr_json_string,
	.json_int = wr_json_int,
	.json_bool = wr_json_bool,
	.json_object_begin = wr_json_object_begin,
	.json_object_end = wr_json_object_end,
	.json_array_begin = wr_json_array_begin,
	.json_array_end = wr_json_array_end,
};

const struct warren_host *wr_host_table(void)
{
	return &host_table;
}

struct event_base *wr_host_base(void)
{
	return base;
}

int wr_host_init(void)
{
	base = event_base_new();
	if (!base)
		return -1;
	if (pipe2(resolve_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	resolve_ev = event_new(base, resolve_pipe[0], EV_READ | EV_PERSIST, resolve_complete, NULL);
	sigchld_ev = evsignal_new(base, SIGCHLD, reap_children, NULL);
	if (!resolve_ev || !sigchld_ev)
		return -1;
	event_add(resolve_ev, NULL);
	event_add(sigchld_ev, NULL);
	return 0;
}

void wr_host_shutdown(void)
{
	while (!LIST_EMPTY(&children)) {
		struct wr_child *c = LIST_FIRST(&children);

		kill(-c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		child_free(c);
	}
	/* Lookups still running belong to glibc's threads: wait them out
	 * (bounded by the resolver's own timeouts) so nothing is lost. */
	for (int i = 0; i < 100 && resolves_in_flight > 0; i++) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	if (resolve_ev)
		event_free(resolve_ev);
	if (sigchld_ev)
		event_free(sigchld_ev);
	if (resolve_pipe[0] >= 0) {
		close(resolve_pipe[0]);
		close(resolve_pipe[1]);
	}
	event_base_free(base);
	base = NULL;
}

void wr_host_resources_init(struct wr_host_resources *r)
{
	LIST_INIT(&r->watches);
	LIST_INIT(&r->timers);
	LIST_INIT(&r->resolves);
}

unsigned wr_host_resources_release(struct wr_host_resources *r)
{
	unsigned n = 0;

	while (!LIST_EMPTY(&r->watches)) {
		host_watch_free(LIST_FIRST(&r->watches));
		n++;
	}
	while (!LIST_EMPTY(&r->timers)) {
		host_timer_free(LIST_FIRST(&r->timers));
		n++;
	}
	while (!LIST_EMPTY(&r->resolves)) {
		host_resolve_cancel(LIST_FIRST(&r->resolves));
		n++;
	}
	return n;
}
