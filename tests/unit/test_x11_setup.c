/*
 * test_x11_setup.c: the X11 connection setup parser, the cookie check, the
 * rewrite with the real cookie and the Failed reply of plugins/x11/setup.c,
 * in both byte orders, with every padding, truncated input and lengths that
 * do not match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "setup.h"

static const unsigned char fake[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                       0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f};
static const unsigned char real[16] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
                                       0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c};

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put16(unsigned char *p, unsigned v, int msb)
{
	p[msb ? 0 : 1] = (unsigned char)(v >> 8);
	p[msb ? 1 : 0] = (unsigned char)v;
}

static unsigned get16(const unsigned char *p, int msb)
{
	return msb ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

/* A setup as a client writes it; the padding is filled with 0xee so that
 * a parser reading it as data would be caught. Returns its length. */
static size_t make_setup(unsigned char *buf, int msb, unsigned major, unsigned minor,
                         const void *name, size_t n, const void *data, size_t d)
{
	memset(buf, 0xee, X11_SETUP_HEADER + pad4(n) + pad4(d));
	buf[0] = msb ? 'B' : 'l';
	buf[1] = 0;
	put16(buf + 2, major, msb);
	put16(buf + 4, minor, msb);
	put16(buf + 6, (unsigned)n, msb);
	put16(buf + 8, (unsigned)d, msb);
	put16(buf + 10, 0, msb);
	memcpy(buf + X11_SETUP_HEADER, name, n);
	memcpy(buf + X11_SETUP_HEADER + pad4(n), data, d);
	return X11_SETUP_HEADER + pad4(n) + pad4(d);
}

static void test_parse_both_orders(void **state)
{
	unsigned char buf[128];
	struct x11_setup s;
	int msb;

	(void)state;
	for (msb = 0; msb <= 1; msb++) {
		size_t len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, fake, 16);

		assert_int_equal(len, 12 + 20 + 16);
		memset(&s, 0, sizeof(s));
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
		assert_int_equal(s.msb, msb);
		assert_int_equal(s.major, 11);
		assert_int_equal(s.minor, 0);
		assert_int_equal(s.name_len, 18);
		assert_memory_equal(s.name, X11_AUTH_MIT, 18);
		assert_int_equal(s.data_len, 16);
		/* the data starts after the name's 2 bytes of padding */
		assert_ptr_equal(s.data, buf + 12 + 20);
		assert_memory_equal(s.data, fake, 16);
		assert_int_equal(s.total, len);
		assert_true(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, real, 16));
	}
}

static void test_version_kept(void **state)
{
	unsigned char buf[64];
	struct x11_setup s;
	size_t len = make_setup(buf, 1, 0x1234, 0xbeef, "", 0, "", 0);

	(void)state;
	assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
	assert_int_equal(s.major, 0x1234);
	assert_int_equal(s.minor, 0xbeef);
	assert_int_equal(s.total, 12);
}

/* Every name and data length modulo 4: padding taken, never read as data. */
static void test_padding(void **state)
{
	unsigned char buf[64], name[8], data[8];
	struct x11_setup s;
	size_t n, d, len;
	int msb;

	(void)state;
	memset(name, 'N', sizeof(name));
	memset(data, 'D', sizeof(data));
	for (msb = 0; msb <= 1; msb++) {
		for (n = 0; n <= 5; n++) {
			for (d = 0; d <= 5; d++) {
				len = make_setup(buf, msb, 11, 0, name, n, data, d);
				assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
				assert_int_equal(s.total, 12 + pad4(n) + pad4(d));
				assert_int_equal(s.name_len, n);
				assert_int_equal(s.data_len, d);
				assert_ptr_equal(s.data, buf + 12 + pad4(n));
				/* one byte short of the padding is not enough */
				if (len > 12)
					assert_int_equal(x11_setup_parse(buf, len - 1, &s),
					                 X11_SETUP_MORE);
			}
		}
	}
}

static void test_truncated(void **state)
{
	unsigned char buf[64];
	struct x11_setup s;
	size_t len, i;
	int msb;

	(void)state;
	for (msb = 0; msb <= 1; msb++) {
		len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, fake, 16);
		for (i = 0; i < len; i++)
			assert_int_equal(x11_setup_parse(buf, i, &s), X11_SETUP_MORE);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
	}
}

static void test_bad_byte_order(void **state)
{
	unsigned char buf[64];
	struct x11_setup s;
	size_t len = make_setup(buf, 0, 11, 0, X11_AUTH_MIT, 18, fake, 16);
	const unsigned char bad[] = {0, 'b', 'L', 'X', 0x6d, 0xff};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		buf[0] = bad[i];
		/* known from the first byte alone */
		assert_int_equal(x11_setup_parse(buf, 1, &s), X11_SETUP_BAD);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_BAD);
	}
}

/* Requests a client sends right behind its setup are not part of it. */
static void test_trailing_bytes(void **state)
{
	unsigned char buf[80];
	struct x11_setup s;
	size_t len = make_setup(buf, 0, 11, 0, X11_AUTH_MIT, 18, fake, 16);

	(void)state;
	memcpy(buf + len, "\x2b\x00\x01\x00", 4); /* GetInputFocus */
	assert_int_equal(x11_setup_parse(buf, len + 4, &s), X11_SETUP_OK);
	assert_int_equal(s.total, len);
}

/* Lengths that do not match what was sent, or the cookie. */
static void test_wrong_lengths(void **state)
{
	unsigned char buf[128];
	struct x11_setup s;
	size_t len;
	int msb;

	(void)state;
	for (msb = 0; msb <= 1; msb++) {
		/* 15 bytes of the cookie, declared as 15 */
		len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, fake, 15);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		/* the cookie and one more byte */
		unsigned char longer[17];

		memcpy(longer, fake, 16);
		longer[16] = 0;
		len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, longer, 17);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		/* the name one byte short */
		len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 17, fake, 16);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		/* another protocol with the same data */
		len = make_setup(buf, msb, 11, 0, "XDM-AUTHORIZATION-1", 19, fake, 16);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		/* none at all */
		len = make_setup(buf, msb, 11, 0, "", 0, "", 0);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		/* a data length larger than what follows: wait for it */
		len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, fake, 16);
		put16(buf + 8, 0xffff, msb);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_MORE);
		/* a name length that eats the data */
		len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, fake, 16);
		put16(buf + 6, 34, msb);
		assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_MORE);
		assert_int_equal(x11_setup_parse(buf, len + 16, &s), X11_SETUP_OK);
		assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		/* each single bit of the cookie matters */
		for (size_t bit = 0; bit < 128; bit++) {
			unsigned char forged[16];

			memcpy(forged, fake, 16);
			forged[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			len = make_setup(buf, msb, 11, 0, X11_AUTH_MIT, 18, forged, 16);
			assert_int_equal(x11_setup_parse(buf, len, &s), X11_SETUP_OK);
			assert_false(x11_setup_auth_is(&s, X11_AUTH_MIT, fake, 16));
		}
	}
}

static void test_largest(void **state)
{
	static unsigned char buf[X11_SETUP_MAX];
	struct x11_setup s;

	(void)state;
	memset(buf, 0, sizeof(buf));
	buf[0] = 'B';
	put16(buf + 6, 0xffff, 1);
	put16(buf + 8, 0xffff, 1);
	assert_int_equal(x11_setup_parse(buf, sizeof(buf) - 1, &s), X11_SETUP_MORE);
	assert_int_equal(x11_setup_parse(buf, sizeof(buf), &s), X11_SETUP_OK);
	assert_int_equal(s.total, X11_SETUP_MAX);
}

static void test_rewrite(void **state)
{
	unsigned char in[64], out[64];
	struct x11_setup s, r;
	ssize_t n;
	size_t len;
	int msb;

	(void)state;
	for (msb = 0; msb <= 1; msb++) {
		len = make_setup(in, msb, 11, 0, X11_AUTH_MIT, 18, fake, 16);
		assert_int_equal(x11_setup_parse(in, len, &s), X11_SETUP_OK);
		memset(out, 0xaa, sizeof(out));
		n = x11_setup_rewrite(&s, X11_AUTH_MIT, 18, real, 16, out, sizeof(out));
		assert_int_equal(n, 48);
		assert_int_equal((size_t)n, x11_setup_len(18, 16));
		assert_int_equal(out[0], msb ? 'B' : 'l');
		assert_int_equal(out[1], 0);
		assert_int_equal(get16(out + 2, msb), 11);
		assert_int_equal(get16(out + 6, msb), 18);
		assert_int_equal(get16(out + 8, msb), 16);
		assert_int_equal(get16(out + 10, msb), 0);
		/* padding written as zeros */
		assert_int_equal(out[12 + 18], 0);
		assert_int_equal(out[12 + 19], 0);
		assert_int_equal(x11_setup_parse(out, (size_t)n, &r), X11_SETUP_OK);
		assert_int_equal(r.msb, msb);
		assert_true(x11_setup_auth_is(&r, X11_AUTH_MIT, real, 16));
		/* the fake cookie is gone */
		assert_null(memmem(out, (size_t)n, fake, 16));
		/* an odd-sized cookie gets its padding */
		n = x11_setup_rewrite(&s, X11_AUTH_MIT, 18, real, 13, out, sizeof(out));
		assert_int_equal(n, 12 + 20 + 16);
		assert_int_equal(x11_setup_parse(out, (size_t)n, &r), X11_SETUP_OK);
		assert_int_equal(r.data_len, 13);
		assert_memory_equal(r.data, real, 13);
		assert_int_equal(out[12 + 20 + 13], 0);
		/* no authorization at all */
		n = x11_setup_rewrite(&s, "", 0, NULL, 0, out, sizeof(out));
		assert_int_equal(n, 12);
		assert_int_equal(get16(out + 6, msb), 0);
		assert_int_equal(get16(out + 8, msb), 0);
		/* too small, too long */
		assert_int_equal(x11_setup_rewrite(&s, X11_AUTH_MIT, 18, real, 16, out, 47), -1);
		assert_int_equal(
		    x11_setup_rewrite(&s, X11_AUTH_MIT, 0x10000, real, 16, out, sizeof(out)), -1);
	}
}

static void test_failed_reply(void **state)
{
	unsigned char out[300];
	const char *reason = "Invalid MIT-MAGIC-COOKIE-1 key"; /* 30 bytes */
	char longreason[400];
	ssize_t n;
	int msb;

	(void)state;
	for (msb = 0; msb <= 1; msb++) {
		memset(out, 0xaa, sizeof(out));
		n = x11_setup_failed(msb, reason, out, sizeof(out));
		assert_int_equal(n, 8 + 32);
		assert_int_equal(out[0], 0); /* Failed */
		assert_int_equal(out[1], 30);
		assert_int_equal(get16(out + 2, msb), 11);
		assert_int_equal(get16(out + 4, msb), 0);
		assert_int_equal(get16(out + 6, msb), 8); /* 32 / 4 */
		assert_memory_equal(out + 8, reason, 30);
		assert_int_equal(out[38], 0);
		assert_int_equal(out[39], 0);
		assert_int_equal(x11_setup_failed(msb, reason, out, 39), -1);
	}
	memset(longreason, 'r', sizeof(longreason) - 1);
	longreason[sizeof(longreason) - 1] = '\0';
	n = x11_setup_failed(1, longreason, out, sizeof(out));
	assert_int_equal(n, 8 + 256);
	assert_int_equal(out[1], 255);
	assert_int_equal(get16(out + 6, 1), 64);
	n = x11_setup_failed(0, "", out, sizeof(out));
	assert_int_equal(n, 8);
	assert_int_equal(out[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_both_orders), cmocka_unit_test(test_version_kept),
	    cmocka_unit_test(test_padding),           cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_bad_byte_order),    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_wrong_lengths),     cmocka_unit_test(test_largest),
	    cmocka_unit_test(test_rewrite),           cmocka_unit_test(test_failed_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
