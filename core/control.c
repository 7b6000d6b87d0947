/* control.c: the control socket server (see control.h for the protocol). */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "tunnel.h"
#include "util.h"

/* A request line longer than this is not one of ours. */
#define MAX_REQUEST 4096
/* A client that does not send its request in this time is dropped. */
#define REQUEST_TIMEOUT_S 10
#define MAX_WORDS 64

static struct evconnlistener *listener;
static char *bound_path;

static void reply_done(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	/* EOF, error or timeout before a whole request: nothing to answer. */
	bufferevent_free(bev);
}

static void send_reply(struct bufferevent *bev, int status, const char *body)
{
	if (status == 0)
		bufferevent_write(bev, "OK\n", 3);
	else {
		char head[32];
		int n = snprintf(head, sizeof(head), "ERR %d\n", status);

		bufferevent_write(bev, head, (size_t)n);
	}
	bufferevent_write(bev, body, strlen(body));
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, reply_done, client_event, NULL);
}

static bool wanted(char **names, int nnames, const char *name)
{
	if (nnames == 0)
		return true;
	for (int i = 0; i < nnames; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The CLI draws the table for people from this JSON (status_table.c): only
 * it knows its terminal. */
static int cmd_status(char **words, int nwords, struct wr_buf *out)
{
	char **names = words + 2;
	int nnames = nwords > 2 ? nwords - 2 : 0;
	struct warren_tunnel *t;
	struct warren_json j;

	if (nwords < 2 || strcmp(words[1], "json") != 0) {
		wr_buf_puts(out, "warren: status takes `json` and tunnel names\n");
		return WR_EXIT_USAGE;
	}
	for (int i = 0; i < nnames; i++) {
		if (!wr_tunnels_find(names[i])) {
			wr_buf_printf(out, "warren: no tunnel named '%s'\n", names[i]);
			return WR_EXIT_FAILURE;
		}
	}
	wr_json_init(&j, out);
	wr_json_object_begin(&j, NULL);
	wr_json_array_begin(&j, "tunnels");
	for (t = wr_tunnels_first(); t; t = wr_tunnels_next(t))
		if (wanted(names, nnames, wr_tunnel_name(t)))
			wr_tunnel_status_json(t, &j);
	wr_json_array_end(&j);
	wr_json_object_end(&j);
	wr_buf_puts(out, "\n");
	return WR_EXIT_OK;
}

static int cmd_tunnel(char **words, int nwords, struct wr_buf *out)
{
	struct warren_tunnel *t;

	if (nwords != 2) {
		wr_buf_printf(out, "warren: %s takes one tunnel name\n", words[0]);
		return WR_EXIT_USAGE;
	}
	t = wr_tunnels_find(words[1]);
	if (!t) {
		wr_buf_printf(out, "warren: no tunnel named '%s'\n", words[1]);
		return WR_EXIT_FAILURE;
	}
	if (strcmp(words[0], "up") == 0)
		wr_tunnel_up(t);
	else if (strcmp(words[0], "down") == 0)
		wr_tunnel_down(t);
	else if (strcmp(words[0], "restart") == 0)
		wr_tunnel_restart(t);
	/* "state" just reports */
	wr_buf_printf(out, "%s %s\n", wr_state_name(wr_tunnel_state(t)),
		      wr_tunnel_last_error(t) ? wr_tunnel_last_error(t) : "");
	return WR_EXIT_OK;
}

static void dispatch(struct bufferevent *bev, char *line)
{
	char *words[MAX_WORDS];
	int nwords = 0;
	struct wr_buf out = {0};
	int status;
	char *save = NULL;

	for (char *w = strtok_r(line, " \t", &save); w && nwords < MAX_WORDS;
	     w = strtok_r(NULL, " \t", &save))
		words[nwords++] = w;
	if (nwords == 0) {
		wr_buf_puts(&out, "warren: empty request\n");
		status = WR_EXIT_USAGE;
	} else if (strcmp(words[0], "status") == 0) {
		status = cmd_status(words, nwords, &out);
	} else if (strcmp(words[0], "up") == 0 || strcmp(words[0], "down") == 0 ||
		   strcmp(words[0], "restart") == 0 || strcmp(words[0], "state") == 0) {
		status = cmd_tunnel(words, nwords, &out);
	} else if (strcmp(words[0], "reload") == 0) {
		status = wr_daemon_reload(&out);
	} else {
		wr_buf_printf(&out, "warren: unknown request '%s'\n", words[0]);
		status = WR_EXIT_USAGE;
	}
	send_reply(bev, status, wr_buf_cstr(&out));
	wr_buf_free(&out);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);

	if (!line) {
		if (evbuffer_get_length(in) > MAX_REQUEST) {
			send_reply(bev, WR_EXIT_USAGE, "warren: request too long\n");
		}
		return;
	}
	if (len > MAX_REQUEST)
		send_reply(bev, WR_EXIT_USAGE, "warren: request too long\n");
	else
		dispatch(bev, line);
	free(line);
}

static void accept_client(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
			  int socklen, void *arg)
{
	struct timeval timeout = {.tv_sec = REQUEST_TIMEOUT_S};
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);

	bev = bufferevent_socket_new(wr_host_base(), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	/* Mode 0600 keeps others out; peer credentials make sure of it even
	 * if the socket's directory or mode was changed behind our back. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		wr_log(WARREN_LOG_WARN, NULL, "control socket: refused uid %d (pid %d)",
		       (int)cred.uid, (int)cred.pid);
		send_reply(bev, WR_EXIT_FAILURE,
			   "warren: permission denied: only root or the daemon's user may "
			   "control it\n");
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	bufferevent_setcb(bev, client_read, NULL, client_event, NULL);
	bufferevent_set_timeouts(bev, &timeout, &timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Is a daemon answering on path? A socket file nobody listens on is stale. */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
	close(fd);
	return live;
}

int wr_control_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *dir = NULL;
	char *slash;
	mode_t old_umask;
	int fd = -1;
	int ret = -1;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* The default /run/warren may not exist yet; make it private. */
	dir = wr_xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (socket_is_live(path)) {
		snprintf(err, errlen,
			 "another warren daemon is already running on %s (stop it first, or use "
			 "-S for a different control socket)",
			 path);
		goto out;
	}
	unlink(path); /* stale socket of a daemon that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto out;
	}
	/* Born 0600: no window in which others could connect. */
	old_umask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old_umask);
		snprintf(err, errlen, "cannot bind control socket %s: %s", path, strerror(errno));
		goto out;
	}
	umask(old_umask);
	chmod(path, 0600);
	listener = evconnlistener_new(wr_host_base(), accept_client, NULL,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (!listener) {
		snprintf(err, errlen, "cannot listen on %s", path);
		unlink(path);
		goto out;
	}
	fd = -1;
	bound_path = wr_xstrdup(path);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

void wr_control_close(void)
{
	if (listener) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	if (bound_path) {
		unlink(bound_path);
		free(bound_path);
		bound_path = NULL;
	}
}
