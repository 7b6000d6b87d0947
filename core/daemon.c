/* daemon.c: load config and plugins, apply them, run the loop, reload. */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "host.h"
#include "log.h"
#include "notify.h"
#include "plugin_loader.h"
#include "tunnel.h"

/* How long an orderly stop may take before the daemon exits regardless. */
#define SHUTDOWN_TIMEOUT_S 10
/* The longest the service manager waits for READY=1 while tunnels are still
 * on their first try: past connect_timeout's default (15 s), well inside
 * systemd's TimeoutStartSec (90 s). */
#define READY_TIMEOUT_MS 30000

/* A config checked against the plugins: one plugin config (or the reason
 * its transport is unavailable) per tunnel, in config order. */
struct prepared {
	struct wr_config_ref *cref;
	void **plugin_confs;
	char **unavailable;
};

static struct {
	const struct wr_options *options;
	char *config_path;
	struct wr_plugin_set plugins;
	struct wr_config_ref *current;
	bool run_mode; /* warren run: no socket, exit when the tunnels end */
	wr_config_amend_fn amend; /* warren x11: adds its tunnel to the config */
	void *amend_arg;
	bool shutting_down;
	bool interrupted;
	struct event *shutdown_timer;
} daemon_state;

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home)
		return home;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

char *wr_config_path(const struct wr_options *o)
{
	if (o->config_path)
		return wr_xstrdup(o->config_path);
	if (geteuid() == 0)
		return wr_xstrdup("/etc/warren/warren.conf");
	return wr_xasprintf("%s/.config/warren/warren.conf", home_dir());
}

char *wr_socket_path(const struct wr_options *o, const char *config_socket, char *err,
		     size_t errlen)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");

	if (o->socket_path)
		return wr_xstrdup(o->socket_path);
	if (config_socket)
		return wr_xstrdup(config_socket);
	if (geteuid() == 0)
		return wr_xstrdup("/run/warren/warren.sock");
	if (runtime && *runtime)
		return wr_xasprintf("%s/warren.sock", runtime);
	snprintf(err, errlen, "no control socket: XDG_RUNTIME_DIR is not set; use -S PATH");
	return NULL;
}

/* Plugins: --plugin-dir, else the config's, else the build tree when this
 * binary is the build tree's, else the installed directory. */
static const char *plugin_dir(const struct wr_config *cfg)
{
	static char exe[PATH_MAX];
	ssize_t n;

	if (daemon_state.options->plugin_dir)
		return daemon_state.options->plugin_dir;
	if (cfg && cfg->plugin_dir)
		return cfg->plugin_dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (strcmp(exe, WARREN_BUILD_BINARY) == 0)
			return WARREN_BUILD_PLUGIN_DIR;
	}
	return WARREN_PLUGIN_DIR;
}

static void apply_log_level(const struct wr_config *cfg)
{
	int level = cfg && cfg->log_level >= 0 ? cfg->log_level : WARREN_LOG_INFO;

	level += daemon_state.options->verbosity;
	if (level < WARREN_LOG_ERROR)
		level = WARREN_LOG_ERROR;
	if (level > WARREN_LOG_DEBUG)
		level = WARREN_LOG_DEBUG;
	wr_log_set_level((enum warren_log_level)level);
}

/* The line number of a "FILE:LINE: message" (0 when there is none). */
static long diag_line(const struct warren_diag *diag, const char *message)
{
	size_t flen = strlen(diag->file);

	if (strncmp(message, diag->file, flen) != 0 || message[flen] != ':')
		return 0;
	return strtol(message + flen + 1, NULL, 10);
}

/* Problems in file order: the core's and the transports' are found in two
 * passes, but a person reads the file top to bottom. */
static void print_diag(const struct warren_diag *diag, struct wr_buf *out)
{
	bool *printed = wr_xcalloc(diag->count, sizeof(bool));

	for (size_t n = 0; n < diag->count; n++) {
		size_t best = diag->count;

		for (size_t i = 0; i < diag->count; i++)
			if (!printed[i] && (best == diag->count ||
					    diag_line(diag, diag->messages[i]) <
						    diag_line(diag, diag->messages[best])))
				best = i;
		printed[best] = true;
		if (out)
			wr_buf_printf(out, "%s\n", diag->messages[best]);
		else
			fprintf(stderr, "%s\n", diag->messages[best]);
	}
	free(printed);
}

static void prepared_free(struct prepared *p, bool keep_plugin_confs)
{
	const struct wr_config *cfg = p->cref ? p->cref->cfg : NULL;

	for (size_t i = 0; cfg && i < cfg->ntunnels; i++) {
		if (!keep_plugin_confs && p->plugin_confs[i]) {
			const struct wr_plugin *plugin =
				wr_plugins_find(&daemon_state.plugins, cfg->tunnels[i].transport);

			plugin->ops->config_free(p->plugin_confs[i]);
		}
		free(p->unavailable[i]);
	}
	free(p->plugin_confs);
	free(p->unavailable);
	wr_config_ref_put(p->cref);
	memset(p, 0, sizeof(*p));
}

/* Parse the file and let each transport check its keys. A missing plugin is
 * a problem for `warren check`; the daemon starts the other tunnels. */
static int prepare(const char *path, bool missing_plugin_is_error, struct warren_diag *diag,
		   struct prepared *out)
{
	struct wr_config *cfg = wr_config_load(path, diag);

	memset(out, 0, sizeof(*out));
	if (!cfg)
		return -1;
	out->cref = wr_config_ref_new(cfg);
	/* Before the arrays below: the tunnel it adds is checked like any. */
	if (diag->count == 0 && daemon_state.amend)
		daemon_state.amend(cfg, diag, daemon_state.amend_arg);
	out->plugin_confs = wr_xcalloc(cfg->ntunnels, sizeof(void *));
	out->unavailable = wr_xcalloc(cfg->ntunnels, sizeof(char *));
	if (diag->count > 0)
		return -1;
	/* A reload may name a transport installed since start-up. */
	wr_plugins_load_dir(&daemon_state.plugins, plugin_dir(cfg), wr_host_table());
	for (size_t i = 0; i < cfg->ntunnels; i++) {
		const struct wr_tunnel_conf *tc = &cfg->tunnels[i];
		const struct wr_plugin *plugin = wr_plugins_find(&daemon_state.plugins,
								 tc->transport);

		if (!plugin) {
			char *why = wr_plugins_why_missing(&daemon_state.plugins, tc->transport);

			if (missing_plugin_is_error) {
				wr_diag_add(diag, tc->transport_line, "%s", why);
				free(why);
			} else {
				out->unavailable[i] = why;
			}
			continue;
		}
		if (plugin->ops->needs_gateway && !tc->gw) {
			wr_diag_add(diag, tc->line,
				    "tunnel %s: transport %s needs `gateway = NAME` naming a [gateway]",
				    tc->name, tc->transport);
			continue;
		}
		plugin->ops->config_parse(diag, tc->name, tc->line, tc->keys, tc->nkeys,
					  tc->gw ? &tc->gw->pub : NULL, &out->plugin_confs[i]);
	}
	return diag->count > 0 ? -1 : 0;
}

static struct warren_tunnel *make_tunnel(struct prepared *p, size_t i)
{
	const struct wr_tunnel_conf *tc = &p->cref->cfg->tunnels[i];
	const struct wr_plugin *plugin = wr_plugins_find(&daemon_state.plugins, tc->transport);
	struct warren_tunnel *t = wr_tunnel_new(p->cref, tc, p->unavailable[i] ? NULL : plugin,
						p->plugin_confs[i], p->unavailable[i]);

	p->plugin_confs[i] = NULL; /* the tunnel owns it now */
	return t;
}

int wr_daemon_reload(struct wr_buf *messages)
{
	struct warren_diag diag;
	struct prepared next;
	struct warren_tunnel *t, *tnext;
	const struct wr_config *cfg;
	unsigned added = 0, removed = 0, changed = 0;

	wr_notify_reloading();
	wr_diag_init(&diag, daemon_state.config_path);
	if (prepare(daemon_state.config_path, false, &diag, &next) < 0) {
		wr_notify_reloaded();
		print_diag(&diag, messages);
		wr_log(WARREN_LOG_ERROR, NULL, "reload of %s refused: %zu problem(s); nothing changed",
		       daemon_state.config_path, diag.count);
		for (size_t i = 0; i < diag.count; i++)
			wr_log(WARREN_LOG_ERROR, NULL, "%s", diag.messages[i]);
		wr_diag_free(&diag);
		prepared_free(&next, false);
		return WR_EXIT_USAGE;
	}
	wr_diag_free(&diag);
	cfg = next.cref->cfg;
	apply_log_level(cfg);

	/* Removed and changed tunnels go; untouched ones keep their instance,
	 * their connections and the config their plugin config came from. */
	for (t = wr_tunnels_first(); t; t = tnext) {
		const struct wr_tunnel_conf *now = wr_config_tunnel(cfg, wr_tunnel_name(t));
		const struct wr_tunnel_conf *old = wr_tunnel_conf(t);

		tnext = wr_tunnels_next(t);
		if (!now) {
			wr_log(WARREN_LOG_INFO, old->name, "removed from the config");
			wr_tunnel_destroy(t);
			removed++;
		} else if (strcmp(now->canonical, old->canonical) != 0 ||
			   next.unavailable[now - cfg->tunnels] != NULL ||
			   !wr_tunnel_has_transport(t)) {
			/* Changed, or its transport was (or still is) missing: a
			 * plugin installed since then is picked up now. */
			bool was_wanted = wr_tunnel_state(t) != WR_STATE_DOWN &&
					  wr_tunnel_state(t) != WR_STATE_FAILED;
			struct warren_tunnel *fresh;

			wr_log(WARREN_LOG_INFO, old->name, "changed in the config: restarting");
			wr_tunnel_destroy(t);
			fresh = make_tunnel(&next, (size_t)(now - cfg->tunnels));
			if (now->autostart || was_wanted)
				wr_tunnel_up(fresh);
			changed++;
		}
	}
	for (size_t i = 0; i < cfg->ntunnels; i++) {
		/* Untouched or remade above: only new names are left to make. */
		if (wr_tunnels_find(cfg->tunnels[i].name))
			continue;
		t = make_tunnel(&next, i);
		if (cfg->tunnels[i].autostart)
			wr_tunnel_up(t);
		added++;
	}
	wr_log(WARREN_LOG_INFO, NULL, "reloaded %s: %u added, %u removed, %u changed",
	       daemon_state.config_path, added, removed, changed);
	if (messages)
		wr_buf_printf(messages, "reloaded: %u added, %u removed, %u changed\n", added,
			      removed, changed);
	wr_config_ref_put(daemon_state.current);
	daemon_state.current = wr_config_ref_get(next.cref);
	prepared_free(&next, false);
	wr_notify_reloaded();
	return WR_EXIT_OK;
}

static void maybe_finish_shutdown(void)
{
	if (daemon_state.shutting_down && wr_tunnels_alive() == 0 && wr_host_children_alive() == 0)
		event_base_loopbreak(wr_host_base());
}

/* In `warren run`, the process ends once no named tunnel will come back. */
static void tunnels_changed(void)
{
	struct warren_tunnel *t;

	wr_notify_tunnels_changed();
	if (daemon_state.shutting_down) {
		maybe_finish_shutdown();
		return;
	}
	if (!daemon_state.run_mode)
		return;
	for (t = wr_tunnels_first(); t; t = wr_tunnels_next(t)) {
		enum wr_state s = wr_tunnel_state(t);

		if (s != WR_STATE_FAILED && s != WR_STATE_DOWN)
			return;
	}
	wr_log(WARREN_LOG_INFO, NULL, "every tunnel has ended");
	event_base_loopbreak(wr_host_base());
}

static void shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	wr_log(WARREN_LOG_WARN, NULL, "orderly stop took over %d s: exiting anyway",
	       SHUTDOWN_TIMEOUT_S);
	event_base_loopbreak(wr_host_base());
}

static void begin_shutdown(void)
{
	struct timeval tv = {.tv_sec = SHUTDOWN_TIMEOUT_S};
	struct warren_tunnel *t;

	if (daemon_state.shutting_down)
		return;
	daemon_state.shutting_down = true;
	wr_notify_stopping();
	wr_control_close();
	/* Each tunnel stops in its own order (ppp-ssh ends pppd through its
	 * channel first); its leftover children are signalled when its
	 * instance is destroyed, and wr_host_shutdown kills any straggler. */
	while ((t = wr_tunnels_first()) != NULL)
		wr_tunnel_destroy(t);
	daemon_state.shutdown_timer = evtimer_new(wr_host_base(), shutdown_timeout, NULL);
	evtimer_add(daemon_state.shutdown_timer, &tv);
	maybe_finish_shutdown();
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP && !daemon_state.run_mode) {
		if (daemon_state.shutting_down)
			return; /* a reload now would start tunnels nobody stops */
		wr_log(WARREN_LOG_INFO, NULL, "SIGHUP: reloading %s", daemon_state.config_path);
		wr_daemon_reload(NULL);
		return;
	}
	wr_log(WARREN_LOG_INFO, NULL, "%s: stopping every tunnel", strsignal((int)sig));
	daemon_state.interrupted = true;
	begin_shutdown();
}

/* Shared body of `warren daemon` and `warren run`. names == NULL: daemon. */
static int serve(const struct wr_options *o, char *const names[], int nnames,
		 wr_config_amend_fn amend, void *amend_arg)
{
	struct event *signals[4] = {0};
	static const int signal_numbers[4] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
	struct warren_diag diag;
	struct prepared first;
	char err[512];
	char *socket_path = NULL;
	int ret = WR_EXIT_FAILURE;

	memset(&daemon_state, 0, sizeof(daemon_state));
	daemon_state.options = o;
	daemon_state.run_mode = names != NULL;
	daemon_state.amend = amend;
	daemon_state.amend_arg = amend_arg;
	daemon_state.config_path = wr_config_path(o);
	wr_log_init(WARREN_LOG_INFO, o->use_syslog);
	apply_log_level(NULL);
	signal(SIGPIPE, SIG_IGN);
	if (wr_host_init() < 0) {
		fprintf(stderr, "warren: cannot set up the event loop\n");
		free(daemon_state.config_path);
		return WR_EXIT_FAILURE;
	}
	wr_notify_init(wr_host_base());
	wr_diag_init(&diag, daemon_state.config_path);
	if (prepare(daemon_state.config_path, false, &diag, &first) < 0) {
		print_diag(&diag, NULL);
		ret = WR_EXIT_USAGE;
		goto out_prepared;
	}
	apply_log_level(first.cref->cfg);
	for (int i = 0; i < nnames; i++) {
		if (!wr_config_tunnel(first.cref->cfg, names[i])) {
			fprintf(stderr, "warren: %s: no [tunnel %s] in %s\n", names[i], names[i],
				daemon_state.config_path);
			ret = WR_EXIT_USAGE;
			goto out_prepared;
		}
	}
	if (!daemon_state.run_mode) {
		socket_path = wr_socket_path(o, first.cref->cfg->control_socket, err, sizeof(err));
		if (!socket_path || wr_control_open(socket_path, err, sizeof(err)) < 0) {
			fprintf(stderr, "warren: %s\n", err);
			goto out_prepared;
		}
	}
	for (int i = 0; i < 4; i++) {
		signals[i] = evsignal_new(wr_host_base(), signal_numbers[i], on_signal, NULL);
		event_add(signals[i], NULL);
	}
	wr_tunnels_set_observer(tunnels_changed);
	daemon_state.current = wr_config_ref_get(first.cref);
	for (size_t i = 0; i < first.cref->cfg->ntunnels; i++) {
		const struct wr_tunnel_conf *tc = &first.cref->cfg->tunnels[i];
		bool start = tc->autostart;
		struct warren_tunnel *t;

		if (names) {
			start = false;
			for (int k = 0; k < nnames; k++)
				start = start || strcmp(names[k], tc->name) == 0;
			if (!start) {
				/* warren run makes only the named tunnels */
				continue;
			}
		}
		t = make_tunnel(&first, i);
		if (start)
			wr_tunnel_up(t);
	}
	wr_log(WARREN_LOG_INFO, NULL, "warren %s %s with %zu tunnel(s) from %s%s%s", PACKAGE_VERSION,
	       names ? "running" : "daemon started", first.cref->cfg->ntunnels,
	       daemon_state.config_path, socket_path ? ", control socket " : "",
	       socket_path ? socket_path : "");
	prepared_free(&first, false);
	wr_notify_startup_done(READY_TIMEOUT_MS);
	tunnels_changed(); /* warren run whose tunnels all failed at once */
	event_base_dispatch(wr_host_base());

	begin_shutdown();
	if (wr_tunnels_alive() > 0 || wr_host_children_alive() > 0)
		event_base_dispatch(wr_host_base());
	wr_tunnels_set_observer(NULL);
	ret = WR_EXIT_OK;
	if (daemon_state.run_mode && !daemon_state.interrupted)
		ret = WR_EXIT_FAILURE; /* the tunnels ended by themselves */
	wr_log(WARREN_LOG_INFO, NULL, "stopped");
	for (int i = 0; i < 4; i++)
		if (signals[i])
			event_free(signals[i]);
	if (daemon_state.shutdown_timer)
		event_free(daemon_state.shutdown_timer);
	wr_config_ref_put(daemon_state.current);
	goto out;
out_prepared:
	prepared_free(&first, false);
out:
	wr_diag_free(&diag);
	wr_notify_close();
	wr_host_shutdown();
	wr_plugins_free(&daemon_state.plugins);
	free(socket_path);
	free(daemon_state.config_path);
	return ret;
}

int wr_cmd_daemon(const struct wr_options *o)
{
	return serve(o, NULL, 0, NULL, NULL);
}

int wr_cmd_run(const struct wr_options *o, char *const names[], int nnames)
{
	return serve(o, names, nnames, NULL, NULL);
}

int wr_cmd_run_amended(const struct wr_options *o, char *const names[], int nnames,
		       wr_config_amend_fn amend, void *arg)
{
	return serve(o, names, nnames, amend, arg);
}

int wr_cmd_check(const struct wr_options *o)
{
	struct warren_diag diag;
	struct prepared p;
	int ret;

	memset(&daemon_state, 0, sizeof(daemon_state));
	daemon_state.options = o;
	daemon_state.config_path = wr_config_path(o);
	wr_log_init(WARREN_LOG_ERROR, false);
	wr_diag_init(&diag, daemon_state.config_path);
	if (wr_host_init() < 0) {
		fprintf(stderr, "warren: cannot set up the event loop\n");
		return WR_EXIT_FAILURE;
	}
	if (prepare(daemon_state.config_path, true, &diag, &p) < 0) {
		print_diag(&diag, NULL);
		ret = WR_EXIT_USAGE;
	} else {
		printf("%s: OK, %zu gateway(s), %zu tunnel(s)\n", daemon_state.config_path,
		       p.cref->cfg->ngateways, p.cref->cfg->ntunnels);
		ret = WR_EXIT_OK;
	}
	prepared_free(&p, false);
	wr_diag_free(&diag);
	wr_host_shutdown();
	wr_plugins_free(&daemon_state.plugins);
	free(daemon_state.config_path);
	return ret;
}

int wr_cmd_plugins(const struct wr_options *o)
{
	struct wr_config *cfg = NULL;
	struct warren_diag diag;
	const char *dir;
	char *path;

	memset(&daemon_state, 0, sizeof(daemon_state));
	daemon_state.options = o;
	wr_log_init(WARREN_LOG_ERROR, false);
	/* The config may name the plugin directory; a broken or absent config
	 * just means the default one. */
	path = wr_config_path(o);
	wr_diag_init(&diag, path);
	if (!o->plugin_dir && access(path, R_OK) == 0)
		cfg = wr_config_load(path, &diag);
	dir = plugin_dir(cfg);
	wr_plugins_load_dir(&daemon_state.plugins, dir, wr_host_table());
	printf("plugin directory: %s (this warren speaks ABI %d)\n", dir, WARREN_PLUGIN_ABI);
	printf("%-16s %-4s %-10s %s\n", "TRANSPORT", "ABI", "VERSION", "DESCRIPTION");
	for (size_t i = 0; i < daemon_state.plugins.count; i++) {
		const struct warren_transport_ops *ops = daemon_state.plugins.plugins[i].ops;

		printf("%-16s %-4u %-10s %s\n", ops->name, ops->abi,
		       ops->version ? ops->version : "?", ops->description ? ops->description : "");
	}
	for (size_t i = 0; i < daemon_state.plugins.nfailures; i++)
		printf("%-16s %-4s %-10s refused: %s: %s\n", daemon_state.plugins.failures[i].name,
		       "-", "-", daemon_state.plugins.failures[i].path,
		       daemon_state.plugins.failures[i].reason);
	if (daemon_state.plugins.dir_error)
		printf("%s\n", daemon_state.plugins.dir_error);
	wr_plugins_free(&daemon_state.plugins);
	wr_config_free(cfg);
	wr_diag_free(&diag);
	free(path);
	return WR_EXIT_OK;
}
