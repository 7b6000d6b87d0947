/*
 * config.c: the warren config file, INI style, parsed into struct wr_config.
 *
 * One pass over the lines; each section is checked when the next header (or
 * the end of the file) closes it, and tunnels are tied to their gateways at
 * the end, so a tunnel may name a gateway defined further down. Every problem
 * goes to the diag and parsing goes on, so that `warren check` shows all of
 * them at once.
 *
 * Keys and section types are case-insensitive, as in git and OpenSSH; they
 * are stored in lower case, so plugins compare keys with strcmp. Names are
 * case-sensitive.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

#define LINE_MAX_LEN 4096
#define FILE_MAX_LEN (1024 * 1024)
#define HOST_MAX_LEN 255
#define NAME_RULE    "names are 1-64 characters of A-Za-z0-9._@-"
#define SECTIONS     "expected [daemon], [gateway NAME] or [tunnel NAME]"

/* ---- diagnostics ---- */

void wr_diag_init(struct warren_diag *diag, const char *file)
{
	diag->messages = NULL;
	diag->count = 0;
	diag->file = file;
}

/* Formats into a fresh heap string; NULL on memory exhaustion. */
static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *vformat(const char *fmt, va_list ap)
{
	va_list copy;
	char *s;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

/* Declared again with the attribute so that the compiler checks the format
 * strings passed down here (-Wformat-nonliteral otherwise complains). */
void wr_diag_vadd(struct warren_diag *diag, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

void wr_diag_vadd(struct warren_diag *diag, int line, const char *fmt, va_list ap)
{
	char *msg, *full = NULL, **grown;

	msg = vformat(fmt, ap);
	if (!msg)
		goto out;
	if (diag->file && line > 0)
		full = format("%s:%d: %s", diag->file, line, msg);
	else if (diag->file)
		full = format("%s: %s", diag->file, msg);
	else if (line > 0)
		full = format("line %d: %s", line, msg);
	else
		full = format("%s", msg);
	if (!full)
		goto out;
	grown = realloc(diag->messages, (diag->count + 1) * sizeof(*grown));
	if (!grown)
		goto out;
	diag->messages = grown;
	diag->messages[diag->count++] = full;
	full = NULL;
out:
	free(msg);
	free(full);
}

void wr_diag_add(struct warren_diag *diag, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wr_diag_vadd(diag, line, fmt, ap);
	va_end(ap);
}

void wr_diag_free(struct warren_diag *diag)
{
	size_t i;

	for (i = 0; i < diag->count; i++)
		free(diag->messages[i]);
	free(diag->messages);
	diag->messages = NULL;
	diag->count = 0;
}

/* ---- the keys the core owns ---- */

enum daemon_key {
	DK_PLUGIN_DIR,
	DK_CONTROL_SOCKET,
	DK_LOG_LEVEL,
	DK_COUNT,
};

static const char *const daemon_keys[DK_COUNT] = {
    [DK_PLUGIN_DIR] = "plugin_dir",
    [DK_CONTROL_SOCKET] = "control_socket",
    [DK_LOG_LEVEL] = "log_level",
};

enum gateway_key {
	GK_HOST,
	GK_PORT,
	GK_USER,
	GK_IDENTITY,
	GK_PASSPHRASE_FILE,
	GK_AGENT,
	GK_KNOWN_HOSTS,
	GK_HOST_KEY_CHECK,
	GK_COMPRESSION,
	GK_KEEPALIVE,
	GK_KEEPALIVE_MAX,
	GK_CONNECT_TIMEOUT,
	GK_CIPHERS,
	GK_MACS,
	GK_KEX,
	GK_HOST_KEY_TYPES,
	GK_COUNT,
};

static const char *const gateway_keys[GK_COUNT] = {
    [GK_HOST] = "host",
    [GK_PORT] = "port",
    [GK_USER] = "user",
    [GK_IDENTITY] = "identity",
    [GK_PASSPHRASE_FILE] = "passphrase_file",
    [GK_AGENT] = "agent",
    [GK_KNOWN_HOSTS] = "known_hosts",
    [GK_HOST_KEY_CHECK] = "host_key_check",
    [GK_COMPRESSION] = "compression",
    [GK_KEEPALIVE] = "keepalive",
    [GK_KEEPALIVE_MAX] = "keepalive_max",
    [GK_CONNECT_TIMEOUT] = "connect_timeout",
    [GK_CIPHERS] = "ciphers",
    [GK_MACS] = "macs",
    [GK_KEX] = "kex",
    [GK_HOST_KEY_TYPES] = "host_key_types",
};

enum tunnel_key {
	TK_TRANSPORT,
	TK_GATEWAY,
	TK_AUTOSTART,
	TK_RESTART,
	TK_RETRY_MIN,
	TK_RETRY_MAX,
	TK_COUNT,
};

static const char *const tunnel_keys[TK_COUNT] = {
    [TK_TRANSPORT] = "transport", [TK_GATEWAY] = "gateway",     [TK_AUTOSTART] = "autostart",
    [TK_RESTART] = "restart",     [TK_RETRY_MIN] = "retry_min", [TK_RETRY_MAX] = "retry_max",
};

struct choice {
	const char *word;
	int value;
};

static const struct choice log_levels[] = {
    {"error", WARREN_LOG_ERROR},
    {"warn", WARREN_LOG_WARN},
    {"info", WARREN_LOG_INFO},
    {"debug", WARREN_LOG_DEBUG},
    {NULL, 0},
};

static const struct choice agent_modes[] = {
    {"auto", WARREN_AGENT_AUTO},
    {"yes", WARREN_AGENT_YES},
    {"no", WARREN_AGENT_NO},
    {NULL, 0},
};

static const struct choice host_key_checks[] = {
    {"strict", WARREN_HOSTKEY_STRICT},
    {"accept-new", WARREN_HOSTKEY_ACCEPT_NEW},
    {"off", WARREN_HOSTKEY_OFF},
    {NULL, 0},
};

static const struct choice restarts[] = {
    {"always", WR_RESTART_ALWAYS},
    {"on-failure", WR_RESTART_ON_FAILURE},
    {"never", WR_RESTART_NEVER},
    {NULL, 0},
};

/* ---- parser state ---- */

enum section {
	SEC_NONE, /* before the first header */
	SEC_DAEMON,
	SEC_GATEWAY,
	SEC_TUNNEL,
	SEC_SKIP, /* a header in error: its keys would only add noise */
};

struct strbuf {
	char *s;
	size_t len, cap;
};

/* A problem held back so that all of them reach the diag in line order: a
 * missing key is only noticed when its section ends, an unknown gateway at
 * the end of the file. */
struct problem {
	int line;
	size_t seq; /* keeps the order of problems on the same line */
	char *message;
};

/* seen[] and bad[] serve every section type. */
_Static_assert((int)DK_COUNT <= (int)GK_COUNT && (int)TK_COUNT <= (int)GK_COUNT,
               "seen[] too small");

struct parser {
	struct wr_config *cfg;
	struct warren_diag *diag;
	bool nomem;
	enum section sec;
	int daemon_line;    /* the first [daemon], 0 when none yet */
	int seen[GK_COUNT]; /* line of each core key in this section, 0: not yet */
	bool bad[GK_COUNT]; /* the key's value was rejected */
	struct wr_gateway_conf *gw;
	size_t nidentities;
	struct wr_tunnel_conf *tun;
	struct strbuf canon; /* the section's key=value lines */
	struct problem *problems;
	size_t nproblems;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static char *skip_space(char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

static const char *skip_space_const(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

static void trim_end(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && is_space(s[len - 1]))
		s[--len] = '\0';
}

static char *xstrdup(struct parser *p, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		p->nomem = true;
	return copy;
}

static void sb_add(struct parser *p, struct strbuf *sb, const char *s, size_t len)
{
	if (sb->len + len + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		char *grown;

		while (cap < sb->len + len + 1)
			cap *= 2;
		grown = realloc(sb->s, cap);
		if (!grown) {
			p->nomem = true;
			return;
		}
		sb->s = grown;
		sb->cap = cap;
	}
	memcpy(sb->s + sb->len, s, len);
	sb->len += len;
	sb->s[sb->len] = '\0';
}

static void sb_adds(struct parser *p, struct strbuf *sb, const char *s)
{
	sb_add(p, sb, s, strlen(s));
}

/* Hands over the buffer's string (never NULL unless memory ran out). */
static char *sb_take(struct parser *p, struct strbuf *sb)
{
	char *s = sb->s ? sb->s : xstrdup(p, "");

	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

static void report(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct parser *p, int line, const char *fmt, ...)
{
	struct problem *grown;
	va_list ap;
	char *message;

	va_start(ap, fmt);
	message = vformat(fmt, ap);
	va_end(ap);
	grown = message ? realloc(p->problems, (p->nproblems + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(message);
		p->nomem = true;
		return;
	}
	p->problems = grown;
	p->problems[p->nproblems].line = line;
	p->problems[p->nproblems].seq = p->nproblems;
	p->problems[p->nproblems].message = message;
	p->nproblems++;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void flush_problems(struct parser *p)
{
	size_t i;

	if (p->nproblems > 1)
		qsort(p->problems, p->nproblems, sizeof(*p->problems), problem_cmp);
	for (i = 0; i < p->nproblems; i++) {
		wr_diag_add(p->diag, p->problems[i].line, "%s", p->problems[i].message);
		free(p->problems[i].message);
	}
	free(p->problems);
	p->problems = NULL;
	p->nproblems = 0;
}

static int key_index(const char *const *names, int count, const char *key)
{
	int i;

	for (i = 0; i < count; i++)
		if (strcmp(names[i], key) == 0)
			return i;
	return -1;
}

static bool pick(const struct choice *choices, const char *word, int *value)
{
	for (; choices->word; choices++) {
		if (strcasecmp(choices->word, word) == 0) {
			*value = choices->value;
			return true;
		}
	}
	return false;
}

/* Digits only (no sign, no space) in [min, max]. */
static bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *value)
{
	uint64_t n = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (n > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (n < min)
		return false;
	*value = n;
	return true;
}

static bool has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

/* A non-empty comma list without empty entries or blanks, as libssh2 takes. */
static bool list_valid(const char *s)
{
	if (!*s || *s == ',' || has_space_or_control(s))
		return false;
	for (; *s; s++)
		if (*s == ',' && (s[1] == ',' || s[1] == '\0'))
			return false;
	return true;
}

/* A host name or address into out (HOST_MAX_LEN + 1 bytes). "[::1]" is
 * taken as "::1": ssh users write addresses in brackets out of habit. */
static bool take_host(const char *value, char *out)
{
	size_t len = strlen(value);

	if (len > 2 && value[0] == '[' && value[len - 1] == ']') {
		value++;
		len -= 2;
	}
	if (len == 0 || len > HOST_MAX_LEN)
		return false;
	memcpy(out, value, len);
	out[len] = '\0';
	return !has_space_or_control(out) && !strpbrk(out, "[]");
}

/* The shortest exact rendering, for messages: 90s, 2m, 1500ms. */
static void format_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* Replaces a string that pub points to (the strings are ours: owned copies). */
static void set_string(struct parser *p, const char **slot, const char *value)
{
	free((char *)*slot);
	*slot = xstrdup(p, value);
}

static void set_path(struct parser *p, const char **slot, const char *value)
{
	free((char *)*slot);
	*slot = wr_expand_home(value);
	if (!*slot)
		p->nomem = true;
}

static void set_owned_path(struct parser *p, char **slot, const char *value)
{
	free(*slot);
	*slot = wr_expand_home(value);
	if (!*slot)
		p->nomem = true;
}

/* ---- sections ---- */

static void gateway_free(struct wr_gateway_conf *gw)
{
	size_t i;

	free(gw->name);
	free((char *)gw->pub.host);
	free((char *)gw->pub.user);
	free((char *)gw->pub.passphrase_file);
	free((char *)gw->pub.known_hosts);
	free((char *)gw->pub.ciphers);
	free((char *)gw->pub.macs);
	free((char *)gw->pub.kex);
	free((char *)gw->pub.host_key_types);
	for (i = 0; gw->identities && gw->identities[i]; i++)
		free(gw->identities[i]);
	free(gw->identities);
	free(gw->canonical);
}

static void tunnel_free(struct wr_tunnel_conf *t)
{
	size_t i;

	free(t->name);
	free(t->transport);
	free(t->gateway);
	for (i = 0; i < t->nkeys; i++) {
		free((char *)t->keys[i].key);
		free((char *)t->keys[i].value);
	}
	free(t->keys);
	free(t->canonical);
}

static const struct wr_gateway_conf *find_gateway(const struct wr_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ngateways; i++)
		if (strcmp(cfg->gateways[i].name, name) == 0)
			return &cfg->gateways[i];
	return NULL;
}

static const struct wr_tunnel_conf *find_tunnel(const struct wr_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ntunnels; i++)
		if (strcmp(cfg->tunnels[i].name, name) == 0)
			return &cfg->tunnels[i];
	return NULL;
}

static void start_section(struct parser *p, enum section sec)
{
	p->sec = sec;
	memset(p->seen, 0, sizeof(p->seen));
	memset(p->bad, 0, sizeof(p->bad));
	p->gw = NULL;
	p->tun = NULL;
	p->nidentities = 0;
}

static void start_gateway(struct parser *p, const char *name, int line)
{
	struct wr_config *cfg = p->cfg;
	struct wr_gateway_conf *grown, *gw;
	char *copy = xstrdup(p, name);

	/* Lookups compare names: a gateway never exists without one. */
	grown = copy ? realloc(cfg->gateways, (cfg->ngateways + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		p->nomem = true;
		return;
	}
	cfg->gateways = grown;
	gw = &cfg->gateways[cfg->ngateways++];
	memset(gw, 0, sizeof(*gw));
	start_section(p, SEC_GATEWAY);
	p->gw = gw;

	gw->name = copy;
	gw->line = line;
	gw->identities = calloc(1, sizeof(*gw->identities));
	if (!gw->identities)
		p->nomem = true;
	gw->pub.name = gw->name;
	gw->pub.identities = (const char *const *)gw->identities;
	gw->pub.port = 22;
	gw->pub.agent = WARREN_AGENT_AUTO;
	gw->pub.host_key_check = WARREN_HOSTKEY_STRICT;
	gw->pub.compression = false;
	gw->pub.keepalive_ms = 30000;
	gw->pub.keepalive_max = 3;
	gw->pub.connect_timeout_ms = 15000;
}

static void start_tunnel(struct parser *p, const char *name, int line)
{
	struct wr_config *cfg = p->cfg;
	struct wr_tunnel_conf *grown, *t;
	char *copy = xstrdup(p, name);

	grown = copy ? realloc(cfg->tunnels, (cfg->ntunnels + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		p->nomem = true;
		return;
	}
	cfg->tunnels = grown;
	t = &cfg->tunnels[cfg->ntunnels++];
	memset(t, 0, sizeof(*t));
	start_section(p, SEC_TUNNEL);
	p->tun = t;

	t->name = copy;
	t->line = line;
	t->autostart = true;
	t->restart = WR_RESTART_ALWAYS;
	t->retry_min_ms = 1000;
	t->retry_max_ms = 60000;
}

static void finish_gateway(struct parser *p)
{
	struct wr_gateway_conf *gw = p->gw;

	if (!p->seen[GK_HOST])
		report(p, gw->line, "missing required key 'host' in [gateway %s]", gw->name);
	/* Strings stay non-NULL even in a broken config: code that looks at a
	 * partial config (reload diffing) need not check. */
	if (!gw->pub.host)
		set_string(p, &gw->pub.host, "");
	if (!gw->pub.user) {
		struct passwd *pw = getpwuid(geteuid());
		const char *user = pw && pw->pw_name && *pw->pw_name ? pw->pw_name : getenv("USER");

		if (!user || !*user) {
			report(p, gw->line,
			       "cannot tell which user runs warren (no passwd entry, no $USER): "
			       "set user in [gateway %s]",
			       gw->name);
			user = "";
		}
		set_string(p, &gw->pub.user, user);
	}
	if (!gw->pub.known_hosts)
		set_path(p, &gw->pub.known_hosts, "~/.ssh/known_hosts");
	gw->canonical = sb_take(p, &p->canon);
}

static void finish_tunnel(struct parser *p)
{
	struct wr_tunnel_conf *t = p->tun;
	char min[32], max[32];

	if (!p->seen[TK_TRANSPORT])
		report(p, t->line, "missing required key 'transport' in [tunnel %s]", t->name);
	if (!t->transport)
		t->transport = xstrdup(p, "");

	/* A rejected retry_min or retry_max would compare its default: no
	 * second message for the same mistake. */
	if (t->retry_max_ms < t->retry_min_ms && !p->bad[TK_RETRY_MIN] && !p->bad[TK_RETRY_MAX]) {
		format_ms(t->retry_min_ms, min, sizeof(min));
		format_ms(t->retry_max_ms, max, sizeof(max));
		if (p->seen[TK_RETRY_MAX])
			report(p, p->seen[TK_RETRY_MAX], "retry_max %s is less than retry_min %s",
			       max, min);
		else
			report(p, p->seen[TK_RETRY_MIN],
			       "retry_min %s is more than retry_max (%s by default)", min, max);
	}
	t->canonical = sb_take(p, &p->canon);
}

static void finish_section(struct parser *p)
{
	if (p->sec == SEC_GATEWAY)
		finish_gateway(p);
	else if (p->sec == SEC_TUNNEL)
		finish_tunnel(p);
	p->sec = SEC_NONE;
	free(p->canon.s);
	p->canon.s = NULL;
	p->canon.len = p->canon.cap = 0;
}

static void parse_header(struct parser *p, char *s, int line)
{
	char *close, *rest, *type, *name;
	const char *kind;
	bool gateway;
	int first = 0;

	finish_section(p);
	p->sec = SEC_SKIP;

	close = strchr(s, ']');
	if (!close) {
		report(p, line, "missing ']' at the end of the section header");
		return;
	}
	rest = skip_space(close + 1);
	if (*rest && *rest != '#' && *rest != ';') {
		report(p, line, "unexpected text after the section header: '%s'", rest);
		return;
	}
	*close = '\0';
	type = skip_space(s + 1);
	trim_end(type);
	if (!*type) {
		report(p, line, "empty section header: " SECTIONS);
		return;
	}
	name = type + strcspn(type, " \t\r\f\v");
	if (*name) {
		*name = '\0';
		name = skip_space(name + 1);
	}

	if (strcasecmp(type, "daemon") == 0) {
		if (*name)
			report(p, line, "[daemon] takes no name, got '%s'", name);
		else if (p->daemon_line)
			report(p, line, "duplicate [daemon] (first at line %d)", p->daemon_line);
		else {
			start_section(p, SEC_DAEMON);
			p->daemon_line = line;
		}
		return;
	}
	if (strcasecmp(type, "gateway") != 0 && strcasecmp(type, "tunnel") != 0) {
		report(p, line, "unknown section type '%s': " SECTIONS, type);
		return;
	}

	gateway = strcasecmp(type, "gateway") == 0;
	kind = gateway ? "gateway" : "tunnel";
	if (!*name) {
		report(p, line, "missing name: expected [%s NAME]", kind);
		return;
	}
	if (!wr_name_valid(name)) {
		report(p, line, "bad %s name '%s': " NAME_RULE, kind, name);
		return;
	}
	if (gateway && find_gateway(p->cfg, name))
		first = find_gateway(p->cfg, name)->line;
	else if (!gateway && find_tunnel(p->cfg, name))
		first = find_tunnel(p->cfg, name)->line;
	if (first) {
		report(p, line, "duplicate [%s %s] (first at line %d)", kind, name, first);
		return;
	}
	if (gateway)
		start_gateway(p, name, line);
	else
		start_tunnel(p, name, line);
}

/* Reports a second occurrence of a key that may appear once; records the
 * first. True when the key may be used. */
static bool first_use(struct parser *p, int k, const char *key, int line)
{
	if (p->seen[k]) {
		if (p->sec == SEC_DAEMON)
			report(p, line, "duplicate key '%s' in [daemon] (first at line %d)", key,
			       p->seen[k]);
		else
			report(p, line, "duplicate key '%s' in [%s %s] (first at line %d)", key,
			       p->sec == SEC_GATEWAY ? "gateway" : "tunnel",
			       p->sec == SEC_GATEWAY ? p->gw->name : p->tun->name, p->seen[k]);
		return false;
	}
	p->seen[k] = line;
	return true;
}

static void bad_value(struct parser *p, int k, int line, const char *key, const char *value,
                      const char *expected)
{
	p->bad[k] = true;
	report(p, line, "bad value '%s' for %s: %s", value, key, expected);
}

/* A duration; positive demands more than 0. */
static bool take_duration(struct parser *p, int k, int line, const char *key, const char *value,
                          bool positive, uint64_t *ms)
{
	uint64_t parsed;
	const char *why = wr_duration_check(value, &parsed);

	if (!why && positive && parsed == 0)
		why = "must be more than 0";
	if (why) {
		p->bad[k] = true;
		report(p, line, "bad duration '%s' for %s: %s", value, key, why);
		return false;
	}
	*ms = parsed;
	return true;
}

static void daemon_key(struct parser *p, const char *lkey, const char *key, const char *value,
                       int line)
{
	struct wr_config *cfg = p->cfg;
	int k = key_index(daemon_keys, DK_COUNT, lkey), level;

	if (k < 0) {
		report(p, line, "unknown key '%s' in [daemon]", key);
		return;
	}
	if (!first_use(p, k, key, line))
		return;
	switch ((enum daemon_key)k) {
	case DK_PLUGIN_DIR:
	case DK_CONTROL_SOCKET:
		if (!*value) {
			bad_value(p, k, line, key, value,
			          k == DK_PLUGIN_DIR ? "expected a directory" : "expected a path");
			break;
		}
		set_owned_path(p, k == DK_PLUGIN_DIR ? &cfg->plugin_dir : &cfg->control_socket,
		               value);
		break;
	case DK_LOG_LEVEL:
		if (pick(log_levels, value, &level))
			cfg->log_level = level;
		else
			bad_value(p, k, line, key, value, "expected error, warn, info or debug");
		break;
	case DK_COUNT:
		break;
	}
}

static void add_identity(struct parser *p, const char *value)
{
	struct wr_gateway_conf *gw = p->gw;
	char **grown, *path;

	path = wr_expand_home(value);
	if (!path) {
		p->nomem = true;
		return;
	}
	grown = realloc(gw->identities, (p->nidentities + 2) * sizeof(*grown));
	if (!grown) {
		free(path);
		p->nomem = true;
		return;
	}
	gw->identities = grown;
	gw->identities[p->nidentities++] = path;
	gw->identities[p->nidentities] = NULL;
	gw->pub.identities = (const char *const *)gw->identities;
}

static void gateway_key(struct parser *p, const char *lkey, const char *key, const char *value,
                        int line)
{
	static const char *const list_examples[] = {
	    [GK_CIPHERS] = "aes128-ctr,aes256-ctr",
	    [GK_MACS] = "hmac-sha2-256,hmac-sha2-512",
	    [GK_KEX] = "curve25519-sha256,diffie-hellman-group14-sha256",
	    [GK_HOST_KEY_TYPES] = "ssh-ed25519,rsa-sha2-256",
	};
	struct warren_gateway *pub = &p->gw->pub;
	int k = key_index(gateway_keys, GK_COUNT, lkey), choice;
	uint64_t n;
	char expected[128], host[HOST_MAX_LEN + 1];
	const char **list;
	bool flag;

	if (k < 0) {
		report(p, line, "unknown key '%s' in [gateway %s]", key, p->gw->name);
		return;
	}
	if (k != GK_IDENTITY && !first_use(p, k, key, line))
		return;

	switch ((enum gateway_key)k) {
	case GK_HOST:
		if (take_host(value, host))
			set_string(p, &pub->host, host);
		else
			bad_value(p, k, line, key, value,
			          "expected a host name or an IPv4 or IPv6 address (at most 255 "
			          "characters)");
		break;
	case GK_PORT:
		if (parse_uint(value, 1, 65535, &n))
			pub->port = (uint16_t)n;
		else
			bad_value(p, k, line, key, value, "expected a number from 1 to 65535");
		break;
	case GK_USER:
		if (*value && !has_space_or_control(value))
			set_string(p, &pub->user, value);
		else
			bad_value(p, k, line, key, value, "expected a user name");
		break;
	case GK_IDENTITY:
		if (*value)
			add_identity(p, value);
		else
			bad_value(p, k, line, key, value, "expected a private key file");
		break;
	case GK_PASSPHRASE_FILE:
	case GK_KNOWN_HOSTS:
		if (*value)
			set_path(p, k == GK_KNOWN_HOSTS ? &pub->known_hosts : &pub->passphrase_file,
			         value);
		else
			bad_value(p, k, line, key, value, "expected a file name");
		break;
	case GK_AGENT:
		if (pick(agent_modes, value, &choice))
			pub->agent = (enum warren_agent_mode)choice;
		else
			bad_value(p, k, line, key, value, "expected auto, yes or no");
		break;
	case GK_HOST_KEY_CHECK:
		if (pick(host_key_checks, value, &choice))
			pub->host_key_check = (enum warren_host_key_check)choice;
		else
			bad_value(p, k, line, key, value, "expected strict, accept-new or off");
		break;
	case GK_COMPRESSION: {
		const char *why = wr_bool_check(value, &flag);

		if (why) {
			p->bad[k] = true;
			report(p, line, "bad boolean '%s' for %s: %s", value, key, why);
		} else {
			pub->compression = flag;
		}
		break;
	}
	case GK_KEEPALIVE:
		take_duration(p, k, line, key, value, false, &pub->keepalive_ms);
		break;
	case GK_KEEPALIVE_MAX:
		if (parse_uint(value, 1, UINT_MAX, &n))
			pub->keepalive_max = (unsigned)n;
		else
			bad_value(p, k, line, key, value, "expected a whole number of at least 1");
		break;
	case GK_CONNECT_TIMEOUT:
		take_duration(p, k, line, key, value, true, &pub->connect_timeout_ms);
		break;
	case GK_CIPHERS:
	case GK_MACS:
	case GK_KEX:
	case GK_HOST_KEY_TYPES:
		list = k == GK_CIPHERS ? &pub->ciphers
		       : k == GK_MACS  ? &pub->macs
		       : k == GK_KEX   ? &pub->kex
		                       : &pub->host_key_types;
		if (list_valid(value)) {
			set_string(p, list, value);
		} else {
			snprintf(expected, sizeof(expected),
			         "expected a comma-separated list without blanks, such as %s",
			         list_examples[k]);
			bad_value(p, k, line, key, value, expected);
		}
		break;
	case GK_COUNT:
		break;
	}
}

static void add_plugin_key(struct parser *p, const char *key, const char *value, int line)
{
	struct wr_tunnel_conf *t = p->tun;
	struct warren_kv *grown, *kv;

	grown = realloc(t->keys, (t->nkeys + 1) * sizeof(*grown));
	if (!grown) {
		p->nomem = true;
		return;
	}
	t->keys = grown;
	kv = &t->keys[t->nkeys++];
	kv->key = xstrdup(p, key);
	kv->value = xstrdup(p, value);
	kv->line = line;
}

static void tunnel_key(struct parser *p, const char *lkey, const char *key, const char *value,
                       int line)
{
	struct wr_tunnel_conf *t = p->tun;
	int k = key_index(tunnel_keys, TK_COUNT, lkey), choice;
	const char *why;
	bool flag;

	if (k < 0) {
		/* The transport's own key: its config_parse judges it. */
		add_plugin_key(p, lkey, value, line);
		return;
	}
	if (!first_use(p, k, key, line))
		return;

	switch ((enum tunnel_key)k) {
	case TK_TRANSPORT:
		if (wr_name_valid(value)) {
			free(t->transport);
			t->transport = xstrdup(p, value);
			t->transport_line = line;
		} else {
			bad_value(p, k, line, key, value, "expected a plugin name (" NAME_RULE ")");
		}
		break;
	case TK_GATEWAY:
		/* Resolved once the whole file is read: the gateway may come
		 * later. */
		if (wr_name_valid(value)) {
			t->gateway = xstrdup(p, value);
			t->gateway_line = line;
		} else {
			bad_value(p, k, line, key, value,
			          "expected the name of a [gateway NAME] section");
		}
		break;
	case TK_AUTOSTART:
		why = wr_bool_check(value, &flag);
		if (why) {
			p->bad[k] = true;
			report(p, line, "bad boolean '%s' for %s: %s", value, key, why);
		} else {
			t->autostart = flag;
		}
		break;
	case TK_RESTART:
		if (pick(restarts, value, &choice))
			t->restart = (enum wr_restart)choice;
		else
			bad_value(p, k, line, key, value, "expected always, on-failure or never");
		break;
	case TK_RETRY_MIN:
		take_duration(p, k, line, key, value, true, &t->retry_min_ms);
		break;
	case TK_RETRY_MAX:
		take_duration(p, k, line, key, value, false, &t->retry_max_ms);
		break;
	case TK_COUNT:
		break;
	}
}

/* Unquotes the value after '=' into out (at least strlen(in) + 1 bytes).
 * Returns NULL, or why the value is malformed. */
static const char *unquote(const char *in, char *out, char *bad_escape)
{
	const char *c = skip_space_const(in);
	bool quoted = false;
	/* A comment starts after white space; the blanks after '=' count. */
	bool after_space = c > in;
	size_t o = 0, keep = 0;

	for (; *c; c++) {
		if (quoted) {
			if (*c == '\\') {
				c++;
				if (*c == '\0')
					break;
				if (*c != '"' && *c != '\\') {
					*bad_escape = *c;
					return "bad escape";
				}
				out[o++] = *c;
			} else if (*c == '"') {
				quoted = false;
			} else {
				out[o++] = *c;
			}
			/* Blanks inside quotes are kept, even at the end. */
			keep = o;
			after_space = false;
			continue;
		}
		if (*c == '"') {
			quoted = true;
			keep = o;
			after_space = false;
			continue;
		}
		if ((*c == '#' || *c == ';') && after_space)
			break;
		out[o++] = *c;
		after_space = is_space(*c);
		if (!after_space)
			keep = o;
	}
	if (quoted)
		return "unterminated quote";
	out[keep] = '\0';
	return NULL;
}

static void parse_assignment(struct parser *p, char *s, int line)
{
	char lkey[LINE_MAX_LEN + 1], value[LINE_MAX_LEN + 1], bad_escape = 0;
	char *eq = strchr(s, '='), *c;
	const char *why;
	size_t i;

	if (!eq) {
		report(p, line, "expected 'key = value' or a [section] header, got '%s'", s);
		return;
	}
	*eq = '\0';
	trim_end(s);
	if (!*s) {
		report(p, line, "empty key before '='");
		return;
	}
	for (c = s; *c; c++) {
		if (!is_key_char(*c)) {
			report(p, line, "bad key '%s': keys are letters, digits, '_' and '-'", s);
			return;
		}
	}
	for (i = 0; s[i]; i++)
		lkey[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	lkey[i] = '\0';

	why = unquote(eq + 1, value, &bad_escape);
	if (why && bad_escape) {
		report(p, line,
		       "bad escape '\\%c' in the value of %s: only \\\" and \\\\ are allowed "
		       "inside quotes",
		       bad_escape, s);
		return;
	}
	if (why) {
		report(p, line, "unterminated quote in the value of %s", s);
		return;
	}

	switch (p->sec) {
	case SEC_NONE:
		report(p, line, "key '%s' outside a section: " SECTIONS " first", s);
		return;
	case SEC_SKIP:
		return;
	case SEC_DAEMON:
		daemon_key(p, lkey, s, value, line);
		return;
	case SEC_GATEWAY:
	case SEC_TUNNEL:
		if (p->canon.len)
			sb_adds(p, &p->canon, "\n");
		sb_adds(p, &p->canon, lkey);
		sb_adds(p, &p->canon, "=");
		sb_adds(p, &p->canon, value);
		if (p->sec == SEC_GATEWAY)
			gateway_key(p, lkey, s, value, line);
		else
			tunnel_key(p, lkey, s, value, line);
		return;
	}
}

static void parse_line(struct parser *p, char *line, int lineno)
{
	char *s = skip_space(line);

	trim_end(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[')
		parse_header(p, s, lineno);
	else
		parse_assignment(p, s, lineno);
}

/* Ties tunnels to gateways and completes their canonical strings, so that a
 * changed gateway restarts the tunnels that use it on reload. */
static void resolve_gateways(struct parser *p)
{
	struct wr_config *cfg = p->cfg;
	size_t i;

	for (i = 0; i < cfg->ntunnels; i++) {
		struct wr_tunnel_conf *t = &cfg->tunnels[i];
		char *canonical;

		if (!t->gateway)
			continue;
		t->gw = find_gateway(cfg, t->gateway);
		if (!t->gw) {
			report(p, t->gateway_line,
			       "unknown gateway '%s': there is no [gateway %s] in the file",
			       t->gateway, t->gateway);
			continue;
		}
		if (!t->canonical || !t->gw->canonical)
			continue; /* out of memory, reported at the end */
		canonical = format("%s\n[gateway]\n%s", t->canonical, t->gw->canonical);
		if (!canonical) {
			p->nomem = true;
			continue;
		}
		free(t->canonical);
		t->canonical = canonical;
	}
}

struct wr_config *wr_config_parse(const char *path, const char *text, size_t len,
                                  struct warren_diag *diag)
{
	char line[LINE_MAX_LEN + 1];
	struct parser p;
	size_t pos = 0;
	int lineno = 0;

	memset(&p, 0, sizeof(p));
	p.diag = diag;
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return NULL;
	p.cfg->log_level = -1;
	p.cfg->path = xstrdup(&p, path ? path : "");

	/* Editors on other systems put a byte order mark first. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;

	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		lineno++;
		pos += n + (nl ? 1 : 0);
		if (n > LINE_MAX_LEN) {
			report(&p, lineno, "line longer than %d characters", LINE_MAX_LEN);
			continue;
		}
		if (memchr(start, '\0', n)) {
			report(&p, lineno, "NUL byte in the line: the file is not text");
			continue;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		parse_line(&p, line, lineno);
	}
	finish_section(&p);
	resolve_gateways(&p);
	flush_problems(&p);

	if (p.nomem) {
		wr_config_free(p.cfg);
		return NULL;
	}
	return p.cfg;
}

struct wr_config *wr_config_load(const char *path, struct warren_diag *diag)
{
	struct wr_config *cfg = NULL;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		wr_diag_add(diag, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t got;

		/* One byte past the limit tells "too large" from "exactly 1 MiB". */
		if (len == cap) {
			size_t grown_cap = cap ? cap * 2 : 16384;
			char *grown;

			if (grown_cap > FILE_MAX_LEN + 1)
				grown_cap = FILE_MAX_LEN + 1;
			grown = realloc(buf, grown_cap);
			if (!grown)
				goto out;
			buf = grown;
			cap = grown_cap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			wr_diag_add(diag, 0, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > FILE_MAX_LEN) {
			wr_diag_add(diag, 0, "too large: a config file is at most 1 MiB");
			goto out;
		}
	}
	cfg = wr_config_parse(path, buf ? buf : "", len, diag);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return cfg;
}

void wr_config_free(struct wr_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->ngateways; i++)
		gateway_free(&cfg->gateways[i]);
	for (i = 0; i < cfg->ntunnels; i++)
		tunnel_free(&cfg->tunnels[i]);
	free(cfg->gateways);
	free(cfg->tunnels);
	free(cfg->plugin_dir);
	free(cfg->control_socket);
	free(cfg->path);
	free(cfg);
}

const struct wr_tunnel_conf *wr_config_tunnel(const struct wr_config *cfg, const char *name)
{
	return cfg && name ? find_tunnel(cfg, name) : NULL;
}

const struct wr_gateway_conf *wr_config_gateway(const struct wr_config *cfg, const char *name)
{
	return cfg && name ? find_gateway(cfg, name) : NULL;
}
