/*
 * fuzz_config: the whole config file parser (wr_config_parse) on any bytes,
 * NULs and all. A config is what a user hands the daemon as root: it must
 * produce diagnostics, never a crash, a leak or an overread. Every message
 * must look like FILE:LINE: message.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct warren_diag diag;
	struct wr_config *cfg;
	size_t i;

	wr_diag_init(&diag, "fuzz.conf");
	cfg = wr_config_parse("fuzz.conf", (const char *)data, size, &diag);
	FUZZ_CHECK(cfg != NULL);
	for (i = 0; i < diag.count; i++)
		FUZZ_CHECK(strncmp(diag.messages[i], "fuzz.conf", 9) == 0);
	if (diag.count == 0) {
		/* A config without a problem is fully resolved. */
		for (i = 0; i < cfg->ntunnels; i++) {
			FUZZ_CHECK(wr_name_valid(cfg->tunnels[i].name));
			FUZZ_CHECK(cfg->tunnels[i].transport != NULL);
			FUZZ_CHECK(!cfg->tunnels[i].gateway || cfg->tunnels[i].gw);
			FUZZ_CHECK(cfg->tunnels[i].retry_min_ms <= cfg->tunnels[i].retry_max_ms);
		}
	}
	wr_config_free(cfg);
	wr_diag_free(&diag);
	return 0;
}
