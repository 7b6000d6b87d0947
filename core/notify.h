/*
 * notify.h: telling the service manager how the daemon is doing, with
 * systemd's notification protocol (sd_notify(3)), spoken directly so that
 * warren needs no libsystemd.
 *
 * The protocol: one datagram of newline-separated VAR=VALUE lines to the
 * Unix socket named by $NOTIFY_SOCKET (a path, or an abstract name written
 * with a leading '@'). Without $NOTIFY_SOCKET every call here does nothing,
 * so `warren daemon` behaves the same outside systemd.
 *
 * What the daemon says, and when:
 *   READY=1      once every tunnel started at start-up has had its first
 *                try (it left `connecting`), or after a bounded wait;
 *   RELOADING=1  with MONOTONIC_USEC, then READY=1, around a reload;
 *   STOPPING=1   when an orderly stop begins;
 *   STATUS=...   "3 tunnels: 2 up, 1 retrying", on state changes, at most
 *                once a second;
 *   WATCHDOG=1   from an event loop timer every half $WATCHDOG_USEC, so a
 *                daemon whose loop hangs is restarted.
 */
#ifndef WARREN_NOTIFY_H
#define WARREN_NOTIFY_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

/* Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and take them out of
 * the environment (children such as pppd must not talk to the manager in
 * our name). base runs the watchdog and status timers; it may be NULL when
 * neither is wanted (tests). Returns 0, or -1 when $NOTIFY_SOCKET is set but
 * unusable (a warning is logged; the daemon runs on without notifications). */
int wr_notify_init(struct event_base *base);
/* Free the timers and close the socket; safe to call when never set up. */
void wr_notify_close(void);

/* Send one message (lines separated by '\n'). 0 when sent or when there is
 * no service manager to send to; a negative errno when sending failed. */
int wr_notify_send(const char *message);

/* "3 tunnels: 2 up, 1 retrying": counts is indexed by enum wr_state and
 * holds nstates entries. Zero counts are left out; no tunnel at all reads
 * "no tunnels". */
void wr_notify_format_summary(const unsigned *counts, size_t nstates, char *buf, size_t len);

/* Start-up has made its tunnels: READY=1 is sent once none of those now in
 * `connecting` is still there, or after bound_ms at the latest. */
void wr_notify_startup_done(uint64_t bound_ms);
/* Called on every tunnel state change: readiness and STATUS=. */
void wr_notify_tunnels_changed(void);
void wr_notify_reloading(void);
void wr_notify_reloaded(void);
void wr_notify_stopping(void);

#endif /* WARREN_NOTIFY_H */
