/*
 * test_x11_display.c: DISPLAY parsing of plugins/x11/display.c, every form
 * Xlib and libxcb take on Linux and the ones they refuse, and loopback
 * detection for the Xauthority lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "display.h"

static struct x11_display parse_ok(const char *text)
{
	struct x11_display d;
	char err[256] = "";

	if (x11_display_parse(text, &d, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", text, err);
	return d;
}

static void parse_bad(const char *text, const char *want)
{
	struct x11_display d;
	char err[256] = "";

	if (x11_display_parse(text, &d, err, sizeof(err)) == 0)
		fail_msg("'%s' accepted", text);
	if (!strstr(err, want))
		fail_msg("'%s': error '%s' does not say '%s'", text, err, want);
}

static void local_ok(const char *text, unsigned number, unsigned screen)
{
	struct x11_display d = parse_ok(text);
	char path[64];

	snprintf(path, sizeof(path), "/tmp/.X11-unix/X%u", number);
	assert_int_equal(d.kind, X11_DISPLAY_LOCAL);
	assert_int_equal(d.number, number);
	assert_int_equal(d.screen, screen);
	assert_string_equal(d.path, path);
	assert_true(x11_display_is_loopback(&d));
}

static void tcp_ok(const char *text, const char *host, unsigned number, unsigned screen)
{
	struct x11_display d = parse_ok(text);

	assert_int_equal(d.kind, X11_DISPLAY_TCP);
	assert_string_equal(d.host, host);
	assert_int_equal(d.number, number);
	assert_int_equal(d.port, 6000 + number);
	assert_int_equal(d.screen, screen);
}

static void path_ok(const char *text, unsigned number)
{
	struct x11_display d = parse_ok(text);

	assert_int_equal(d.kind, X11_DISPLAY_PATH);
	assert_string_equal(d.path, text);
	assert_int_equal(d.number, number);
	assert_int_equal(d.screen, 0);
	assert_true(x11_display_is_loopback(&d));
}

static void test_local(void **state)
{
	(void)state;
	local_ok(":0", 0, 0);
	local_ok(":1", 1, 0);
	local_ok(":0.0", 0, 0);
	local_ok(":12.3", 12, 3);
	local_ok(":65535", 65535, 0);
	local_ok("unix:5", 5, 0);
	local_ok("unix:5.1", 5, 1);
	local_ok("unix/:7", 7, 0);
	local_ok("local/:8.2", 8, 2);
}

static void test_tcp(void **state)
{
	(void)state;
	tcp_ok("localhost:10", "localhost", 10, 0);
	tcp_ok("localhost:10.0", "localhost", 10, 0);
	tcp_ok("127.0.0.1:2", "127.0.0.1", 2, 0);
	tcp_ok("gw.example.com:0.1", "gw.example.com", 0, 1);
	tcp_ok("[::1]:3", "::1", 3, 0);
	tcp_ok("[fe80::1]:4.2", "fe80::1", 4, 2);
	tcp_ok("::1:5", "::1", 5, 0); /* Xlib's bare IPv6 form: the last ':' */
	tcp_ok("tcp/gw:1", "gw", 1, 0);
	tcp_ok("tcp/:6", "localhost", 6, 0);
	tcp_ok("host:59535", "host", 59535, 0); /* port 65535 */
}

static void test_path(void **state)
{
	(void)state;
	path_ok("/tmp/.X11-unix/X9", 9);
	path_ok("/tmp/.X11-unix/X0", 0);
	path_ok("/private/tmp/com.apple.launchd.AbC123/org.xquartz:0", 0);
	path_ok("/private/tmp/com.apple.launchd.AbC123/org.xquartz:3", 3);
	path_ok("/run/user/1000/xsock", 0);
	path_ok("/run/Xfoo", 0);
}

static void test_bad(void **state)
{
	char longpath[200];

	(void)state;
	parse_bad("", "empty display");
	parse_bad("0", "expected :N");
	parse_bad("localhost", "expected :N");
	parse_bad(":", "display number");
	parse_bad(":x", "display number");
	parse_bad(": 1", "display number");
	parse_bad(":+1", "display number");
	parse_bad(":-1", "display number");
	parse_bad(":1.", "display number");
	parse_bad(":1.x", "display number");
	parse_bad(":1.2.3", "display number");
	parse_bad(":65536", "display number");
	parse_bad(":99999999999", "display number");
	parse_bad("host:59536", "(0-59535)");
	parse_bad("host::0", "DECnet");
	parse_bad("foo/:0", "unknown protocol 'foo'");
	parse_bad("[::1:0", "bad host");
	parse_bad("[]:0", "bad host");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	parse_bad(longpath, "longer than 107 bytes");
}

static void test_loopback(void **state)
{
	struct x11_display d;

	(void)state;
	d = parse_ok("localhost:1");
	assert_true(x11_display_is_loopback(&d));
	d = parse_ok("LOCALHOST:1");
	assert_true(x11_display_is_loopback(&d));
	d = parse_ok("127.3.4.5:1");
	assert_true(x11_display_is_loopback(&d));
	d = parse_ok("[::1]:1");
	assert_true(x11_display_is_loopback(&d));
	d = parse_ok("10.0.0.1:1");
	assert_false(x11_display_is_loopback(&d));
	d = parse_ok("128.0.0.1:1");
	assert_false(x11_display_is_loopback(&d));
	d = parse_ok("[fe80::1]:1");
	assert_false(x11_display_is_loopback(&d));
	d = parse_ok("gw.example.com:1");
	assert_false(x11_display_is_loopback(&d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local),    cmocka_unit_test(test_tcp),
	    cmocka_unit_test(test_path),     cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
