/*
 * test_socks.c: the SOCKS 4, 4a and 5 request parser of dynamic forwards
 * (plugins/ssh-forward/socks.c): good requests of each version, requests cut
 * anywhere, and the hostile ones, each with the protocol's error reply.
 * test_socks4a_host_longer_than_255_in_one_read is the regression test for
 * the overflow fuzz_socks found: a SOCKS 4a host name's NUL past byte 255,
 * all in one read, was copied into the 256-byte host field unchecked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "socks.h"

static enum socks_result parse(int stage, const void *buf, size_t len, struct socks_req *r)
{
	memset(r, 0, sizeof(*r));
	return socks_parse(stage, buf, len, r);
}

static void test_socks4_connect(void **state)
{
	static const unsigned char req[] = {4, 1, 0, 80, 127, 0, 0, 1, 'u', 0};
	struct socks_req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(req); i++)
		assert_int_equal(parse(0, req, i, &r), SOCKS_MORE);
	assert_int_equal(parse(0, req, sizeof(req), &r), SOCKS_CONNECT);
	assert_int_equal(r.version, 4);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(r.port, 80);
	assert_int_equal(r.consumed, sizeof(req));
}

static void test_socks4a_connect(void **state)
{
	static const unsigned char req[] = {4, 1, 0x1f, 0x90, 0, 0, 0, 1, 0,
	                                    'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0};
	struct socks_req r;

	(void)state;
	assert_int_equal(parse(0, req, sizeof(req) - 1, &r), SOCKS_MORE);
	assert_int_equal(parse(0, req, sizeof(req), &r), SOCKS_CONNECT);
	assert_string_equal(r.host, "localhost");
	assert_int_equal(r.port, 8080);
	assert_int_equal(r.consumed, sizeof(req));
}

static void socks4a_with_host_len(size_t hl, enum socks_result want)
{
	unsigned char req[8 + 2 + 300 + 1];
	struct socks_req r;
	size_t len;

	memcpy(req, "\x04\x01\x00\x50\x00\x00\x00\x01u\x00", 10);
	memset(req + 10, 'a', hl);
	req[10 + hl] = 0;
	len = 10 + hl + 1;
	assert_int_equal(parse(0, req, len, &r), want);
	if (want == SOCKS_CONNECT) {
		assert_int_equal(strlen(r.host), hl);
	} else {
		assert_int_equal(r.reply_len, 8);
		assert_int_equal(r.reply[1], 91);
		assert_string_equal(r.error, "SOCKS4a host name too long");
	}
}

static void test_socks4a_host_longer_than_255_in_one_read(void **state)
{
	(void)state;
	socks4a_with_host_len(255, SOCKS_CONNECT);
	socks4a_with_host_len(256, SOCKS_ERROR);
	socks4a_with_host_len(300, SOCKS_ERROR);
}

static void test_socks4_errors(void **state)
{
	static const unsigned char bind[] = {4, 2, 0, 80, 127, 0, 0, 1, 0};
	static const unsigned char port0[] = {4, 1, 0, 0, 127, 0, 0, 1, 0};
	static const unsigned char empty4a[] = {4, 1, 0, 80, 0, 0, 0, 1, 0, 0};
	unsigned char longuser[8 + 300];
	struct socks_req r;

	(void)state;
	assert_int_equal(parse(0, bind, sizeof(bind), &r), SOCKS_ERROR);
	assert_int_equal(r.reply[1], 91);
	assert_int_equal(parse(0, port0, sizeof(port0), &r), SOCKS_ERROR);
	assert_int_equal(parse(0, empty4a, sizeof(empty4a), &r), SOCKS_ERROR);
	memset(longuser, 'u', sizeof(longuser));
	memcpy(longuser, "\x04\x01\x00\x50\x7f\x00\x00\x01", 8);
	assert_int_equal(parse(0, longuser, sizeof(longuser), &r), SOCKS_ERROR);
	assert_string_equal(r.error, "SOCKS4 user id too long");
}

static void test_socks5(void **state)
{
	static const unsigned char greet[] = {5, 2, 2, 0};
	static const unsigned char noauth[] = {5, 1, 2};
	static const unsigned char v4[] = {5, 1, 0, 1, 10, 1, 2, 3, 0, 22};
	static const unsigned char name[] = {5, 1, 0, 3, 3, 'a', 'b', 'c', 1, 0};
	static const unsigned char nul[] = {5, 1, 0, 3, 3, 'a', 0, 'c', 1, 0};
	static const unsigned char v6[] = {5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
	                                   0, 0, 0, 0, 0, 0, 0, 1, 0, 22};
	static const unsigned char cmd[] = {5, 3, 0, 1, 10, 1, 2, 3, 0, 22};
	static const unsigned char atyp[] = {5, 1, 0, 9, 0, 0, 0, 0, 0, 0};
	struct socks_req r;

	(void)state;
	assert_int_equal(parse(0, greet, 3, &r), SOCKS_MORE);
	assert_int_equal(parse(0, greet, sizeof(greet), &r), SOCKS_GREETING);
	assert_int_equal(r.consumed, 4);
	assert_int_equal(r.reply_len, 2);
	assert_int_equal(r.reply[1], 0);
	assert_int_equal(parse(0, noauth, sizeof(noauth), &r), SOCKS_ERROR);
	assert_int_equal(r.reply[1], 0xff);

	assert_int_equal(parse(1, v4, sizeof(v4) - 1, &r), SOCKS_MORE);
	assert_int_equal(parse(1, v4, sizeof(v4), &r), SOCKS_CONNECT);
	assert_string_equal(r.host, "10.1.2.3");
	assert_int_equal(r.port, 22);
	assert_int_equal(parse(1, name, sizeof(name), &r), SOCKS_CONNECT);
	assert_string_equal(r.host, "abc");
	assert_int_equal(r.port, 256);
	assert_int_equal(parse(1, nul, sizeof(nul), &r), SOCKS_ERROR);
	assert_int_equal(parse(1, v6, sizeof(v6), &r), SOCKS_CONNECT);
	assert_string_equal(r.host, "::1");
	assert_int_equal(parse(1, cmd, sizeof(cmd), &r), SOCKS_ERROR);
	assert_int_equal(r.reply[1], 7);
	assert_int_equal(parse(1, atyp, sizeof(atyp), &r), SOCKS_ERROR);
	assert_int_equal(r.reply[1], 8);
}

static void test_not_socks(void **state)
{
	struct socks_req r;

	(void)state;
	assert_int_equal(parse(0, "GET /", 5, &r), SOCKS_ERROR);
	assert_int_equal(r.reply_len, 0);
	assert_int_equal(parse(0, "", 0, &r), SOCKS_MORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_socks4_connect),
	    cmocka_unit_test(test_socks4a_connect),
	    cmocka_unit_test(test_socks4a_host_longer_than_255_in_one_read),
	    cmocka_unit_test(test_socks4_errors),
	    cmocka_unit_test(test_socks5),
	    cmocka_unit_test(test_not_socks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
