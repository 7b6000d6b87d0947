/* backoff.h: the retry schedule, a pure function so it can be tested alone. */
#ifndef WARREN_BACKOFF_H
#define WARREN_BACKOFF_H

#include <stdint.h>

/*
 * Delay before retry number `attempt` (0 for the first retry): the base
 * doubles from min_ms and stops at max_ms; jitter takes up to a quarter off
 * the base so that tunnels failing together do not retry in lockstep. The
 * result always lies within [min_ms, max_ms]. `random` is any 32-bit value.
 */
uint64_t wr_backoff_delay(uint64_t min_ms, uint64_t max_ms, unsigned attempt, uint32_t random);

#endif /* WARREN_BACKOFF_H */
