/*
 * xauth.h: the real cookie of the local display, from an Xauthority file,
 * read with libXau.
 */
#ifndef WARREN_X11_XAUTH_H
#define WARREN_X11_XAUTH_H

#include <stddef.h>
#include <sys/socket.h>

#include "display.h"

struct x11_cookie {
	unsigned char data[256];
	size_t len;
};

/* Look up the MIT-MAGIC-COOKIE-1 for display d in file, the way Xlib does:
 * the first entry in file order whose display number matches (or is empty)
 * and whose address is this host's name (FamilyLocal: local sockets and TCP
 * to loopback), the server's address (TCP: peer, may be NULL), or anything
 * (FamilyWild). Returns 1 and fills out, 0 when there is none, -1 with a
 * reason in err when the file cannot be read. The caller wipes out. */
int x11_xauth_find(const char *file, const struct x11_display *d, const struct sockaddr *peer,
                   socklen_t peerlen, struct x11_cookie *out, char *err, size_t errlen);

#endif /* WARREN_X11_XAUTH_H */
