/*
 * fuzz_putty: a PuTTY saved-session file (Key=Value lines, %XX-escaped
 * names) read by wr_putty_read and turned into warren config by
 * wr_putty_convert, as `warren import-putty` and `warren run --putty` do
 * with files anyone may have copied into ~/.putty/sessions. The input is the
 * file; it goes through a memfd so that the real reader runs. The session
 * name is derived from the first line, to exercise the name encoders too.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "putty.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wr_putty_session s;
	struct wr_buf out = {0}, warnings = {0};
	char path[64], err[256], name[80];
	char *enc, *dec, *wname;
	size_t nl;
	int fd;

	nl = 0;
	while (nl < size && nl < sizeof(name) - 1 && data[nl] != '\n' && data[nl] != '\0')
		nl++;
	memcpy(name, data, nl);
	name[nl] = '\0';
	enc = wr_putty_encode_name(name);
	dec = wr_putty_decode_name(enc);
	/* The empty name is PuTTY's "Default Settings". */
	FUZZ_CHECK(strcmp(dec, name[0] ? name : "Default Settings") == 0);
	free(dec);
	free(wr_putty_decode_name(name));
	wname = wr_putty_warren_name(name);

	fd = memfd_create("fuzz-putty", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&s, 0, sizeof(s));
	if (wr_putty_read(path, name, &s, err, sizeof(err)) == 0) {
		(void)wr_putty_get(&s, "HostName");
		(void)wr_putty_convert(&s, wname && *wname ? wname : "fuzz", &out, &warnings);
		(void)wr_buf_cstr(&out);
		(void)wr_buf_cstr(&warnings);
		wr_putty_free(&s);
	}
	close(fd);
	wr_buf_free(&out);
	wr_buf_free(&warnings);
	free(wname);
	free(enc);
	return 0;
}
