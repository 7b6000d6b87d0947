/*
 * tunnel.h: one configured tunnel and its state machine.
 *
 *   down -> connecting -> up <-> degraded
 *             |  ^         |
 *             v  |         v
 *           retrying <- (failure) -> failed    (restart = never)
 *   any running state -> stopping -> down      (warren down)
 *
 * The plugin reports; the core decides. Failure reports are deferred to the
 * top of the loop so a plugin's stop never runs inside the plugin's own
 * callback stack.
 */
#ifndef WARREN_TUNNEL_H
#define WARREN_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "config.h"
#include "host.h"
#include "json.h"

enum wr_state {
	WR_STATE_DOWN,
	WR_STATE_CONNECTING,
	WR_STATE_UP,
	WR_STATE_DEGRADED,
	WR_STATE_RETRYING,
	WR_STATE_STOPPING,
	WR_STATE_FAILED,
};

const char *wr_state_name(enum wr_state state);

/* A parsed config shared by the tunnels built from it: a reload replaces the
 * daemon's current config, but an untouched tunnel keeps the one its plugin
 * config was parsed from until it goes. */
struct wr_config_ref {
	struct wr_config *cfg;
	unsigned refs;
};

struct wr_config_ref *wr_config_ref_new(struct wr_config *cfg);
struct wr_config_ref *wr_config_ref_get(struct wr_config_ref *ref);
void wr_config_ref_put(struct wr_config_ref *ref);

struct wr_plugin;

/* Called after every state change (and when a tunnel is freed). */
typedef void (*wr_tunnel_observer)(void);
void wr_tunnels_set_observer(wr_tunnel_observer observer);

/* Make a tunnel; plugin NULL means its transport is unavailable, for the
 * reason given (it then fails when started). Takes a reference on cref. */
struct warren_tunnel *wr_tunnel_new(struct wr_config_ref *cref, const struct wr_tunnel_conf *conf,
				    const struct wr_plugin *plugin, void *plugin_conf,
				    const char *unavailable);

void wr_tunnel_up(struct warren_tunnel *t);
void wr_tunnel_down(struct warren_tunnel *t);
void wr_tunnel_restart(struct warren_tunnel *t);
/* Stop (if running) and free, possibly later: the tunnel leaves the list at once. */
void wr_tunnel_destroy(struct warren_tunnel *t);

const char *wr_tunnel_name(const struct warren_tunnel *t);
const struct wr_tunnel_conf *wr_tunnel_conf(const struct warren_tunnel *t);
enum wr_state wr_tunnel_state(const struct warren_tunnel *t);
bool wr_tunnel_has_transport(const struct warren_tunnel *t);
const char *wr_tunnel_last_error(const struct warren_tunnel *t);
struct wr_host_resources *wr_tunnel_resources(struct warren_tunnel *t);
void wr_tunnel_status_json(struct warren_tunnel *t, struct warren_json *j);

/* The live tunnels in config order (destroyed ones excluded). */
struct warren_tunnel *wr_tunnels_first(void);
struct warren_tunnel *wr_tunnels_next(struct warren_tunnel *t);
struct warren_tunnel *wr_tunnels_find(const char *name);
/* Tunnels not yet freed, including those still stopping after destroy. */
unsigned wr_tunnels_alive(void);

/* Host table entry points. */
void wr_tunnel_report_up(struct warren_tunnel *t);
void wr_tunnel_report_degraded(struct warren_tunnel *t, const char *reason);
void wr_tunnel_report_failure(struct warren_tunnel *t, const char *reason);
void wr_tunnel_report_finished(struct warren_tunnel *t);
void wr_tunnel_report_stopped(struct warren_tunnel *t);
void wr_tunnel_add_bytes(struct warren_tunnel *t, uint64_t bytes_in, uint64_t bytes_out);

#endif /* WARREN_TUNNEL_H */
