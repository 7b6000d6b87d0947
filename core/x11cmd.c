/*
 * x11cmd.c: `warren x11 GATEWAY -- COMMAND [ARG...]`: one remote X program
 * on the local display, as `ssh -X GATEWAY COMMAND` runs it, without the
 * daemon.
 *
 * It is `warren run` of one tunnel that lives only in this process: the
 * config is loaded as usual and, before the transports check it, a [tunnel
 * x11@GATEWAY] with transport x11 and restart = never is added to it
 * (wr_cmd_run_amended). Three keys that no config file can hold (keys there
 * are letters, digits, '_' and '-') tell the x11 plugin to pass the
 * command's stdout and stderr to warren's own, and give it a pipe on which
 * it writes "exit N" or "signal NAME" when the command ends. That status
 * becomes warren's exit status.
 *
 * Exit status: the command's own; 255 when it could not be run or ended
 * without one (killed by a signal, connection lost), as ssh does, since a
 * command may exit 1 or 2 itself; 2 for a usage or config error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "util.h"

#define X11CMD_FAILED 255

struct x11cmd {
	const char *gateway;
	char *command;
	char name[80]; /* the tunnel's name */
	int exit_fd;   /* the write end the plugin gets */
};

static void add_key(struct wr_tunnel_conf *t, const char *key, const char *value)
{
	struct warren_kv *kv;

	t->keys = wr_xrealloc(t->keys, (t->nkeys + 1) * sizeof(*t->keys));
	kv = &t->keys[t->nkeys++];
	kv->key = wr_xstrdup(key);
	kv->value = wr_xstrdup(value);
	kv->line = 0;
}

/* Called by prepare() on the loaded config: add the one-shot tunnel. */
static void amend(struct wr_config *cfg, struct warren_diag *diag, void *arg)
{
	struct x11cmd *x = arg;
	const struct wr_gateway_conf *gw = wr_config_gateway(cfg, x->gateway);
	struct wr_tunnel_conf *t;
	char fd[16];
	int i;

	if (!gw) {
		wr_diag_add(diag, 0, "no [gateway %s] in this file", x->gateway);
		return;
	}
	/* A name that cannot clash with the file's own tunnels. */
	snprintf(x->name, sizeof(x->name), "x11@%s", x->gateway);
	for (i = 2; wr_config_tunnel(cfg, x->name) && i < 1000; i++)
		snprintf(x->name, sizeof(x->name), "x11@%s-%d", x->gateway, i);
	cfg->tunnels = wr_xrealloc(cfg->tunnels, (cfg->ntunnels + 1) * sizeof(*cfg->tunnels));
	t = &cfg->tunnels[cfg->ntunnels++];
	memset(t, 0, sizeof(*t));
	t->name = wr_xstrdup(x->name);
	t->transport = wr_xstrdup("x11");
	t->gateway = wr_xstrdup(x->gateway);
	t->gw = gw;
	t->autostart = false;
	t->restart = WR_RESTART_NEVER;
	t->retry_min_ms = 1000;
	t->retry_max_ms = 60000;
	t->canonical = wr_xstrdup("");
	/* display and xauthority: the plugin's defaults, $DISPLAY and
	 * $XAUTHORITY, which is what ssh -X uses too. */
	add_key(t, "command", x->command);
	add_key(t, "@stdout_fd", "1");
	add_key(t, "@stderr_fd", "2");
	snprintf(fd, sizeof(fd), "%d", x->exit_fd);
	add_key(t, "@exit_fd", fd);
}

/* What the plugin wrote on the pipe, as an exit status. */
static int read_status(int fd)
{
	char buf[64], sig[40];
	ssize_t n;
	int status;

	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "exit %d", &status) == 1 && status >= 0 && status <= 255)
		return status;
	if (sscanf(buf, "signal %39s", sig) == 1) {
		fprintf(stderr, "warren: the remote command was killed by signal %s\n", sig);
		return X11CMD_FAILED;
	}
	return -1;
}

int wr_cmd_x11(const struct wr_options *o, char *const argv[], int argc)
{
	struct wr_options quiet = *o;
	struct x11cmd x = {0};
	struct wr_buf cmd = {0};
	char *names[1];
	int p[2], ret, status;

	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "warren: %s\nTry `warren x11 --help`.\n",
		        argc < 1 ? "x11 needs a GATEWAY and a COMMAND"
		                 : "x11: the GATEWAY comes first: warren x11 GATEWAY -- COMMAND");
		return WR_EXIT_USAGE;
	}
	if (argc < 2) {
		fprintf(stderr,
		        "warren: x11 needs a COMMAND to run on %s\n"
		        "Try `warren x11 --help`.\n",
		        argv[0]);
		return WR_EXIT_USAGE;
	}
	/* The words go to the remote shell joined by spaces, as ssh sends
	 * them: quote them for that shell. */
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			wr_buf_puts(&cmd, " ");
		wr_buf_puts(&cmd, argv[i]);
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(stderr, "warren: pipe: %s\n", strerror(errno));
		wr_buf_free(&cmd);
		return X11CMD_FAILED;
	}
	x.gateway = argv[0];
	x.command = (char *)wr_buf_cstr(&cmd);
	x.exit_fd = p[1];
	/* Like ssh, quiet unless something goes wrong: -v brings back the
	 * connection log. */
	quiet.verbosity--;
	names[0] = x.name;
	ret = wr_cmd_run_amended(&quiet, names, 1, amend, &x);
	close(p[1]);
	status = read_status(p[0]);
	close(p[0]);
	wr_buf_free(&cmd);
	if (ret == WR_EXIT_USAGE)
		return WR_EXIT_USAGE;
	return status >= 0 ? status : X11CMD_FAILED;
}
