/*
 * setup.c: parse and rewrite the X11 connection setup (X Window System
 * Protocol, "Connection Setup"):
 *
 *   1  byte-order  'B' (0x42) MSB first, 'l' (0x6c) LSB first
 *   1  unused
 *   2  CARD16      protocol-major-version
 *   2  CARD16      protocol-minor-version
 *   2  n           length of authorization-protocol-name
 *   2  d           length of authorization-protocol-data
 *   2  unused
 *   n  STRING8     authorization-protocol-name, then pad(n)
 *   d  STRING8     authorization-protocol-data, then pad(d)
 *
 * and the server's refusal:
 *
 *   1  0           Failed
 *   1  n           length of reason in bytes
 *   2  CARD16      protocol-major-version
 *   2  CARD16      protocol-minor-version
 *   2  (n+p)/4     length in 4-byte units of the additional data
 *   n  STRING8     reason, then pad(n)
 */
#include "setup.h"

#include <string.h>

#define X11_MAJOR 11
#define X11_MINOR 0

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static uint16_t get16(const unsigned char *p, bool msb)
{
	return msb ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static void put16(unsigned char *p, uint16_t v, bool msb)
{
	if (msb) {
		p[0] = (unsigned char)(v >> 8);
		p[1] = (unsigned char)v;
	} else {
		p[0] = (unsigned char)v;
		p[1] = (unsigned char)(v >> 8);
	}
}

enum x11_setup_rc x11_setup_parse(const void *buf, size_t len, struct x11_setup *s)
{
	const unsigned char *p = buf;
	size_t n, d, total;

	/* The byte order is known from the first byte: a client that is not
	 * X11 at all is told apart before it has sent a whole header. */
	if (len >= 1 && p[0] != 'B' && p[0] != 'l')
		return X11_SETUP_BAD;
	if (len < X11_SETUP_HEADER)
		return X11_SETUP_MORE;
	s->msb = p[0] == 'B';
	s->major = get16(p + 2, s->msb);
	s->minor = get16(p + 4, s->msb);
	n = get16(p + 6, s->msb);
	d = get16(p + 8, s->msb);
	total = X11_SETUP_HEADER + pad4(n) + pad4(d);
	if (len < total)
		return X11_SETUP_MORE;
	s->name = p + X11_SETUP_HEADER;
	s->name_len = n;
	s->data = p + X11_SETUP_HEADER + pad4(n);
	s->data_len = d;
	s->total = total;
	return X11_SETUP_OK;
}

bool x11_setup_auth_is(const struct x11_setup *s, const char *name, const void *data,
                       size_t data_len)
{
	const unsigned char *a = s->data, *b = data;
	unsigned char diff = 0;
	size_t i;

	if (s->name_len != strlen(name) || memcmp(s->name, name, s->name_len) != 0)
		return false;
	if (s->data_len != data_len)
		return false;
	/* Constant time: how far a guess matched must not show in the time
	 * the refusal takes. */
	for (i = 0; i < data_len; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

size_t x11_setup_len(size_t name_len, size_t data_len)
{
	return X11_SETUP_HEADER + pad4(name_len) + pad4(data_len);
}

ssize_t x11_setup_rewrite(const struct x11_setup *s, const void *name, size_t name_len,
                          const void *data, size_t data_len, void *out, size_t outlen)
{
	unsigned char *p = out;
	size_t need = x11_setup_len(name_len, data_len);

	if (name_len > 0xffff || data_len > 0xffff || outlen < need)
		return -1;
	memset(p, 0, need); /* the unused bytes and the padding */
	p[0] = s->msb ? 'B' : 'l';
	put16(p + 2, s->major, s->msb);
	put16(p + 4, s->minor, s->msb);
	put16(p + 6, (uint16_t)name_len, s->msb);
	put16(p + 8, (uint16_t)data_len, s->msb);
	if (name_len)
		memcpy(p + X11_SETUP_HEADER, name, name_len);
	if (data_len)
		memcpy(p + X11_SETUP_HEADER + pad4(name_len), data, data_len);
	return (ssize_t)need;
}

ssize_t x11_setup_failed(bool msb, const char *reason, void *out, size_t outlen)
{
	unsigned char *p = out;
	size_t n = strlen(reason), need;

	if (n > 255)
		n = 255;
	need = 8 + pad4(n);
	if (outlen < need)
		return -1;
	memset(p, 0, need);
	p[0] = 0; /* Failed */
	p[1] = (unsigned char)n;
	put16(p + 2, X11_MAJOR, msb);
	put16(p + 4, X11_MINOR, msb);
	put16(p + 6, (uint16_t)(pad4(n) / 4), msb);
	memcpy(p + 8, reason, n);
	return (ssize_t)need;
}
