/*
 * xauth.c: the Xauthority lookup, with libXau's reader.
 *
 * XauGetBestAuthByAddr reads the file named by $XAUTHORITY only; a tunnel
 * has its own xauthority key, so the entries are read here with XauReadAuth
 * and matched with Xau's rules. The file is read again for every X client:
 * a new login writes a new cookie, and the file is a few hundred bytes on a
 * local disk.
 */
#include "xauth.h"

#include <X11/Xauth.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "setup.h"

/* X.h's address families, as Xauthority stores them. */
#define FAMILY_INTERNET  0
#define FAMILY_INTERNET6 6

struct candidate {
	unsigned short family;
	const void *addr;
	size_t len;
};

static bool entry_matches(const Xauth *a, const char *number, const struct candidate *c, size_t nc)
{
	size_t i, nlen = strlen(number);

	if (a->name_length != sizeof(X11_AUTH_MIT) - 1 ||
	    memcmp(a->name, X11_AUTH_MIT, sizeof(X11_AUTH_MIT) - 1) != 0)
		return false;
	if (a->number_length != 0 &&
	    (a->number_length != nlen || memcmp(a->number, number, nlen) != 0))
		return false;
	if (a->family == FamilyWild)
		return true;
	for (i = 0; i < nc; i++)
		if (a->family == c[i].family && a->address_length == c[i].len &&
		    memcmp(a->address, c[i].addr, c[i].len) == 0)
			return true;
	return false;
}

int x11_xauth_find(const char *file, const struct x11_display *d, const struct sockaddr *peer,
                   socklen_t peerlen, struct x11_cookie *out, char *err, size_t errlen)
{
	struct candidate c[3];
	char hostname[256] = "", number[16];
	size_t nc = 0;
	Xauth *a;
	FILE *f;
	int found = 0;

	if (gethostname(hostname, sizeof(hostname) - 1) == 0 && x11_display_is_loopback(d)) {
		c[nc].family = FamilyLocal;
		c[nc].addr = hostname;
		c[nc].len = strlen(hostname);
		nc++;
	}
	if (peer && peer->sa_family == AF_INET && peerlen >= sizeof(struct sockaddr_in)) {
		c[nc].family = FAMILY_INTERNET;
		c[nc].addr = &((const struct sockaddr_in *)peer)->sin_addr;
		c[nc].len = 4;
		nc++;
	} else if (peer && peer->sa_family == AF_INET6 && peerlen >= sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;

		/* A v4-mapped address is stored as the IPv4 one. */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			c[nc].family = FAMILY_INTERNET;
			c[nc].addr = &a6->s6_addr[12];
			c[nc].len = 4;
		} else {
			c[nc].family = FAMILY_INTERNET6;
			c[nc].addr = a6;
			c[nc].len = 16;
		}
		nc++;
	}
	snprintf(number, sizeof(number), "%u", d->number);

	f = fopen(file, "rbe");
	if (!f) {
		snprintf(err, errlen, "cannot read the Xauthority file %s: %s", file,
		         strerror(errno));
		return -1;
	}
	while (!found && (a = XauReadAuth(f)) != NULL) {
		if (entry_matches(a, number, c, nc) && a->data_length <= sizeof(out->data)) {
			memcpy(out->data, a->data, a->data_length);
			out->len = a->data_length;
			found = 1;
		}
		/* The cookie must not linger in freed memory. */
		if (a->data)
			explicit_bzero(a->data, a->data_length);
		XauDisposeAuth(a);
	}
	fclose(f);
	return found;
}
