/*
 * socks.c: SOCKS 4 (RFC-less, the NEC document), 4a and 5 (RFC 1928)
 * request parsing and replies for dynamic forwards. Names are not resolved
 * here: the gateway resolves them (what ssh -D does, and why 4a and
 * socks5-hostname exist).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "socks.h"

#define SOCKS4_GRANTED  90
#define SOCKS4_REJECTED 91

#define SOCKS5_OK               0x00
#define SOCKS5_GENERAL          0x01
#define SOCKS5_NOT_ALLOWED      0x02
#define SOCKS5_NET_UNREACHABLE  0x03
#define SOCKS5_HOST_UNREACHABLE 0x04
#define SOCKS5_REFUSED          0x05
#define SOCKS5_CMD_UNSUPPORTED  0x07
#define SOCKS5_ATYP_UNSUPPORTED 0x08

static enum socks_result fail4(struct socks_req *r, const char *why)
{
	r->reply_len = socks_connect_reply(4, -EINVAL, r->reply);
	r->error = why;
	return SOCKS_ERROR;
}

static enum socks_result fail5(struct socks_req *r, unsigned char code, const char *why)
{
	static const unsigned char tail[] = {0x00, 0x01, 0, 0, 0, 0, 0, 0};

	r->reply[0] = 0x05;
	r->reply[1] = code;
	memcpy(r->reply + 2, tail, sizeof(tail));
	r->reply_len = 2 + sizeof(tail);
	r->error = why;
	return SOCKS_ERROR;
}

/* VN=4 CD DSTPORT DSTIP USERID\0 [HOST\0 when DSTIP is 0.0.0.x, x != 0] */
static enum socks_result parse4(const unsigned char *b, size_t len, struct socks_req *r)
{
	const unsigned char *nul, *host;
	size_t hl;

	if (len < 9)
		return SOCKS_MORE;
	nul = memchr(b + 8, 0, len - 8);
	if (!nul)
		return len > 8 + 255 ? fail4(r, "SOCKS4 user id too long") : SOCKS_MORE;
	if (b[1] != 1)
		return fail4(r, "SOCKS4 command not supported (only CONNECT)");
	r->port = (uint16_t)(b[2] << 8 | b[3]);
	if (b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0) {
		host = nul + 1;
		nul = memchr(host, 0, len - (size_t)(host - b));
		if (!nul)
			return len - (size_t)(host - b) > 255
			           ? fail4(r, "SOCKS4a host name too long")
			           : SOCKS_MORE;
		hl = (size_t)(nul - host);
		if (hl == 0)
			return fail4(r, "SOCKS4a empty host name");
		/* The NUL may come past 255 bytes when the whole request
		 * arrived in one read: r->host holds 255 and its NUL. */
		if (hl >= sizeof(r->host))
			return fail4(r, "SOCKS4a host name too long");
		memcpy(r->host, host, hl);
		r->host[hl] = '\0';
	} else {
		snprintf(r->host, sizeof(r->host), "%u.%u.%u.%u", b[4], b[5], b[6], b[7]);
	}
	if (r->port == 0)
		return fail4(r, "SOCKS4 port 0");
	r->consumed = (size_t)(nul - b) + 1;
	return SOCKS_CONNECT;
}

/* VER=5 NMETHODS METHODS... */
static enum socks_result parse5_greeting(const unsigned char *b, size_t len, struct socks_req *r)
{
	size_t n;

	if (len < 2)
		return SOCKS_MORE;
	n = b[1];
	if (len < 2 + n)
		return SOCKS_MORE;
	r->consumed = 2 + n;
	r->reply[0] = 0x05;
	r->reply_len = 2;
	if (!memchr(b + 2, 0x00, n)) {
		r->reply[1] = 0xff; /* no acceptable method */
		r->error = "SOCKS5 client offers no method without authentication";
		return SOCKS_ERROR;
	}
	r->reply[1] = 0x00;
	return SOCKS_GREETING;
}

/* VER=5 CMD RSV ATYP DST.ADDR DST.PORT */
static enum socks_result parse5_request(const unsigned char *b, size_t len, struct socks_req *r)
{
	size_t need, al;

	if (len < 5)
		return SOCKS_MORE;
	if (b[0] != 0x05)
		return fail5(r, SOCKS5_GENERAL, "SOCKS5 request with a bad version");
	switch (b[3]) {
	case 0x01:
		need = 4 + 4 + 2;
		break;
	case 0x03:
		need = 4 + 1 + (size_t)b[4] + 2;
		break;
	case 0x04:
		need = 4 + 16 + 2;
		break;
	default:
		return fail5(r, SOCKS5_ATYP_UNSUPPORTED, "SOCKS5 address type not supported");
	}
	if (len < need)
		return SOCKS_MORE;
	r->consumed = need;
	if (b[1] != 0x01)
		return fail5(r, SOCKS5_CMD_UNSUPPORTED,
		             "SOCKS5 command not supported (only CONNECT)");
	switch (b[3]) {
	case 0x01:
		inet_ntop(AF_INET, b + 4, r->host, sizeof(r->host));
		break;
	case 0x03:
		al = b[4];
		if (al == 0)
			return fail5(r, SOCKS5_GENERAL, "SOCKS5 empty host name");
		memcpy(r->host, b + 5, al);
		r->host[al] = '\0';
		if (strlen(r->host) != al)
			return fail5(r, SOCKS5_GENERAL, "SOCKS5 host name with a NUL");
		break;
	case 0x04:
		inet_ntop(AF_INET6, b + 4, r->host, sizeof(r->host));
		break;
	}
	r->port = (uint16_t)(b[need - 2] << 8 | b[need - 1]);
	if (r->port == 0)
		return fail5(r, SOCKS5_GENERAL, "SOCKS5 port 0");
	return SOCKS_CONNECT;
}

enum socks_result socks_parse(int stage, const unsigned char *buf, size_t len,
                              struct socks_req *req)
{
	if (stage == 1) {
		req->version = 5;
		return parse5_request(buf, len, req);
	}
	if (len < 1)
		return SOCKS_MORE;
	req->version = buf[0];
	if (buf[0] == 4)
		return parse4(buf, len, req);
	if (buf[0] == 5)
		return parse5_greeting(buf, len, req);
	req->reply_len = 0;
	req->error = "not a SOCKS 4 or 5 request";
	return SOCKS_ERROR;
}

size_t socks_connect_reply(int version, int err, unsigned char *out)
{
	unsigned char code;

	if (version == 4) {
		memset(out, 0, 8);
		out[1] = err ? SOCKS4_REJECTED : SOCKS4_GRANTED;
		return 8;
	}
	switch (err) {
	case 0:
		code = SOCKS5_OK;
		break;
	case -ECONNREFUSED:
		code = SOCKS5_REFUSED;
		break;
	case -EACCES:
		code = SOCKS5_NOT_ALLOWED;
		break;
	case -EHOSTUNREACH:
		code = SOCKS5_HOST_UNREACHABLE;
		break;
	case -ENETUNREACH:
		code = SOCKS5_NET_UNREACHABLE;
		break;
	default:
		code = SOCKS5_GENERAL;
		break;
	}
	/* BND.ADDR 0.0.0.0:0: the gateway does not tell us its end. */
	out[0] = 0x05;
	out[1] = code;
	out[2] = 0x00;
	out[3] = 0x01;
	memset(out + 4, 0, 6);
	return 10;
}
