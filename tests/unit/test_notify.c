/* The sd_notify protocol spoken without libsystemd: a datagram reaches the
 * socket $NOTIFY_SOCKET names, abstract ('@') or path; the variables are
 * taken out of the environment; a bad address disables notifications; the
 * watchdog fires at half $WATCHDOG_USEC from the loop; the STATUS= summary
 * reads as people expect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "tunnel.h"

/* A receiving socket bound where $NOTIFY_SOCKET will point. */
static int bind_receiver(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	socklen_t salen;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		unlink(name);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, salen), 0);
	return fd;
}

/* One datagram, or "" when none came within timeout_ms. */
static void receive(int fd, char *buf, size_t len, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

static void test_abstract_socket_gets_the_message(void **state)
{
	char name[64], buf[256];
	int fd;

	snprintf(name, sizeof(name), "@warren-test-notify-%d", (int)getpid());
	fd = bind_receiver(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(wr_notify_init(NULL), 0);
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(wr_notify_send("READY=1\nSTATUS=1 tunnel: 1 up"), 0);
	receive(fd, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "READY=1\nSTATUS=1 tunnel: 1 up");
	wr_notify_close();
	close(fd);
}

static void test_path_socket_gets_the_message(void **state)
{
	char path[] = "/tmp/warren-test-notify-XXXXXX";
	char sock[128], buf[256];
	int fd;

	assert_non_null(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/notify", path);
	fd = bind_receiver(sock);
	setenv("NOTIFY_SOCKET", sock, 1);
	assert_int_equal(wr_notify_init(NULL), 0);
	assert_int_equal(wr_notify_send("STOPPING=1"), 0);
	receive(fd, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "STOPPING=1");
	wr_notify_close();
	close(fd);
	unlink(sock);
	rmdir(path);
}

static void test_without_notify_socket_nothing_is_sent(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(wr_notify_init(NULL), 0);
	assert_int_equal(wr_notify_send("READY=1"), 0);
	wr_notify_close();
}

static void test_bad_address_disables_notifications(void **state)
{
	static const char *const bad[] = {"relative/path", "@", "vsock:2:1234"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		assert_int_equal(wr_notify_init(NULL), -1);
		assert_null(getenv("NOTIFY_SOCKET"));
		assert_int_equal(wr_notify_send("READY=1"), 0);
		wr_notify_close();
	}
}

static void test_send_to_a_vanished_socket_reports_the_error(void **state)
{
	setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
	assert_int_equal(wr_notify_init(NULL), 0);
	assert_int_equal(wr_notify_send("READY=1"), -ENOENT);
	wr_notify_close();
}

static void test_watchdog_fires_at_half_the_interval(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval run_for = {.tv_sec = 0, .tv_usec = 450000};
	char name[64], buf[64];
	int fd, pings = 0;

	snprintf(name, sizeof(name), "@warren-test-watchdog-%d", (int)getpid());
	fd = bind_receiver(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "200000", 1); /* a ping every 100 ms */
	unsetenv("WATCHDOG_PID");
	assert_int_equal(wr_notify_init(base), 0);
	assert_null(getenv("WATCHDOG_USEC"));
	event_base_loopexit(base, &run_for);
	event_base_dispatch(base);
	for (;;) {
		receive(fd, buf, sizeof(buf), 10);
		if (!*buf)
			break;
		assert_string_equal(buf, "WATCHDOG=1");
		pings++;
	}
	/* 450 ms at one ping per 100 ms: 4, give or take a late loop turn. */
	assert_in_range(pings, 3, 5);
	wr_notify_close();
	event_base_free(base);
	close(fd);
}

static void test_watchdog_for_another_pid_is_ignored(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval run_for = {.tv_sec = 0, .tv_usec = 250000};
	char name[64], buf[64], pid[32];
	int fd;

	snprintf(name, sizeof(name), "@warren-test-watchdog-pid-%d", (int)getpid());
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	fd = bind_receiver(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "100000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(wr_notify_init(base), 0);
	event_base_loopexit(base, &run_for);
	event_base_dispatch(base);
	receive(fd, buf, sizeof(buf), 10);
	assert_string_equal(buf, "");
	wr_notify_close();
	event_base_free(base);
	close(fd);
}

static void test_summary_lists_nonzero_states_in_order(void **state)
{
	unsigned counts[WR_STATE_FAILED + 1] = {0};
	char buf[128];

	wr_notify_format_summary(counts, WR_STATE_FAILED + 1, buf, sizeof(buf));
	assert_string_equal(buf, "no tunnels");
	counts[WR_STATE_UP] = 1;
	wr_notify_format_summary(counts, WR_STATE_FAILED + 1, buf, sizeof(buf));
	assert_string_equal(buf, "1 tunnel: 1 up");
	counts[WR_STATE_UP] = 2;
	counts[WR_STATE_RETRYING] = 1;
	wr_notify_format_summary(counts, WR_STATE_FAILED + 1, buf, sizeof(buf));
	assert_string_equal(buf, "3 tunnels: 2 up, 1 retrying");
	counts[WR_STATE_DOWN] = 4;
	counts[WR_STATE_FAILED] = 1;
	counts[WR_STATE_DEGRADED] = 1;
	wr_notify_format_summary(counts, WR_STATE_FAILED + 1, buf, sizeof(buf));
	assert_string_equal(buf, "9 tunnels: 2 up, 1 degraded, 1 retrying, 1 failed, 4 down");
}

static void test_summary_is_cut_not_overrun(void **state)
{
	unsigned counts[WR_STATE_FAILED + 1] = {[WR_STATE_UP] = 20, [WR_STATE_RETRYING] = 3};
	char buf[16];

	wr_notify_format_summary(counts, WR_STATE_FAILED + 1, buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, "23 tunnels: 20 ", 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_abstract_socket_gets_the_message),
	    cmocka_unit_test(test_path_socket_gets_the_message),
	    cmocka_unit_test(test_without_notify_socket_nothing_is_sent),
	    cmocka_unit_test(test_bad_address_disables_notifications),
	    cmocka_unit_test(test_send_to_a_vanished_socket_reports_the_error),
	    cmocka_unit_test(test_watchdog_fires_at_half_the_interval),
	    cmocka_unit_test(test_watchdog_for_another_pid_is_ignored),
	    cmocka_unit_test(test_summary_lists_nonzero_states_in_order),
	    cmocka_unit_test(test_summary_is_cut_not_overrun),
	};

	wr_log_init(WARREN_LOG_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
