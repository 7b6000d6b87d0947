/*
 * listener_probe.c: a transport for ssh_listener_cancel.sh, built by that
 * test against the SSH layer of the build (transports/.libs/libwarrenssh.a)
 * and never installed. It does what no shipped transport does: it frees a
 * remote listener while its session stays up, so that the pump itself runs
 * the cancel (and frees the listener) on a later wakeup. Ten rounds of
 * tcpip-forward on port 0 then cancel; the tunnel is up after the tenth.
 * The test runs the daemon under valgrind, which sees any read of a freed
 * listener.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ssh/ssh.h"
#include "warren-plugin.h"

#define ROUNDS 10

static const struct warren_host *host;

struct probe {
	struct warren_tunnel *t;
	const struct warren_gateway *gw;
	struct wssh_session *s;
	struct warren_timer *timer;
	int rounds;
};

static void listen_again(void *arg);

static void on_listen(struct wssh_listener *l, int error, const char *reason, uint16_t port,
                      void *arg)
{
	struct probe *p = arg;

	if (error) {
		host->report_failure(p->t, "tcpip-forward refused: %s", reason);
		return;
	}
	host->log(p->t, WARREN_LOG_INFO, "round %d: the gateway listens on port %u; cancelling",
	          p->rounds + 1, port);
	/* The session lives on: the pump cancels and frees l later. */
	wssh_listener_free(l);
	if (++p->rounds < ROUNDS)
		host->timer_arm(p->timer, 50);
	else
		host->timer_arm(p->timer, 500); /* the last cancel is done by then */
}

static void listen_again(void *arg)
{
	struct probe *p = arg;

	if (p->rounds >= ROUNDS) {
		host->report_up(p->t);
		return;
	}
	if (!wssh_listen(p->s, "127.0.0.1", 0, on_listen, NULL, p))
		host->report_failure(p->t, "cannot request a remote listener");
}

static void on_up(struct wssh_session *s, void *arg)
{
	(void)s;
	listen_again(arg);
}

static void on_down(struct wssh_session *s, void *arg, const char *reason)
{
	struct probe *p = arg;

	(void)s;
	host->report_failure(p->t, "%s", reason);
}

static const struct wssh_session_cbs cbs = {.up = on_up, .down = on_down};

static int probe_config_parse(struct warren_diag *diag, const char *name, int line,
                              const struct warren_kv *keys, size_t nkeys,
                              const struct warren_gateway *gw, void **confp)
{
	(void)name;
	if (nkeys) {
		host->config_error(diag, keys[0].line, "lprobe takes no keys");
		return -1;
	}
	if (!gw) {
		host->config_error(diag, line, "lprobe needs a gateway");
		return -1;
	}
	*confp = (void *)gw;
	return 0;
}

static void probe_config_free(void *conf)
{
	(void)conf;
}

static int probe_create(struct warren_tunnel *t, const void *conf, void **statep)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->t = t;
	p->gw = conf;
	p->timer = host->timer_new(t, listen_again, p);
	if (!p->timer) {
		free(p);
		return -ENOMEM;
	}
	*statep = p;
	return 0;
}

static int probe_start(void *state)
{
	struct probe *p = state;

	p->rounds = 0;
	p->s = wssh_session_new(host, p->t, p->gw, &cbs, p);
	if (!p->s)
		return -ENOMEM;
	return wssh_session_start(p->s);
}

static int probe_stop(void *state)
{
	struct probe *p = state;

	host->timer_cancel(p->timer);
	wssh_session_free(p->s);
	p->s = NULL;
	return 0;
}

static void probe_destroy(void *state)
{
	struct probe *p = state;

	host->timer_free(p->timer);
	free(p);
}

static const struct warren_transport_ops ops = {
    .abi = WARREN_PLUGIN_ABI,
    .size = sizeof(struct warren_transport_ops),
    .name = "lprobe",
    .version = "0",
    .description = "test only: remote listeners cancelled while the session lives",
    .needs_gateway = true,
    .config_parse = probe_config_parse,
    .config_free = probe_config_free,
    .create = probe_create,
    .start = probe_start,
    .stop = probe_stop,
    .destroy = probe_destroy,
};

WARREN_EXPORT const struct warren_transport_ops *WARREN_PLUGIN_ENTRY(const struct warren_host *h)
{
	host = h;
	return &ops;
}
