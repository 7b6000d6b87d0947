/*
 * fuzz_ppk: PuTTY .ppk key files (formats 2 and 3) read by wssh_ppk_parse
 * (transports/ssh/ppk.c), as the SSH transport does for every identity a
 * config names. The input is the file. Invariants: a key accepted has an
 * algorithm, a public blob and a NUL-terminated PEM of pem_len bytes within
 * pem_cap; a key refused says why and leaves nothing behind; wssh_ppk_free
 * always runs and clears the struct.
 */
#include <string.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wssh_ppk k;
	char err[1024];
	int rc;

	err[0] = '\0';
	rc = wssh_ppk_parse((const char *)data, size, "/fuzz/key.ppk", &k, err, sizeof(err));
	FUZZ_CHECK(rc >= WSSH_PPK_OK && rc <= WSSH_PPK_ERROR);
	FUZZ_CHECK(wssh_ppk_what(rc) != NULL);
	if (rc == WSSH_PPK_OK) {
		FUZZ_CHECK(k.alg != NULL && k.alg[0] != '\0');
		FUZZ_CHECK(k.pub != NULL && k.pub_len > 0);
		FUZZ_CHECK(k.pem != NULL);
		FUZZ_CHECK(k.pem_len < k.pem_cap);
		FUZZ_CHECK(k.pem[k.pem_len] == '\0');
		FUZZ_CHECK(strlen(k.pem) == k.pem_len);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		FUZZ_CHECK(k.alg == NULL && k.pub == NULL && k.pem == NULL && k.comment == NULL);
	}
	wssh_ppk_free(&k);
	FUZZ_CHECK(k.alg == NULL && k.pub == NULL && k.pem == NULL && k.comment == NULL);
	return 0;
}
