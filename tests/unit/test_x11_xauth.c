/*
 * test_x11_xauth.c: the Xauthority lookup of plugins/x11/xauth.c against
 * files written with libXau: FamilyLocal by host name, FamilyInternet and
 * FamilyInternet6 by the server's address, FamilyWild, entries without a
 * display number, other protocols skipped, file order deciding, a missing
 * file reported.
 */
#include <X11/Xauth.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "xauth.h"

#define MIT "MIT-MAGIC-COOKIE-1"

static char path[64];
static char hostname[256];

static void add(FILE *f, unsigned short family, const void *addr, size_t alen, const char *number,
                const char *name, unsigned char fill)
{
	unsigned char data[16];
	Xauth a;

	memset(data, fill, sizeof(data));
	a.family = family;
	a.address_length = (unsigned short)alen;
	a.address = (char *)addr;
	a.number_length = (unsigned short)strlen(number);
	a.number = (char *)number;
	a.name_length = (unsigned short)strlen(name);
	a.name = (char *)name;
	a.data_length = sizeof(data);
	a.data = (char *)data;
	assert_int_equal(XauWriteAuth(f, &a), 1);
}

/* The fill byte of the cookie found for display text (and peer), or -1. */
static int lookup(const char *text, const struct sockaddr *peer, socklen_t plen)
{
	struct x11_display d;
	struct x11_cookie c;
	char err[256];
	int rc;

	assert_int_equal(x11_display_parse(text, &d, err, sizeof(err)), 0);
	rc = x11_xauth_find(path, &d, peer, plen, &c, err, sizeof(err));
	assert_true(rc >= 0);
	if (rc == 0)
		return -1;
	assert_int_equal(c.len, 16);
	return c.data[0];
}

static int setup(void **state)
{
	const char other[] = "some-other-host";
	unsigned char v4[4] = {192, 0, 2, 7}, v6[16] = {0x20, 0x01, 0x0d, 0xb8};
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(gethostname(hostname, sizeof(hostname) - 1), 0);
	snprintf(path, sizeof(path), "/tmp/test_x11_xauth.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	/* another host's display 5 first: must not be taken */
	add(f, FamilyLocal, other, strlen(other), "5", MIT, 0x01);
	/* another protocol for this host: skipped */
	add(f, FamilyLocal, hostname, strlen(hostname), "5", "XDM-AUTHORIZATION-1", 0x02);
	add(f, FamilyLocal, hostname, strlen(hostname), "5", MIT, 0x05);
	/* the second entry for the same display loses: file order */
	add(f, FamilyLocal, hostname, strlen(hostname), "5", MIT, 0x55);
	add(f, 0 /* FamilyInternet */, v4, 4, "7", MIT, 0x07);
	add(f, 6 /* FamilyInternet6 */, v6, 16, "8", MIT, 0x08);
	add(f, FamilyWild, "", 0, "9", MIT, 0x09);
	/* no display number: any display of this host */
	add(f, FamilyLocal, hostname, strlen(hostname), "", MIT, 0x0a);
	assert_int_equal(fclose(f), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_local(void **state)
{
	(void)state;
	assert_int_equal(lookup(":5", NULL, 0), 0x05);
	assert_int_equal(lookup(":5.1", NULL, 0), 0x05);
	assert_int_equal(lookup("unix:5", NULL, 0), 0x05);
	assert_int_equal(lookup("/tmp/.X11-unix/X5", NULL, 0), 0x05);
	/* TCP to loopback is looked up as local, as Xlib does */
	assert_int_equal(lookup("localhost:5", NULL, 0), 0x05);
	assert_int_equal(lookup("127.0.0.1:5", NULL, 0), 0x05);
}

static void test_wild_and_numberless(void **state)
{
	(void)state;
	assert_int_equal(lookup(":9", NULL, 0), 0x09);
	/* display 6: no entry but the one without a number */
	assert_int_equal(lookup(":6", NULL, 0), 0x0a);
}

static void test_by_address(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	assert_int_equal(lookup("192.0.2.7:7", (struct sockaddr *)&sin, sizeof(sin)), 0x07);
	/* a name that resolved to that address */
	assert_int_equal(lookup("xserver.example:7", (struct sockaddr *)&sin, sizeof(sin)), 0x07);
	/* a v4-mapped peer is the IPv4 entry */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
	assert_int_equal(lookup("xserver.example:7", (struct sockaddr *)&sin6, sizeof(sin6)), 0x07);
	inet_pton(AF_INET6, "2001:db8::", &sin6.sin6_addr);
	assert_int_equal(lookup("[2001:db8::]:8", (struct sockaddr *)&sin6, sizeof(sin6)), 0x08);
	/* another address: nothing (the host-name entries are for local
	 * displays only) */
	inet_pton(AF_INET, "192.0.2.8", &sin.sin_addr);
	assert_int_equal(lookup("192.0.2.8:7", (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(lookup("192.0.2.8:5", (struct sockaddr *)&sin, sizeof(sin)), -1);
}

static void test_missing_file(void **state)
{
	struct x11_display d;
	struct x11_cookie c;
	char err[256] = "";

	(void)state;
	assert_int_equal(x11_display_parse(":0", &d, err, sizeof(err)), 0);
	assert_int_equal(
	    x11_xauth_find("/nonexistent/.Xauthority", &d, NULL, 0, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/.Xauthority"));
	assert_non_null(strstr(err, "No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local),
	    cmocka_unit_test(test_wild_and_numberless),
	    cmocka_unit_test(test_by_address),
	    cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
