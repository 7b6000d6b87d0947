/*
 * display.h: where a DISPLAY value points, and connecting to it.
 *
 * The forms Xlib and libxcb accept on Linux:
 *   :N  :N.S  unix:N  unix/:N      the local server's socket /tmp/.X11-unix/XN,
 *                                  tried in the abstract namespace first
 *   host:N  [v6addr]:N  tcp/host:N TCP port 6000+N on host
 *   /path/to/socket                a socket path (XQuartz's launchd sockets,
 *                                  "/private/tmp/.../org.xquartz:0")
 * DECnet (host::N) is refused.
 */
#ifndef WARREN_X11_DISPLAY_H
#define WARREN_X11_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X11_TCP_PORT_BASE 6000
#define X11_UNIX_DIR      "/tmp/.X11-unix"

enum x11_display_kind {
	X11_DISPLAY_LOCAL = 0, /* /tmp/.X11-unix/XN, abstract first */
	X11_DISPLAY_TCP,       /* host, port 6000 + number */
	X11_DISPLAY_PATH,      /* a socket path given as the display */
};

struct x11_display {
	enum x11_display_kind kind;
	char host[256];  /* TCP: name or address, without brackets */
	uint16_t port;   /* TCP: 6000 + number */
	char path[108];  /* LOCAL and PATH: the socket (sun_path's size) */
	unsigned number; /* the display number, for the Xauthority lookup */
	unsigned screen;
};

/* Parse text; 0, or -1 with a one-line reason in err. */
int x11_display_parse(const char *text, struct x11_display *d, char *err, size_t errlen);

/* Does a TCP display name this host? (127.0.0.0/8, ::1, localhost: Xlib then
 * looks the cookie up as a local one.) */
bool x11_display_is_loopback(const struct x11_display *d);

/* Connect to a LOCAL or PATH display without blocking: the abstract socket
 * "@/tmp/.X11-unix/XN" first (Linux servers offer it, and no file in /tmp
 * can stand in for it), then the path. Returns a connected non-blocking fd,
 * or -1 with the reason in err (errno set). */
int x11_display_connect_local(const struct x11_display *d, char *err, size_t errlen);

#endif /* WARREN_X11_DISPLAY_H */
