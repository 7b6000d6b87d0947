/* The retry schedule: doubling from retry_min, capped at retry_max, jitter
 * never leaving [min, max], no overflow however many attempts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static void test_first_retry_is_min_without_jitter(void **state)
{
	assert_int_equal(wr_backoff_delay(1000, 60000, 0, 0), 1000);
}

static void test_base_doubles_until_max(void **state)
{
	/* random = 0 takes no jitter off: the base itself. */
	assert_int_equal(wr_backoff_delay(1000, 60000, 1, 0), 2000);
	assert_int_equal(wr_backoff_delay(1000, 60000, 2, 0), 4000);
	assert_int_equal(wr_backoff_delay(1000, 60000, 5, 0), 32000);
	assert_int_equal(wr_backoff_delay(1000, 60000, 6, 0), 60000);
	assert_int_equal(wr_backoff_delay(1000, 60000, 7, 0), 60000);
}

static void test_jitter_takes_at_most_a_quarter(void **state)
{
	for (uint32_t r = 0; r < 5000; r += 7) {
		uint64_t d = wr_backoff_delay(1000, 60000, 4, r * 2654435761u);

		assert_true(d <= 16000);
		assert_true(d >= 12000);
	}
}

static void test_always_within_min_and_max(void **state)
{
	for (unsigned attempt = 0; attempt < 200; attempt++) {
		for (uint32_t r = 0; r < 200; r++) {
			uint64_t d = wr_backoff_delay(1500, 45000, attempt, r * 40503u + attempt);

			assert_true(d >= 1500);
			assert_true(d <= 45000);
		}
	}
}

static void test_huge_attempt_counts_do_not_overflow(void **state)
{
	assert_int_equal(wr_backoff_delay(1000, UINT64_MAX / 3, 4000000000u, 0), UINT64_MAX / 3);
	assert_int_equal(wr_backoff_delay(7, 7, 100, 12345), 7);
}

static void test_max_below_min_means_min(void **state)
{
	assert_int_equal(wr_backoff_delay(5000, 1000, 3, 99), 5000);
}

static void test_jitter_spreads_retries(void **state)
{
	/* Tunnels failing together must not retry in lockstep. */
	uint64_t first = wr_backoff_delay(1000, 60000, 3, 1);
	int different = 0;

	for (uint32_t r = 2; r < 50; r++)
		different += wr_backoff_delay(1000, 60000, 3, r) != first;
	assert_true(different > 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_retry_is_min_without_jitter),
		cmocka_unit_test(test_base_doubles_until_max),
		cmocka_unit_test(test_jitter_takes_at_most_a_quarter),
		cmocka_unit_test(test_always_within_min_and_max),
		cmocka_unit_test(test_huge_attempt_counts_do_not_overflow),
		cmocka_unit_test(test_max_below_min_means_min),
		cmocka_unit_test(test_jitter_spreads_retries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
