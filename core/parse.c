/*
 * parse.c: the value syntaxes shared by the config file and the plugins
 * (through the host table): durations, booleans, OpenSSH forward specs,
 * names, loopback addresses and ~ paths.
 *
 * None of these look at the locale: a config must mean the same thing
 * whatever LC_ALL the daemon was started with.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

#define DURATION_SYNTAX "expected a number with optional s, m or h (30, 30s, 5m, 1h)"

/* Timers turn milliseconds into microseconds and timevals; capping at
 * INT32_MAX seconds (68 years) keeps every such conversion far from
 * overflow while being longer than any useful interval. */
#define DURATION_MAX_S     INT32_MAX
#define DURATION_MAX_MS    ((uint64_t)DURATION_MAX_S * 1000)
#define DURATION_TOO_LARGE "too large (at most 2147483647s)"

#define NAME_MAX_LEN 64
#define HOST_MAX_LEN 255

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Parses a run of decimal digits at *s (advancing it) into *value; false on
 * overflow or when there is no digit. */
static bool take_number(const char **s, uint64_t *value)
{
	const char *p = *s;
	uint64_t n = 0;

	if (!is_digit(*p))
		return false;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*s = p;
	*value = n;
	return true;
}

const char *wr_duration_check(const char *text, uint64_t *ms)
{
	const char *p = text;
	uint64_t total = 0;

	if (!text || !*text)
		return DURATION_SYNTAX;

	/* A bare number is seconds, as in sshd_config. */
	if (strspn(text, "0123456789") == strlen(text)) {
		uint64_t n;

		if (!take_number(&p, &n) || n > DURATION_MAX_S)
			return DURATION_TOO_LARGE;
		*ms = n * 1000;
		return NULL;
	}

	/* Otherwise one or more number+unit groups, OpenSSH style: 1h30m. */
	while (*p) {
		uint64_t n, unit;

		if (!is_digit(*p))
			return DURATION_SYNTAX;
		if (!take_number(&p, &n))
			return DURATION_TOO_LARGE;
		if (lower(p[0]) == 'm' && lower(p[1]) == 's') {
			unit = 1;
			p += 2;
		} else {
			switch (lower(*p)) {
			case 's':
				unit = 1000;
				break;
			case 'm':
				unit = 60 * 1000;
				break;
			case 'h':
				unit = 3600 * 1000;
				break;
			case 'd':
				unit = 24 * 3600 * 1000;
				break;
			default:
				return DURATION_SYNTAX;
			}
			p++;
		}
		if (n > DURATION_MAX_MS / unit || total + n * unit > DURATION_MAX_MS)
			return DURATION_TOO_LARGE;
		total += n * unit;
	}
	*ms = total;
	return NULL;
}

int wr_parse_duration_ms(const char *text, uint64_t *ms, char *err, size_t errlen)
{
	const char *why = wr_duration_check(text, ms);

	if (!why)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "bad duration '%s': %s", text ? text : "", why);
	return -1;
}

const char *wr_bool_check(const char *text, bool *value)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; text && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return NULL;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return NULL;
		}
	}
	return "expected yes or no (also true/false, on/off, 1/0)";
}

int wr_parse_bool(const char *text, bool *value, char *err, size_t errlen)
{
	const char *why = wr_bool_check(text, value);

	if (!why)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "bad boolean '%s': %s", text ? text : "", why);
	return -1;
}

/* One ':'-separated part of an endpoint spec. A bracketed part ([::1]) is
 * stored without its brackets. */
struct part {
	const char *s;
	size_t len;
	bool bracketed;
};

/* More than any kind takes; further parts are counted, not stored. */
#define MAX_PARTS 4

static const char *split_parts(const char *text, struct part *parts, size_t *nparts)
{
	const char *p = text;
	size_t n = 0;

	for (;;) {
		struct part part;

		if (*p == '[') {
			const char *close = strchr(p + 1, ']');

			if (!close)
				return "unclosed '['";
			part.s = p + 1;
			part.len = (size_t)(close - p - 1);
			part.bracketed = true;
			p = close + 1;
			if (*p != ':' && *p != '\0')
				return "expected ':' after ']'";
		} else {
			part.s = p;
			part.len = strcspn(p, ":");
			part.bracketed = false;
			p += part.len;
		}
		if (memchr(part.s, '[', part.len) || memchr(part.s, ']', part.len))
			return "unexpected '[' or ']' (brackets go around a whole IPv6 address)";
		if (n < MAX_PARTS)
			parts[n] = part;
		n++;
		if (*p == '\0')
			break;
		p++; /* the ':' */
	}
	*nparts = n;
	return NULL;
}

static bool has_space_or_control(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f)
			return true;
	}
	return false;
}

/* Copies an address part into a spec field, or says in why (whylen bytes)
 * why it cannot be one. */
static bool take_address(const struct part *part, char *out, const char *what, char *why,
                         size_t whylen)
{
	if (part->len > HOST_MAX_LEN) {
		snprintf(why, whylen, "%s longer than %d characters", what, HOST_MAX_LEN);
		return false;
	}
	if (has_space_or_control(part->s, part->len)) {
		snprintf(why, whylen, "%s contains white space or a control character", what);
		return false;
	}
	memcpy(out, part->s, part->len);
	out[part->len] = '\0';
	return true;
}

/* A port in [min, 65535], or a message in why. */
static bool take_port(const struct part *part, unsigned min, uint16_t *port, char *why,
                      size_t whylen)
{
	const char *p = part->s;
	uint64_t n;

	if (part->bracketed) {
		snprintf(why, whylen, "port '[%.*s]' in brackets (only addresses go in brackets)",
		         (int)(part->len > 32 ? 32 : part->len), part->s);
		return false;
	}
	if (!take_number(&p, &n) || p != part->s + part->len || n < min || n > 65535) {
		/* Service names would resolve differently on the gateway and here. */
		snprintf(why, whylen,
		         "port '%.*s' is not a number from %u to 65535 (service names are not "
		         "looked up)",
		         (int)(part->len > 32 ? 32 : part->len), part->s, min);
		return false;
	}
	*port = (uint16_t)n;
	return true;
}

int wr_parse_endpoint(const char *text, enum warren_spec_kind kind,
                      struct warren_endpoint_spec *spec, char *err, size_t errlen)
{
	static const char *const what[] = {
	    [WARREN_SPEC_FORWARD] = "forward",
	    [WARREN_SPEC_LISTEN] = "listen address",
	    [WARREN_SPEC_CONNECT] = "address",
	};
	static const char *const syntax[] = {
	    [WARREN_SPEC_FORWARD] = "[bind:]port:host:hostport",
	    [WARREN_SPEC_LISTEN] = "[bind:]port",
	    [WARREN_SPEC_CONNECT] = "host:port",
	};
	struct warren_endpoint_spec out;
	struct part parts[MAX_PARTS];
	const struct part *bind = NULL, *port = NULL, *host = NULL, *host_port = NULL;
	const char *why;
	char buf[128];
	size_t n;

	memset(&out, 0, sizeof(out));
	if (kind != WARREN_SPEC_FORWARD && kind != WARREN_SPEC_LISTEN &&
	    kind != WARREN_SPEC_CONNECT) {
		if (err && errlen)
			snprintf(err, errlen, "unknown endpoint kind %d", (int)kind);
		return -1;
	}
	if (!text)
		text = "";

	why = split_parts(text, parts, &n);
	if (why)
		goto fail;

	switch (kind) {
	case WARREN_SPEC_FORWARD:
		if (n == 4)
			bind = &parts[0];
		if (n == 3 || n == 4) {
			port = &parts[n - 3];
			host = &parts[n - 2];
			host_port = &parts[n - 1];
		}
		break;
	case WARREN_SPEC_LISTEN:
		if (n == 2)
			bind = &parts[0];
		if (n == 1 || n == 2)
			port = &parts[n - 1];
		break;
	case WARREN_SPEC_CONNECT:
		if (n == 2) {
			host = &parts[0];
			host_port = &parts[1];
		}
		break;
	}
	if (!port && !host_port) {
		why = n > 4 || (kind != WARREN_SPEC_FORWARD && n > 2)
		          ? "too many ':'-separated parts (IPv6 addresses go in brackets), "
		          : "";
		snprintf(buf, sizeof(buf), "%sexpected %s", why, syntax[kind]);
		why = buf;
		goto fail;
	}

	if (bind) {
		if (!take_address(bind, out.bind, "bind address", buf, sizeof(buf))) {
			why = buf;
			goto fail;
		}
	}
	if (port && !take_port(port, 0, &out.port, buf, sizeof(buf))) {
		why = buf;
		goto fail;
	}
	if (host) {
		if (host->len == 0) {
			why = "empty host";
			goto fail;
		}
		if (!take_address(host, out.host, "host", buf, sizeof(buf))) {
			why = buf;
			goto fail;
		}
	}
	if (host_port && !take_port(host_port, 1, &out.host_port, buf, sizeof(buf))) {
		why = buf;
		goto fail;
	}
	*spec = out;
	return 0;

fail:
	if (err && errlen)
		snprintf(err, errlen, "bad %s '%s': %s", what[kind], text, why);
	return -1;
}

bool wr_is_loopback(const char *address)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!address)
		return false;
	if (strcasecmp(address, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, address, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, address, &a6) == 1) {
		/* ::ffff:127.0.0.1 on a v6 socket only reaches 127/8. */
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			return a6.s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

bool wr_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len < 1 || len > NAME_MAX_LEN)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                    "abcdefghijklmnopqrstuvwxyz"
	                    "0123456789._@-") == len;
}

char *wr_expand_home(const char *path)
{
	const char *rest, *home = NULL;
	struct passwd *pw;
	size_t ulen, hlen, rlen;
	char *out;

	if (!path)
		return NULL;
	if (path[0] != '~')
		return strdup(path);

	rest = path + 1 + strcspn(path + 1, "/");
	ulen = (size_t)(rest - path - 1);
	if (ulen == 0) {
		home = getenv("HOME");
		if (!home || !*home) {
			pw = getpwuid(geteuid());
			home = pw ? pw->pw_dir : NULL;
		}
	} else {
		char user[256];

		if (ulen < sizeof(user)) {
			memcpy(user, path + 1, ulen);
			user[ulen] = '\0';
			pw = getpwnam(user);
			home = pw ? pw->pw_dir : NULL;
		}
	}
	/* Unknown user or no home: leave the path alone, so the error that
	 * follows (file not found) shows what was written. */
	if (!home || !*home)
		return strdup(path);

	hlen = strlen(home);
	while (hlen > 1 && home[hlen - 1] == '/')
		hlen--;
	if (hlen == 1 && home[0] == '/' && *rest == '/')
		hlen = 0; /* HOME=/ : "~/x" is "/x", not "//x" */
	rlen = strlen(rest);
	out = malloc(hlen + rlen + 1);
	if (!out)
		return NULL;
	memcpy(out, home, hlen);
	memcpy(out + hlen, rest, rlen + 1);
	return out;
}
