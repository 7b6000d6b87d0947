/*
 * socks.h: the SOCKS 4, 4a and 5 server side of a dynamic forward, as pure
 * functions over a byte buffer (no I/O), so that they can be tested alone.
 * Only CONNECT and, for SOCKS 5, the "no authentication" method are served;
 * everything else gets the protocol's error reply.
 */
#ifndef WARREN_SSH_FORWARD_SOCKS_H
#define WARREN_SSH_FORWARD_SOCKS_H

#include <stddef.h>
#include <stdint.h>

enum socks_result {
	SOCKS_MORE = 0,     /* incomplete: read more */
	SOCKS_GREETING = 1, /* SOCKS 5 greeting done: send reply, parse the request next */
	SOCKS_CONNECT = 2,  /* a CONNECT request: host and port are set */
	SOCKS_ERROR = -1,   /* send reply (if any) and close */
};

struct socks_req {
	int version; /* 4 or 5, once known */
	char host[256];
	uint16_t port;
	size_t consumed; /* bytes of the buffer the message used */
	unsigned char reply[16];
	size_t reply_len;
	const char *error; /* why, for the log */
};

/* stage 0: the first message (SOCKS 4 request or SOCKS 5 greeting);
 * stage 1: the SOCKS 5 request after the greeting. */
enum socks_result socks_parse(int stage, const unsigned char *buf, size_t len,
                              struct socks_req *req);

/* The reply to a CONNECT: err 0 for success, else a negative errno. */
size_t socks_connect_reply(int version, int err, unsigned char *out);

#endif
