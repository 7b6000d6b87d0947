/*
 * test_parse.c: the value syntaxes of core/parse.c, good and bad, with the
 * exact messages a user (or a plugin's config_parse) gets.
 */
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define DURATION_SYNTAX "expected a number with optional s, m or h (30, 30s, 5m, 1h)"

static void duration_ok(const char *text, uint64_t want)
{
	char err[256] = "";
	uint64_t ms = 12345;

	if (wr_parse_duration_ms(text, &ms, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", text, err);
	assert_int_equal(ms, want);
	assert_string_equal(err, "");
}

static void duration_bad(const char *text, const char *want)
{
	char err[256] = "";
	uint64_t ms = 12345;

	assert_int_equal(wr_parse_duration_ms(text, &ms, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(ms, 12345); /* untouched on error */
}

static void test_duration_good(void **state)
{
	(void)state;
	duration_ok("0", 0);
	duration_ok("30", 30000);
	duration_ok("30s", 30000);
	duration_ok("5m", 300000);
	duration_ok("1h", 3600000);
	duration_ok("500ms", 500);
	duration_ok("0ms", 0);
	duration_ok("1d", 86400000);
	duration_ok("1h30m", 5400000);
	duration_ok("2m30s", 150000);
	duration_ok("1s500ms", 1500);
	duration_ok("30S", 30000);
	duration_ok("5M", 300000);
	duration_ok("007", 7000);
	duration_ok("2147483647", 2147483647000ULL);
	duration_ok("2147483647s", 2147483647000ULL);
	duration_ok("2147483647000ms", 2147483647000ULL);
}

static void test_duration_bad(void **state)
{
	(void)state;
	duration_bad("", "bad duration '': " DURATION_SYNTAX);
	duration_bad("xx", "bad duration 'xx': " DURATION_SYNTAX);
	duration_bad("-1", "bad duration '-1': " DURATION_SYNTAX);
	duration_bad("+1", "bad duration '+1': " DURATION_SYNTAX);
	duration_bad("30 s", "bad duration '30 s': " DURATION_SYNTAX);
	duration_bad(" 30", "bad duration ' 30': " DURATION_SYNTAX);
	duration_bad("30 ", "bad duration '30 ': " DURATION_SYNTAX);
	duration_bad("1.5s", "bad duration '1.5s': " DURATION_SYNTAX);
	duration_bad("s", "bad duration 's': " DURATION_SYNTAX);
	duration_bad("ms", "bad duration 'ms': " DURATION_SYNTAX);
	duration_bad("30x", "bad duration '30x': " DURATION_SYNTAX);
	duration_bad("30sec", "bad duration '30sec': " DURATION_SYNTAX);
	duration_bad("1h30", "bad duration '1h30': " DURATION_SYNTAX);
	duration_bad("0x10", "bad duration '0x10': " DURATION_SYNTAX);
	duration_bad("2147483648", "bad duration '2147483648': too large (at most 2147483647s)");
	duration_bad("2147483648s", "bad duration '2147483648s': too large (at most 2147483647s)");
	duration_bad("35791395m", "bad duration '35791395m': too large (at most 2147483647s)");
	duration_bad("2147483647s1ms",
	             "bad duration '2147483647s1ms': too large (at most 2147483647s)");
	duration_bad("18446744073709551616",
	             "bad duration '18446744073709551616': too large (at most 2147483647s)");
	duration_bad("18446744073709551616ms",
	             "bad duration '18446744073709551616ms': too large (at most 2147483647s)");
	duration_bad("5124095576030432h",
	             "bad duration '5124095576030432h': too large (at most 2147483647s)");
}

static void test_duration_check(void **state)
{
	uint64_t ms = 0;

	(void)state;
	/* The reason alone, for callers that name the key themselves. */
	assert_null(wr_duration_check("5m", &ms));
	assert_int_equal(ms, 300000);
	assert_string_equal(wr_duration_check("xx", &ms), DURATION_SYNTAX);
	assert_string_equal(wr_duration_check(NULL, &ms), DURATION_SYNTAX);
	/* No err buffer is fine. */
	assert_int_equal(wr_parse_duration_ms("xx", &ms, NULL, 0), -1);
}

static void test_bool(void **state)
{
	static const char *const yes[] = {"yes", "YES", "Yes", "true", "TRUE", "on", "On", "1"};
	static const char *const no[] = {"no", "NO", "false", "False", "off", "OFF", "0"};
	static const char *const bad[] = {"", "y", "n", "2", "yess", " yes", "yes ", "enable"};
	char err[256], want[256];
	bool value;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		value = false;
		assert_int_equal(wr_parse_bool(yes[i], &value, err, sizeof(err)), 0);
		assert_true(value);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		value = true;
		assert_int_equal(wr_parse_bool(no[i], &value, err, sizeof(err)), 0);
		assert_false(value);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		value = true;
		assert_int_equal(wr_parse_bool(bad[i], &value, err, sizeof(err)), -1);
		snprintf(want, sizeof(want),
		         "bad boolean '%s': expected yes or no (also true/false, on/off, 1/0)",
		         bad[i]);
		assert_string_equal(err, want);
		assert_true(value);
	}
	assert_string_equal(wr_bool_check("maybe", &value),
	                    "expected yes or no (also true/false, on/off, 1/0)");
	assert_null(wr_bool_check("off", &value));
	assert_false(value);
}

static void endpoint_ok(const char *text, enum warren_spec_kind kind, const char *bind,
                        unsigned port, const char *host, unsigned host_port)
{
	struct warren_endpoint_spec spec;
	char err[512] = "";

	memset(&spec, 0x55, sizeof(spec));
	if (wr_parse_endpoint(text, kind, &spec, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", text, err);
	assert_string_equal(spec.bind, bind);
	assert_int_equal(spec.port, port);
	assert_string_equal(spec.host, host);
	assert_int_equal(spec.host_port, host_port);
}

static void endpoint_bad(const char *text, enum warren_spec_kind kind, const char *want)
{
	struct warren_endpoint_spec spec, before;
	char err[1024] = "";

	memset(&spec, 0x55, sizeof(spec));
	before = spec;
	assert_int_equal(wr_parse_endpoint(text, kind, &spec, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	/* A rejected spec leaves the caller's struct alone. */
	assert_memory_equal(&spec, &before, sizeof(spec));
}

#define FWD        WARREN_SPEC_FORWARD
#define LISTEN     WARREN_SPEC_LISTEN
#define CONNECT    WARREN_SPEC_CONNECT
#define FWD_SYNTAX "expected [bind:]port:host:hostport"
#define TOO_MANY   "too many ':'-separated parts (IPv6 addresses go in brackets), "
#define NOT_PORT0  " is not a number from 0 to 65535 (service names are not looked up)"
#define NOT_PORT1  " is not a number from 1 to 65535 (service names are not looked up)"

static void test_endpoint_forward_good(void **state)
{
	(void)state;
	endpoint_ok("2323:telnetservername:23", FWD, "", 2323, "telnetservername", 23);
	endpoint_ok("6000:localhost:6000", FWD, "", 6000, "localhost", 6000);
	endpoint_ok("127.0.0.2:2323:host:23", FWD, "127.0.0.2", 2323, "host", 23);
	endpoint_ok("[::1]:2323:host:23", FWD, "::1", 2323, "host", 23);
	endpoint_ok("2323:[::1]:23", FWD, "", 2323, "::1", 23);
	endpoint_ok("[fe80::1%eth0]:2323:[2001:db8::7]:23", FWD, "fe80::1%eth0", 2323,
	            "2001:db8::7", 23);
	endpoint_ok(":2323:h:23", FWD, "", 2323, "h", 23);
	endpoint_ok("[]:2323:h:23", FWD, "", 2323, "h", 23);
	endpoint_ok("*:2323:h:23", FWD, "*", 2323, "h", 23);
	endpoint_ok("localhost:2323:h:23", FWD, "localhost", 2323, "h", 23);
	endpoint_ok("0:h:1", FWD, "", 0, "h", 1);
	endpoint_ok("65535:h:65535", FWD, "", 65535, "h", 65535);
	endpoint_ok("00080:h:00022", FWD, "", 80, "h", 22);
}

static void test_endpoint_forward_bad(void **state)
{
	char long_host[300], text[400], want[600];

	(void)state;
	endpoint_bad("", FWD, "bad forward '': " FWD_SYNTAX);
	endpoint_bad("2323", FWD, "bad forward '2323': " FWD_SYNTAX);
	endpoint_bad("2323:host", FWD, "bad forward '2323:host': " FWD_SYNTAX);
	endpoint_bad("a:1:b:2:c", FWD, "bad forward 'a:1:b:2:c': " TOO_MANY FWD_SYNTAX);
	endpoint_bad("::1:2323:h:23", FWD, "bad forward '::1:2323:h:23': " TOO_MANY FWD_SYNTAX);
	endpoint_bad("x:h:23", FWD, "bad forward 'x:h:23': port 'x'" NOT_PORT0);
	endpoint_bad(":h:23", FWD, "bad forward ':h:23': port ''" NOT_PORT0);
	endpoint_bad("-1:h:23", FWD, "bad forward '-1:h:23': port '-1'" NOT_PORT0);
	endpoint_bad("+1:h:23", FWD, "bad forward '+1:h:23': port '+1'" NOT_PORT0);
	endpoint_bad(" 1:h:23", FWD, "bad forward ' 1:h:23': port ' 1'" NOT_PORT0);
	endpoint_bad("65536:h:23", FWD, "bad forward '65536:h:23': port '65536'" NOT_PORT0);
	endpoint_bad(
	    "99999999999999999999999:h:23", FWD,
	    "bad forward '99999999999999999999999:h:23': port '99999999999999999999999'" NOT_PORT0);
	endpoint_bad("2323:h:telnet", FWD, "bad forward '2323:h:telnet': port 'telnet'" NOT_PORT1);
	endpoint_bad("2323:h:0", FWD, "bad forward '2323:h:0': port '0'" NOT_PORT1);
	endpoint_bad("2323:h:65536", FWD, "bad forward '2323:h:65536': port '65536'" NOT_PORT1);
	endpoint_bad("2323:h:", FWD, "bad forward '2323:h:': port ''" NOT_PORT1);
	endpoint_bad("2323::23", FWD, "bad forward '2323::23': empty host");
	endpoint_bad("2323:[]:23", FWD, "bad forward '2323:[]:23': empty host");
	endpoint_bad("2323:a b:23", FWD,
	             "bad forward '2323:a b:23': host contains white space or a control character");
	endpoint_bad("a\tb:2323:h:23", FWD,
	             "bad forward 'a\tb:2323:h:23': bind address contains white space or a "
	             "control character");
	endpoint_bad("[::1:2323:h:23", FWD, "bad forward '[::1:2323:h:23': unclosed '['");
	endpoint_bad("[::1]x:2323:h:23", FWD,
	             "bad forward '[::1]x:2323:h:23': expected ':' after ']'");
	endpoint_bad("2323:h]:23", FWD,
	             "bad forward '2323:h]:23': unexpected '[' or ']' (brackets go around a "
	             "whole IPv6 address)");
	endpoint_bad("[2323]:h:23", FWD,
	             "bad forward '[2323]:h:23': port '[2323]' in brackets (only addresses go "
	             "in brackets)");

	/* 255 characters is the longest host name DNS allows; 256 is refused. */
	memset(long_host, 'a', 255);
	long_host[255] = '\0';
	snprintf(text, sizeof(text), "1:%s:2", long_host);
	endpoint_ok(text, FWD, "", 1, long_host, 2);
	snprintf(text, sizeof(text), "%s:1:h:2", long_host);
	endpoint_ok(text, FWD, long_host, 1, "h", 2);
	long_host[255] = 'a';
	long_host[256] = '\0';
	snprintf(text, sizeof(text), "1:%s:2", long_host);
	snprintf(want, sizeof(want), "bad forward '%s': host longer than 255 characters", text);
	endpoint_bad(text, FWD, want);
	snprintf(text, sizeof(text), "%s:1:h:2", long_host);
	snprintf(want, sizeof(want), "bad forward '%s': bind address longer than 255 characters",
	         text);
	endpoint_bad(text, FWD, want);
}

static void test_endpoint_listen(void **state)
{
	(void)state;
	endpoint_ok("1080", LISTEN, "", 1080, "", 0);
	endpoint_ok("0", LISTEN, "", 0, "", 0);
	endpoint_ok("127.0.0.2:1080", LISTEN, "127.0.0.2", 1080, "", 0);
	endpoint_ok("[::1]:1080", LISTEN, "::1", 1080, "", 0);
	endpoint_ok("localhost:1080", LISTEN, "localhost", 1080, "", 0);
	endpoint_ok(":1080", LISTEN, "", 1080, "", 0);
	endpoint_ok("*:1080", LISTEN, "*", 1080, "", 0);

	endpoint_bad("", LISTEN, "bad listen address '': port ''" NOT_PORT0);
	endpoint_bad("socks", LISTEN, "bad listen address 'socks': port 'socks'" NOT_PORT0);
	endpoint_bad("1080:", LISTEN, "bad listen address '1080:': port ''" NOT_PORT0);
	endpoint_bad("70000", LISTEN, "bad listen address '70000': port '70000'" NOT_PORT0);
	endpoint_bad("a:b:1080", LISTEN,
	             "bad listen address 'a:b:1080': " TOO_MANY "expected [bind:]port");
	endpoint_bad("::1:1080", LISTEN,
	             "bad listen address '::1:1080': " TOO_MANY "expected [bind:]port");
	endpoint_bad("[::1]", LISTEN,
	             "bad listen address '[::1]': port '[::1]' in brackets (only addresses go in "
	             "brackets)");
	endpoint_bad("[::1", LISTEN, "bad listen address '[::1': unclosed '['");
}

static void test_endpoint_connect(void **state)
{
	(void)state;
	endpoint_ok("example.com:80", CONNECT, "", 0, "example.com", 80);
	endpoint_ok("[::1]:80", CONNECT, "", 0, "::1", 80);
	endpoint_ok("10.0.0.1:65535", CONNECT, "", 0, "10.0.0.1", 65535);

	endpoint_bad("example.com", CONNECT, "bad address 'example.com': expected host:port");
	endpoint_bad("", CONNECT, "bad address '': expected host:port");
	endpoint_bad(":80", CONNECT, "bad address ':80': empty host");
	endpoint_bad("h:0", CONNECT, "bad address 'h:0': port '0'" NOT_PORT1);
	endpoint_bad("h:http", CONNECT, "bad address 'h:http': port 'http'" NOT_PORT1);
	endpoint_bad("a:b:80", CONNECT, "bad address 'a:b:80': " TOO_MANY "expected host:port");
	endpoint_bad("::1:80", CONNECT, "bad address '::1:80': " TOO_MANY "expected host:port");
}

static void test_endpoint_misc(void **state)
{
	struct warren_endpoint_spec spec;
	char err[128];

	(void)state;
	/* A short err buffer truncates, never overflows. */
	assert_int_equal(wr_parse_endpoint("x", FWD, &spec, err, 8), -1);
	assert_string_equal(err, "bad for");
	assert_int_equal(wr_parse_endpoint("x", FWD, &spec, NULL, 0), -1);
	assert_int_equal(wr_parse_endpoint(NULL, FWD, &spec, err, sizeof(err)), -1);
	assert_string_equal(err, "bad forward '': " FWD_SYNTAX);
	assert_int_equal(
	    wr_parse_endpoint("1080", (enum warren_spec_kind)7, &spec, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown endpoint kind 7");
}

static void test_loopback(void **state)
{
	static const char *const yes[] = {
	    "127.0.0.1", "127.0.0.2",       "127.255.255.255",  "127.1.2.3",
	    "::1",       "0:0:0:0:0:0:0:1", "0000::0001",       "localhost",
	    "LocalHost", "LOCALHOST",       "::ffff:127.0.0.1", "::ffff:127.9.9.9",
	};
	static const char *const no[] = {
	    "",
	    "*",
	    "0.0.0.0",
	    "::",
	    "128.0.0.1",
	    "126.255.255.255",
	    "10.0.0.1",
	    "192.168.1.1",
	    "example.com",
	    "localhost.example.com",
	    "[::1]",
	    "127.0.0.1 ",
	    "::2",
	    "fe80::1",
	    "::ffff:10.0.0.1",
	    "127.1",
	    "127.0.0.256",
	    "localhos",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!wr_is_loopback(yes[i]))
			fail_msg("'%s' should be loopback", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (wr_is_loopback(no[i]))
			fail_msg("'%s' should not be loopback", no[i]);
	assert_false(wr_is_loopback(NULL));
}

static void test_name_valid(void **state)
{
	char name[70];

	(void)state;
	assert_true(wr_name_valid("a"));
	assert_true(wr_name_valid("office"));
	assert_true(wr_name_valid("A-Z.a_b@c-9"));
	assert_true(wr_name_valid("ssh-forward"));
	memset(name, 'x', 64);
	name[64] = '\0';
	assert_true(wr_name_valid(name));
	name[64] = 'x';
	name[65] = '\0';
	assert_false(wr_name_valid(name));
	assert_false(wr_name_valid(""));
	assert_false(wr_name_valid(NULL));
	assert_false(wr_name_valid("a b"));
	assert_false(wr_name_valid("a/b"));
	assert_false(wr_name_valid("a:b"));
	assert_false(wr_name_valid("a]"));
	assert_false(wr_name_valid("caf\xc3\xa9"));
	assert_false(wr_name_valid("tab\t"));
}

static void expand_is(const char *path, const char *want)
{
	char *got = wr_expand_home(path);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_expand_home(void **state)
{
	struct passwd *pw;
	char want[1024];

	(void)state;
	assert_int_equal(setenv("HOME", "/home/test", 1), 0);
	expand_is("~", "/home/test");
	expand_is("~/", "/home/test/");
	expand_is("~/.ssh/id_ed25519", "/home/test/.ssh/id_ed25519");
	expand_is("/etc/warren", "/etc/warren");
	expand_is("relative/~/x", "relative/~/x");
	expand_is("x~", "x~");
	expand_is("", "");

	/* No doubled slash whatever HOME ends with. */
	assert_int_equal(setenv("HOME", "/home/test//", 1), 0);
	expand_is("~/x", "/home/test/x");
	assert_int_equal(setenv("HOME", "/", 1), 0);
	expand_is("~/x", "/x");
	expand_is("~", "/");

	/* ~user, as OpenSSH does; an unknown user leaves the path as written. */
	pw = getpwnam("root");
	if (pw) {
		snprintf(want, sizeof(want), "%s/x", pw->pw_dir);
		expand_is("~root/x", want);
		expand_is("~root", pw->pw_dir);
	}
	expand_is("~no-such-user-warren-test/x", "~no-such-user-warren-test/x");

	/* Without HOME, the passwd entry of the user running warren. */
	pw = getpwuid(geteuid());
	assert_non_null(pw);
	snprintf(want, sizeof(want), "%s/x", strcmp(pw->pw_dir, "/") ? pw->pw_dir : "");
	assert_int_equal(unsetenv("HOME"), 0);
	expand_is("~/x", want);
	assert_int_equal(setenv("HOME", "", 1), 0);
	expand_is("~/x", want);

	assert_null(wr_expand_home(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_good),
	    cmocka_unit_test(test_duration_bad),
	    cmocka_unit_test(test_duration_check),
	    cmocka_unit_test(test_bool),
	    cmocka_unit_test(test_endpoint_forward_good),
	    cmocka_unit_test(test_endpoint_forward_bad),
	    cmocka_unit_test(test_endpoint_listen),
	    cmocka_unit_test(test_endpoint_connect),
	    cmocka_unit_test(test_endpoint_misc),
	    cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_expand_home),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
