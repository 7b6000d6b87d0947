/*
 * hostkey.c: the gateway's host key against known_hosts, as OpenSSH does it.
 *
 * libssh2_knownhost_checkp tries "[host]:port" and then the plain host even
 * for ports other than 22, which is looser than OpenSSH; so the name is built
 * here ("[host]:port" off port 22, the plain host on it) and checked alone.
 * The file is fed to libssh2 line by line, since libssh2_knownhost_readfile
 * stops at the first line it cannot parse (@cert-authority, new key types)
 * and would hide every entry after it. libssh2 knows no markers: @revoked
 * lines are read here (a key under one is refused, whatever else the file
 * says and in every mode), and @cert-authority lines are skipped and said
 * so (libssh2 1.10 has no host certificates). A file that exists but cannot
 * be read is an error, never an empty list: accept-new would otherwise
 * take any key, and strict would call a known host unknown.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct key_type {
	int hostkey;       /* LIBSSH2_HOSTKEY_TYPE_* */
	int knownhost;     /* LIBSSH2_KNOWNHOST_KEY_* */
	const char *name;  /* method name */
	const char *label; /* as OpenSSH prints it */
};

static const struct key_type key_types[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519", "ED25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256",
     "ECDSA"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384",
     "ECDSA"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521",
     "ECDSA"},
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa", "RSA"},
    {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss", "DSA"},
};
#define N_KEY_TYPES (sizeof(key_types) / sizeof(key_types[0]))

static const struct key_type *type_by_hostkey(int type)
{
	size_t i;

	for (i = 0; i < N_KEY_TYPES; i++)
		if (key_types[i].hostkey == type)
			return &key_types[i];
	return NULL;
}

/* The name known_hosts files use for the gateway. */
static void known_name(struct wssh_session *s, char *buf, size_t len)
{
	if (s->gw->port == 22)
		snprintf(buf, len, "%s", s->gw->host);
	else
		snprintf(buf, len, "[%s]:%u", s->gw->host, s->gw->port);
}

/* Base64 text of a known_hosts key to its blob; the length, or -1. */
static int decode_b64(const char *text, size_t len, unsigned char **blob)
{
	int n;

	*blob = malloc(len + 3);
	if (!*blob)
		return -1;
	n = EVP_DecodeBlock(*blob, (const unsigned char *)text, (int)len);
	if (n < 0) {
		free(*blob);
		*blob = NULL;
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (len > 0 && text[len - 1] == '=') {
		len--;
		n--;
	}
	return n;
}

/* "@revoked HOSTS TYPE KEY [COMMENT]": is KEY the one the gateway sent?
 * Whatever HOSTS says: a key revoked for one name is not trusted for any. */
static bool revoked_line_matches(const char *line, const char *key, size_t keylen)
{
	const char *p = line, *b64;
	unsigned char *blob;
	size_t len;
	int i, n;
	bool match;

	/* The marker, the host patterns, the key type: three fields. */
	for (i = 0; i < 3; i++) {
		p += strspn(p, " \t");
		p += strcspn(p, " \t\r\n");
	}
	p += strspn(p, " \t");
	b64 = p;
	len = strcspn(p, " \t\r\n");
	if (!key || len == 0)
		return false;
	n = decode_b64(b64, len, &blob);
	if (n < 0)
		return false;
	match = (size_t)n == keylen && memcmp(blob, key, keylen) == 0;
	free(blob);
	return match;
}

/* Read known_hosts into *khp (NULL when there is no file: nothing is
 * known). key (NULL: not known yet) is the gateway's key blob: *revoked
 * tells whether an @revoked line names it. Returns 0, or an errno. */
static int load_known_hosts(struct wssh_session *s, const char *key, size_t keylen,
                            LIBSSH2_KNOWNHOSTS **khp, bool *revoked)
{
	LIBSSH2_KNOWNHOSTS *kh;
	FILE *f;
	char *line = NULL, *p;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int err = 0;

	*khp = NULL;
	*revoked = false;
	f = fopen(s->gw->known_hosts, "re");
	if (!f)
		return errno == ENOENT ? 0 : errno;
	kh = libssh2_knownhost_init(s->ssh);
	if (!kh) {
		fclose(f);
		return ENOMEM;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (strncmp(p, "@revoked", 8) == 0 && (p[8] == ' ' || p[8] == '\t')) {
			if (revoked_line_matches(p, key, keylen))
				*revoked = true;
			continue;
		}
		if (*p == '@') {
			s->host->log(s->t, WARREN_LOG_DEBUG,
			             "%s:%u: %.*s lines are not supported (libssh2 %s has no host "
			             "certificates): ignored",
			             s->gw->known_hosts, lineno, (int)strcspn(p, " \t\r\n"), p,
			             libssh2_version(0));
			continue;
		}
		/* A line libssh2 cannot parse is skipped, as OpenSSH does. */
		libssh2_knownhost_readline(kh, p, (size_t)n - (size_t)(p - line),
		                           LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	}
	if (ferror(f))
		err = errno ? errno : EIO;
	free(line);
	fclose(f);
	if (err) {
		libssh2_knownhost_free(kh);
		return err;
	}
	*khp = kh;
	return 0;
}

/* OpenSSH's fingerprint: "SHA256:" and unpadded base64 of the key blob's
 * SHA-256. */
static void fingerprint(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	int n;

	if (!EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL)) {
		snprintf(out, outlen, "SHA256:?");
		return;
	}
	n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(out, outlen, "SHA256:%s", b64);
}

/* Fingerprint of a known_hosts entry (its key is base64 text). */
static void fingerprint_b64(const char *key, char *out, size_t outlen)
{
	size_t len = strlen(key);
	unsigned char *blob = malloc(len + 3);
	int n;

	if (!blob) {
		snprintf(out, outlen, "SHA256:?");
		return;
	}
	n = EVP_DecodeBlock(blob, (const unsigned char *)key, (int)len);
	if (n < 0) {
		snprintf(out, outlen, "SHA256:?");
	} else {
		/* EVP_DecodeBlock counts the padding as zero bytes. */
		while (len > 0 && key[len - 1] == '=') {
			len--;
			n--;
		}
		fingerprint(blob, (size_t)n, out, outlen);
	}
	free(blob);
}

/* Offer the key types known_hosts holds for this gateway first, as OpenSSH
 * does: otherwise a server with an ECDSA and an ed25519 key, known by its
 * ed25519 key only, would show an unknown ECDSA key and be refused. The
 * types are found by checking a dummy key of each type: a MISMATCH means an
 * entry of that type exists (hashed entries included). */
int wssh_hostkey_prefs(struct wssh_session *s)
{
	LIBSSH2_KNOWNHOSTS *kh;
	char name[300], known[256] = "", rest[256] = "";
	static const char dummy[] = "AAAA";
	size_t i;
	bool revoked;
	int rc;

	if (!s->gw->known_hosts || s->gw->host_key_check == WARREN_HOSTKEY_OFF)
		return 0;
	/* A file that cannot be read fails the check after the handshake,
	 * with the reason. */
	if (load_known_hosts(s, NULL, 0, &kh, &revoked) != 0 || !kh)
		return 0;
	known_name(s, name, sizeof(name));
	for (i = 0; i < N_KEY_TYPES; i++) {
		rc = libssh2_knownhost_checkp(kh, name, -1, dummy, sizeof(dummy) - 1,
		                              LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		                                  LIBSSH2_KNOWNHOST_KEYENC_BASE64 |
		                                  key_types[i].knownhost,
		                              NULL);
		if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			wssh_appendf(known, sizeof(known), "%s%s", known[0] ? "," : "",
			             key_types[i].name);
		else
			wssh_appendf(rest, sizeof(rest), "%s%s", rest[0] ? "," : "",
			             key_types[i].name);
	}
	libssh2_knownhost_free(kh);
	if (known[0]) {
		wssh_appendf(known, sizeof(known), ",%s", rest);
		if (libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_HOSTKEY, known) != 0)
			s->host->log(s->t, WARREN_LOG_DEBUG, "host key preference %s refused",
			             known);
	}
	return 0;
}

/* accept-new: append one line, never rewrite the user's file (libssh2's
 * writefile would drop every line it did not parse). */
static int append_known_host(struct wssh_session *s, LIBSSH2_KNOWNHOSTS *kh, const char *name,
                             const char *key, size_t keylen, int typemask)
{
	struct libssh2_knownhost *entry = NULL;
	char line[8192];
	size_t len = 0;
	int fd, ret = -1;
	char *slash, dir[4096];

	if (libssh2_knownhost_addc(
	        kh, name, NULL, key, keylen, "added by warren", sizeof("added by warren") - 1,
	        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | typemask,
	        &entry) != 0 ||
	    libssh2_knownhost_writeline(kh, entry, line, sizeof(line), &len,
	                                LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
		goto out;
	snprintf(dir, sizeof(dir), "%s", s->gw->known_hosts);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700); /* ~/.ssh, as ssh creates it; EEXIST is fine */
	}
	fd = open(s->gw->known_hosts, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, line, len) == (ssize_t)len)
		ret = 0;
	close(fd);
out:
	return ret;
}

int wssh_hostkey_check(struct wssh_session *s)
{
	const struct warren_gateway *gw = s->gw;
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct libssh2_knownhost *found = NULL;
	const struct key_type *kt;
	const char *key;
	size_t keylen = 0;
	int type = 0, rc, err, ret = -1;
	bool revoked;
	char name[300], seen[100], expected[100];

	key = libssh2_session_hostkey(s->ssh, &keylen, &type);
	known_name(s, name, sizeof(name));
	if (!key) {
		wssh_setf(s->last_error, sizeof(s->last_error), "host key for %s: none received",
		          name);
		goto out;
	}
	kt = type_by_hostkey(type);
	fingerprint((const unsigned char *)key, keylen, seen, sizeof(seen));
	if (gw->host_key_check == WARREN_HOSTKEY_OFF) {
		s->host->log(s->t, WARREN_LOG_WARN,
		             "host key for %s NOT checked (host_key_check = off): %s key %s", name,
		             kt ? kt->label : "unknown", seen);
		ret = 0;
		goto out;
	}
	if (!kt) {
		wssh_setf(s->last_error, sizeof(s->last_error),
		          "host key for %s: unsupported key type %d", name, type);
		goto out;
	}
	err = load_known_hosts(s, key, keylen, &kh, &revoked);
	if (err) {
		wssh_setf(s->last_error, sizeof(s->last_error),
		          "host key for %s: cannot read %s: %s; host key verification failed", name,
		          gw->known_hosts, strerror(err));
		goto out;
	}
	if (revoked) {
		wssh_setf(s->last_error, sizeof(s->last_error),
		          "host key for %s: the %s key the remote host sent (%s) is marked "
		          "@revoked in %s; host key verification failed",
		          name, kt->label, seen, gw->known_hosts);
		goto out;
	}
	if (!kh) {
		/* No file yet: nothing is known. */
		kh = libssh2_knownhost_init(s->ssh);
		if (!kh) {
			wssh_setf(s->last_error, sizeof(s->last_error),
			          "host key for %s: out of memory", name);
			goto out;
		}
	}
	rc = libssh2_knownhost_checkp(
	    kh, name, -1, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kt->knownhost, &found);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		s->host->log(s->t, WARREN_LOG_DEBUG, "host key for %s matches %s: %s %s", name,
		             gw->known_hosts, kt->label, seen);
		ret = 0;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		fingerprint_b64(found && found->key ? found->key : "", expected, sizeof(expected));
		wssh_setf(s->last_error, sizeof(s->last_error),
		          "host key for %s changed: REMOTE HOST IDENTIFICATION HAS CHANGED! "
		          "The %s key sent by the remote host is %s, %s expects %s; someone could "
		          "be eavesdropping (man-in-the-middle), or the host key was just "
		          "changed. Host key verification failed (remove the old key with "
		          "ssh-keygen -R '%s' -f %s if the change is expected)",
		          name, kt->label, seen, gw->known_hosts, expected, name, gw->known_hosts);
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (gw->host_key_check == WARREN_HOSTKEY_ACCEPT_NEW) {
			if (append_known_host(s, kh, name, key, keylen, kt->knownhost) != 0) {
				wssh_setf(s->last_error, sizeof(s->last_error),
				          "host key for %s: cannot add it to %s: %s", name,
				          gw->known_hosts, strerror(errno));
				break;
			}
			s->host->log(s->t, WARREN_LOG_WARN,
			             "Permanently added '%s' (%s) to the list of known hosts "
			             "(%s): %s",
			             name, kt->label, gw->known_hosts, seen);
			ret = 0;
			break;
		}
		wssh_setf(s->last_error, sizeof(s->last_error),
		          "host key for %s unknown: No %s host key is known for %s in %s and you "
		          "have requested strict checking (the remote host sent %s). Host key "
		          "verification failed",
		          name, kt->label, name, gw->known_hosts, seen);
		break;
	default:
		wssh_setf(s->last_error, sizeof(s->last_error), "host key for %s: check failed: %s",
		          name, wssh_last_error(s));
		break;
	}
out:
	if (kh)
		libssh2_knownhost_free(kh);
	return ret;
}
