/* daemon.h: `warren daemon`, `warren run`, `warren check`, `warren plugins`:
 * everything that loads a config and plugins in this process. */
#ifndef WARREN_DAEMON_H
#define WARREN_DAEMON_H

#include <stdbool.h>

#include "util.h"

/* Global options, from the command line and the environment. */
struct wr_options {
	const char *config_path;  /* -c / WARREN_CONFIG; NULL: the default */
	const char *socket_path;  /* -S / WARREN_SOCKET; NULL: config or default */
	const char *plugin_dir;   /* --plugin-dir / WARREN_PLUGIN_DIR */
	int verbosity;            /* +1 per -v, -1 per -q */
	bool use_syslog;          /* --syslog */
};

/* Exit statuses everywhere. */
enum { WR_EXIT_OK = 0, WR_EXIT_FAILURE = 1, WR_EXIT_USAGE = 2 };

int wr_cmd_daemon(const struct wr_options *o);
int wr_cmd_run(const struct wr_options *o, char *const names[], int nnames);

/* `warren run` of a config changed in memory: amend is called on the freshly
 * loaded config, before the transports check it, and may add tunnels (the
 * one-shot tunnel of `warren x11`); problems go into diag. */
struct wr_config;
struct warren_diag;
typedef void (*wr_config_amend_fn)(struct wr_config *cfg, struct warren_diag *diag, void *arg);
int wr_cmd_run_amended(const struct wr_options *o, char *const names[], int nnames,
		       wr_config_amend_fn amend, void *arg);
/* warren x11 GATEWAY COMMAND... (x11cmd.c) */
int wr_cmd_x11(const struct wr_options *o, char *const argv[], int argc);
int wr_cmd_check(const struct wr_options *o);
int wr_cmd_plugins(const struct wr_options *o);

/* The config file to use: -c, else the per-user or system default (heap). */
char *wr_config_path(const struct wr_options *o);
/* The control socket: -S, else the config's control_socket, else the default
 * (heap); NULL with a message in err when there is no sensible default. */
char *wr_socket_path(const struct wr_options *o, const char *config_socket, char *err,
		     size_t errlen);

/* Used by the control socket. reload returns 0, or 2 with the problems in
 * messages (nothing changed). */
int wr_daemon_reload(struct wr_buf *messages);

#endif /* WARREN_DAEMON_H */
