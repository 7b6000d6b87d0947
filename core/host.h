/*
 * host.h: the event loop and the host table that plugins call.
 *
 * One libevent base serves the whole process. Every watch, timer, name
 * resolution and child started for a tunnel is linked to it, so the core can
 * free what a plugin left behind when the instance is destroyed.
 */
#ifndef WARREN_HOST_H
#define WARREN_HOST_H

#include <event2/event.h>
#include <sys/queue.h>

#include "warren-plugin.h"

struct warren_watch {
	struct event *read_ev;
	struct event *write_ev;
	int fd;
	unsigned events;
	warren_fd_cb cb;
	void *arg;
	struct warren_tunnel *owner;
	LIST_ENTRY(warren_watch) link;
};

struct warren_timer {
	struct event *ev;
	warren_timer_cb cb;
	void *arg;
	struct warren_tunnel *owner;
	LIST_ENTRY(warren_timer) link;
};

struct wr_resolve;
LIST_HEAD(wr_watch_list, warren_watch);
LIST_HEAD(wr_timer_list, warren_timer);
LIST_HEAD(wr_resolve_list, wr_resolve);

/* What a tunnel owns through the host table. */
struct wr_host_resources {
	struct wr_watch_list watches;
	struct wr_timer_list timers;
	struct wr_resolve_list resolves;
};

int wr_host_init(void);
void wr_host_shutdown(void);
struct event_base *wr_host_base(void);
const struct warren_host *wr_host_table(void);

void wr_host_resources_init(struct wr_host_resources *r);
/* Free whatever a tunnel's plugin left; returns how many handles that was. */
unsigned wr_host_resources_release(struct wr_host_resources *r);

/* Children: signal the ones a tunnel started (NULL: every child) and their
 * process groups (each child leads its own session), then
 * SIGKILL those still alive after grace_ms. Their exit callbacks are dropped. */
void wr_host_children_terminate(struct warren_tunnel *owner, unsigned grace_ms);
unsigned wr_host_children_alive(void);

#endif /* WARREN_HOST_H */
