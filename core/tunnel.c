/* tunnel.c: the tunnel state machine, restart policy and backoff. */
#include "tunnel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backoff.h"
#include "log.h"
#include "plugin_loader.h"
#include "util.h"

/* How long an asynchronous stop may take before the core destroys the
 * instance anyway. */
#define STOP_TIMEOUT_MS 5000
/* A link that stayed up this long earns a fresh backoff schedule. */
#define BACKOFF_RESET_AFTER_MS 30000
/* Children get this long between SIGTERM and SIGKILL. */
#define CHILD_GRACE_MS 3000

/* What to do once the plugin has stopped. */
enum after_stop {
	AFTER_STOP_DOWN,    /* warren down / restart: down, then up again if wanted */
	AFTER_STOP_RETRY,   /* failure with a restart policy that retries */
	AFTER_STOP_FAILED,  /* failure, restart = never */
	AFTER_STOP_DESTROY, /* removed or replaced */
};

struct warren_tunnel {
	struct wr_config_ref *cref;
	const struct wr_tunnel_conf *conf;
	const struct wr_plugin *plugin;
	char *unavailable;
	void *plugin_conf;
	void *instance;

	enum wr_state state;
	time_t since;
	unsigned restarts;
	char *last_error;
	uint64_t bytes_in;
	uint64_t bytes_out;

	unsigned attempt;     /* retries since the last long-enough up */
	uint64_t up_at_ms;    /* monotonic time it last went up; 0 when not up */
	bool want_up;         /* the operator's intent */
	bool started;         /* ops->start called, stop not finished */
	bool stop_pending;    /* ops->stop returned WARREN_STOP_PENDING */
	bool destroying;      /* left the list; freed once stopped */
	enum after_stop after_stop;

	/* Deferred reports, handled at the top of the loop. */
	bool pending_failure;
	bool pending_finished;
	bool pending_stopped;
	char *pending_reason;
	struct event *deferred_ev;
	struct event *retry_ev;
	struct event *stop_timeout_ev;

	struct wr_host_resources resources;
	TAILQ_ENTRY(warren_tunnel) link;
};

static TAILQ_HEAD(, warren_tunnel) tunnels = TAILQ_HEAD_INITIALIZER(tunnels);
static unsigned tunnels_alive;
static wr_tunnel_observer observer;

static const char *const state_names[] = {
	[WR_STATE_DOWN] = "down",	  [WR_STATE_CONNECTING] = "connecting",
	[WR_STATE_UP] = "up",		  [WR_STATE_DEGRADED] = "degraded",
	[WR_STATE_RETRYING] = "retrying", [WR_STATE_STOPPING] = "stopping",
	[WR_STATE_FAILED] = "failed",
};

const char *wr_state_name(enum wr_state state)
{
	return state_names[state];
}

struct wr_config_ref *wr_config_ref_new(struct wr_config *cfg)
{
	struct wr_config_ref *ref = wr_xcalloc(1, sizeof(*ref));

	ref->cfg = cfg;
	ref->refs = 1;
	return ref;
}

struct wr_config_ref *wr_config_ref_get(struct wr_config_ref *ref)
{
	ref->refs++;
	return ref;
}

void wr_config_ref_put(struct wr_config_ref *ref)
{
	if (!ref || --ref->refs > 0)
		return;
	wr_config_free(ref->cfg);
	free(ref);
}

void wr_tunnels_set_observer(wr_tunnel_observer fn)
{
	observer = fn;
}

static void notify_observer(void)
{
	if (observer)
		observer();
}

static void set_last_error(struct warren_tunnel *t, const char *reason)
{
	free(t->last_error);
	t->last_error = reason ? wr_xstrdup(reason) : NULL;
}

static void set_state(struct warren_tunnel *t, enum wr_state state)
{
	if (t->state == state)
		return;
	wr_log(state == WR_STATE_FAILED ? WARREN_LOG_WARN : WARREN_LOG_INFO, t->conf->name,
	       "%s -> %s%s%s", state_names[t->state], state_names[state],
	       t->last_error && (state == WR_STATE_DEGRADED || state == WR_STATE_FAILED) ? ": "
										   : "",
	       t->last_error && (state == WR_STATE_DEGRADED || state == WR_STATE_FAILED)
		       ? t->last_error
		       : "");
	t->state = state;
	t->since = time(NULL);
	if (state == WR_STATE_UP || state == WR_STATE_DEGRADED) {
		if (!t->up_at_ms)
			t->up_at_ms = wr_now_ms();
	} else {
		t->up_at_ms = 0;
	}
	notify_observer();
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

static void destroy_instance(struct warren_tunnel *t)
{
	unsigned leftovers;

	if (t->instance) {
		t->plugin->ops->destroy(t->instance);
		t->instance = NULL;
	}
	leftovers = wr_host_resources_release(&t->resources);
	if (leftovers)
		wr_log(WARREN_LOG_DEBUG, t->conf->name, "freed %u handles the transport left open",
		       leftovers);
	wr_host_children_terminate(t, CHILD_GRACE_MS);
}

static void free_tunnel(struct warren_tunnel *t)
{
	destroy_instance(t);
	if (t->plugin_conf)
		t->plugin->ops->config_free(t->plugin_conf);
	event_free(t->deferred_ev);
	event_free(t->retry_ev);
	event_free(t->stop_timeout_ev);
	free(t->unavailable);
	free(t->last_error);
	free(t->pending_reason);
	wr_config_ref_put(t->cref);
	free(t);
	tunnels_alive--;
	notify_observer();
}

static void start_attempt(struct warren_tunnel *t);

static void schedule_retry(struct warren_tunnel *t)
{
	uint32_t random = 0;
	uint64_t delay;

	if (getrandom(&random, sizeof(random), GRND_NONBLOCK) != sizeof(random))
		random = (uint32_t)wr_now_ms();
	delay = wr_backoff_delay(t->conf->retry_min_ms, t->conf->retry_max_ms, t->attempt, random);
	t->attempt++;
	set_state(t, WR_STATE_RETRYING);
	wr_log(WARREN_LOG_INFO, t->conf->name, "retrying in %.1fs", (double)delay / 1000.0);
	arm_ms(t->retry_ev, delay);
}

/* The plugin has stopped (synchronously, by report, or by timeout). */
static void finish_stop(struct warren_tunnel *t)
{
	t->started = false;
	t->stop_pending = false;
	evtimer_del(t->stop_timeout_ev);
	switch (t->after_stop) {
	case AFTER_STOP_DOWN:
		set_state(t, WR_STATE_DOWN);
		if (t->want_up)
			start_attempt(t);
		break;
	case AFTER_STOP_RETRY:
		schedule_retry(t);
		break;
	case AFTER_STOP_FAILED:
		set_state(t, WR_STATE_FAILED);
		break;
	case AFTER_STOP_DESTROY:
		free_tunnel(t);
		break;
	}
}

static void stop_plugin(struct warren_tunnel *t, enum after_stop after)
{
	int rc;

	t->after_stop = after;
	if (t->stop_pending)
		return; /* finish_stop will act on the new intent */
	if (!t->started) {
		finish_stop(t);
		return;
	}
	rc = t->plugin->ops->stop(t->instance);
	if (rc == WARREN_STOP_PENDING) {
		t->stop_pending = true;
		if (after == AFTER_STOP_DOWN || after == AFTER_STOP_DESTROY)
			set_state(t, WR_STATE_STOPPING);
		arm_ms(t->stop_timeout_ev, STOP_TIMEOUT_MS);
		return;
	}
	finish_stop(t);
}

static void stop_timed_out(evutil_socket_t fd, short what, void *arg)
{
	struct warren_tunnel *t = arg;

	wr_log(WARREN_LOG_WARN, t->conf->name,
	       "transport did not finish stopping within %u s: destroying it", STOP_TIMEOUT_MS / 1000);
	/* A plugin that cannot stop cannot be trusted to start again. */
	destroy_instance(t);
	finish_stop(t);
}

static void fail_now(struct warren_tunnel *t, const char *reason)
{
	set_last_error(t, reason);
	wr_log(WARREN_LOG_WARN, t->conf->name, "%s", reason);
	if (t->up_at_ms && wr_now_ms() - t->up_at_ms >= BACKOFF_RESET_AFTER_MS)
		t->attempt = 0;
	stop_plugin(t, t->conf->restart == WR_RESTART_NEVER ? AFTER_STOP_FAILED : AFTER_STOP_RETRY);
}

static void start_attempt(struct warren_tunnel *t)
{
	int rc;

	if (!t->plugin) {
		set_last_error(t, t->unavailable);
		set_state(t, WR_STATE_FAILED);
		return;
	}
	if (!t->instance) {
		rc = t->plugin->ops->create(t, t->plugin_conf, &t->instance);
		if (rc < 0) {
			char *reason = wr_xasprintf("transport could not create the tunnel: %s",
						    strerror(-rc));

			t->instance = NULL;
			set_last_error(t, reason);
			free(reason);
			set_state(t, WR_STATE_FAILED);
			return;
		}
	}
	set_state(t, WR_STATE_CONNECTING);
	t->started = true;
	rc = t->plugin->ops->start(t->instance);
	if (rc < 0 && t->started && !t->stop_pending) {
		char *reason = wr_xasprintf("start failed: %s", strerror(-rc));

		fail_now(t, reason);
		free(reason);
	}
}

static void retry_fired(evutil_socket_t fd, short what, void *arg)
{
	struct warren_tunnel *t = arg;

	t->restarts++;
	start_attempt(t);
}

static void run_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct warren_tunnel *t = arg;

	if (t->pending_stopped) {
		t->pending_stopped = false;
		if (t->stop_pending) {
			finish_stop(t);
			return; /* the tunnel may be gone; later reports are stale */
		}
	}
	if (t->pending_failure || t->pending_finished) {
		bool failure = t->pending_failure;
		char *reason = t->pending_reason;

		t->pending_failure = t->pending_finished = false;
		t->pending_reason = NULL;
		/* Reports from a tunnel that is already stopping are stale. */
		if (t->started && !t->stop_pending && !t->destroying) {
			if (failure) {
				fail_now(t, reason ? reason : "transport failed");
			} else if (t->conf->restart == WR_RESTART_ALWAYS) {
				set_last_error(t, "transport finished");
				stop_plugin(t, AFTER_STOP_RETRY);
			} else {
				t->want_up = false;
				stop_plugin(t, AFTER_STOP_DOWN);
			}
		}
		free(reason);
	}
}

static void defer(struct warren_tunnel *t)
{
	event_active(t->deferred_ev, EV_TIMEOUT, 0);
}

struct warren_tunnel *wr_tunnel_new(struct wr_config_ref *cref, const struct wr_tunnel_conf *conf,
				    const struct wr_plugin *plugin, void *plugin_conf,
				    const char *unavailable)
{
	struct warren_tunnel *t = wr_xcalloc(1, sizeof(*t));
	struct event_base *base = wr_host_base();

	t->cref = wr_config_ref_get(cref);
	t->conf = conf;
	t->plugin = plugin;
	t->plugin_conf = plugin_conf;
	t->unavailable = unavailable ? wr_xstrdup(unavailable) : NULL;
	t->state = WR_STATE_DOWN;
	t->since = time(NULL);
	t->deferred_ev = event_new(base, -1, 0, run_deferred, t);
	t->retry_ev = evtimer_new(base, retry_fired, t);
	t->stop_timeout_ev = evtimer_new(base, stop_timed_out, t);
	if (!t->deferred_ev || !t->retry_ev || !t->stop_timeout_ev) {
		wr_log(WARREN_LOG_ERROR, NULL, "out of memory creating events");
		abort();
	}
	wr_host_resources_init(&t->resources);
	TAILQ_INSERT_TAIL(&tunnels, t, link);
	tunnels_alive++;
	return t;
}

void wr_tunnel_up(struct warren_tunnel *t)
{
	t->want_up = true;
	switch (t->state) {
	case WR_STATE_RETRYING:
		evtimer_del(t->retry_ev);
		/* fall through */
	case WR_STATE_DOWN:
	case WR_STATE_FAILED:
		t->attempt = 0;
		start_attempt(t);
		break;
	default:
		/* Running, or stopping (finish_stop starts it again). */
		break;
	}
}

void wr_tunnel_down(struct warren_tunnel *t)
{
	t->want_up = false;
	evtimer_del(t->retry_ev);
	if (t->started)
		stop_plugin(t, AFTER_STOP_DOWN);
	else
		set_state(t, WR_STATE_DOWN);
}

void wr_tunnel_restart(struct warren_tunnel *t)
{
	wr_tunnel_down(t);
	wr_tunnel_up(t);
}

void wr_tunnel_destroy(struct warren_tunnel *t)
{
	t->want_up = false;
	t->destroying = true;
	TAILQ_REMOVE(&tunnels, t, link);
	evtimer_del(t->retry_ev);
	stop_plugin(t, AFTER_STOP_DESTROY);
}

const char *wr_tunnel_name(const struct warren_tunnel *t)
{
	return t->conf->name;
}

const struct wr_tunnel_conf *wr_tunnel_conf(const struct warren_tunnel *t)
{
	return t->conf;
}

bool wr_tunnel_has_transport(const struct warren_tunnel *t)
{
	return t->plugin != NULL;
}

enum wr_state wr_tunnel_state(const struct warren_tunnel *t)
{
	return t->state;
}

const char *wr_tunnel_last_error(const struct warren_tunnel *t)
{
	return t->last_error;
}

struct wr_host_resources *wr_tunnel_resources(struct warren_tunnel *t)
{
	return &t->resources;
}

struct warren_tunnel *wr_tunnels_first(void)
{
	return TAILQ_FIRST(&tunnels);
}

struct warren_tunnel *wr_tunnels_next(struct warren_tunnel *t)
{
	return TAILQ_NEXT(t, link);
}

struct warren_tunnel *wr_tunnels_find(const char *name)
{
	struct warren_tunnel *t;

	TAILQ_FOREACH(t, &tunnels, link)
		if (strcmp(t->conf->name, name) == 0)
			return t;
	return NULL;
}

unsigned wr_tunnels_alive(void)
{
	return tunnels_alive;
}

void wr_tunnel_report_up(struct warren_tunnel *t)
{
	if (!t->started || t->stop_pending || t->pending_failure)
		return;
	if (t->state == WR_STATE_CONNECTING || t->state == WR_STATE_DEGRADED) {
		set_last_error(t, NULL);
		set_state(t, WR_STATE_UP);
	}
}

void wr_tunnel_report_degraded(struct warren_tunnel *t, const char *reason)
{
	if (!t->started || t->stop_pending || t->pending_failure)
		return;
	if (t->state == WR_STATE_CONNECTING || t->state == WR_STATE_UP ||
	    t->state == WR_STATE_DEGRADED) {
		set_last_error(t, reason);
		if (t->state == WR_STATE_DEGRADED)
			notify_observer();
		else
			set_state(t, WR_STATE_DEGRADED);
	}
}

void wr_tunnel_report_failure(struct warren_tunnel *t, const char *reason)
{
	if (t->pending_failure)
		return; /* the first reason is the real one */
	t->pending_failure = true;
	free(t->pending_reason);
	t->pending_reason = wr_xstrdup(reason);
	defer(t);
}

void wr_tunnel_report_finished(struct warren_tunnel *t)
{
	if (t->pending_failure)
		return;
	t->pending_finished = true;
	defer(t);
}

void wr_tunnel_report_stopped(struct warren_tunnel *t)
{
	t->pending_stopped = true;
	defer(t);
}

void wr_tunnel_add_bytes(struct warren_tunnel *t, uint64_t bytes_in, uint64_t bytes_out)
{
	t->bytes_in += bytes_in;
	t->bytes_out += bytes_out;
}

void wr_tunnel_status_json(struct warren_tunnel *t, struct warren_json *j)
{
	char since[32];

	wr_format_time(t->since, since, sizeof(since));
	wr_json_object_begin(j, NULL);
	wr_json_string(j, "name", t->conf->name);
	wr_json_string(j, "transport", t->conf->transport);
	wr_json_string(j, "gateway", t->conf->gateway);
	wr_json_string(j, "state", state_names[t->state]);
	wr_json_string(j, "since", since);
	wr_json_uint(j, "restarts", t->restarts);
	wr_json_string(j, "last_error", t->last_error);
	wr_json_uint(j, "bytes_in", t->bytes_in);
	wr_json_uint(j, "bytes_out", t->bytes_out);
	wr_json_bool(j, "autostart", t->conf->autostart);
	wr_json_object_begin(j, "details");
	if (t->instance && t->plugin->ops->status)
		t->plugin->ops->status(t->instance, j);
	wr_json_object_end(j);
	wr_json_object_end(j);
}
