/* backoff.c: exponential backoff with jitter between retry_min and retry_max. */
#include "backoff.h"

uint64_t wr_backoff_delay(uint64_t min_ms, uint64_t max_ms, unsigned attempt, uint32_t random)
{
	uint64_t base = min_ms;
	uint64_t delay;

	if (max_ms < min_ms)
		max_ms = min_ms;
	/* Double without overflowing: stop as soon as the cap is reached. */
	for (unsigned i = 0; i < attempt && base < max_ms; i++)
		base = base > max_ms / 2 ? max_ms : base * 2;
	if (base > max_ms)
		base = max_ms;
	delay = base - (uint64_t)random % (base / 4 + 1);
	return delay < min_ms ? min_ms : delay;
}
