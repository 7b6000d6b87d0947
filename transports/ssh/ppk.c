/*
 * ppk.c: PuTTY's own private key files (.ppk, formats 2 and 3), for people
 * who arrive from PuTTY with keys made by PuTTYgen.
 *
 * libssh2 1.10 cannot read a .ppk, but it reads other formats from memory
 * (libssh2_userauth_publickey_frommemory). So an unencrypted .ppk is checked
 * (its MAC, and that its private half belongs to its public half) and
 * rewritten in memory, never on disk, and wiped once used: ed25519 as an
 * unencrypted OpenSSH "openssh-key-v1" key, ECDSA as PKCS#8 (the OpenSSH
 * format leaks memory in libssh2 1.10 for ECDSA: see ecdsa_pkcs8). An
 * encrypted one is refused with the puttygen command that converts it
 * (format 3 derives its key with Argon2, which OpenSSL 3.0 lacks, and warren
 * would need the passphrase anyway). RSA is refused: libssh2 1.10 signs only
 * with ssh-rsa (SHA-1), which OpenSSH 8.8+ refuses.
 *
 * The format, as PuTTY documents it (doc/pubkeyfmt.but in its source):
 *
 *	PuTTY-User-Key-File-3: ssh-ed25519
 *	Encryption: none
 *	Comment: free text
 *	Public-Lines: 2
 *	(base64 lines of the SSH wire public key blob, at most 64 characters)
 *	Private-Lines: 1
 *	(base64 lines of the private fields that the public blob lacks)
 *	Private-MAC: (hex)
 *
 * The MAC covers string(algorithm) string(encryption) string(comment)
 * string(public blob) string(private blob): HMAC-SHA-256 with an empty key in
 * format 3 when unencrypted, HMAC-SHA-1 keyed with SHA-1 of
 * "putty-private-key-file-mac-key" (and the empty passphrase) in format 2.
 * Lines may end in LF, CR LF or CR, as PuTTY tolerates.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* PuTTY's own limits (sshpubk.c): a blob of at most 256 KiB, 48 bytes a
 * line; the file a little more than that in base64. Anything larger is not
 * a key, and reading it whole would only cost memory. */
#define PPK_MAX_BLOB  (256u * 1024)
#define PPK_MAX_LINES (PPK_MAX_BLOB / 48)
#define PPK_MAX_FILE  (PPK_MAX_BLOB * 4 / 3 + 4096)

#define PPK_MAGIC "PuTTY-User-Key-File-"

static const char ppk_mac_key_v2[] = "putty-private-key-file-mac-key";

static const struct ppk_type {
	const char *alg;
	const char *curve; /* ECDSA: the curve's name inside the blobs */
	int nid;           /* ECDSA: OpenSSL's curve; 0 for ed25519 */
} ppk_types[] = {
    {"ssh-ed25519", NULL, 0},
    {"ecdsa-sha2-nistp256", "nistp256", NID_X9_62_prime256v1},
    {"ecdsa-sha2-nistp384", "nistp384", NID_secp384r1},
    {"ecdsa-sha2-nistp521", "nistp521", NID_secp521r1},
};

#define ED25519_LEN 32

/* A growing byte buffer for key material: every copy is wiped before it is
 * freed, including the old copy on growth (realloc would leave it). */
struct kbuf {
	unsigned char *d;
	size_t len, cap;
	bool oom;
};

static void kbuf_free(struct kbuf *b)
{
	if (b->d) {
		OPENSSL_cleanse(b->d, b->cap);
		free(b->d);
	}
	memset(b, 0, sizeof(*b));
}

static bool kbuf_room(struct kbuf *b, size_t n)
{
	unsigned char *nd;
	size_t cap;

	if (b->oom)
		return false;
	if (n <= b->cap - b->len)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	nd = malloc(cap);
	if (!nd) {
		b->oom = true;
		return false;
	}
	if (b->d) {
		memcpy(nd, b->d, b->len);
		OPENSSL_cleanse(b->d, b->cap);
		free(b->d);
	}
	b->d = nd;
	b->cap = cap;
	return true;
}

static void put_bytes(struct kbuf *b, const void *p, size_t n)
{
	/* An empty blob may come as NULL (a file with no private lines):
	 * memcpy must not see it (found by fuzz_ppk). */
	if (n == 0 || !kbuf_room(b, n))
		return;
	memcpy(b->d + b->len, p, n);
	b->len += n;
}

static void put_u32(struct kbuf *b, uint32_t v)
{
	unsigned char be[4] = {v >> 24, v >> 16, v >> 8, v};

	put_bytes(b, be, sizeof(be));
}

static void put_str(struct kbuf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	put_bytes(b, p, n);
}

static void put_cstr(struct kbuf *b, const char *s)
{
	put_str(b, s, strlen(s));
}

/* A reader of SSH wire data (RFC 4251 uint32 and string). */
struct rd {
	const unsigned char *p;
	size_t left;
};

static bool get_u32(struct rd *r, uint32_t *v)
{
	if (r->left < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return true;
}

static bool get_str(struct rd *r, const unsigned char **s, size_t *n)
{
	uint32_t l;

	if (!get_u32(r, &l) || l > r->left)
		return false;
	*s = r->p;
	*n = l;
	r->p += l;
	r->left -= l;
	return true;
}

static bool str_is(const unsigned char *s, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) WARREN_PRINTF(3, 4);
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The lines of the file; the last one may lack its line end. */
struct lines {
	const char *p, *end;
	unsigned no; /* of the line last returned, for messages */
	bool eof;    /* a line was wanted past the end */
};

static bool next_line(struct lines *l, const char **s, size_t *n)
{
	const char *e;

	if (l->p >= l->end) {
		l->eof = true;
		return false;
	}
	for (e = l->p; e < l->end && *e != '\n' && *e != '\r'; e++)
		;
	*s = l->p;
	*n = (size_t)(e - l->p);
	/* LF, CR LF or CR */
	if (e < l->end && *e == '\r')
		e++;
	if (e < l->end && *e == '\n')
		e++;
	l->p = e;
	l->no++;
	return true;
}

/* "Name: value": PuTTY writes exactly one space after the colon. */
static bool header(struct lines *l, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name), n;
	const char *s;

	if (!next_line(l, &s, &n))
		return false;
	if (n < nl + 2 || memcmp(s, name, nl) != 0 || s[nl] != ':' || s[nl + 1] != ' ')
		return false;
	*val = s + nl + 2;
	*vlen = n - nl - 2;
	return true;
}

/* Why the header line "what" is not there. */
static void expected(const struct lines *l, const char *what, char *why, size_t whylen)
{
	if (l->eof)
		seterr(why, whylen, "the file ends after line %u, where \"%s\" was expected", l->no,
		       what);
	else
		seterr(why, whylen, "line %u: \"%s\" expected", l->no, what);
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	if (c == '=')
		return -2;
	return -1;
}

/* One group of four base64 characters into 1-3 bytes, as PuTTY decodes
 * them (padding only at the end of a group); 0 for a bad group. */
static int b64_group(const char *in, unsigned char out[3])
{
	int v[4], i;

	for (i = 0; i < 4; i++) {
		v[i] = b64_value((unsigned char)in[i]);
		if (v[i] == -1)
			return 0;
	}
	if (v[0] < 0 || v[1] < 0 || (v[2] < 0 && v[3] >= 0))
		return 0;
	out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	if (v[2] < 0)
		return 1;
	out[1] = (unsigned char)(v[1] << 4 | v[2] >> 2);
	if (v[3] < 0)
		return 2;
	out[2] = (unsigned char)(v[2] << 6 | v[3]);
	return 3;
}

/* "Public-Lines: N" or "Private-Lines: N", then N lines of base64 into
 * out; 0, or -1 with the reason in why. */
static int read_blob(struct lines *l, const char *name, struct kbuf *out, char *why, size_t whylen)
{
	const char *v, *s;
	size_t vlen, n, i;
	unsigned long count = 0, k;
	unsigned char bytes[3];
	char what[32];
	int got, ret = -1;

	if (!header(l, name, &v, &vlen)) {
		snprintf(what, sizeof(what), "%s: N", name);
		expected(l, what, why, whylen);
		goto out;
	}
	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9' || count >= PPK_MAX_LINES) {
			count = PPK_MAX_LINES;
			break;
		}
		count = count * 10 + (unsigned long)(v[i] - '0');
	}
	if (vlen == 0 || count >= PPK_MAX_LINES) {
		seterr(why, whylen, "line %u: %s is not a line count", l->no, name);
		goto out;
	}
	for (k = 0; k < count; k++) {
		if (!next_line(l, &s, &n)) {
			seterr(why, whylen, "the file ends within its %s (%lu of %lu lines)", name,
			       k, count);
			goto out;
		}
		if (n % 4 != 0 || n > 64) {
			seterr(why, whylen, "line %u: not a line of base64 (%s: %lu)", l->no, name,
			       count);
			goto out;
		}
		for (i = 0; i < n; i += 4) {
			got = b64_group(s + i, bytes);
			if (!got) {
				seterr(why, whylen, "line %u: not a line of base64 (%s: %lu)",
				       l->no, name, count);
				goto out;
			}
			put_bytes(out, bytes, (size_t)got);
		}
	}
	if (out->oom) {
		seterr(why, whylen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(bytes, sizeof(bytes));
	return ret;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* What a .ppk holds, pointing into the text or into the decoded blobs. */
struct ppk_file {
	unsigned version;
	const struct ppk_type *type;
	const char *alg, *enc, *comment;
	size_t alg_len, enc_len, comment_len;
	struct kbuf pub, priv;
	unsigned char mac[32];
	size_t mac_len;
};

/* The shell word for path in a command a user copies: as is when it is
 * plain, else single-quoted. */
static const char *shell_word(const char *path, char *buf, size_t len)
{
	size_t o = 0;

	if (*path && strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                          "0123456789_./~+-@%:,=") == strlen(path))
		return path;
	buf[o++] = '\'';
	for (; *path && o + 6 < len; path++) {
		if (*path == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else {
			buf[o++] = *path;
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

static int refuse_type(const char *alg, size_t alg_len, const char *shown, char *err, size_t errlen)
{
	if (str_is((const unsigned char *)alg, alg_len, "ssh-rsa")) {
		seterr(err, errlen,
		       "PuTTY key %s is an RSA key: libssh2 1.10 signs only with ssh-rsa "
		       "(SHA-1), which OpenSSH 8.8+ refuses; use an ed25519 or ECDSA key",
		       shown);
		return WSSH_PPK_RSA;
	}
	if (str_is((const unsigned char *)alg, alg_len, "ssh-dss")) {
		seterr(err, errlen,
		       "PuTTY key %s is a DSA key, which OpenSSH 7.0+ refuses; use an ed25519 "
		       "or ECDSA key",
		       shown);
		return WSSH_PPK_UNSUPPORTED;
	}
	seterr(err, errlen,
	       "PuTTY key %s is of type %.*s, which libssh2 1.10 cannot use; use an ed25519 "
	       "or ECDSA (nistp256, nistp384, nistp521) key",
	       shown, (int)(alg_len > 64 ? 64 : alg_len), alg);
	return WSSH_PPK_UNSUPPORTED;
}

/* The outer text layer: headers, blobs and the MAC, nothing checked yet. */
static int parse_text(const char *text, size_t len, const char *path, const char *shown,
                      struct ppk_file *f, char *err, size_t errlen)
{
	struct lines l = {text, text + len, 0, false};
	char why[256], word[2 * 4096 + 8];
	const char *s, *alg, *mac, *w;
	size_t n, i, want;
	int ret = WSSH_PPK_CORRUPT, hi, lo;
	char ver;

	why[0] = '\0';
	if (!next_line(&l, &s, &n) || n < sizeof(PPK_MAGIC) - 1 ||
	    memcmp(s, PPK_MAGIC, sizeof(PPK_MAGIC) - 1) != 0) {
		seterr(err, errlen, "%s is not a PuTTY key file", shown);
		goto out;
	}
	/* "PuTTY-User-Key-File-N: algorithm"; the digit at [20] */
	ver = n > sizeof(PPK_MAGIC) - 1 ? s[sizeof(PPK_MAGIC) - 1] : 0;
	if (n < sizeof(PPK_MAGIC) + 2 || (ver != '2' && ver != '3') ||
	    s[sizeof(PPK_MAGIC)] != ':' || s[sizeof(PPK_MAGIC) + 1] != ' ') {
		/* Format 1 never left PuTTY's development snapshots; a
		 * later one is from the future. */
		seterr(err, errlen,
		       "PuTTY key %s: only formats 2 and 3 (\"%s2: \" and \"%s3: \") are read; "
		       "load it in a PuTTYgen of 0.75 or later and save it again",
		       shown, PPK_MAGIC, PPK_MAGIC);
		ret = WSSH_PPK_UNSUPPORTED;
		goto out;
	}
	f->version = (unsigned)(ver - '0');
	alg = s + sizeof(PPK_MAGIC) + 2;
	f->alg = alg;
	f->alg_len = n - (sizeof(PPK_MAGIC) + 2);
	if (f->alg_len == 0) {
		seterr(why, sizeof(why), "line 1: no key algorithm");
		goto malformed;
	}
	for (i = 0; i < sizeof(ppk_types) / sizeof(ppk_types[0]); i++)
		if (str_is((const unsigned char *)alg, f->alg_len, ppk_types[i].alg))
			f->type = &ppk_types[i];
	if (!f->type) {
		ret = refuse_type(alg, f->alg_len, shown, err, errlen);
		goto out;
	}
	if (!header(&l, "Encryption", &f->enc, &f->enc_len)) {
		expected(&l, "Encryption: ", why, sizeof(why));
		goto malformed;
	}
	if (!str_is((const unsigned char *)f->enc, f->enc_len, "none")) {
		/* Users copy this command: the path must survive the shell. */
		w = shell_word(path, word, sizeof(word));
		seterr(err, errlen,
		       "encrypted PuTTY key %s: convert it with `puttygen %s -O private-openssh "
		       "-o %s.openssh` (and give it a passphrase_file) or remove the passphrase "
		       "in PuTTYgen",
		       shown, w, w);
		ret = WSSH_PPK_ENCRYPTED;
		goto out;
	}
	if (!header(&l, "Comment", &f->comment, &f->comment_len)) {
		expected(&l, "Comment: ", why, sizeof(why));
		goto malformed;
	}
	if (read_blob(&l, "Public-Lines", &f->pub, why, sizeof(why)) != 0 ||
	    read_blob(&l, "Private-Lines", &f->priv, why, sizeof(why)) != 0)
		goto malformed;
	if (!header(&l, "Private-MAC", &mac, &n)) {
		expected(&l, "Private-MAC: ", why, sizeof(why));
		goto malformed;
	}
	want = f->version == 2 ? 20 : 32;
	if (n != 2 * want) {
		seterr(why, sizeof(why), "line %u: the Private-MAC is not %zu hex digits", l.no,
		       2 * want);
		goto malformed;
	}
	for (i = 0; i < want; i++) {
		hi = hex_value(mac[2 * i]);
		lo = hex_value(mac[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			seterr(why, sizeof(why), "line %u: the Private-MAC is not hex", l.no);
			goto malformed;
		}
		f->mac[i] = (unsigned char)(hi << 4 | lo);
	}
	f->mac_len = want;
	ret = WSSH_PPK_OK;
	goto out;
malformed:
	if (f->pub.oom || f->priv.oom) {
		seterr(err, errlen, "PuTTY key %s: out of memory", shown);
		ret = WSSH_PPK_ERROR;
		goto out;
	}
	seterr(err, errlen, "PuTTY key %s is malformed: %s", shown, why);
	ret = WSSH_PPK_CORRUPT;
out:
	return ret;
}

static bool mac_ok(const struct ppk_file *f)
{
	unsigned char key[20] = {0}, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, keylen = 0;
	struct kbuf in = {0};
	const EVP_MD *h;
	bool ok = false;

	put_str(&in, f->alg, f->alg_len);
	put_str(&in, f->enc, f->enc_len);
	put_str(&in, f->comment, f->comment_len);
	put_str(&in, f->pub.d, f->pub.len);
	put_str(&in, f->priv.d, f->priv.len);
	if (in.oom)
		goto out;
	if (f->version == 2) {
		/* SHA-1 of the fixed string and the passphrase, empty here. */
		h = EVP_sha1();
		if (!EVP_Digest(ppk_mac_key_v2, sizeof(ppk_mac_key_v2) - 1, key, &keylen, h, NULL))
			goto out;
	} else {
		/* Format 3 without encryption: a key of length zero. A
		 * non-NULL pointer, since HMAC() has treated a NULL key as
		 * "none given" in some OpenSSL versions. */
		h = EVP_sha256();
		keylen = 0;
	}
	if (!HMAC(h, key, (int)keylen, in.d, in.len, md, &mdlen))
		goto out;
	ok = mdlen == f->mac_len && CRYPTO_memcmp(md, f->mac, mdlen) == 0;
out:
	kbuf_free(&in);
	return ok;
}

/* What the key-specific conversions found. */
enum fields_rc {
	KF_OK = 0,
	KF_BAD_PUB,  /* the public blob is not a key of its type */
	KF_BAD_PRIV, /* the private blob is not a key of its type */
	KF_MISMATCH, /* both are keys, but not halves of one pair */
	KF_OOM,
};

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* OpenSSH's armour: base64 in lines of 70 characters, as ssh-keygen
 * writes them (libssh2 reads lines of up to 127). */
static bool pem_armour(const struct kbuf *bin, struct kbuf *pem)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
	static const char end[] = "-----END OPENSSH PRIVATE KEY-----\n";
	unsigned char quad[4];
	size_t i, col = 0;
	uint32_t v = 0;
	int k;

	put_bytes(pem, begin, sizeof(begin) - 1);
	for (i = 0; i < bin->len; i += 3) {
		v = (uint32_t)bin->d[i] << 16;
		if (i + 1 < bin->len)
			v |= (uint32_t)bin->d[i + 1] << 8;
		if (i + 2 < bin->len)
			v |= bin->d[i + 2];
		for (k = 0; k < 4; k++)
			quad[k] = (unsigned char)b64_chars[(v >> (18 - 6 * k)) & 63];
		if (i + 1 >= bin->len)
			quad[2] = '=';
		if (i + 2 >= bin->len)
			quad[3] = '=';
		for (k = 0; k < 4; k++) {
			put_bytes(pem, &quad[k], 1);
			if (++col == 70) {
				put_bytes(pem, "\n", 1);
				col = 0;
			}
		}
	}
	if (col)
		put_bytes(pem, "\n", 1);
	put_bytes(pem, end, sizeof(end)); /* with a NUL */
	OPENSSL_cleanse(&v, sizeof(v));
	OPENSSL_cleanse(quad, sizeof(quad));
	return !pem->oom;
}

/*
 * ssh-ed25519, written in OpenSSH's own format: libssh2 1.10 reads that
 * without leaks for this type. PPK public blob: string alg, string A (32
 * bytes). PPK private blob: the secret seed as a little-endian integer in a
 * string, which PuTTY writes with a fixed 32 bytes (put_mp_le_fixedlen);
 * shorter is taken as having lost high zero bytes.
 *
 * The openssh-key-v1 container (PROTOCOL.key in OpenSSH), unencrypted:
 * "openssh-key-v1\0", string cipher "none", string kdf "none", string kdf
 * options "", uint32 1 key, string public blob, string private section;
 * the private section is uint32 check, uint32 check, string alg, string A,
 * string seed || A, string comment, then padding 1, 2, 3... to a multiple
 * of 8.
 */
static enum fields_rc ed25519_openssh(const struct ppk_file *f, struct rd *pub, struct rd *priv,
                                      struct kbuf *pem)
{
	static const char magic[] = "openssh-key-v1";
	const unsigned char *a, *sk;
	unsigned char seed[2 * ED25519_LEN], derived[ED25519_LEN], check[4];
	size_t alen, sklen, dlen = sizeof(derived);
	struct kbuf sect = {0}, bin = {0};
	EVP_PKEY *pk = NULL;
	uint8_t pad = 1;
	enum fields_rc ret = KF_BAD_PUB;

	memset(seed, 0, sizeof(seed));
	memset(check, 0, sizeof(check));
	if (!get_str(pub, &a, &alen) || alen != ED25519_LEN || pub->left != 0)
		goto out;
	ret = KF_BAD_PRIV;
	if (!get_str(priv, &sk, &sklen) || sklen > ED25519_LEN)
		goto out;
	memcpy(seed, sk, sklen);
	/* The secret must give the public key: a mismatch would make every
	 * signature fail, or leak the secret through bad signatures. */
	ret = KF_OOM;
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, ED25519_LEN);
	if (!pk || !EVP_PKEY_get_raw_public_key(pk, derived, &dlen) || dlen != ED25519_LEN)
		goto out;
	ret = KF_MISMATCH;
	if (CRYPTO_memcmp(derived, a, ED25519_LEN) != 0)
		goto out;
	memcpy(seed + ED25519_LEN, a, ED25519_LEN);

	/* The check ints only tell a wrong passphrase from a right one when
	 * encrypted; OpenSSH fills them with random bytes, so do we. */
	if (RAND_bytes(check, sizeof(check)) != 1)
		memset(check, 0x5a, sizeof(check));
	put_bytes(&sect, check, sizeof(check));
	put_bytes(&sect, check, sizeof(check));
	put_cstr(&sect, f->type->alg);
	put_str(&sect, a, alen);
	put_str(&sect, seed, sizeof(seed));
	put_str(&sect, f->comment, f->comment_len);
	while (sect.len % 8 != 0 && !sect.oom) {
		put_bytes(&sect, &pad, 1);
		pad++;
	}
	put_bytes(&bin, magic, sizeof(magic)); /* with its NUL */
	put_cstr(&bin, "none");
	put_cstr(&bin, "none");
	put_cstr(&bin, "");
	put_u32(&bin, 1);
	put_str(&bin, f->pub.d, f->pub.len);
	put_str(&bin, sect.d, sect.len);
	ret = KF_OOM;
	if (bin.oom || sect.oom || !pem_armour(&bin, pem))
		goto out;
	ret = KF_OK;
out:
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(check, sizeof(check));
	kbuf_free(&sect);
	kbuf_free(&bin);
	return ret;
}

/* An unencrypted PKCS#8 PEM of pk, made in OpenSSL's secure memory BIO
 * (wiped when freed), copied out NUL-terminated. */
static bool pkcs8_pem(EVP_PKEY *pk, struct kbuf *pem)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long n;
	bool ok = false;

	if (!bio || !PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL))
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	put_bytes(pem, data, (size_t)n);
	put_bytes(pem, "", 1);
	ok = !pem->oom;
out:
	BIO_free(bio);
	return ok;
}

/*
 * ecdsa-sha2-nistpN. PPK public blob: string alg, string curve, string Q
 * (an uncompressed point). PPK private blob: mpint d. d is checked to give
 * Q, for the same reason as above.
 *
 * Written as PKCS#8, not in OpenSSH's format: libssh2 1.10 leaks a BIGNUM
 * each time it reads an OpenSSH-format ECDSA key (openssl.c,
 * gen_publickey_from_ecdsa_openssh_priv_data never frees bn_exponent),
 * which is twice per authentication; a PEM goes through OpenSSL's own
 * reader instead (PEM_read_bio_ECPrivateKey, then the PrivateKey one for
 * the public half), which leaks nothing.
 */
static enum fields_rc ecdsa_pkcs8(const struct ppk_type *t, struct rd *pub, struct rd *priv,
                                  struct kbuf *pem)
{
	const unsigned char *curve, *q, *dm;
	size_t curvelen, qlen, dmlen;
	EC_GROUP *g = NULL;
	EC_POINT *qp = NULL, *r = NULL;
	BIGNUM *d = NULL;
	BN_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pk = NULL;
	enum fields_rc ret = KF_OOM;

	g = EC_GROUP_new_by_curve_name(t->nid);
	ctx = BN_CTX_secure_new();
	d = BN_secure_new();
	qp = g ? EC_POINT_new(g) : NULL;
	r = g ? EC_POINT_new(g) : NULL;
	if (!g || !ctx || !d || !qp || !r)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	ret = KF_BAD_PUB;
	/* oct2point refuses a point that is not on the curve. */
	if (!get_str(pub, &curve, &curvelen) || !str_is(curve, curvelen, t->curve) ||
	    !get_str(pub, &q, &qlen) || pub->left != 0 || !EC_POINT_oct2point(g, qp, q, qlen, ctx))
		goto out;
	ret = KF_BAD_PRIV;
	if (!get_str(priv, &dm, &dmlen) || dmlen == 0 || dmlen > 67 || (dm[0] & 0x80) ||
	    !BN_bin2bn(dm, (int)dmlen, d) || BN_is_zero(d) ||
	    BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
		goto out;
	ret = KF_MISMATCH;
	if (!EC_POINT_mul(g, r, d, NULL, NULL, ctx) || EC_POINT_cmp(g, r, qp, ctx) != 0)
		goto out;
	ret = KF_OOM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(t->nid),
	                                     0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, qlen) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_KEYPAIR, params) != 1 || !pkcs8_pem(pk, pem))
		goto out;
	ret = KF_OK;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params); /* its secure part (d) is wiped */
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(r);
	EC_POINT_free(qp);
	BN_clear_free(d);
	BN_CTX_free(ctx);
	EC_GROUP_free(g);
	return ret;
}

/* The private key libssh2 reads (NUL-terminated: libssh2 takes its length
 * with strlen when it signs, userauth.c sign_frommemory), and what k
 * shows of the key. */
static int to_pem(const struct ppk_file *f, struct wssh_ppk *k, const char *shown, char *err,
                  size_t errlen)
{
	struct kbuf pem = {0};
	struct rd pub = {f->pub.d, f->pub.len}, priv = {f->priv.d, f->priv.len};
	const unsigned char *alg;
	size_t alglen;
	enum fields_rc frc;
	int ret = WSSH_PPK_CORRUPT;

	if (!get_str(&pub, &alg, &alglen) || !str_is(alg, alglen, f->type->alg)) {
		seterr(err, errlen,
		       "PuTTY key %s is corrupt: its public key is not of the type its header "
		       "names (%s)",
		       shown, f->type->alg);
		goto out;
	}
	if (f->type->nid)
		frc = ecdsa_pkcs8(f->type, &pub, &priv, &pem);
	else
		frc = ed25519_openssh(f, &pub, &priv, &pem);
	switch (frc) {
	case KF_OK:
		break;
	case KF_BAD_PUB:
	case KF_BAD_PRIV:
		seterr(err, errlen, "PuTTY key %s is corrupt: its %s key is not a valid %s key",
		       shown, frc == KF_BAD_PUB ? "public" : "private", f->type->alg);
		goto out;
	case KF_MISMATCH:
		seterr(err, errlen,
		       "PuTTY key %s is corrupt or tampered: its private key does not match its "
		       "public key",
		       shown);
		goto out;
	default:
		goto oom;
	}
	k->pub = malloc(f->pub.len);
	k->alg = strdup(f->type->alg);
	k->comment = malloc(f->comment_len + 1);
	if (!k->pub || !k->alg || !k->comment)
		goto oom;
	memcpy(k->pub, f->pub.d, f->pub.len);
	k->pub_len = f->pub.len;
	memcpy(k->comment, f->comment, f->comment_len);
	k->comment[f->comment_len] = '\0';
	/* Handed over as is: pem's buffer is wiped whole when freed. */
	k->pem = (char *)pem.d;
	k->pem_len = pem.len - 1; /* without the NUL */
	k->pem_cap = pem.cap;
	memset(&pem, 0, sizeof(pem));
	ret = WSSH_PPK_OK;
	goto out;
oom:
	seterr(err, errlen, "PuTTY key %s: out of memory", shown);
	ret = WSSH_PPK_ERROR;
out:
	kbuf_free(&pem);
	return ret;
}

int wssh_ppk_parse(const char *text, size_t len, const char *path, struct wssh_ppk *k, char *err,
                   size_t errlen)
{
	struct ppk_file f;
	char shown[4096];
	int ret;

	memset(&f, 0, sizeof(f));
	memset(k, 0, sizeof(*k));
	wssh_tilde(path, shown, sizeof(shown));
	ret = parse_text(text, len, path, shown, &f, err, errlen);
	if (ret != WSSH_PPK_OK)
		goto out;
	if (!mac_ok(&f)) {
		seterr(err, errlen,
		       "PuTTY key %s is corrupt or tampered: its Private-MAC does not match its "
		       "contents",
		       shown);
		ret = WSSH_PPK_CORRUPT;
		goto out;
	}
	ret = to_pem(&f, k, shown, err, errlen);
out:
	if (ret != WSSH_PPK_OK)
		wssh_ppk_free(k);
	kbuf_free(&f.pub);
	kbuf_free(&f.priv);
	OPENSSL_cleanse(&f, sizeof(f));
	return ret;
}

int wssh_ppk_load(const char *path, struct wssh_ppk *k, char *err, size_t errlen)
{
	struct kbuf text = {0};
	char shown[4096];
	struct stat st;
	ssize_t n;
	int fd, ret = WSSH_PPK_ERROR;

	memset(k, 0, sizeof(*k));
	wssh_tilde(path, shown, sizeof(shown));
	/* O_NONBLOCK: a FIFO named as the key must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		seterr(err, errlen, "%s: %s", shown, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)PPK_MAX_FILE) {
		seterr(err, errlen, "PuTTY key %s: not a regular file of at most %u bytes", shown,
		       PPK_MAX_FILE);
		ret = WSSH_PPK_CORRUPT;
		goto out;
	}
	/* One buffer of the final size: no partial copies of the key are left
	 * behind by growth. */
	if (!kbuf_room(&text, (size_t)st.st_size + 1)) {
		seterr(err, errlen, "PuTTY key %s: out of memory", shown);
		goto out;
	}
	while (text.len < text.cap) {
		n = read(fd, text.d + text.len, text.cap - text.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			seterr(err, errlen, "%s: %s", shown, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		text.len += (size_t)n;
	}
	if (text.len == text.cap) {
		seterr(err, errlen, "PuTTY key %s: the file grew while read", shown);
		ret = WSSH_PPK_CORRUPT;
		goto out;
	}
	ret = wssh_ppk_parse((const char *)text.d, text.len, path, k, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	kbuf_free(&text);
	return ret;
}

void wssh_ppk_free(struct wssh_ppk *k)
{
	if (k->pem) {
		OPENSSL_cleanse(k->pem, k->pem_cap);
		free(k->pem);
	}
	free(k->pub);
	free(k->alg);
	free(k->comment);
	memset(k, 0, sizeof(*k));
}

int wssh_ppk_open(const char *path, struct wssh_ppk **k, char *err, size_t errlen)
{
	int ret;

	*k = malloc(sizeof(**k));
	if (!*k) {
		seterr(err, errlen, "PuTTY key %s: out of memory", path);
		return WSSH_PPK_ERROR;
	}
	ret = wssh_ppk_load(path, *k, err, errlen);
	if (ret != WSSH_PPK_OK)
		wssh_ppk_release(k);
	return ret;
}

void wssh_ppk_release(struct wssh_ppk **k)
{
	if (!*k)
		return;
	wssh_ppk_free(*k);
	free(*k);
	*k = NULL;
}

bool wssh_ppk_detect(const char *path)
{
	char head[sizeof(PPK_MAGIC) - 1];
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0) {
		n = read(fd, head, sizeof(head));
		close(fd);
	}
	return n == (ssize_t)sizeof(head) && memcmp(head, PPK_MAGIC, sizeof(head)) == 0;
}

const char *wssh_ppk_what(int rc)
{
	switch (rc) {
	case WSSH_PPK_OK:
		return "PuTTY key";
	case WSSH_PPK_ENCRYPTED:
		return "encrypted PuTTY key";
	case WSSH_PPK_RSA:
		return "RSA PuTTY key";
	case WSSH_PPK_UNSUPPORTED:
		return "unsupported PuTTY key";
	case WSSH_PPK_CORRUPT:
		return "corrupt PuTTY key";
	default:
		return "cannot read PuTTY key";
	}
}
