/*
 * fuzz_socks: the SOCKS 4, 4a and 5 request parser of dynamic forwards
 * (plugins/ssh-forward/socks.c), driven the way ssh-forward drives it: bytes
 * arrive in pieces into a 1024-byte buffer (SF_SOCKS_MAX), socks_parse runs
 * on what is there, a SOCKS 5 greeting moves it to stage 1, a CONNECT or an
 * error ends it. The first byte of the input sets how the rest is cut into
 * reads. Invariants: consumed never exceeds what was there, replies fit their
 * buffer and are what the protocol says, a CONNECT names a NUL-terminated
 * host of 1-255 bytes and a port other than 0.
 */
#include <string.h>

#include "fuzz.h"
#include "socks.h"

#define BUF_MAX 1024 /* SF_SOCKS_MAX in ssh-forward.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char buf[BUF_MAX], reply[16];
	struct socks_req req;
	enum socks_result r = SOCKS_MORE;
	size_t len = 0, pos = 1, piece;
	int stage = 0, greetings = 0;
	size_t hl;

	if (size < 1)
		return 0;
	piece = (size_t)(data[0] & 0x3f) + 1; /* 1..64 bytes a read */
	while (pos < size && len < BUF_MAX) {
		size_t n = size - pos;

		if (n > piece)
			n = piece;
		if (n > BUF_MAX - len)
			n = BUF_MAX - len;
		memcpy(buf + len, data + pos, n);
		len += n;
		pos += n;
		for (;;) {
			memset(&req, 0, sizeof(req));
			r = socks_parse(stage, buf, len, &req);
			FUZZ_CHECK(req.reply_len <= sizeof(req.reply));
			if (r == SOCKS_MORE)
				break;
			if (r == SOCKS_ERROR) {
				FUZZ_CHECK(req.error != NULL);
				return 0;
			}
			FUZZ_CHECK(req.consumed >= 1 && req.consumed <= len);
			len -= req.consumed;
			memmove(buf, buf + req.consumed, len);
			if (r == SOCKS_GREETING) {
				FUZZ_CHECK(stage == 0 && req.version == 5);
				FUZZ_CHECK(req.reply_len == 2 && req.reply[0] == 5 && req.reply[1] == 0);
				stage = 1;
				greetings++;
				continue;
			}
			FUZZ_CHECK(r == SOCKS_CONNECT);
			FUZZ_CHECK(req.version == 4 || req.version == 5);
			hl = strnlen(req.host, sizeof(req.host));
			FUZZ_CHECK(hl >= 1 && hl < sizeof(req.host));
			FUZZ_CHECK(req.port != 0);
			FUZZ_CHECK(socks_connect_reply(req.version, 0, reply) <= sizeof(reply));
			FUZZ_CHECK(socks_connect_reply(req.version, -111, reply) <= sizeof(reply));
			return 0;
		}
	}
	FUZZ_CHECK(greetings <= 1);
	return 0;
}
