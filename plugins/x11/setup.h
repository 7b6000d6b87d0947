/*
 * setup.h: the X11 connection setup, the only part of the X protocol the x11
 * transport reads.
 *
 * A client opens with a fixed 12-byte header (byte order, protocol version,
 * the lengths of the authorization protocol name and data) followed by the
 * name and the data, each padded to 4 bytes. The transport checks that the
 * name and data are the fake cookie it gave the gateway and sends the X
 * server the same setup with the real authorization instead. Everything here
 * works on buffers only, so the unit tests cover every branch.
 */
#ifndef WARREN_X11_SETUP_H
#define WARREN_X11_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define X11_SETUP_HEADER 12
/* The largest setup there can be: both lengths are 16 bits. */
#define X11_SETUP_MAX (X11_SETUP_HEADER + 2 * 65536)

#define X11_AUTH_MIT   "MIT-MAGIC-COOKIE-1"
#define X11_COOKIE_LEN 16

enum x11_setup_rc {
	X11_SETUP_BAD = -1, /* not an X11 connection setup */
	X11_SETUP_MORE = 0, /* too short yet: read more */
	X11_SETUP_OK = 1,
};

struct x11_setup {
	bool msb; /* byte order 'B' (most significant first), else 'l' */
	uint16_t major, minor;
	const unsigned char *name; /* into the parsed buffer */
	size_t name_len;
	const unsigned char *data;
	size_t data_len;
	size_t total; /* bytes of the setup, padding included */
};

/* Parse the setup at the start of buf. X11_SETUP_OK fills *s (pointers into
 * buf); bytes past s->total belong to the requests that follow. */
enum x11_setup_rc x11_setup_parse(const void *buf, size_t len, struct x11_setup *s);

/* Does the setup carry exactly this protocol name and data? The data is
 * compared in constant time. */
bool x11_setup_auth_is(const struct x11_setup *s, const char *name, const void *data,
                       size_t data_len);

/* Bytes of a setup carrying name_len and data_len bytes of authorization. */
size_t x11_setup_len(size_t name_len, size_t data_len);

/* Write s again, in its byte order and version, with another authorization
 * (name_len 0 for none). Returns the bytes written, or -1 when out is too
 * small or a length does not fit 16 bits. */
ssize_t x11_setup_rewrite(const struct x11_setup *s, const void *name, size_t name_len,
                          const void *data, size_t data_len, void *out, size_t outlen);

/* The server's "Failed" reply to a setup, in the client's byte order, with
 * reason (cut at 255 bytes). Returns the bytes written or -1. */
ssize_t x11_setup_failed(bool msb, const char *reason, void *out, size_t outlen);

#endif /* WARREN_X11_SETUP_H */
