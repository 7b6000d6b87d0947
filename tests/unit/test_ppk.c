/* PuTTY .ppk keys (transports/ssh/ppk.c) against files PuTTYgen 0.78 wrote
 * (tests/fixtures/ppk, made by regenerate.sh there): formats 2 and 3,
 * ed25519 and ECDSA give the public key `puttygen -L` prints, and a private
 * key (OpenSSH's format, PKCS#8 for ECDSA) that ssh-keygen reads back to the
 * same public key; a bad MAC, a
 * truncated file, wrong line counts, halves that do not belong together,
 * encrypted, RSA and other keys are refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/warren-test-ppk-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *fixture_path(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", PPK_FIXTURES, name);
	return path;
}

/* The whole file, NUL-terminated. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* "alg base64 comment" as in authorized_keys, what `puttygen -L` prints. */
static char *openssh_public(const struct wssh_ppk *k)
{
	size_t b64len = 4 * ((k->pub_len + 2) / 3) + 1;
	char *b64 = malloc(b64len), *line;

	assert_non_null(b64);
	EVP_EncodeBlock((unsigned char *)b64, k->pub, (int)k->pub_len);
	line = malloc(strlen(k->alg) + strlen(b64) + strlen(k->comment) + 3);
	assert_non_null(line);
	sprintf(line, "%s %s %s", k->alg, b64, k->comment);
	free(b64);
	return line;
}

static char *expected_public(const char *name)
{
	char pub[256];
	char *want;

	snprintf(pub, sizeof(pub), "%s.pub", name);
	want = slurp(fixture_path(pub), NULL);
	want[strcspn(want, "\r\n")] = '\0';
	return want;
}

/* ssh-keygen -y on the converted key: OpenSSH itself must read it, with its
 * check ints and padding, back to the same public key. The key goes to a
 * 0600 file under the test's directory, which only the test does. */
static void check_with_ssh_keygen(const struct wssh_ppk *k, const char *want)
{
	char key[128], cmd[512], out[4096];
	size_t wantlen = strcspn(want, " ");
	FILE *f, *p;

	wantlen += 1 + strcspn(want + wantlen + 1, " ");
	if (system("command -v ssh-keygen >/dev/null 2>&1") != 0)
		return; /* openssh-client missing: the rest still ran */
	snprintf(key, sizeof(key), "%s/converted", tmpdir);
	f = fopen(key, "w");
	assert_non_null(f);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(fwrite(k->pem, 1, k->pem_len, f), k->pem_len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f '%s'", key);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	assert_memory_equal(out, want, wantlen);
	unlink(key);
}

static void test_good_keys_match_puttygen(void **state)
{
	static const char *const names[] = {
	    "ed25519-v2", "ed25519-v3", "ecdsa256-v2", "ecdsa256-v3", "ecdsa384-v3", "ecdsa521-v2",
	};
	struct wssh_ppk k;
	char err[1024], file[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *want = expected_public(names[i]), *got;

		snprintf(file, sizeof(file), "%s.ppk", names[i]);
		assert_true(wssh_ppk_detect(fixture_path(file)));
		err[0] = '\0';
		assert_int_equal(wssh_ppk_load(fixture_path(file), &k, err, sizeof(err)),
		                 WSSH_PPK_OK);
		got = openssh_public(&k);
		assert_string_equal(got, want);
		/* ed25519 in OpenSSH's format, ECDSA as PKCS#8 (ppk.c says why) */
		if (strncmp(names[i], "ecdsa", 5) == 0) {
			assert_int_equal(strncmp(k.pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
			assert_non_null(strstr(k.pem, "\n-----END PRIVATE KEY-----\n"));
		} else {
			assert_int_equal(
			    strncmp(k.pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
			assert_non_null(strstr(k.pem, "\n-----END OPENSSH PRIVATE KEY-----\n"));
		}
		assert_int_equal(strlen(k.pem), k.pem_len);
		check_with_ssh_keygen(&k, want);
		wssh_ppk_free(&k);
		assert_null(k.pem);
		free(got);
		free(want);
	}
}

/* PuTTY reads CR LF and CR-only files too. */
static void test_line_ends(void **state)
{
	size_t len, i, o;
	char *text = slurp(fixture_path("ecdsa256-v3.ppk"), &len);
	char *crlf = malloc(2 * len + 1), *cr = malloc(len + 1);
	char *want = expected_public("ecdsa256-v3"), *got;
	struct wssh_ppk k;
	char err[1024];

	assert_non_null(crlf);
	assert_non_null(cr);
	for (i = 0, o = 0; i < len; i++) {
		if (text[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = text[i];
		cr[i] = text[i] == '\n' ? '\r' : text[i];
	}
	assert_int_equal(wssh_ppk_parse(crlf, o, "crlf.ppk", &k, err, sizeof(err)), WSSH_PPK_OK);
	got = openssh_public(&k);
	assert_string_equal(got, want);
	free(got);
	wssh_ppk_free(&k);
	assert_int_equal(wssh_ppk_parse(cr, len, "cr.ppk", &k, err, sizeof(err)), WSSH_PPK_OK);
	wssh_ppk_free(&k);
	/* Without the final line end it still reads. */
	assert_int_equal(wssh_ppk_parse(text, len - 1, "cut.ppk", &k, err, sizeof(err)),
	                 WSSH_PPK_OK);
	wssh_ppk_free(&k);
	free(want);
	free(cr);
	free(crlf);
	free(text);
}

static void expect_refused(const char *text, size_t len, int rc, const char *words)
{
	struct wssh_ppk k;
	char err[1024] = "";

	memset(&k, 0x55, sizeof(k)); /* whatever it held is not looked at */
	assert_int_equal(wssh_ppk_parse(text, len, "/keys/k.ppk", &k, err, sizeof(err)), rc);
	if (!strstr(err, words))
		fail_msg("\"%s\" not in \"%s\"", words, err);
	assert_null(k.pem);
	assert_null(k.pub);
}

/* text with the first occurrence of from replaced by to */
static char *replaced(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

static void test_bad_mac(void **state)
{
	char *text = slurp(fixture_path("ed25519-v3.ppk"), NULL);
	char *mac = strstr(text, "Private-MAC: ") + 13;
	char *t;

	/* One digit of the MAC changed. */
	t = strdup(text);
	t[mac - text] = t[mac - text] == '0' ? '1' : '0';
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "corrupt or tampered");
	free(t);
	/* The comment edited: the MAC covers it. */
	t = replaced(text, "Comment: warren", "Comment: Warren");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "Private-MAC does not match");
	free(t);
	/* A format 2 key: the MAC is HMAC-SHA-1 there. */
	free(text);
	text = slurp(fixture_path("ecdsa521-v2.ppk"), NULL);
	t = strdup(text);
	mac = strstr(t, "Private-MAC: ") + 13;
	mac[39] = mac[39] == 'a' ? 'b' : 'a';
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "corrupt or tampered");
	free(t);
	/* A MAC of the wrong length for the format. */
	t = replaced(text, "Private-MAC: ", "Private-MAC: 00");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "not 40 hex digits");
	free(t);
	free(text);
}

/* Every cut short of the last line end fails, cleanly (valgrind). */
static void test_truncated(void **state)
{
	size_t len;
	char *text = slurp(fixture_path("ecdsa384-v3.ppk"), &len);
	struct wssh_ppk k;
	char err[1024];

	for (size_t n = 0; n + 1 < len; n++) {
		char *cut = malloc(n ? n : 1);

		/* A buffer of exactly n bytes: a read past it shows. */
		memcpy(cut, text, n);
		assert_int_not_equal(wssh_ppk_parse(cut, n, "/keys/k.ppk", &k, err, sizeof(err)),
		                     WSSH_PPK_OK);
		assert_null(k.pem);
		free(cut);
	}
	/* Just before the private lines, and after the first public line:
	 * what is missing is named. */
	expect_refused(text, (size_t)(strstr(text, "Private-Lines") - text), WSSH_PPK_CORRUPT,
	               "is malformed: the file ends after line 7, where \"Private-Lines: N\" "
	               "was expected");
	expect_refused(text, (size_t)(strchr(strstr(text, "Public-Lines"), '\n') - text) + 66,
	               WSSH_PPK_CORRUPT, "the file ends within its Public-Lines (1 of 3 lines)");
	free(text);
}

static void test_wrong_line_counts(void **state)
{
	char *text = slurp(fixture_path("ed25519-v3.ppk"), NULL);
	char *t;

	t = replaced(text, "Public-Lines: 2", "Public-Lines: 3");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT,
	               "line 7: not a line of base64 (Public-Lines: 3)");
	free(t);
	t = replaced(text, "Public-Lines: 2", "Public-Lines: 1");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "line 6: \"Private-Lines: N\" expected");
	free(t);
	t = replaced(text, "Private-Lines: 1", "Private-Lines: 2");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "not a line of base64 (Private-Lines: 2)");
	free(t);
	t = replaced(text, "Private-Lines: 1", "Private-Lines: 0");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "\"Private-MAC: \" expected");
	free(t);
	t = replaced(text, "Public-Lines: 2", "Public-Lines: two");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "Public-Lines is not a line count");
	free(t);
	t = replaced(text, "Public-Lines: 2", "Public-Lines: 99999999999999999999");
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "Public-Lines is not a line count");
	free(t);
	free(text);
}

static void test_encrypted(void **state)
{
	static const char *const names[] = {"ed25519-v2-enc.ppk", "ed25519-v3-enc.ppk",
	                                    "ecdsa256-v3-enc.ppk"};
	struct wssh_ppk k;
	char err[1024], *want, *text, *path;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path = fixture_path(names[i]);
		assert_true(wssh_ppk_detect(path));
		assert_int_equal(wssh_ppk_load(path, &k, err, sizeof(err)), WSSH_PPK_ENCRYPTED);
		assert_true(
		    asprintf(&want,
		             "encrypted PuTTY key %s: convert it with `puttygen %s -O "
		             "private-openssh -o %s.openssh` (and give it a passphrase_file) "
		             "or remove the passphrase in PuTTYgen",
		             path, path, path) > 0);
		assert_string_equal(err, want);
		free(want);
		assert_null(k.pem);
	}
	/* A path the shell would split is quoted in the command. */
	text = slurp(fixture_path("ed25519-v3-enc.ppk"), NULL);
	assert_int_equal(
	    wssh_ppk_parse(text, strlen(text), "/my keys/it's.ppk", &k, err, sizeof(err)),
	    WSSH_PPK_ENCRYPTED);
	assert_non_null(strstr(err, "`puttygen '/my keys/it'\\''s.ppk' -O private-openssh -o "
	                            "'/my keys/it'\\''s.ppk'.openssh`"));
	free(text);
}

static void test_other_types_refused(void **state)
{
	char *text = slurp(fixture_path("rsa-v3.ppk"), NULL);
	char *t;

	expect_refused(text, strlen(text), WSSH_PPK_RSA, "OpenSSH 8.8+ refuses");
	t = replaced(text, "ssh-rsa", "ssh-dss");
	expect_refused(t, strlen(t), WSSH_PPK_UNSUPPORTED, "DSA");
	free(t);
	t = replaced(text, "ssh-rsa", "ssh-ed448");
	expect_refused(t, strlen(t), WSSH_PPK_UNSUPPORTED, "of type ssh-ed448");
	free(t);
	t = replaced(text, "File-3", "File-1");
	expect_refused(t, strlen(t), WSSH_PPK_UNSUPPORTED, "only formats 2 and 3");
	free(t);
	t = replaced(text, "File-3", "File-4");
	expect_refused(t, strlen(t), WSSH_PPK_UNSUPPORTED, "only formats 2 and 3");
	free(t);
	free(text);
	text = slurp(fixture_path("ed25519-v3.pub"), NULL);
	expect_refused(text, strlen(text), WSSH_PPK_CORRUPT, "is not a PuTTY key file");
	assert_false(wssh_ppk_detect(fixture_path("ed25519-v3.pub")));
	assert_false(wssh_ppk_detect(fixture_path("no-such-file.ppk")));
	free(text);
}

/* ---- keys whose MAC is right but whose contents are not ---- */

static void put_u32(unsigned char **p, uint32_t v)
{
	(*p)[0] = (unsigned char)(v >> 24);
	(*p)[1] = (unsigned char)(v >> 16);
	(*p)[2] = (unsigned char)(v >> 8);
	(*p)[3] = (unsigned char)v;
	*p += 4;
}

static void put_str(unsigned char **p, const void *s, size_t n)
{
	put_u32(p, (uint32_t)n);
	memcpy(*p, s, n);
	*p += n;
}

/* base64 of the lines "NAME-Lines: N" introduces, decoded */
static size_t blob_of(const char *text, const char *name, unsigned char *out)
{
	const char *p = strstr(text, name);
	size_t len = 0;
	char line[80];
	int lines, n;

	assert_non_null(p);
	lines = atoi(p + strlen(name) + 2);
	p = strchr(p, '\n') + 1;
	for (int i = 0; i < lines; i++) {
		size_t l = strcspn(p, "\n");

		memcpy(line, p, l);
		line[l] = '\0';
		n = EVP_DecodeBlock(out + len, (unsigned char *)line, (int)l);
		assert_true(n > 0);
		len += (size_t)n - (l > 0 && line[l - 1] == '=') - (l > 1 && line[l - 2] == '=');
		p += l + 1;
	}
	return len;
}

static void put_lines(char **o, const char *name, const unsigned char *blob, size_t len)
{
	char b64[4096];
	size_t n = (size_t)EVP_EncodeBlock((unsigned char *)b64, blob, (int)len);

	*o += sprintf(*o, "%s: %zu\n", name, (n + 63) / 64);
	for (size_t i = 0; i < n; i += 64)
		*o += sprintf(*o, "%.*s\n", (int)(n - i < 64 ? n - i : 64), b64 + i);
}

/* A format 3 unencrypted file with a MAC that matches what it holds. */
static char *ppk_v3(const char *alg, const char *comment, const unsigned char *pub, size_t publen,
                    const unsigned char *priv, size_t privlen)
{
	unsigned char macin[4096], *m = macin, mac[32];
	unsigned int maclen = 0;
	char *text = malloc(8192), *o = text;

	put_str(&m, alg, strlen(alg));
	put_str(&m, "none", 4);
	put_str(&m, comment, strlen(comment));
	put_str(&m, pub, publen);
	put_str(&m, priv, privlen);
	assert_non_null(HMAC(EVP_sha256(), "", 0, macin, (size_t)(m - macin), mac, &maclen));
	o += sprintf(o, "PuTTY-User-Key-File-3: %s\nEncryption: none\nComment: %s\n", alg, comment);
	put_lines(&o, "Public-Lines", pub, publen);
	put_lines(&o, "Private-Lines", priv, privlen);
	o += sprintf(o, "Private-MAC: ");
	for (unsigned i = 0; i < maclen; i++)
		o += sprintf(o, "%02x", mac[i]);
	sprintf(o, "\n");
	return text;
}

static void test_halves_must_match(void **state)
{
	char *a = slurp(fixture_path("ed25519-v3.ppk"), NULL);
	char *b = slurp(fixture_path("ed25519-v2.ppk"), NULL);
	char *e = slurp(fixture_path("ecdsa256-v3.ppk"), NULL);
	char *f = slurp(fixture_path("ecdsa256-v2.ppk"), NULL);
	unsigned char pub[2048], priv[2048], pub2[2048], bad[2048], *p;
	size_t publen, privlen, pub2len;
	struct wssh_ppk k;
	char *t, err[1024];

	/* The fixture rebuilt as is: the MAC helper is right. */
	publen = blob_of(a, "Public-Lines", pub);
	privlen = blob_of(a, "Private-Lines", priv);
	t = ppk_v3("ssh-ed25519", "warren fixture ed25519-v3", pub, publen, priv, privlen);
	assert_int_equal(wssh_ppk_parse(t, strlen(t), "k.ppk", &k, err, sizeof(err)), WSSH_PPK_OK);
	wssh_ppk_free(&k);
	free(t);

	/* ed25519: another key's secret with this public key. */
	privlen = blob_of(b, "Private-Lines", priv);
	t = ppk_v3("ssh-ed25519", "c", pub, publen, priv, privlen);
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT,
	               "its private key does not match its public key");
	free(t);
	/* ECDSA: the same. */
	publen = blob_of(e, "Public-Lines", pub);
	privlen = blob_of(f, "Private-Lines", priv);
	t = ppk_v3("ecdsa-sha2-nistp256", "c", pub, publen, priv, privlen);
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "does not match its public key");
	free(t);
	/* ECDSA: a point off the curve, and d = 0. */
	memcpy(bad, pub, publen);
	bad[publen - 1] ^= 1;
	privlen = blob_of(e, "Private-Lines", priv);
	t = ppk_v3("ecdsa-sha2-nistp256", "c", bad, publen, priv, privlen);
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT,
	               "its public key is not a valid ecdsa-sha2-nistp256 key");
	free(t);
	p = bad;
	put_str(&p, "", 0);
	t = ppk_v3("ecdsa-sha2-nistp256", "c", pub, publen, bad, 4);
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT,
	               "its private key is not a valid ecdsa-sha2-nistp256 key");
	free(t);
	/* The header names one type, the public blob is another. */
	pub2len = blob_of(a, "Public-Lines", pub2);
	t = ppk_v3("ecdsa-sha2-nistp256", "c", pub2, pub2len, priv, privlen);
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "not of the type its header names");
	free(t);
	/* A private blob cut inside its string. */
	t = ppk_v3("ecdsa-sha2-nistp256", "c", pub, publen, priv, privlen - 1);
	expect_refused(t, strlen(t), WSSH_PPK_CORRUPT, "its private key is not a valid");
	free(t);
	free(a);
	free(b);
	free(e);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_keys_match_puttygen),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_bad_mac),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_wrong_line_counts),
	    cmocka_unit_test(test_encrypted),
	    cmocka_unit_test(test_other_types_refused),
	    cmocka_unit_test(test_halves_must_match),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
