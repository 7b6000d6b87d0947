/*
 * fuzz_values: the small value syntaxes of the config: durations (30, 30s,
 * 5m, 1h, combinations), booleans (yes/no, true/false, on/off, 1/0), names
 * (1-64 of A-Za-z0-9._@-) and ~ paths. The input, cut at the first NUL, goes
 * to each. A duration accepted is within the documented cap; a boolean
 * accepted is one of the documented words; a name accepted has only the
 * documented characters.
 */
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], err[256];
	uint64_t ms = 0;
	bool b = false;
	char *home;
	size_t n;

	n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';

	err[0] = '\0';
	if (wr_parse_duration_ms(text, &ms, err, sizeof(err)) == 0)
		FUZZ_CHECK(ms <= (uint64_t)INT32_MAX * 1000);
	else
		FUZZ_CHECK(err[0] != '\0');
	if (wr_duration_check(text, &ms) == NULL)
		FUZZ_CHECK(ms <= (uint64_t)INT32_MAX * 1000);

	err[0] = '\0';
	if (wr_parse_bool(text, &b, err, sizeof(err)) == 0)
		FUZZ_CHECK(strlen(text) >= 1 && strlen(text) <= 5);
	else
		FUZZ_CHECK(err[0] != '\0');
	(void)wr_bool_check(text, &b);

	if (wr_name_valid(text)) {
		FUZZ_CHECK(strlen(text) >= 1 && strlen(text) <= 64);
		FUZZ_CHECK(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                        "0123456789._@-") == strlen(text));
	}

	home = wr_expand_home(text);
	if (home)
		free(home);
	return 0;
}
