/*
 * keyfile.c: the checks OpenSSH makes on key and passphrase files, and the
 * RSA detection behind the error that explains why an RSA key cannot work
 * with libssh2 1.10 (no rsa-sha2; OpenSSH 8.8+ refuses ssh-rsa).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

const char *wssh_tilde(const char *path, char *buf, size_t len)
{
	const char *home = getenv("HOME");
	size_t hl = home ? strlen(home) : 0;

	if (hl > 1 && strncmp(path, home, hl) == 0 && path[hl] == '/')
		snprintf(buf, len, "~%s", path + hl);
	else
		snprintf(buf, len, "%s", path);
	return buf;
}

/* OpenSSH ignores a private key that group or others may access; so do we,
 * in its words. */
int wssh_key_check_perms(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char shown[4096];

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", wssh_tilde(path, shown, sizeof(shown)),
		         strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
		         "UNPROTECTED PRIVATE KEY FILE! Permissions 0%03o for '%s' are too open; "
		         "it is required that your private key files are NOT accessible by others; "
		         "this private key will be ignored",
		         (unsigned)(st.st_mode & 0777), wssh_tilde(path, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

/* The first line of passphrase_file, which must be the user's alone. */
int wssh_passphrase_load(const char *path, char **out, char *err, size_t errlen)
{
	struct stat st;
	char buf[1024], shown[4096];
	ssize_t n;
	int fd, ret = -1;

	*out = NULL;
	wssh_tilde(path, shown, sizeof(shown));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "passphrase_file %s: %s", shown, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
		snprintf(err, errlen,
		         "passphrase_file %s: UNPROTECTED PASSPHRASE FILE! Permissions 0%03o are "
		         "too open; it must not be accessible by others (chmod 600)",
		         shown, (unsigned)(st.st_mode & 0777));
		goto out_close;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		snprintf(err, errlen, "passphrase_file %s: %s", shown, strerror(errno));
		goto out_close;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!*out) {
		snprintf(err, errlen, "passphrase_file %s: out of memory", shown);
		goto out_close;
	}
	ret = 0;
out_close:
	close(fd);
out:
	return ret;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool wssh_key_is_rsa_blob(const unsigned char *blob, size_t len)
{
	return len >= 11 && get_u32(blob) == 7 && memcmp(blob + 4, "ssh-rsa", 7) == 0;
}

/* The OpenSSH private key format keeps the public key in the clear:
 * "openssh-key-v1\0", string cipher, string kdf, string kdfoptions,
 * u32 nkeys, string publickey. */
static bool openssh_blob_is_rsa(const unsigned char *b, size_t len)
{
	static const char magic[] = "openssh-key-v1";
	size_t off = sizeof(magic);
	uint32_t l;
	int i;

	if (len < off || memcmp(b, magic, sizeof(magic)) != 0)
		return false;
	for (i = 0; i < 3; i++) {
		if (off + 4 > len)
			return false;
		l = get_u32(b + off);
		if (l > len - off - 4)
			return false;
		off += 4 + l;
	}
	if (off + 8 > len)
		return false;
	off += 4; /* nkeys */
	l = get_u32(b + off);
	off += 4;
	if (l > len - off)
		return false;
	return wssh_key_is_rsa_blob(b + off, l);
}

bool wssh_key_is_rsa_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[256];
	char *b64 = NULL;
	size_t used = 0, cap = 0;
	unsigned char *blob = NULL;
	bool rsa = false, in_body = false;
	int n;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "BEGIN RSA PRIVATE KEY")) {
			rsa = true;
			break;
		}
		if (strstr(line, "BEGIN OPENSSH PRIVATE KEY")) {
			in_body = true;
			continue;
		}
		if (!in_body)
			continue;
		if (strstr(line, "END OPENSSH PRIVATE KEY"))
			break;
		line[strcspn(line, "\r\n")] = '\0';
		if (used + strlen(line) + 1 > cap) {
			char *nb = realloc(b64, cap + 4096);

			if (!nb)
				goto out;
			b64 = nb;
			cap += 4096;
		}
		memcpy(b64 + used, line, strlen(line) + 1);
		used += strlen(line);
		if (used > 64 * 1024)
			break; /* the public part is at the start */
	}
	if (!rsa && used >= 4) {
		used -= used % 4;
		blob = malloc(used);
		if (!blob)
			goto out;
		n = EVP_DecodeBlock(blob, (unsigned char *)b64, (int)used);
		if (n > 0)
			rsa = openssh_blob_is_rsa(blob, (size_t)n);
	}
out:
	free(blob);
	free(b64);
	fclose(f);
	return rsa;
}
