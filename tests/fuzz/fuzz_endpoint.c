/*
 * fuzz_endpoint: forward and address specs (wr_parse_endpoint) of all three
 * kinds, -L/-R ([bind:]port:host:hostport), -D/listen ([bind:]port) and
 * connect (host:port), plus wr_is_loopback on the same text. The first byte
 * picks the kind (values past the three test the unknown-kind path); the
 * rest, cut at the first NUL, is the spec. A spec that parses must come back
 * with NUL-terminated fields and the ports the syntax allows.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct warren_endpoint_spec spec;
	char text[1024], err[256];
	enum warren_spec_kind kind;
	size_t n;
	int rc;

	if (size < 1)
		return 0;
	kind = (enum warren_spec_kind)(data[0] % 4);
	n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
	memcpy(text, data + 1, n);
	text[n] = '\0';

	memset(&spec, 0xa5, sizeof(spec)); /* garbage in: the parser must not trust it */
	err[0] = '\0';
	rc = wr_parse_endpoint(text, kind, &spec, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(kind <= WARREN_SPEC_CONNECT);
		FUZZ_CHECK(memchr(spec.bind, 0, sizeof(spec.bind)) != NULL);
		FUZZ_CHECK(memchr(spec.host, 0, sizeof(spec.host)) != NULL);
		if (kind == WARREN_SPEC_FORWARD)
			FUZZ_CHECK(spec.host[0] && spec.host_port != 0);
		if (kind == WARREN_SPEC_CONNECT)
			FUZZ_CHECK(spec.host[0] && spec.host_port != 0 && !spec.bind[0]);
		if (kind == WARREN_SPEC_LISTEN)
			FUZZ_CHECK(!spec.host[0] && spec.host_port == 0);
		(void)wr_is_loopback(spec.bind);
		(void)wr_is_loopback(spec.host);
	} else {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(memchr(err, 0, sizeof(err)) != NULL);
	}
	/* A NULL err buffer is allowed too. */
	(void)wr_parse_endpoint(text, kind, &spec, NULL, 0);
	(void)wr_is_loopback(text);
	return 0;
}
