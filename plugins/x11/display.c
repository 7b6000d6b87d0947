/*
 * display.c: DISPLAY parsing and local display sockets.
 */
#include "display.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Digits only, no sign, no leading space: strtoul alone takes too much. */
static int parse_uint(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The part after the last ':' of host:N[.S]. */
static int parse_number(const char *s, struct x11_display *d, unsigned max)
{
	const char *dot = strchr(s, '.');
	size_t nlen = dot ? (size_t)(dot - s) : strlen(s);

	if (parse_uint(s, nlen, max, &d->number) != 0)
		return -1;
	d->screen = 0;
	if (dot && parse_uint(dot + 1, strlen(dot + 1), 65535, &d->screen) != 0)
		return -1;
	return 0;
}

static void local_path(struct x11_display *d)
{
	snprintf(d->path, sizeof(d->path), X11_UNIX_DIR "/X%u", d->number);
}

int x11_display_parse(const char *text, struct x11_display *d, char *err, size_t errlen)
{
	char host[300];
	const char *colon, *slash, *h;
	size_t hlen;

	memset(d, 0, sizeof(*d));
	if (!text || !*text) {
		snprintf(err, errlen, "empty display");
		return -1;
	}
	if (text[0] == '/') {
		/* A socket path, used whole: XQuartz's socket file itself
		 * ends in ":0". The display number, for the Xauthority
		 * lookup, is the one after a last ':', or N of a file named
		 * XN (/tmp/.X11-unix/X0), else 0. */
		if (strlen(text) >= sizeof(d->path)) {
			snprintf(err, errlen, "display socket path '%s' is longer than %zu bytes",
			         text, sizeof(d->path) - 1);
			return -1;
		}
		d->kind = X11_DISPLAY_PATH;
		snprintf(d->path, sizeof(d->path), "%s", text);
		colon = strrchr(text, ':');
		slash = strrchr(text, '/');
		if (colon && parse_uint(colon + 1, strlen(colon + 1), 65535, &d->number) == 0)
			return 0;
		if (slash[1] != 'X' ||
		    parse_uint(slash + 2, strlen(slash + 2), 65535, &d->number) != 0)
			d->number = 0;
		return 0;
	}
	colon = strrchr(text, ':');
	if (!colon) {
		snprintf(err, errlen,
		         "bad display '%s': expected :N, :N.S, host:N, unix:N or a socket path",
		         text);
		return -1;
	}
	hlen = (size_t)(colon - text);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "bad display '%.40s...': host name too long", text);
		return -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (hlen > 0 && host[hlen - 1] == ':' && host[0] != '[') {
		snprintf(err, errlen, "display '%s': DECnet displays (host::N) are not supported",
		         text);
		return -1;
	}
	/* protocol/host: libxcb's "tcp/host:N" and "unix/:N". */
	h = host;
	d->kind = X11_DISPLAY_TCP;
	slash = strchr(host, '/');
	if (slash) {
		if ((size_t)(slash - host) == 3 && strncasecmp(host, "tcp", 3) == 0) {
			h = slash + 1;
			if (!*h)
				h = "localhost";
		} else if (((size_t)(slash - host) == 4 && strncasecmp(host, "unix", 4) == 0) ||
		           ((size_t)(slash - host) == 5 && strncasecmp(host, "local", 5) == 0)) {
			d->kind = X11_DISPLAY_LOCAL;
		} else {
			snprintf(err, errlen,
			         "display '%s': unknown protocol '%.*s' (tcp and unix are known)",
			         text, (int)(slash - host), host);
			return -1;
		}
	} else if (!*host || strcmp(host, "unix") == 0) {
		d->kind = X11_DISPLAY_LOCAL;
	}
	if (parse_number(colon + 1, d,
	                 d->kind == X11_DISPLAY_TCP ? 65535 - X11_TCP_PORT_BASE : 65535) != 0) {
		snprintf(err, errlen, "bad display '%s': expected a display number%s after ':'",
		         text, d->kind == X11_DISPLAY_TCP ? " (0-59535)" : "");
		return -1;
	}
	if (d->kind == X11_DISPLAY_LOCAL) {
		local_path(d);
		return 0;
	}
	hlen = strlen(h);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(d->host) || memchr(h, '[', hlen) || memchr(h, ']', hlen)) {
		snprintf(err, errlen, "bad display '%s': bad host name", text);
		return -1;
	}
	memcpy(d->host, h, hlen);
	d->host[hlen] = '\0';
	d->port = (uint16_t)(X11_TCP_PORT_BASE + d->number);
	return 0;
}

bool x11_display_is_loopback(const struct x11_display *d)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (d->kind != X11_DISPLAY_TCP)
		return true;
	if (strcasecmp(d->host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, d->host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, d->host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* One connect of a fresh non-blocking socket; -1 with errno on failure. */
static int connect_un(const char *path, bool abstract)
{
	struct sockaddr_un sun;
	size_t len = strlen(path);
	socklen_t slen;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (abstract) {
		/* Abstract names are not NUL-terminated: the length counts. */
		if (len + 1 > sizeof(sun.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(sun.sun_path + 1, path, len);
		slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
	} else {
		if (len >= sizeof(sun.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(sun.sun_path, path, len);
		slen = (socklen_t)sizeof(sun);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A local stream connect completes at once, or fails with EAGAIN when
	 * the server's backlog is full: no connection is left in progress. */
	if (connect(fd, (struct sockaddr *)&sun, slen) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int x11_display_connect_local(const struct x11_display *d, char *err, size_t errlen)
{
	int fd;

	if (d->kind == X11_DISPLAY_LOCAL) {
		fd = connect_un(d->path, true);
		if (fd >= 0)
			return fd;
	}
	fd = connect_un(d->path, false);
	if (fd >= 0)
		return fd;
	snprintf(err, errlen, "%s%s: %s", d->path,
	         d->kind == X11_DISPLAY_LOCAL ? " (abstract and file socket)" : "",
	         strerror(errno));
	return -1;
}
