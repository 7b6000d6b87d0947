/*
 * ppp-ssh.c: the `ppp-ssh` transport: a PPP link whose bytes run through an
 * SSH exec channel, the PPP-over-SSH VPN of the old vpn-pppssh script, kept
 * up by the daemon.
 *
 * One round, from start to stop:
 *   SSH session up -> exec remote_command on the gateway (no remote pty: the
 *   remote pppd runs `notty`) -> once the command runs, a local pty whose
 *   slave is the local pppd's tty and whose master the SSH layer pumps to
 *   and from the channel -> netlink sees the interface holding local_ip
 *   (peer remote_ip) come up -> each route installed through it -> up.
 * Any end (pppd exits, the remote command exits, the channel closes, the
 * SSH link dies, the link does not come up in time) is a failure: the core
 * stops the round and retries with backoff. Stop removes the routes, sends
 * pppd SIGTERM (its documented way to end the link: it sends LCP
 * Terminate-Request through the still-pumped channel), hangs the pty up if
 * it lingers, SIGKILLs it after a grace period, and reports stopped once
 * the core has reaped it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"
#include "ssh/ssh.h"
#include "warren-plugin.h"

#define PP_VERSION         "0.1.0"
#define PP_ERR_LEN         512
#define PP_LINE_MAX        400   /* a longer stderr line is cut */
#define PP_LINES_PER_ROUND 200   /* stderr lines logged per round, then counted */
#define PP_LINK_TIMEOUT_MS 60000 /* pppd gives up LCP after ~30 s itself */
#define PP_HANGUP_MS       3000  /* after SIGTERM: hang the pty up (its ip-down scripts had time) */
#define PP_KILL_MS         4500  /* after SIGTERM: SIGKILL, within the core's 5 s for a stop */
#define PP_STOP_TICK_MS    100
#define PP_ROUTE_RETRY_MS  5000
#define PP_DEFAULT_PPPD    "/usr/sbin/pppd"
#define PP_DEFAULT_REMOTE  "pppd nodetach notty noauth"
#define PP_MTU_MIN         128 /* pppd's MINMRU */
#define PP_MTU_MAX         16384

static const struct warren_host *host;

/* ---- configuration ---- */

struct pp_route {
	char *spec; /* as written */
	struct in_addr dst;
	unsigned prefix;
	int line;
};

struct pp_conf {
	const struct warren_gateway *gw;
	char name[65];
	struct in_addr local_ip, remote_ip;
	char local_s[INET_ADDRSTRLEN], remote_s[INET_ADDRSTRLEN];
	struct pp_route *routes;
	size_t nroutes;
	unsigned mtu; /* 0: pppd's default */
	char *pppd;
	char **opts; /* pppd_options, split */
	size_t nopts;
	char *remote_command;
};

/* ---- instance ---- */

struct pp;

/* Lines a child writes on a pipe: logged, the last one kept for messages. */
struct reader {
	struct pp *pp;
	const char *what; /* "pppd", "remote" */
	int fd;
	struct warren_watch *watch;
	char buf[PP_LINE_MAX + 1];
	size_t len;
	char last[PP_LINE_MAX + 1];
	unsigned lines;
};

struct route_state {
	bool installed;
	char error[PP_ERR_LEN];
};

struct pp {
	struct warren_tunnel *t;
	const struct pp_conf *conf;
	bool running;      /* between start and stop */
	bool stop_pending; /* stop said WARREN_STOP_PENDING */
	bool failed;       /* this round's failure is reported */

	struct wssh_session *s;
	bool session_up;
	struct wssh_channel *ch;
	char pty[64];
	pid_t pid; /* the local pppd, -1 none */
	int kill_stage;
	struct timespec stop_began;
	struct reader pppd_err, remote_err;

	struct pnl *nl;
	int ifindex; /* the PPP interface while the link is up, else 0 */
	char ifname[IF_NAMESIZE];
	struct timespec up_since;
	struct route_state *routes;

	struct warren_timer *link_timer;
	struct warren_timer *kill_timer;
	struct warren_timer *route_timer;
};

static void pp_fail(struct pp *pp, const char *fmt, ...) WARREN_PRINTF(2, 3);

/* ---- config ---- */

static void pp_config_free(void *p)
{
	struct pp_conf *conf = p;
	size_t i;

	if (!conf)
		return;
	for (i = 0; i < conf->nroutes; i++)
		free(conf->routes[i].spec);
	free(conf->routes);
	for (i = 0; i < conf->nopts; i++)
		free(conf->opts[i]);
	free(conf->opts);
	free(conf->pppd);
	free(conf->remote_command);
	free(conf);
}

/* Split like a POSIX shell splits words, without running one: blanks
 * separate, '...' is literal, "..." keeps blanks and takes \" \\ \$ \`,
 * a backslash outside quotes takes the next character. No expansion. */
static int split_words(const char *in, char ***words, size_t *nwords, char *err, size_t errlen)
{
	size_t cap = strlen(in) + 1, n = 0, len = 0;
	char **out = NULL, *word = NULL;
	const char *p = in;
	bool in_word = false;
	int ret = -1;

	out = calloc(cap, sizeof(*out));
	word = malloc(cap);
	if (!out || !word) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		char ch = *p;

		if (ch == '\0' || ch == ' ' || ch == '\t') {
			if (in_word) {
				word[len] = '\0';
				out[n] = strdup(word);
				if (!out[n]) {
					snprintf(err, errlen, "out of memory");
					goto out;
				}
				n++;
				len = 0;
				in_word = false;
			}
			if (ch == '\0')
				break;
			p++;
			continue;
		}
		in_word = true;
		if (ch == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end) {
				snprintf(err, errlen, "unterminated ' quote");
				goto out;
			}
			memcpy(word + len, p + 1, (size_t)(end - p - 1));
			len += (size_t)(end - p - 1);
			p = end + 1;
		} else if (ch == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				word[len++] = *p++;
			}
			if (*p != '"') {
				snprintf(err, errlen, "unterminated \" quote");
				goto out;
			}
			p++;
		} else if (ch == '\\') {
			if (!p[1]) {
				snprintf(err, errlen, "a backslash at the end");
				goto out;
			}
			word[len++] = p[1];
			p += 2;
		} else {
			word[len++] = ch;
			p++;
		}
	}
	*words = out;
	*nwords = n;
	out = NULL;
	ret = 0;
out:
	if (out) {
		while (n > 0)
			free(out[--n]);
		free(out);
	}
	free(word);
	return ret;
}

/* An address pppd accepts for either end (its bad_ip_adrs): not 0/8,
 * loopback, multicast, reserved or broadcast. */
static int parse_ip(const char *text, struct in_addr *a, char *err, size_t errlen)
{
	uint32_t h;

	if (inet_pton(AF_INET, text, a) != 1) {
		snprintf(err, errlen,
		         "'%s' is not an IPv4 address (PPP's IPCP negotiates IPv4: use a form like "
		         "10.0.0.1)",
		         text);
		return -1;
	}
	h = ntohl(a->s_addr);
	if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 28) >= 14) {
		snprintf(
		    err, errlen,
		    "%s cannot be the address of a PPP end (unspecified, loopback, multicast or "
		    "reserved)",
		    text);
		return -1;
	}
	return 0;
}

static int parse_route(const char *text, struct pp_route *r, char *err, size_t errlen)
{
	char addr[INET_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(text, '/');
	unsigned long prefix;
	uint32_t h, mask;

	if (!slash || (size_t)(slash - text) >= sizeof(addr) || !slash[1]) {
		snprintf(err, errlen,
		         "'%s' is not a CIDR network: write ADDRESS/PREFIX, e.g. 192.168.10.0/24",
		         text);
		return -1;
	}
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || errno || prefix > 32 || slash[1] < '0' || slash[1] > '9' ||
	    inet_pton(AF_INET, addr, &r->dst) != 1) {
		snprintf(err, errlen,
		         "'%s' is not an IPv4 CIDR network: write ADDRESS/PREFIX with a prefix of "
		         "0-32, e.g. 192.168.10.0/24",
		         text);
		return -1;
	}
	h = ntohl(r->dst.s_addr);
	mask = prefix ? ~0u << (32 - prefix) : 0;
	if (h & ~mask) {
		struct in_addr net = {.s_addr = htonl(h & mask)};
		char buf[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &net, buf, sizeof(buf));
		snprintf(err, errlen, "'%s' has host bits set: the network is %s/%lu", text, buf,
		         prefix);
		return -1;
	}
	r->prefix = (unsigned)prefix;
	return 0;
}

static bool route_covers(const struct pp_route *r, struct in_addr a)
{
	uint32_t mask = r->prefix ? ~0u << (32 - r->prefix) : 0;

	return (ntohl(a.s_addr) & mask) == ntohl(r->dst.s_addr);
}

/* pppd must be there and runnable when the config is checked: a typo or a
 * missing ppp package is a config error, not a tunnel retrying forever. */
static int check_program(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (path[0] != '/') {
		snprintf(err, errlen, "'%s' must be an absolute path (e.g. %s)", path,
		         PP_DEFAULT_PPPD);
		return -1;
	}
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		         errno == ENOENT ? " (install the ppp package: apt-get install ppp)" : "");
		return -1;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
		snprintf(err, errlen, "%s is not an executable file", path);
		return -1;
	}
	return 0;
}

/* Options that would take pppd out of warren's hands. */
static const char *const forbidden_opts[] = {"detach", "updetach", "pty", "notty", "socket", NULL};

struct seen {
	const char *key;
	int line;
};

static bool once(struct warren_diag *diag, struct seen *seen, const struct warren_kv *kv)
{
	if (seen->line) {
		host->config_error(diag, kv->line, "%s given twice (first at line %d)", kv->key,
		                   seen->line);
		return false;
	}
	seen->line = kv->line;
	return true;
}

static int pp_config_parse(struct warren_diag *diag, const char *tunnel_name, int section_line,
                           const struct warren_kv *keys, size_t nkeys,
                           const struct warren_gateway *gw, void **confp)
{
	struct pp_conf *conf = calloc(1, sizeof(*conf));
	struct seen s_local = {0}, s_remote = {0}, s_mtu = {0}, s_pppd = {0}, s_opts = {0},
	            s_cmd = {0};
	char err[PP_ERR_LEN];
	int errors = 0, pppd_line = section_line;
	size_t i, j;

	if (!conf) {
		host->config_error(diag, section_line, "out of memory");
		return -1;
	}
	conf->gw = gw;
	snprintf(conf->name, sizeof(conf->name), "%s", tunnel_name);
	conf->routes = calloc(nkeys ? nkeys : 1, sizeof(*conf->routes));
	if (!conf->routes) {
		host->config_error(diag, section_line, "out of memory");
		errors++;
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		const struct warren_kv *kv = &keys[i];

		if (strcmp(kv->key, "local_ip") == 0) {
			if (!once(diag, &s_local, kv)) {
				errors++;
			} else if (parse_ip(kv->value, &conf->local_ip, err, sizeof(err))) {
				host->config_error(diag, kv->line, "local_ip: %s", err);
				errors++;
			}
		} else if (strcmp(kv->key, "remote_ip") == 0) {
			if (!once(diag, &s_remote, kv)) {
				errors++;
			} else if (parse_ip(kv->value, &conf->remote_ip, err, sizeof(err))) {
				host->config_error(diag, kv->line, "remote_ip: %s", err);
				errors++;
			}
		} else if (strcmp(kv->key, "route") == 0) {
			struct pp_route *r = &conf->routes[conf->nroutes];

			if (parse_route(kv->value, r, err, sizeof(err))) {
				host->config_error(diag, kv->line, "route: %s", err);
				errors++;
				continue;
			}
			r->line = kv->line;
			r->spec = strdup(kv->value);
			if (!r->spec) {
				host->config_error(diag, kv->line, "out of memory");
				errors++;
				continue;
			}
			for (j = 0; j < conf->nroutes; j++) {
				if (conf->routes[j].dst.s_addr == r->dst.s_addr &&
				    conf->routes[j].prefix == r->prefix) {
					host->config_error(
					    diag, kv->line,
					    "route %s given twice (first at line %d)", kv->value,
					    conf->routes[j].line);
					errors++;
					break;
				}
			}
			conf->nroutes++;
		} else if (strcmp(kv->key, "mtu") == 0) {
			char *end;
			unsigned long v;

			if (!once(diag, &s_mtu, kv)) {
				errors++;
				continue;
			}
			errno = 0;
			v = strtoul(kv->value, &end, 10);
			if (!*kv->value || *end || errno || kv->value[0] == '-' || v < PP_MTU_MIN ||
			    v > PP_MTU_MAX) {
				host->config_error(diag, kv->line,
				                   "mtu = %s: want a number of bytes from %d to %d",
				                   kv->value, PP_MTU_MIN, PP_MTU_MAX);
				errors++;
				continue;
			}
			conf->mtu = (unsigned)v;
		} else if (strcmp(kv->key, "pppd") == 0) {
			if (!once(diag, &s_pppd, kv)) {
				errors++;
				continue;
			}
			free(conf->pppd);
			conf->pppd = strdup(kv->value);
			pppd_line = kv->line;
		} else if (strcmp(kv->key, "pppd_options") == 0) {
			if (!once(diag, &s_opts, kv)) {
				errors++;
				continue;
			}
			if (split_words(kv->value, &conf->opts, &conf->nopts, err, sizeof(err))) {
				host->config_error(diag, kv->line, "pppd_options: %s", err);
				errors++;
				continue;
			}
			for (j = 0; j < conf->nopts; j++) {
				size_t k;

				for (k = 0; forbidden_opts[k]; k++)
					if (strcmp(conf->opts[j], forbidden_opts[k]) == 0)
						break;
				if (forbidden_opts[k]) {
					host->config_error(diag, kv->line,
					                   "pppd_options: '%s' is not allowed: "
					                   "warren runs pppd in "
					                   "the foreground on a pty of its own",
					                   conf->opts[j]);
					errors++;
				}
			}
		} else if (strcmp(kv->key, "remote_command") == 0) {
			if (!once(diag, &s_cmd, kv)) {
				errors++;
				continue;
			}
			if (!kv->value[0]) {
				host->config_error(diag, kv->line,
				                   "remote_command is empty: it runs pppd on the "
				                   "gateway, e.g. %s",
				                   PP_DEFAULT_REMOTE);
				errors++;
				continue;
			}
			free(conf->remote_command);
			conf->remote_command = strdup(kv->value);
		} else {
			host->config_error(
			    diag, kv->line,
			    "unknown key '%s' for transport ppp-ssh (known: local_ip, "
			    "remote_ip, route, mtu, pppd, pppd_options, remote_command)",
			    kv->key);
			errors++;
		}
	}
	if (!conf->pppd)
		conf->pppd = strdup(PP_DEFAULT_PPPD);
	if (!conf->remote_command)
		conf->remote_command = strdup(PP_DEFAULT_REMOTE);
	if (!conf->pppd || !conf->remote_command) {
		host->config_error(diag, section_line, "out of memory");
		errors++;
		goto out;
	}
	if (check_program(conf->pppd, err, sizeof(err))) {
		host->config_error(diag, pppd_line, "pppd: %s", err);
		errors++;
	}
	if (!gw) {
		host->config_error(diag, section_line,
		                   "tunnel %s: transport ppp-ssh needs gateway = NAME",
		                   tunnel_name);
		errors++;
	}
	if (!s_local.line) {
		host->config_error(diag, section_line,
		                   "tunnel %s: local_ip is required (this end's address on the PPP "
		                   "link)",
		                   tunnel_name);
		errors++;
	}
	if (!s_remote.line) {
		host->config_error(diag, section_line,
		                   "tunnel %s: remote_ip is required (the gateway's address on the "
		                   "PPP link)",
		                   tunnel_name);
		errors++;
	}
	if (s_local.line && s_remote.line && conf->local_ip.s_addr == conf->remote_ip.s_addr &&
	    conf->local_ip.s_addr) {
		host->config_error(
		    diag, s_remote.line,
		    "remote_ip is the same as local_ip: the two ends of the link need "
		    "two addresses");
		errors++;
	}
	/* The SSH connection itself must not be routed into the tunnel. */
	if (gw) {
		struct in_addr ga;

		for (i = 0; i < conf->nroutes; i++)
			if (inet_pton(AF_INET, gw->host, &ga) == 1 &&
			    route_covers(&conf->routes[i], ga)) {
				host->config_error(
				    diag, conf->routes[i].line,
				    "route %s covers the gateway's own address %s: "
				    "the SSH connection would be routed into its own "
				    "tunnel",
				    conf->routes[i].spec, gw->host);
				errors++;
			}
	}
	inet_ntop(AF_INET, &conf->local_ip, conf->local_s, sizeof(conf->local_s));
	inet_ntop(AF_INET, &conf->remote_ip, conf->remote_s, sizeof(conf->remote_s));
out:
	if (errors) {
		pp_config_free(conf);
		return -1;
	}
	*confp = conf;
	return 0;
}

/* ---- helpers ---- */

static void pp_fail(struct pp *pp, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	/* The first reason is the real one; later ends follow from it. */
	if (!pp->running || pp->failed)
		return;
	pp->failed = true;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	host->report_failure(pp->t, "%s", reason);
}

static int64_t secs_since(const struct timespec *then)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - then->tv_sec);
}

/* ---- stderr of pppd and of the remote command ---- */

static void reader_line(struct reader *r)
{
	size_t i;

	r->buf[r->len] = '\0';
	for (i = 0; i < r->len; i++)
		if ((unsigned char)r->buf[i] < 0x20 && r->buf[i] != '\t')
			r->buf[i] = '?';
	/* The last line makes the failure's reason: pppd's closing figures
	 * ("Connect time ...", "Sent N bytes, ...") would say nothing. */
	if (r->len && strncmp(r->buf, "Connect time ", 13) != 0 && strncmp(r->buf, "Sent ", 5) != 0)
		memcpy(r->last, r->buf, r->len + 1);
	if (r->len && r->lines++ < PP_LINES_PER_ROUND)
		host->log(r->pp->t, WARREN_LOG_INFO, "%s: %s", r->what, r->buf);
	else if (r->len && r->lines == PP_LINES_PER_ROUND + 1)
		host->log(r->pp->t, WARREN_LOG_INFO, "%s: (further lines are not logged)", r->what);
	r->len = 0;
}

static void reader_close(struct reader *r)
{
	if (r->len)
		reader_line(r);
	host->watch_free(r->watch);
	r->watch = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* Read what is there (the pipe is non-blocking); EOF closes it. */
static void reader_drain(struct reader *r)
{
	char buf[4096];
	ssize_t n, i;
	int rounds;

	for (rounds = 0; r->fd >= 0 && rounds < 64; rounds++) {
		n = read(r->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			reader_close(r);
			return;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				reader_line(r);
			} else if (buf[i] != '\r') {
				r->buf[r->len++] = buf[i];
				if (r->len == PP_LINE_MAX)
					reader_line(r);
			}
		}
	}
}

static void on_reader(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	reader_drain(arg);
}

/* A pipe whose write end goes to a child (or to the SSH layer); *wfd is
 * the caller's to hand over. */
static int reader_open(struct pp *pp, struct reader *r, int *wfd)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	r->watch = host->watch_new(pp->t, p[0], WARREN_EV_READ, on_reader, r);
	if (!r->watch) {
		close(p[0]);
		close(p[1]);
		return -ENOMEM;
	}
	r->fd = p[0];
	r->len = 0;
	r->last[0] = '\0';
	r->lines = 0;
	*wfd = p[1];
	return 0;
}

/* ---- routes ---- */

static void report_link(struct pp *pp)
{
	char reason[PP_ERR_LEN * 2] = "";
	size_t i, off = 0, nfailed = 0;

	if (!pp->running || pp->failed || !pp->ifindex)
		return;
	for (i = 0; i < pp->conf->nroutes; i++) {
		if (pp->routes[i].installed)
			continue;
		nfailed++;
		if (off < sizeof(reason))
			off += (size_t)snprintf(reason + off, sizeof(reason) - off,
			                        "%sroute %s: %s", off ? "; " : "",
			                        pp->conf->routes[i].spec, pp->routes[i].error);
	}
	if (nfailed == 0) {
		host->report_up(pp->t);
		return;
	}
	host->report_degraded(pp->t, "%zu of %zu routes not installed: %s", nfailed,
	                      pp->conf->nroutes, reason);
	host->timer_arm(pp->route_timer, PP_ROUTE_RETRY_MS);
}

static void routes_install(struct pp *pp)
{
	size_t i;

	for (i = 0; i < pp->conf->nroutes; i++) {
		const struct pp_route *r = &pp->conf->routes[i];
		struct route_state *st = &pp->routes[i];
		char err[PP_ERR_LEN];

		if (st->installed)
			continue;
		if (pnl_route_add(pp->nl, pp->ifindex, r->dst, r->prefix, err, sizeof(err)) != 0) {
			if (strcmp(err, st->error) != 0)
				host->log(pp->t, WARREN_LOG_WARN, "cannot add route %s dev %s: %s",
				          r->spec, pp->ifname, err);
			snprintf(st->error, sizeof(st->error), "%s", err);
			continue;
		}
		st->installed = true;
		st->error[0] = '\0';
		host->log(pp->t, WARREN_LOG_INFO, "route %s dev %s installed", r->spec, pp->ifname);
	}
}

/* Remove what we installed. The kernel drops routes with their interface,
 * so a link that is gone already leaves nothing behind either. */
static void routes_remove(struct pp *pp)
{
	size_t i;

	host->timer_cancel(pp->route_timer);
	for (i = 0; pp->routes && i < pp->conf->nroutes; i++) {
		const struct pp_route *r = &pp->conf->routes[i];

		if (!pp->routes[i].installed)
			continue;
		if (pp->nl && pnl_route_del(pp->nl, pp->ifindex, r->dst, r->prefix) != 0)
			host->log(pp->t, WARREN_LOG_WARN, "cannot remove route %s dev %s", r->spec,
			          pp->ifname);
		else
			host->log(pp->t, WARREN_LOG_INFO, "route %s dev %s removed", r->spec,
			          pp->ifname);
		pp->routes[i].installed = false;
	}
}

static void on_route_retry(void *arg)
{
	struct pp *pp = arg;

	if (!pp->running || !pp->ifindex)
		return;
	routes_install(pp);
	report_link(pp);
}

/* ---- the link, as netlink sees it ---- */

static void on_link(int ifindex, const char *ifname, void *arg)
{
	struct pp *pp = arg;

	if (ifindex > 0) {
		pp->ifindex = ifindex;
		snprintf(pp->ifname, sizeof(pp->ifname), "%s", ifname);
		clock_gettime(CLOCK_MONOTONIC, &pp->up_since);
		host->timer_cancel(pp->link_timer);
		host->log(pp->t, WARREN_LOG_INFO, "PPP link up: %s, %s -> %s", pp->ifname,
		          pp->conf->local_s, pp->conf->remote_s);
		routes_install(pp);
		report_link(pp);
		return;
	}
	if (!pp->ifindex)
		return;
	routes_remove(pp);
	host->log(pp->t, WARREN_LOG_INFO, "PPP link on %s went down", pp->ifname);
	pp->ifindex = 0;
	/* pppd normally exits now, which fails the round; if it renegotiates
	 * instead (`persist`), the link timer bounds the wait. */
	if (pp->running && !pp->failed) {
		host->report_degraded(pp->t, "the PPP link on %s went down", pp->ifname);
		host->timer_arm(pp->link_timer, PP_LINK_TIMEOUT_MS);
	}
}

static void on_link_timeout(void *arg)
{
	struct pp *pp = arg;

	pp_fail(pp,
	        "the PPP link did not come up within %d s (no interface with %s peer %s; see "
	        "pppd's messages in the log)",
	        PP_LINK_TIMEOUT_MS / 1000, pp->conf->local_s, pp->conf->remote_s);
}

/* ---- pppd ---- */

static const char *pppd_exit_meaning(int code)
{
	/* pppd(8), EXIT STATUS */
	switch (code) {
	case 1:
		return "fatal error";
	case 2:
		return "error in the options";
	case 3:
		return "not run as root";
	case 4:
		return "the kernel has no PPP support (no /dev/ppp)";
	case 5:
		return "ended by a signal";
	case 6:
		return "the tty could not be locked";
	case 7:
		return "the tty could not be opened";
	case 10:
		return "PPP negotiation failed";
	case 11:
		return "the peer refused to authenticate";
	case 15:
		return "the peer stopped answering LCP echo requests";
	case 16:
		return "the link was hung up";
	case 19:
		return "authentication to the peer failed";
	}
	return NULL;
}

static void close_link(struct pp *pp)
{
	/* The channel owns the pty master: closing it hangs pppd's tty up. */
	wssh_channel_close(pp->ch);
	pp->ch = NULL;
	wssh_session_free(pp->s);
	pp->s = NULL;
	pp->session_up = false;
	reader_close(&pp->remote_err);
}

static void finish_stop(struct pp *pp)
{
	host->timer_cancel(pp->kill_timer);
	close_link(pp);
	reader_close(&pp->pppd_err);
	if (pp->stop_pending) {
		pp->stop_pending = false;
		host->report_stopped(pp->t);
	}
}

static void on_pppd_exit(pid_t pid, int status, void *arg)
{
	struct pp *pp = arg;
	char how[PP_ERR_LEN];
	const char *meaning;

	(void)pid;
	pp->pid = -1;
	reader_drain(&pp->pppd_err);
	if (WIFEXITED(status)) {
		meaning = pppd_exit_meaning(WEXITSTATUS(status));
		snprintf(how, sizeof(how), "exited with status %d%s%s%s", WEXITSTATUS(status),
		         meaning ? " (" : "", meaning ? meaning : "", meaning ? ")" : "");
	} else {
		snprintf(how, sizeof(how), "was killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	}
	host->log(pp->t, WARREN_LOG_DEBUG, "pppd (pid %d) %s", (int)pid, how);
	if (pp->stop_pending) {
		finish_stop(pp);
		return;
	}
	pp_fail(pp, "pppd %s%s%s", how, pp->pppd_err.last[0] ? ": " : "", pp->pppd_err.last);
}

/* A pty whose slave is pppd's tty, in raw mode so that nothing between
 * pppd and the channel edits the bytes (pppd sets its own modes too). */
static int pty_open(struct pp *pp, int *master_out, int *slave_out)
{
	struct termios tio;
	int master, slave = -1, ret;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -errno;
	if (grantpt(master) != 0 || unlockpt(master) != 0 ||
	    ptsname_r(master, pp->pty, sizeof(pp->pty)) != 0)
		goto fail;
	slave = open(pp->pty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto fail;
	if (tcgetattr(slave, &tio) != 0)
		goto fail;
	cfmakeraw(&tio);
	if (tcsetattr(slave, TCSANOW, &tio) != 0)
		goto fail;
	if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) != 0)
		goto fail;
	*master_out = master;
	*slave_out = slave;
	return 0;
fail:
	ret = -errno;
	if (slave >= 0)
		close(slave);
	close(master);
	pp->pty[0] = '\0';
	return ret ? ret : -EIO;
}

static bool user_asked(const struct pp_conf *conf, const char *opt)
{
	size_t i;

	for (i = 0; i < conf->nopts; i++)
		if (strcmp(conf->opts[i], opt) == 0)
			return true;
	return false;
}

/* pppd on the pty slave (its stdin and stdout: pppd takes the terminal on
 * its stdin when no device is named), stderr to a pipe we log. */
static int pppd_start(struct pp *pp, int slave, int err_fd)
{
	const struct pp_conf *c = pp->conf;
	const char **argv;
	char addrs[2 * INET_ADDRSTRLEN + 2], mtu[16];
	size_t n = 0, i;
	int ret = 0;

	argv = calloc(20 + c->nopts, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	snprintf(addrs, sizeof(addrs), "%s:%s", c->local_s, c->remote_s);
	snprintf(mtu, sizeof(mtu), "%u", c->mtu);
	argv[n++] = c->pppd;
	argv[n++] = "nodetach";
	argv[n++] = "noauth";
	argv[n++] = "local"; /* a pty has no modem lines to wait for */
	if (!user_asked(c, "defaultroute"))
		argv[n++] = "nodefaultroute";
	argv[n++] = "ipparam";
	argv[n++] = c->name;
	/* linkname is a privileged option: only root may name the pid file. */
	if (geteuid() == 0) {
		argv[n++] = "linkname";
		argv[n++] = c->name;
	}
	argv[n++] = addrs;
	if (c->mtu) {
		argv[n++] = "mtu";
		argv[n++] = mtu;
		argv[n++] = "mru";
		argv[n++] = mtu;
	}
	/* Its log to stderr (our pipe); by default it goes to stdout, which
	 * is the tty here, so pppd would drop it. */
	argv[n++] = "logfd";
	argv[n++] = "2";
	for (i = 0; i < c->nopts; i++)
		argv[n++] = c->opts[i];
	argv[n] = NULL;
	pp->pid = host->spawn(pp->t, argv, slave, slave, err_fd, on_pppd_exit, pp);
	if (pp->pid < 0)
		ret = -errno;
	free(argv);
	return ret;
}

/* ---- the remote command ---- */

static void on_channel_closed(struct wssh_channel *c, void *arg)
{
	struct pp *pp = arg;

	(void)c;
	pp->ch = NULL; /* the layer frees it, and closed the pty master */
	pp_fail(pp, "the SSH channel of the remote command closed");
}

static void on_remote_exit(struct wssh_channel *c, int status, const char *sig, void *arg)
{
	struct pp *pp = arg;
	const char *last;

	(void)c;
	/* Its last words may still sit in the pipe. */
	reader_drain(&pp->remote_err);
	last = pp->remote_err.last;
	if (sig)
		pp_fail(pp, "the remote command (%s) was killed by signal %s%s%s",
		        pp->conf->remote_command, sig, last[0] ? ": " : "", last);
	else
		pp_fail(pp, "the remote command (%s) exited with status %d%s%s%s",
		        pp->conf->remote_command, status, last[0] ? ": " : "", last,
		        status == 127 && !last[0] ? " (not found on the gateway?)" : "");
}

static void on_exec(struct wssh_channel *c, int error, const char *reason, void *arg)
{
	struct pp *pp = arg;
	int master = -1, slave = -1, wfd = -1, rc;

	if (error) {
		pp->ch = NULL;
		pp_fail(pp, "remote_command (%s): %s", pp->conf->remote_command, reason);
		return;
	}
	/* The command's stderr, so its complaint ("pppd: not found", "sudo:
	 * a password is required") makes the failure's reason. */
	rc = reader_open(pp, &pp->remote_err, &wfd);
	if (rc == 0) {
		rc = wssh_channel_attach_stderr(c, wfd);
		if (rc != 0)
			close(wfd);
	}
	if (rc != 0) {
		pp_fail(pp, "cannot read the remote command's stderr: %s", strerror(-rc));
		return;
	}
	wssh_channel_set_exit_cb(c, on_remote_exit, pp);
	rc = pty_open(pp, &master, &slave);
	if (rc != 0) {
		pp_fail(pp, "cannot allocate a pty: %s", strerror(-rc));
		return;
	}
	rc = reader_open(pp, &pp->pppd_err, &wfd);
	if (rc == 0) {
		rc = pppd_start(pp, slave, wfd);
		close(wfd);
		if (rc != 0)
			reader_close(&pp->pppd_err);
	}
	/* pppd holds the slave now; ours would hide its hangup from us. */
	close(slave);
	if (rc != 0) {
		close(master);
		pp_fail(pp, "cannot run %s: %s", pp->conf->pppd, strerror(-rc));
		return;
	}
	host->log(pp->t, WARREN_LOG_INFO, "pppd (pid %d) started on %s, remote command running",
	          (int)pp->pid, pp->pty);
	rc = wssh_channel_attach(c, master, NULL, 0, on_channel_closed, pp);
	if (rc != 0) {
		close(master);
		pp_fail(pp, "cannot bridge the pty: %s", strerror(-rc));
		return;
	}
	host->timer_arm(pp->link_timer, PP_LINK_TIMEOUT_MS);
}

static void on_session_up(struct wssh_session *s, void *arg)
{
	struct pp *pp = arg;
	struct wssh_exec_opts o = {
	    .command = pp->conf->remote_command,
	    .pty = false, /* the remote pppd runs notty on its stdin/stdout */
	    .stderr_mode = WSSH_STDERR_FD,
	};

	pp->session_up = true;
	pp->ch = wssh_exec(s, &o, on_exec, pp);
	if (!pp->ch)
		pp_fail(pp, "cannot start the remote command: out of memory");
}

static void on_session_down(struct wssh_session *s, void *arg, const char *reason)
{
	struct pp *pp = arg;

	(void)s;
	pp->session_up = false;
	pp_fail(pp, "%s", reason);
}

static const struct wssh_session_cbs session_cbs = {
    .up = on_session_up,
    .down = on_session_down,
};

/* ---- lifecycle ---- */

static void pp_destroy(void *state);

/* While a stop waits for pppd: hang its tty up, then SIGKILL it, and
 * notice its end even when nobody tells us. */
static void on_stop_tick(void *arg)
{
	struct pp *pp = arg;
	struct timespec now;
	int64_t ms;

	if (pp->pid <= 0 || !pp->stop_pending)
		return;
	/* At daemon shutdown the core terminates and reaps every child
	 * itself, without calling on_exit: a pid that is gone is pppd's end. */
	if (kill(pp->pid, 0) != 0 && errno == ESRCH) {
		host->log(pp->t, WARREN_LOG_DEBUG, "pppd (pid %d) reaped by the core",
		          (int)pp->pid);
		pp->pid = -1;
		finish_stop(pp);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - pp->stop_began.tv_sec) * 1000 +
	     (now.tv_nsec - pp->stop_began.tv_nsec) / 1000000;
	if (pp->kill_stage == 1 && ms >= PP_HANGUP_MS) {
		/* Deaf to SIGTERM while its LCP waits for an answer: a hangup
		 * ends pppd at once. */
		close_link(pp);
		pp->kill_stage = 2;
	}
	if (pp->kill_stage == 2 && ms >= PP_KILL_MS) {
		host->log(pp->t, WARREN_LOG_WARN, "pppd (pid %d) still running: SIGKILL",
		          (int)pp->pid);
		/* Its whole group, as the core does: a script pppd ran
		 * (ip-down) must not outlive it. */
		kill(-pp->pid, SIGKILL);
		pp->kill_stage = 3;
	}
	host->timer_arm(pp->kill_timer, PP_STOP_TICK_MS);
}

static int pp_create(struct warren_tunnel *t, const void *conf_p, void **statep)
{
	const struct pp_conf *conf = conf_p;
	struct pp *pp = calloc(1, sizeof(*pp));

	if (!pp)
		return -ENOMEM;
	pp->t = t;
	pp->conf = conf;
	pp->pid = -1;
	pp->pppd_err.pp = pp;
	pp->pppd_err.what = "pppd";
	pp->pppd_err.fd = -1;
	pp->remote_err.pp = pp;
	pp->remote_err.what = "remote";
	pp->remote_err.fd = -1;
	pp->routes = calloc(conf->nroutes ? conf->nroutes : 1, sizeof(*pp->routes));
	pp->link_timer = host->timer_new(t, on_link_timeout, pp);
	pp->kill_timer = host->timer_new(t, on_stop_tick, pp);
	pp->route_timer = host->timer_new(t, on_route_retry, pp);
	if (!pp->routes || !pp->link_timer || !pp->kill_timer || !pp->route_timer) {
		pp_destroy(pp);
		return -ENOMEM;
	}
	*statep = pp;
	return 0;
}

static int pp_start(void *state)
{
	struct pp *pp = state;
	char err[PP_ERR_LEN];
	size_t i;
	int rc;

	pp->running = true;
	pp->failed = false;
	pp->ifindex = 0;
	pp->pty[0] = '\0';
	for (i = 0; i < pp->conf->nroutes; i++)
		pp->routes[i] = (struct route_state){0};
	/* Listen before pppd exists, so its interface cannot be missed. */
	pp->nl = pnl_open(host, pp->t, pp->conf->local_ip, pp->conf->remote_ip, on_link, pp, err,
	                  sizeof(err));
	if (!pp->nl) {
		host->log(pp->t, WARREN_LOG_ERROR, "%s", err);
		return -EIO;
	}
	pp->s = wssh_session_new(host, pp->t, pp->conf->gw, &session_cbs, pp);
	if (!pp->s)
		return -ENOMEM;
	rc = wssh_session_start(pp->s);
	if (rc < 0) {
		wssh_session_free(pp->s);
		pp->s = NULL;
	}
	return rc;
}

static int pp_stop(void *state)
{
	struct pp *pp = state;

	pp->running = false;
	host->timer_cancel(pp->link_timer);
	routes_remove(pp);
	pnl_close(pp->nl);
	pp->nl = NULL;
	pp->ifindex = 0;
	if (pp->pid > 0) {
		/* With the channel still pumped, pppd's Terminate-Request
		 * reaches the peer and the remote pppd ends cleanly too. */
		if (!pp->session_up || !pp->ch)
			close_link(pp);
		kill(pp->pid, SIGTERM);
		pp->kill_stage = 1;
		clock_gettime(CLOCK_MONOTONIC, &pp->stop_began);
		host->timer_arm(pp->kill_timer, PP_STOP_TICK_MS);
		pp->stop_pending = true;
		return WARREN_STOP_PENDING;
	}
	finish_stop(pp);
	return 0;
}

static void pp_destroy(void *state)
{
	struct pp *pp = state;

	if (!pp)
		return;
	/* After a stop that timed out the core kills and reaps pppd. */
	pnl_close(pp->nl);
	close_link(pp);
	reader_close(&pp->pppd_err);
	host->timer_free(pp->link_timer);
	host->timer_free(pp->kill_timer);
	host->timer_free(pp->route_timer);
	free(pp->routes);
	free(pp);
}

static void pp_status(void *state, struct warren_json *j)
{
	struct pp *pp = state;
	uint64_t rx, tx;
	bool bytes = false;
	size_t i;

	if (pp->ifindex && pp->nl)
		bytes = pnl_link_bytes(pp->nl, pp->ifindex, &rx, &tx) == 0;
	host->json_string(j, "interface", pp->ifindex ? pp->ifname : NULL);
	host->json_string(j, "local_ip", pp->conf->local_s);
	host->json_string(j, "remote_ip", pp->conf->remote_s);
	host->json_array_begin(j, "routes");
	for (i = 0; i < pp->conf->nroutes; i++) {
		host->json_object_begin(j, NULL);
		host->json_string(j, "route", pp->conf->routes[i].spec);
		host->json_bool(j, "installed", pp->routes[i].installed);
		host->json_string(j, "last_error",
		                  pp->routes[i].error[0] ? pp->routes[i].error : NULL);
		host->json_object_end(j);
	}
	host->json_array_end(j);
	if (pp->ifindex)
		host->json_int(j, "link_uptime", secs_since(&pp->up_since));
	else
		host->json_string(j, "link_uptime", NULL);
	if (bytes) {
		host->json_int(j, "link_bytes_in", (int64_t)rx);
		host->json_int(j, "link_bytes_out", (int64_t)tx);
	} else {
		host->json_string(j, "link_bytes_in", NULL);
		host->json_string(j, "link_bytes_out", NULL);
	}
	if (pp->pid > 0)
		host->json_int(j, "pppd_pid", pp->pid);
	else
		host->json_string(j, "pppd_pid", NULL);
	host->json_string(j, "pty", pp->pid > 0 && pp->pty[0] ? pp->pty : NULL);
}

static const struct warren_transport_ops pp_ops = {
    .abi = WARREN_PLUGIN_ABI,
    .size = sizeof(struct warren_transport_ops),
    .name = "ppp-ssh",
    .version = PP_VERSION,
    .description = "PPP over an SSH channel: a VPN to the network behind a gateway",
    .needs_gateway = true,
    .config_parse = pp_config_parse,
    .config_free = pp_config_free,
    .create = pp_create,
    .start = pp_start,
    .stop = pp_stop,
    .destroy = pp_destroy,
    .status = pp_status,
};

/* The host table must reach the last member this file calls. */
#define PP_HOST_SIZE_NEEDED                                                                        \
	(offsetof(struct warren_host, json_array_end) +                                            \
	 sizeof(((struct warren_host *)0)->json_array_end))

WARREN_EXPORT const struct warren_transport_ops *WARREN_PLUGIN_ENTRY(const struct warren_host *h)
{
	if (!h || h->abi < WARREN_PLUGIN_ABI || h->size < PP_HOST_SIZE_NEEDED)
		return NULL;
	host = h;
	return &pp_ops;
}
