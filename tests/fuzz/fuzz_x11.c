/*
 * fuzz_x11: the parsers of the x11 transport (plugins/x11): DISPLAY strings
 * (x11_display_parse, every form Xlib takes) and the X11 connection setup a
 * remote X client sends through the gateway (x11_setup_parse), with the
 * cookie check and the rewrite that puts the real cookie in. The first byte
 * picks which: even, the rest (cut at a NUL) is a DISPLAY; odd, the rest is
 * a connection setup. A setup that parses lies inside the input; rewritten
 * with a cookie into a buffer of exactly x11_setup_len() it parses again to
 * the same byte order, version and that cookie.
 */
#include <string.h>

#include "display.h"
#include "fuzz.h"
#include "setup.h"

static void display(const uint8_t *data, size_t size)
{
	struct x11_display d;
	char text[512], err[256];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	memcpy(text, data, n);
	text[n] = '\0';
	memset(&d, 0xa5, sizeof(d));
	err[0] = '\0';
	if (x11_display_parse(text, &d, err, sizeof(err)) == 0) {
		FUZZ_CHECK(memchr(d.host, 0, sizeof(d.host)) != NULL);
		FUZZ_CHECK(memchr(d.path, 0, sizeof(d.path)) != NULL);
		if (d.kind == X11_DISPLAY_TCP) {
			FUZZ_CHECK(d.host[0] != '\0');
			FUZZ_CHECK(d.port >= X11_TCP_PORT_BASE);
			(void)x11_display_is_loopback(&d);
		} else {
			FUZZ_CHECK(d.kind == X11_DISPLAY_LOCAL || d.kind == X11_DISPLAY_PATH);
			FUZZ_CHECK(d.path[0] != '\0');
		}
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
}

static void setup(const uint8_t *data, size_t size)
{
	static const unsigned char cookie[X11_COOKIE_LEN] = "0123456789abcdef";
	struct x11_setup s, again;
	unsigned char *out;
	unsigned char failed[300];
	size_t want;
	ssize_t n;

	if (x11_setup_parse(data, size, &s) != X11_SETUP_OK)
		return;
	FUZZ_CHECK(s.total <= size && s.total >= X11_SETUP_HEADER);
	FUZZ_CHECK(s.name_len == 0 || (s.name >= data && s.name + s.name_len <= data + s.total));
	FUZZ_CHECK(s.data_len == 0 || (s.data >= data && s.data + s.data_len <= data + s.total));
	(void)x11_setup_auth_is(&s, X11_AUTH_MIT, cookie, sizeof(cookie));

	want = x11_setup_len(strlen(X11_AUTH_MIT), sizeof(cookie));
	out = malloc(want);
	FUZZ_CHECK(out != NULL);
	/* One byte short must be refused, not overrun. */
	FUZZ_CHECK(x11_setup_rewrite(&s, X11_AUTH_MIT, strlen(X11_AUTH_MIT), cookie,
	                             sizeof(cookie), out, want - 1) == -1);
	n = x11_setup_rewrite(&s, X11_AUTH_MIT, strlen(X11_AUTH_MIT), cookie, sizeof(cookie), out,
	                      want);
	FUZZ_CHECK(n == (ssize_t)want);
	FUZZ_CHECK(x11_setup_parse(out, (size_t)n, &again) == X11_SETUP_OK);
	FUZZ_CHECK(again.total == want && again.msb == s.msb);
	FUZZ_CHECK(again.major == s.major && again.minor == s.minor);
	FUZZ_CHECK(x11_setup_auth_is(&again, X11_AUTH_MIT, cookie, sizeof(cookie)));
	free(out);

	n = x11_setup_failed(s.msb, "fuzz", failed, sizeof(failed));
	FUZZ_CHECK(n > 0 && (size_t)n <= sizeof(failed));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		display(data + 1, size - 1);
	else
		setup(data + 1, size - 1);
	return 0;
}
