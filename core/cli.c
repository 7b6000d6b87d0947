/* cli.c: client side of the control socket. Plain blocking I/O: this is a
 * short-lived command, not the daemon. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "status_table.h"

/* A daemon that does not answer in this time is as good as unreachable. */
#define REPLY_TIMEOUT_S 15

/* The socket: -S, else the config's control_socket (when the file parses),
 * else the default. */
static char *client_socket_path(const struct wr_options *o)
{
	struct warren_diag diag;
	struct wr_config *cfg = NULL;
	char *config_path = NULL;
	char *path;
	char err[256];

	if (!o->socket_path) {
		config_path = wr_config_path(o);
		wr_diag_init(&diag, config_path);
		if (access(config_path, R_OK) == 0)
			cfg = wr_config_load(config_path, &diag);
		wr_diag_free(&diag);
	}
	path = wr_socket_path(o, cfg ? cfg->control_socket : NULL, err, sizeof(err));
	if (!path)
		fprintf(stderr, "warren: %s\n", err);
	wr_config_free(cfg);
	free(config_path);
	return path;
}

/* Send one request; return the daemon's status (0/1/2) with the body in
 * *body, or -1 when the daemon cannot be reached (message printed). */
static int request(const struct wr_options *o, const char *line, char **body)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
	struct wr_buf reply = {0};
	char *path = client_socket_path(o);
	char chunk[4096];
	int status = -1;
	int fd = -1;
	ssize_t n;

	*body = NULL;
	if (!path)
		goto out;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "warren: control socket path too long: %s\n", path);
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "warren: cannot reach the daemon at %s: %s (is `warren daemon` running?)\n",
			path, strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* MSG_NOSIGNAL, and EPIPE is not the end: a daemon that refuses us
	 * (another user, see control.c) may answer and close before our
	 * request is written; its answer is still there to read. */
	if ((send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line) ||
	     send(fd, "\n", 1, MSG_NOSIGNAL) != 1) &&
	    errno != EPIPE) {
		fprintf(stderr, "warren: cannot send to the daemon at %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		wr_buf_append(&reply, chunk, (size_t)n);
	/* A daemon that closed without reading our request (a refusal) makes
	 * the kernel end its answer with ECONNRESET instead of EOF. */
	if (n < 0 && errno == ECONNRESET && reply.len > 0)
		n = 0;
	if (n < 0) {
		fprintf(stderr, "warren: no answer from the daemon at %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	const char *text = wr_buf_cstr(&reply);
	const char *nl = strchr(text, '\n');

	if (strncmp(text, "OK\n", 3) == 0)
		status = 0;
	else if (strncmp(text, "ERR ", 4) == 0 && nl)
		status = atoi(text + 4);
	else {
		fprintf(stderr, "warren: unexpected answer from the daemon at %s\n", path);
		goto out;
	}
	*body = wr_xstrdup(nl + 1);
out:
	if (fd >= 0)
		close(fd);
	wr_buf_free(&reply);
	free(path);
	return status;
}

/* Print a reply: normal output to stdout, problems to stderr. */
static int finish(int status, char *body)
{
	if (status < 0)
		return WR_EXIT_FAILURE;
	fputs(body, status == 0 ? stdout : stderr);
	free(body);
	return status;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The table is drawn here from the daemon's JSON: only the client knows
 * its terminal. A non-zero status passes the daemon's message through. */
static int status_once(const struct wr_options *o, const char *line, bool json,
		       struct wr_buf *out)
{
	struct wr_table_style style;
	char err[256];
	char *body;
	int status = request(o, line, &body);

	if (status != 0 || json) {
		if (status >= 0)
			wr_buf_puts(out, body);
		free(body);
		return status < 0 ? WR_EXIT_FAILURE : status;
	}
	wr_table_style_for_stdout(&style);
	if (wr_status_table(body, &style, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "warren: cannot read the daemon's status: %s\n", err);
		status = WR_EXIT_FAILURE;
	}
	free(body);
	return status;
}

static volatile sig_atomic_t watch_interrupted;

static void on_watch_signal(int sig)
{
	watch_interrupted = 1;
}

/* Redraw until Ctrl-C (exit 0) or until the daemon stops answering (1). */
static int status_watch(const struct wr_options *o, const char *line, double interval_s)
{
	struct sigaction sa = {.sa_handler = on_watch_signal, .sa_flags = SA_RESTART};
	bool tty = isatty(STDOUT_FILENO);
	int status = WR_EXIT_OK;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!watch_interrupted) {
		struct wr_buf out = {0};
		char stamp[16];
		time_t now = time(NULL);
		struct tm tm;

		status = status_once(o, line, false, &out);
		if (status != WR_EXIT_OK) {
			fputs(wr_buf_cstr(&out), stderr);
			wr_buf_free(&out);
			return WR_EXIT_FAILURE;
		}
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		/* Home and clear, then the whole frame in one write: no
		 * flicker of a half-drawn table. */
		printf("%severy %gs, Ctrl-C to stop%*s%s\n\n%s", tty ? "\033[H\033[2J" : "",
		       interval_s, 4, "", stamp, wr_buf_cstr(&out));
		if (!tty)
			putchar('\n');
		fflush(stdout);
		wr_buf_free(&out);
		sleep_ms((long)(interval_s * 1000.0));
	}
	return WR_EXIT_OK;
}

int wr_cmd_status(const struct wr_options *o, bool json, double watch_s, char *const names[],
		  int nnames)
{
	struct wr_buf line = {0};
	struct wr_buf out = {0};
	int status;

	wr_buf_puts(&line, "status json");
	for (int i = 0; i < nnames; i++)
		wr_buf_printf(&line, " %s", names[i]);
	if (watch_s > 0) {
		status = status_watch(o, wr_buf_cstr(&line), watch_s);
	} else {
		status = status_once(o, wr_buf_cstr(&line), json, &out);
		fputs(wr_buf_cstr(&out), status == 0 ? stdout : stderr);
	}
	wr_buf_free(&out);
	wr_buf_free(&line);
	return status;
}

int wr_cmd_tunnel(const struct wr_options *o, const char *verb, const char *name, double wait_s)
{
	char *line = wr_xasprintf("%s %s", verb, name);
	char *state_line = wr_xasprintf("state %s", name);
	char *body = NULL;
	uint64_t deadline;
	int status;

	status = request(o, line, &body);
	if (status != 0 || wait_s <= 0) {
		if (status == 0) {
			free(body);
			body = wr_xstrdup("");
		}
		goto out;
	}
	/* --wait: poll the state; up or degraded is success, failed is not.
	 * retrying is not final: the next attempt may still make it in time. */
	deadline = wr_now_ms() + (uint64_t)(wait_s * 1000.0);
	for (;;) {
		char state[32] = "";
		const char *reason;

		sscanf(body, "%31s", state);
		reason = body + strlen(state);
		while (*reason == ' ')
			reason++;
		if (strcmp(state, "up") == 0 || strcmp(state, "degraded") == 0) {
			free(body);
			body = wr_xasprintf("%s is %s\n", name, state);
			break;
		}
		if (strcmp(state, "failed") == 0 || wr_now_ms() >= deadline) {
			char *msg = wr_xasprintf("warren: %s is %s%s%s%s", name, state,
						 strcmp(state, "failed") ? " after waiting" : "",
						 *reason && *reason != '\n' ? ": " : "\n",
						 *reason && *reason != '\n' ? reason : "");
			free(body);
			body = msg;
			status = WR_EXIT_FAILURE;
			break;
		}
		sleep_ms(100);
		free(body);
		status = request(o, state_line, &body);
		if (status != 0)
			break;
	}
out:
	free(line);
	free(state_line);
	return finish(status, body);
}

int wr_cmd_reload(const struct wr_options *o)
{
	char *body;
	int status = request(o, "reload", &body);

	return finish(status, body);
}
