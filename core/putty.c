/* putty.c: PuTTY saved sessions as warren config (putty.h). */
#include "putty.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* PuTTY's session files are small; this is far past any real one. */
#define SESSION_MAX_LEN (256 * 1024)
/* Room left for "-NN" (a second session of the same name) and "-x11". */
#define NAME_BASE_MAX    56
#define DEFAULT_SETTINGS "Default Settings"

static const char hex[] = "0123456789ABCDEF";

static const char *home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "";
}

char *wr_putty_sessions_dir(void)
{
	const char *env = getenv("PUTTYSESSIONS");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char *base, *dir;

	if (env && *env)
		return wr_xstrdup(env);
	env = getenv("PUTTYDIR");
	if (env && *env) {
		base = wr_xstrdup(env);
	} else {
		base = xdg && *xdg ? wr_xasprintf("%s/putty", xdg)
		                   : wr_xasprintf("%s/.config/putty", home());
		if (access(base, F_OK) != 0) {
			free(base);
			base = wr_xasprintf("%s/.putty", home());
		}
	}
	dir = wr_xasprintf("%s/sessions", base);
	free(base);
	return dir;
}

static bool name_safe(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.' || c == '@' || c == '_';
}

char *wr_putty_encode_name(const char *session)
{
	struct wr_buf b = {0};
	char *s;

	if (!*session)
		session = DEFAULT_SETTINGS;
	for (const char *p = session; *p; p++) {
		if (name_safe(*p)) {
			wr_buf_append(&b, p, 1);
		} else {
			char esc[3] = {'%', hex[(unsigned char)*p >> 4],
			               hex[(unsigned char)*p & 15]};

			wr_buf_append(&b, esc, 3);
		}
	}
	s = wr_xstrdup(wr_buf_cstr(&b));
	wr_buf_free(&b);
	return s;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *wr_putty_decode_name(const char *file_name)
{
	struct wr_buf b = {0};
	char *s;

	for (const char *p = file_name; *p;) {
		int hi = p[0] == '%' ? hex_value(p[1]) : -1;
		int lo = hi >= 0 ? hex_value(p[2]) : -1;

		if (lo >= 0 && (hi || lo)) {
			char c = (char)(hi << 4 | lo);

			wr_buf_append(&b, &c, 1);
			p += 3;
		} else {
			wr_buf_append(&b, p++, 1);
		}
	}
	s = wr_xstrdup(wr_buf_cstr(&b));
	wr_buf_free(&b);
	return s;
}

void wr_putty_free(struct wr_putty_session *s)
{
	for (size_t i = 0; i < s->count; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->name);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

int wr_putty_read(const char *path, const char *name, struct wr_putty_session *s, char *err,
                  size_t errlen)
{
	char *text = wr_xmalloc(SESSION_MAX_LEN + 1);
	size_t len = 0;
	ssize_t n;
	int ret = -1;
	int fd;

	memset(s, 0, sizeof(*s));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, text + len, SESSION_MAX_LEN + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len > SESSION_MAX_LEN) {
		snprintf(err, errlen, "%s: %s", path,
		         n < 0 ? strerror(errno) : "too large for a PuTTY session");
		goto out;
	}
	text[len] = '\0';
	s->name = wr_xstrdup(name);
	s->path = wr_xstrdup(path);
	/* Key=Value lines as PuTTY writes them; a line without '=' is
	 * skipped, as PuTTY skips it. */
	for (char *line = text, *next; line < text + len; line = next) {
		char *eq, *end = strchr(line, '\n');

		next = end ? end + 1 : text + len;
		if (end)
			*end = '\0';
		line[strcspn(line, "\r")] = '\0';
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		s->kv = wr_xrealloc(s->kv, (s->count + 1) * sizeof(*s->kv));
		s->kv[s->count].key = wr_xstrdup(line);
		s->kv[s->count].value = wr_xstrdup(eq + 1);
		s->count++;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	if (ret < 0)
		wr_putty_free(s);
	return ret;
}

const char *wr_putty_get(const struct wr_putty_session *s, const char *key)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].value;
	return NULL;
}

char *wr_putty_warren_name(const char *session)
{
	char *name = wr_xmalloc(NAME_BASE_MAX + 1);
	size_t n = 0;

	for (const char *p = session; *p && n < NAME_BASE_MAX; p++) {
		bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		            (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '@' ||
		            *p == '-';

		if (keep)
			name[n++] = *p;
		else if (n > 0 && name[n - 1] != '-')
			name[n++] = '-';
	}
	while (n > 0 && name[n - 1] == '-')
		n--;
	name[n] = '\0';
	if (n == 0) {
		free(name);
		return wr_xstrdup("putty");
	}
	return name;
}

/* ---- conversion ---- */

static int int_value(const struct wr_putty_session *s, const char *key, int def)
{
	const char *v = wr_putty_get(s, key);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end || n < -1000000 || n > 1000000 ? def : (int)n;
}

static void warn(struct wr_buf *warnings, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct wr_buf *warnings, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = wr_xvasprintf(fmt, ap);
	va_end(ap);
	wr_buf_printf(warnings, "%s\n", s);
	free(s);
}

/* key = value, quoted when the value would not read back as itself. */
static void put_kv(struct wr_buf *out, const char *key, const char *value)
{
	size_t len = strlen(value);

	if (len && !strpbrk(value, "#;\"\\\t") && value[0] != ' ' && value[len - 1] != ' ') {
		wr_buf_printf(out, "%s = %s\n", key, value);
		return;
	}
	wr_buf_printf(out, "%s = \"", key);
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			wr_buf_puts(out, "\\");
		wr_buf_append(out, p, 1);
	}
	wr_buf_puts(out, "\"\n");
}

/* The last ':' outside brackets, as PuTTY's host_strchr finds it. */
static const char *last_colon(const char *s)
{
	const char *found = NULL;
	int depth = 0;

	for (; *s; s++) {
		if (*s == '[')
			depth++;
		else if (*s == ']' && depth > 0)
			depth--;
		else if (*s == ':' && depth == 0)
			found = s;
	}
	return found;
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* One PortForwardings entry, unescaped: key [A46]?[LRD][addr:]port, value
 * host:port (empty for D). Appends the warren line to fwd; true when the
 * forward needs accept_remote_clients. */
static void convert_forward(const char *key, const char *value, bool local_all, bool remote_all,
                            struct wr_buf *fwd, bool *open, struct wr_buf *warnings)
{
	const char *k = key, *colon;
	char family = 'A', type;
	char *bind = NULL, *spec = NULL;
	const char *port;

	if (*k == 'A' || *k == '4' || *k == '6')
		family = *k++;
	type = *k++;
	if (type != 'L' && type != 'R' && type != 'D') {
		warn(warnings, "port forwarding '%s' is not L, R or D: left out", key);
		return;
	}
	colon = last_colon(k);
	port = colon ? colon + 1 : k;
	if (colon)
		bind = wr_xasprintf("%.*s", (int)(colon - k), k);
	if (!all_digits(port) || (type != 'D' && !*value)) {
		warn(warnings,
		     "port forwarding '%s%s%s' names a service or lacks a target: warren takes "
		     "port numbers; left out",
		     key, *value ? "=" : "", value);
		goto out;
	}
	if (family != 'A')
		warn(warnings,
		     "port forwarding '%s' is IPv%c only in PuTTY; warren uses the addresses its "
		     "names resolve to",
		     key, family);
	/* Without an address PuTTY listens on loopback, or everywhere when
	 * "accept connections from other hosts" is on. */
	if (!bind && ((type == 'R' && remote_all) || (type != 'R' && local_all)))
		bind = wr_xstrdup("*");
	if (bind) {
		size_t blen = strlen(bind);
		char *address = bind[0] == '[' && blen > 2 && bind[blen - 1] == ']'
		                    ? wr_xasprintf("%.*s", (int)(blen - 2), bind + 1)
		                    : wr_xstrdup(bind);

		if (!wr_is_loopback(address))
			*open = true;
		free(address);
	}
	if (type == 'D')
		spec = wr_xasprintf("%s%s%s", bind ? bind : "", bind ? ":" : "", port);
	else
		spec = wr_xasprintf("%s%s%s:%s", bind ? bind : "", bind ? ":" : "", port, value);
	put_kv(fwd, type == 'L' ? "local" : type == 'R' ? "remote" : "dynamic", spec);
out:
	free(bind);
	free(spec);
}

/* PortForwardings: KEY=VALUE entries separated by ',', with '\' escaping
 * the next character (settings.c: wmap/gppmap). */
static void convert_forwards(const char *list, bool local_all, bool remote_all, struct wr_buf *fwd,
                             bool *open, struct wr_buf *warnings)
{
	const char *p = list;

	while (*p) {
		struct wr_buf key = {0}, value = {0};
		bool in_value = false;
		char *k, *v;

		while (*p && *p != ',') {
			char c = *p++;

			if (c == '\\' && *p)
				c = *p++;
			else if (c == '=' && !in_value) {
				in_value = true;
				continue;
			}
			wr_buf_append(in_value ? &value : &key, &c, 1);
		}
		if (*p == ',')
			p++;
		k = wr_xstrdup(wr_buf_cstr(&key));
		v = wr_xstrdup(wr_buf_cstr(&value));
		if (*k)
			convert_forward(k, v, local_all, remote_all, fwd, open, warnings);
		free(k);
		free(v);
		wr_buf_free(&key);
		wr_buf_free(&value);
	}
}

/* Settings warren has no counterpart for, with what PuTTY stores when they
 * are off. */
static const struct {
	const char *key;
	const char *off;
	const char *what;
} not_carried[] = {
    {"ProxyMethod", "0", "a proxy (warren connects directly)"},
    {"RemoteCommand", "", "a remote command (warren keeps tunnels, not shells)"},
    {"AgentFwd", "0", "agent forwarding"},
    {"SSHManualHostKeys", "", "manually pinned host keys (put them in known_hosts)"},
};

static void put_identity(const char *file, struct wr_buf *gw, struct wr_buf *warnings)
{
	char head[128] = "", enc[128] = "";
	size_t len = strlen(file);
	bool ppk_name = len > 4 && strcmp(file + len - 4, ".ppk") == 0;
	FILE *f = fopen(file, "r");
	int open_errno = errno;
	const char *alg;
	char *openssh;

	if (f) {
		if (!fgets(head, sizeof(head), f) || !fgets(enc, sizeof(enc), f))
			enc[0] = '\0';
		fclose(f);
	}
	head[strcspn(head, "\r\n")] = '\0';
	enc[strcspn(enc, "\r\n")] = '\0';
	if (strncmp(head, "PuTTY-User-Key-File-", 20) != 0) {
		/* Written elsewhere, perhaps: what it holds is seen at the
		 * first connection, where an encrypted one is explained. */
		if (!f && ppk_name)
			warn(warnings,
			     "%s cannot be read here (%s): kept as the identity; warren reads a "
			     "PuTTY key that is not encrypted, an encrypted one needs "
			     "`puttygen '%s' -O private-openssh -o '%.*s'`",
			     file, strerror(open_errno), file, (int)(len - 4), file);
		put_kv(gw, "identity", file);
		return;
	}
	/* The SSH layer reads unencrypted .ppk files itself (PPK 2 and 3,
	 * transports/ssh/ppk.c): kept as is. */
	if (strcmp(enc, "Encryption: none") == 0) {
		alg = strstr(head, ": ");
		alg = alg ? alg + 2 : "";
		if (strcmp(alg, "ssh-ed25519") != 0 && strncmp(alg, "ecdsa-sha2-nistp", 16) != 0)
			warn(warnings,
			     "%s is a PuTTY %s key, which warren cannot use (libssh2 1.10 signs "
			     "with ed25519 and ECDSA keys only, for OpenSSH 8.8+): make an "
			     "ed25519 key with PuTTYgen",
			     file, *alg ? alg : "(unknown type)");
		put_kv(gw, "identity", file);
		return;
	}
	/* Encrypted: libssh2 cannot decrypt PuTTY's format; puttygen writes
	 * an OpenSSH key from it (and asks for the passphrase). */
	openssh = ppk_name ? wr_xasprintf("%.*s", (int)(len - 4), file)
	                   : wr_xasprintf("%s.openssh", file);
	warn(warnings,
	     "%s is an encrypted PuTTY key: convert it with `puttygen '%s' -O private-openssh "
	     "-o '%s'` (and give the gateway a passphrase_file), or remove the passphrase in "
	     "PuTTYgen and use the .ppk as it is; the gateway uses %s",
	     file, file, openssh, openssh);
	put_kv(gw, "identity", openssh);
	free(openssh);
}

int wr_putty_convert(const struct wr_putty_session *s, const char *name, struct wr_buf *out,
                     struct wr_buf *warnings)
{
	const char *protocol = wr_putty_get(s, "Protocol");
	const char *host = wr_putty_get(s, "HostName");
	const char *user = wr_putty_get(s, "UserName");
	const char *key = wr_putty_get(s, "PublicKeyFile");
	const char *forwards = wr_putty_get(s, "PortForwardings");
	const char *display = wr_putty_get(s, "X11Display");
	int port = int_value(s, "PortNumber", 22);
	int ping = int_value(s, "PingInterval", 0) * 60 + int_value(s, "PingIntervalSecs", 0);
	bool local_all = int_value(s, "LocalPortAcceptAll", 0) != 0;
	bool remote_all = int_value(s, "RemotePortAcceptAll", 0) != 0;
	bool x11 = int_value(s, "X11Forward", 0) != 0;
	struct wr_buf gw = {0}, fwd = {0};
	char *host_copy = NULL, *at;
	bool open = false;
	int tunnels = 0;

	if (protocol && *protocol && strcmp(protocol, "ssh") != 0) {
		warn(warnings, "it uses %s, and warren carries SSH only: left out", protocol);
		return -1;
	}
	if (!host || !*host) {
		warn(warnings, "it names no host (HostName is empty): left out");
		return -1;
	}
	/* PuTTY takes "user@host" in the host box. */
	host_copy = wr_xstrdup(host);
	at = strrchr(host_copy, '@');
	if (at) {
		*at = '\0';
		if (!user || !*user)
			user = host_copy;
		host = at + 1;
	}
	put_kv(&gw, "host", host);
	if (port < 1 || port > 65535) {
		warn(warnings, "PortNumber %d is not a port: 22 is used", port);
		port = 22;
	}
	wr_buf_printf(&gw, "port = %d\n", port);
	if (user && *user)
		put_kv(&gw, "user", user);
	else
		warn(warnings,
		     "no UserName: PuTTY asks for one, warren logs in as the user running it");
	if (key && *key)
		put_identity(key, &gw, warnings);
	if (int_value(s, "TryAgent", 1) == 0)
		wr_buf_puts(&gw, "agent = no\n");
	if (int_value(s, "Compression", 0))
		wr_buf_puts(&gw, "compression = yes\n");
	if (ping > 0)
		wr_buf_printf(&gw, "keepalive = %ds\n", ping);
	else
		wr_buf_puts(&gw, "# PuTTY sent no keepalives; warren's 30s default finds a dead "
		                 "link\n");
	for (size_t i = 0; i < sizeof(not_carried) / sizeof(not_carried[0]); i++) {
		const char *v = wr_putty_get(s, not_carried[i].key);

		if (v && strcmp(v, not_carried[i].off) != 0)
			warn(warnings, "%s=%s: %s is not carried over", not_carried[i].key, v,
			     not_carried[i].what);
	}

	if (forwards && *forwards)
		convert_forwards(forwards, local_all, remote_all, &fwd, &open, warnings);

	wr_buf_printf(out, "# PuTTY session \"%s\"\n[gateway %s]\n%s\n", s->name, name,
	              wr_buf_cstr(&gw));
	if (fwd.len) {
		wr_buf_printf(out, "[tunnel %s]\ntransport = ssh-forward\ngateway = %s\n%s", name,
		              name, wr_buf_cstr(&fwd));
		if (open)
			wr_buf_puts(out, "# PuTTY let other hosts connect to these forwards\n"
			                 "accept_remote_clients = yes\n");
		wr_buf_puts(out, "\n");
		tunnels++;
	}
	if (x11) {
		wr_buf_printf(out, "[tunnel %s-x11]\ntransport = x11\ngateway = %s\n", name, name);
		if (display && *display)
			put_kv(out, "display", display);
		wr_buf_puts(out, "\n");
		tunnels++;
	}
	if (tunnels == 0)
		warn(warnings, "it has no port forwardings and no X11 forwarding: only its gateway "
		               "is carried over (warren keeps tunnels, not shells)");
	wr_buf_free(&gw);
	wr_buf_free(&fwd);
	free(host_copy);
	return tunnels;
}

/* ---- the commands ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every session in dir, sorted by name, "Default Settings" left out (it is
 * PuTTY's template, not a session). */
static char **list_sessions(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;

	*count = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		char *path = wr_xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		char *name;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			name = wr_putty_decode_name(de->d_name);
			if (strcmp(name, DEFAULT_SETTINGS) == 0) {
				free(name);
			} else {
				names = wr_xrealloc(names, (*count + 1) * sizeof(*names));
				names[(*count)++] = name;
			}
		}
		free(path);
	}
	closedir(d);
	if (*count > 1) /* an empty folder leaves names NULL, which qsort must not get */
		qsort(names, *count, sizeof(*names), name_cmp);
	return names;
}

/* Convert one session into out; warnings go to stderr and into out as
 * comments. A warren name already used gets -2, -3... */
static int import_one(const char *dir, const char *session, char ***used, size_t *nused,
                      struct wr_buf *out)
{
	struct wr_putty_session s;
	struct wr_buf warnings = {0};
	char *file = wr_putty_encode_name(session);
	char *path = wr_xasprintf("%s/%s", dir, file);
	char *base = wr_putty_warren_name(session);
	char *name = wr_xstrdup(base);
	char err[512];
	int ret = -1;

	for (int n = 2;; n++) {
		bool taken = false;

		for (size_t i = 0; i < *nused; i++)
			taken = taken || strcmp((*used)[i], name) == 0;
		if (!taken)
			break;
		free(name);
		name = wr_xasprintf("%s-%d", base, n);
	}
	if (wr_putty_read(path, session, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "warren: PuTTY session '%s': %s\n", session, err);
		goto out;
	}
	ret = wr_putty_convert(&s, name, out, &warnings);
	for (char *line = warnings.data, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		fprintf(stderr, "warren: PuTTY session '%s': %s\n", session, line);
		wr_buf_printf(out, "# PuTTY session \"%s\": %s\n", session, line);
	}
	if (warnings.len)
		wr_buf_puts(out, "\n");
	wr_putty_free(&s);
	if (ret >= 0) {
		*used = wr_xrealloc(*used, (*nused + 1) * sizeof(char *));
		(*used)[(*nused)++] = wr_xstrdup(name);
	}
out:
	wr_buf_free(&warnings);
	free(file);
	free(path);
	free(base);
	free(name);
	return ret;
}

int wr_cmd_import_putty(const struct wr_options *o, char *const sessions[], int nsessions)
{
	char *dir = wr_putty_sessions_dir();
	char **all = NULL, **used = NULL;
	size_t nall = 0, nused = 0;
	struct wr_buf out = {0};
	int ret = WR_EXIT_OK;

	if (nsessions == 0) {
		all = list_sessions(dir, &nall);
		if (nall == 0) {
			fprintf(stderr, "warren: no PuTTY saved sessions in %s\n", dir);
			ret = WR_EXIT_FAILURE;
		}
	}
	wr_buf_printf(&out, "# From PuTTY's saved sessions in %s by warren import-putty.\n\n", dir);
	/* A session named on the command line must convert; among all of
	 * them, one that cannot (telnet, serial) is only reported. */
	for (size_t i = 0; i < (nsessions ? (size_t)nsessions : nall); i++)
		if (import_one(dir, nsessions ? sessions[i] : all[i], &used, &nused, &out) < 0 &&
		    nsessions)
			ret = WR_EXIT_FAILURE;
	if (nused == 0)
		ret = WR_EXIT_FAILURE;
	if (nused > 0)
		fputs(wr_buf_cstr(&out), stdout);
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	for (size_t i = 0; i < nused; i++)
		free(used[i]);
	free(all);
	free(used);
	wr_buf_free(&out);
	free(dir);
	return ret;
}

int wr_cmd_run_putty(const struct wr_options *o, const char *session)
{
	struct wr_options run_options = *o;
	struct wr_putty_session s;
	struct wr_buf text = {0}, warnings = {0};
	const char *tmp = getenv("TMPDIR");
	char *dir = wr_xasprintf("%s/warren-putty-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	char *sessions_dir = wr_putty_sessions_dir();
	char *file = wr_putty_encode_name(session);
	char *path = wr_xasprintf("%s/%s", sessions_dir, file);
	char *name = wr_putty_warren_name(session);
	struct wr_config *cfg = NULL;
	struct warren_diag diag;
	char *conf = NULL, **names = NULL;
	int nnames = 0, fd = -1, ret = WR_EXIT_USAGE;
	char err[512];

	wr_diag_init(&diag, path);

	if (wr_putty_read(path, session, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "warren: PuTTY session '%s': %s\n", session, err);
		goto out;
	}
	nnames = wr_putty_convert(&s, name, &text, &warnings);
	wr_putty_free(&s);
	for (char *line = warnings.data, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		fprintf(stderr, "warren: PuTTY session '%s': %s\n", session, line);
	}
	if (nnames <= 0) {
		fprintf(stderr, "warren: PuTTY session '%s' has nothing warren can run\n", session);
		goto out;
	}
	/* Values PuTTY took may still be ones warren refuses (a host with a
	 * blank): say so against the session, not a temporary file. */
	cfg = wr_config_parse(path, text.data, text.len, &diag);
	if (!cfg || diag.count > 0) {
		for (size_t i = 0; i < diag.count; i++)
			fprintf(stderr, "warren: PuTTY session '%s': %s\n", session,
			        diag.messages[i]);
		goto out;
	}
	names = wr_xcalloc(cfg->ntunnels, sizeof(*names));
	for (nnames = 0; (size_t)nnames < cfg->ntunnels; nnames++)
		names[nnames] = cfg->tunnels[nnames].name;
	/* The run reads a config file: a private one, gone when it ends. */
	if (!mkdtemp(dir)) {
		fprintf(stderr, "warren: cannot make a folder for the session's config: %s\n",
		        strerror(errno));
		ret = WR_EXIT_FAILURE;
		goto out;
	}
	conf = wr_xasprintf("%s/%s.conf", dir, name);
	fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len) {
		fprintf(stderr, "warren: cannot write %s: %s\n", conf, strerror(errno));
		ret = WR_EXIT_FAILURE;
		goto out_dir;
	}
	close(fd);
	fd = -1;
	if (o->verbosity > 0)
		fprintf(stderr, "warren: PuTTY session '%s' runs as:\n%s", session, text.data);
	run_options.config_path = conf;
	ret = wr_cmd_run(&run_options, names, nnames);
out_dir:
	if (fd >= 0)
		close(fd);
	if (conf)
		unlink(conf);
	rmdir(dir);
out:
	wr_buf_free(&text);
	wr_buf_free(&warnings);
	free(sessions_dir);
	free(file);
	free(path);
	free(name);
	free(conf);
	free(names);
	wr_config_free(cfg);
	wr_diag_free(&diag);
	free(dir);
	return ret;
}
