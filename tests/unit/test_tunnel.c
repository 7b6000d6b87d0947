/* The tunnel state machine driven by a scripted in-process transport:
 * failures retry with backoff or fail by the restart policy, a finished
 * transport follows the policy too, asynchronous stops pass through
 * `stopping`, a stop that never ends is cut off, and reports arriving in a
 * state where they mean nothing are ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "host.h"
#include "plugin_loader.h"
#include "tunnel.h"
#include "util.h"

/* What the fake transport does when started, and what it counts. */
static struct {
	int start_result;
	bool report_up_in_start;
	bool stop_pending;
	int creates, starts, stops, destroys;
	struct warren_tunnel *tunnel;
} fake;

static int fake_config_parse(struct warren_diag *diag, const char *tunnel_name, int section_line,
			     const struct warren_kv *keys, size_t nkeys,
			     const struct warren_gateway *gw, void **confp)
{
	*confp = NULL;
	return 0;
}

static void fake_config_free(void *conf)
{
}

static int fake_create(struct warren_tunnel *t, const void *conf, void **statep)
{
	fake.creates++;
	fake.tunnel = t;
	*statep = &fake;
	return 0;
}

static int fake_start(void *state)
{
	fake.starts++;
	if (fake.report_up_in_start)
		wr_host_table()->report_up(fake.tunnel);
	return fake.start_result;
}

static int fake_stop(void *state)
{
	fake.stops++;
	return fake.stop_pending ? WARREN_STOP_PENDING : 0;
}

static void fake_destroy(void *state)
{
	fake.destroys++;
}

static const struct warren_transport_ops fake_ops = {
	.abi = WARREN_PLUGIN_ABI,
	.size = sizeof(struct warren_transport_ops),
	.name = "fake",
	.config_parse = fake_config_parse,
	.config_free = fake_config_free,
	.create = fake_create,
	.start = fake_start,
	.stop = fake_stop,
	.destroy = fake_destroy,
};

static const struct wr_plugin fake_plugin = {.path = "fake.so", .ops = &fake_ops};

struct fixture {
	struct wr_config_ref *cref;
	struct warren_tunnel *t;
};

/* Run the loop until nothing is left to do right now, or for at most ms. */
static void run_loop_for(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	event_base_loopexit(wr_host_base(), &tv);
	event_base_dispatch(wr_host_base());
}

static struct fixture *make(const char *policy)
{
	struct fixture *f = wr_xcalloc(1, sizeof(*f));
	struct warren_diag diag;
	char *text = wr_xasprintf("[tunnel t]\ntransport = fake\nrestart = %s\n"
				  "retry_min = 1\nretry_max = 2\n",
				  policy);
	struct wr_config *cfg;

	wr_diag_init(&diag, "test.conf");
	cfg = wr_config_parse("test.conf", text, strlen(text), &diag);
	assert_int_equal(diag.count, 0);
	wr_diag_free(&diag);
	free(text);
	f->cref = wr_config_ref_new(cfg);
	f->t = wr_tunnel_new(f->cref, &cfg->tunnels[0], &fake_plugin, NULL, NULL);
	return f;
}

static void release(struct fixture *f)
{
	if (f->t)
		wr_tunnel_destroy(f->t);
	run_loop_for(10);
	wr_config_ref_put(f->cref);
	free(f);
	assert_int_equal(wr_tunnels_alive(), 0);
}

static int setup(void **state)
{
	memset(&fake, 0, sizeof(fake));
	return wr_host_init();
}

static int teardown(void **state)
{
	wr_host_shutdown();
	return 0;
}

static void test_up_then_report_up(void **state)
{
	struct fixture *f = make("always");

	wr_tunnel_up(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_CONNECTING);
	assert_int_equal(fake.creates, 1);
	assert_int_equal(fake.starts, 1);
	wr_host_table()->report_up(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_UP);
	release(f);
	assert_int_equal(fake.stops, 1);
	assert_int_equal(fake.destroys, 1);
}

static void test_failure_retries_with_reason(void **state)
{
	struct fixture *f = make("always");

	fake.report_up_in_start = true;
	wr_tunnel_up(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_UP);
	wr_host_table()->report_failure(f->t, "link %s", "lost");
	/* Deferred: nothing happens inside the plugin's call. */
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_UP);
	assert_int_equal(fake.stops, 0);
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_RETRYING);
	assert_string_equal(wr_tunnel_last_error(f->t), "link lost");
	assert_int_equal(fake.stops, 1);
	/* retry_min = 1s, jitter only shortens toward min: back within ~1s. */
	run_loop_for(1200);
	assert_int_equal(fake.starts, 2);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_UP);
	assert_null(wr_tunnel_last_error(f->t));
	/* The instance survives stop/start: created once. */
	assert_int_equal(fake.creates, 1);
	release(f);
}

static void test_failure_with_restart_never_fails(void **state)
{
	struct fixture *f = make("never");

	wr_tunnel_up(f->t);
	wr_host_table()->report_failure(f->t, "auth refused");
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_FAILED);
	assert_string_equal(wr_tunnel_last_error(f->t), "auth refused");
	run_loop_for(1200);
	assert_int_equal(fake.starts, 1);
	release(f);
}

static void test_first_failure_reason_wins(void **state)
{
	struct fixture *f = make("never");

	wr_tunnel_up(f->t);
	wr_host_table()->report_failure(f->t, "first");
	wr_host_table()->report_failure(f->t, "second");
	run_loop_for(5);
	assert_string_equal(wr_tunnel_last_error(f->t), "first");
	assert_int_equal(fake.stops, 1);
	release(f);
}

static void test_finished_with_on_failure_goes_down(void **state)
{
	struct fixture *f = make("on-failure");

	wr_tunnel_up(f->t);
	wr_host_table()->report_up(f->t);
	wr_host_table()->report_finished(f->t);
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_DOWN);
	run_loop_for(1200);
	assert_int_equal(fake.starts, 1);
	release(f);
}

static void test_finished_with_always_restarts(void **state)
{
	struct fixture *f = make("always");

	wr_tunnel_up(f->t);
	wr_host_table()->report_finished(f->t);
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_RETRYING);
	run_loop_for(1200);
	assert_int_equal(fake.starts, 2);
	release(f);
}

static void test_start_error_retries(void **state)
{
	struct fixture *f = make("always");

	fake.start_result = -98; /* -EADDRINUSE */
	wr_tunnel_up(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_RETRYING);
	assert_non_null(strstr(wr_tunnel_last_error(f->t), "start failed"));
	release(f);
}

static void test_async_stop_passes_through_stopping(void **state)
{
	struct fixture *f = make("always");

	fake.stop_pending = true;
	wr_tunnel_up(f->t);
	wr_host_table()->report_up(f->t);
	wr_tunnel_down(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_STOPPING);
	/* Reports from a stopping transport change nothing. */
	wr_host_table()->report_up(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_STOPPING);
	wr_host_table()->report_stopped(f->t);
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_DOWN);
	fake.stop_pending = false;
	release(f);
}

static void test_restart_during_async_stop_starts_again(void **state)
{
	struct fixture *f = make("always");

	fake.stop_pending = true;
	wr_tunnel_up(f->t);
	wr_tunnel_restart(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_STOPPING);
	fake.stop_pending = false;
	wr_host_table()->report_stopped(f->t);
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_CONNECTING);
	assert_int_equal(fake.starts, 2);
	release(f);
}

static void test_stop_that_never_ends_is_cut_off(void **state)
{
	struct fixture *f = make("always");

	fake.stop_pending = true;
	wr_tunnel_up(f->t);
	wr_tunnel_down(f->t);
	run_loop_for(5500);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_DOWN);
	/* It could not stop, so it was destroyed and will be made anew. */
	assert_int_equal(fake.destroys, 1);
	fake.stop_pending = false;
	wr_tunnel_up(f->t);
	assert_int_equal(fake.creates, 2);
	release(f);
}

static void test_down_cancels_pending_retry(void **state)
{
	struct fixture *f = make("always");

	wr_tunnel_up(f->t);
	wr_host_table()->report_failure(f->t, "gone");
	run_loop_for(5);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_RETRYING);
	wr_tunnel_down(f->t);
	assert_int_equal(wr_tunnel_state(f->t), WR_STATE_DOWN);
	run_loop_for(1200);
	assert_int_equal(fake.starts, 1);
	release(f);
}

static void test_unavailable_transport_fails_with_reason(void **state)
{
	struct fixture *f = make("always");
	struct warren_tunnel *t = wr_tunnel_new(f->cref, &f->cref->cfg->tunnels[0], NULL, NULL,
						"transport 'fake' unavailable: no fake.so in /x");

	wr_tunnel_up(t);
	assert_int_equal(wr_tunnel_state(t), WR_STATE_FAILED);
	assert_string_equal(wr_tunnel_last_error(t),
			    "transport 'fake' unavailable: no fake.so in /x");
	wr_tunnel_destroy(t);
	release(f);
}

static void test_status_json_has_contract_fields(void **state)
{
	struct fixture *f = make("always");
	struct wr_buf out = {0};
	struct warren_json j;
	const char *fields[] = {"\"name\": \"t\"", "\"transport\": \"fake\"", "\"state\": \"down\"",
				"\"since\": \"", "\"restarts\": 0", "\"last_error\": null",
				"\"bytes_in\": 0", "\"bytes_out\": 0", "\"details\": {}"};

	wr_json_init(&j, &out);
	wr_tunnel_status_json(f->t, &j);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strstr(wr_buf_cstr(&out), fields[i]))
			fail_msg("%s lacks %s", wr_buf_cstr(&out), fields[i]);
	wr_buf_free(&out);
	release(f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_up_then_report_up),
		T(test_failure_retries_with_reason),
		T(test_failure_with_restart_never_fails),
		T(test_first_failure_reason_wins),
		T(test_finished_with_on_failure_goes_down),
		T(test_finished_with_always_restarts),
		T(test_start_error_retries),
		T(test_async_stop_passes_through_stopping),
		T(test_restart_during_async_stop_starts_again),
		T(test_stop_that_never_ends_is_cut_off),
		T(test_down_cancels_pending_retry),
		T(test_unavailable_transport_fails_with_reason),
		T(test_status_json_has_contract_fields),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
