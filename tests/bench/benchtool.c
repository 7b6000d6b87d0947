/*
 * benchtool.c: the loopback servers, clients and delay relay of
 * ssh_forward_bench.sh. Built by that script with cc into its temp dir;
 * not installed, not part of `make check`.
 *
 *   benchtool serve echo|sink|source PORTFILE [LIFETIME_S]
 *       echo: every byte back; sink: read to EOF, answer the count as a
 *       decimal line; source: read a decimal size and a newline, send that
 *       many bytes, close.
 *   benchtool upload PORT BYTES [TIMEOUT_S]
 *       send BYTES to a sink, half-close, wait for its count.
 *       prints: bytes seconds
 *   benchtool download PORT BYTES [TIMEOUT_S]
 *       ask a source for BYTES, read to EOF.
 *       prints: bytes seconds seconds_from_first_byte
 *   benchtool pingpong PORT N [TIMEOUT_S]
 *       one connection to an echo server, N times one byte there and back.
 *       prints: n median_us mean_us p90_us
 *   benchtool connrate PORT N CONC [TIMEOUT_S]
 *       N connections to an echo server, CONC at a time: connect, one byte
 *       there and back, close. prints: n seconds per_second failures
 *   benchtool hold PORT N READYFILE [LIFETIME_S [echo|connect]]
 *       open N echo connections, one byte each way on each (echo) or none
 *       (connect), write "ready N" to READYFILE, then hold them until
 *       SIGTERM or LIFETIME_S.
 *   benchtool relay PORTFILE TARGET_PORT DELAY_MS [LIFETIME_S]
 *       a TCP relay from 127.0.0.1:<port in PORTFILE> to 127.0.0.1:TARGET_PORT
 *       that holds every byte DELAY_MS before passing it on, each way. It
 *       reads whatever arrives at once and queues it (unbounded but for a
 *       1 GiB safety cap), so it adds latency and no window of its own.
 *
 * Everything binds and connects to 127.0.0.1 only. Every server ends after
 * LIFETIME_S (default 900 s), every client after TIMEOUT_S (default 120 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG       (256 * 1024)
#define MAX_CONNS 8192
#define RELAY_CAP (1024LL * 1024 * 1024)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "benchtool: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void set_timeouts(int fd, double secs)
{
	struct timeval tv = {.tv_sec = (time_t)secs,
	                     .tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int listen_any(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
		die("bind/listen: %s", strerror(errno));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	set_nonblock(fd);
	return fd;
}

static void write_portfile(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%d\n", port);
	fclose(f);
	if (rename(tmp, path) < 0)
		die("rename %s: %s", path, strerror(errno));
}

/* Blocking connect to 127.0.0.1:port with send/receive timeouts. */
static int connect_to(int port, double timeout)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	set_timeouts(fd, timeout);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static char pattern[BIG];

static void fill_pattern(void)
{
	uint32_t x = 2463534242u;
	size_t i;

	/* Not zeros, so that nothing on the way can get away cheaply. */
	for (i = 0; i < sizeof(pattern); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (char)x;
	}
}

/* ---- servers ---- */

enum mode { M_ECHO, M_SINK, M_SOURCE };

struct sconn {
	int fd;
	unsigned long long count; /* sink: received; source: left to send */
	char line[32];
	size_t linelen;
	char *pend; /* echo: bytes not yet sent back */
	size_t pend_off, pend_len;
	int got_size; /* source */
	int done_reading;
	int want_out; /* echo: armed for EPOLLOUT */
};

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void install_term(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void sconn_close(int ep, struct sconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

static void sconn_events(int ep, struct sconn *c, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = c};

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* One wakeup of a server connection; returns 1 when it is finished. */
static int serve_conn(int ep, enum mode mode, struct sconn *c, char *buf)
{
	ssize_t n;
	int i;

	if (mode == M_ECHO) {
		/* Each turn sends what the last one read, so the loop ends with
		 * nothing read and unsent (or waiting for EPOLLOUT). */
		for (i = 0; i < 16 || c->pend; i++) {
			if (c->pend) {
				n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off,
				         MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN && errno != EINTR)
					return 1;
				if (n > 0)
					c->pend_off += (size_t)n;
				if (c->pend_off < c->pend_len) {
					if (!c->want_out)
						sconn_events(ep, c, EPOLLOUT);
					c->want_out = 1;
					return 0;
				}
				free(c->pend);
				c->pend = NULL;
				if (c->want_out)
					sconn_events(ep, c, EPOLLIN);
				c->want_out = 0;
			}
			if (c->done_reading) {
				shutdown(c->fd, SHUT_WR);
				return 1;
			}
			if (i >= 16)
				break;
			n = recv(c->fd, buf, BIG, 0);
			if (n == 0) {
				c->done_reading = 1;
				continue;
			}
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : 1;
			c->pend = malloc((size_t)n);
			if (!c->pend)
				return 1;
			memcpy(c->pend, buf, (size_t)n);
			c->pend_off = 0;
			c->pend_len = (size_t)n;
		}
		return 0;
	}
	if (mode == M_SINK) {
		for (i = 0; i < 64; i++) {
			n = recv(c->fd, buf, BIG, 0);
			if (n > 0) {
				c->count += (unsigned long long)n;
				continue;
			}
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : 1;
			snprintf(c->line, sizeof(c->line), "%llu\n", c->count);
			set_timeouts(c->fd, 10);
			fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
			send_all(c->fd, c->line, strlen(c->line));
			return 1;
		}
		return 0;
	}
	/* source */
	if (!c->got_size) {
		n = recv(c->fd, c->line + c->linelen, sizeof(c->line) - 1 - c->linelen, 0);
		if (n <= 0)
			return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : 1;
		c->linelen += (size_t)n;
		c->line[c->linelen] = '\0';
		if (!strchr(c->line, '\n'))
			return c->linelen >= sizeof(c->line) - 1;
		c->count = strtoull(c->line, NULL, 10);
		c->got_size = 1;
		sconn_events(ep, c, EPOLLOUT);
	}
	for (i = 0; i < 64 && c->count > 0; i++) {
		size_t want = c->count < BIG ? (size_t)c->count : BIG;

		n = send(c->fd, pattern, want, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		c->count -= (unsigned long long)n;
	}
	if (c->count == 0) {
		shutdown(c->fd, SHUT_WR);
		return 1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	enum mode mode;
	int lfd, ep, port, n, i, lifetime = argc > 4 ? atoi(argv[4]) : 900;
	struct epoll_event ev, evs[256];
	char *buf = malloc(BIG);
	double end = now_s() + lifetime;

	if (argc < 4)
		die("usage: serve echo|sink|source PORTFILE [LIFETIME_S]");
	if (strcmp(argv[2], "echo") == 0)
		mode = M_ECHO;
	else if (strcmp(argv[2], "sink") == 0)
		mode = M_SINK;
	else if (strcmp(argv[2], "source") == 0)
		mode = M_SOURCE;
	else
		die("unknown server mode %s", argv[2]);
	install_term();
	fill_pattern();
	lfd = listen_any(&port);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	write_portfile(argv[3], port);
	while (!stop_flag && now_s() < end) {
		n = epoll_wait(ep, evs, 256, 1000);
		for (i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;

			if (!c) {
				int k, fd;

				for (k = 0; k < 256; k++) {
					int one = 1;

					fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (serve_conn(ep, mode, c, buf))
				sconn_close(ep, c);
		}
	}
	return 0;
}

/* ---- clients ---- */

static int cmd_upload(int argc, char **argv)
{
	int port, fd;
	unsigned long long bytes, sent = 0, got;
	double timeout = argc > 4 ? atof(argv[4]) : 120, t0, t1;
	char line[64];
	ssize_t n;
	size_t len = 0;

	if (argc < 4)
		die("usage: upload PORT BYTES [TIMEOUT_S]");
	port = atoi(argv[2]);
	bytes = strtoull(argv[3], NULL, 10);
	fill_pattern();
	t0 = now_s();
	fd = connect_to(port, timeout);
	if (fd < 0)
		die("upload: connect %d: %s", port, strerror(errno));
	while (sent < bytes) {
		size_t want = bytes - sent < BIG ? (size_t)(bytes - sent) : BIG;

		n = send(fd, pattern, want, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("upload: send after %llu bytes: %s", sent, strerror(errno));
		}
		sent += (unsigned long long)n;
		if (now_s() - t0 > timeout)
			die("upload: timed out after %llu bytes", sent);
	}
	shutdown(fd, SHUT_WR);
	while (len < sizeof(line) - 1) {
		n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	t1 = now_s();
	line[len] = '\0';
	got = strtoull(line, NULL, 10);
	if (got != bytes)
		die("upload: the sink counted %llu bytes of %llu", got, bytes);
	printf("%llu %.6f\n", bytes, t1 - t0);
	close(fd);
	return 0;
}

static int cmd_download(int argc, char **argv)
{
	int port, fd;
	unsigned long long bytes, got = 0;
	double timeout = argc > 4 ? atof(argv[4]) : 120, t0, tfirst = 0, t1;
	char req[64], *buf = malloc(BIG);
	ssize_t n;

	if (argc < 4)
		die("usage: download PORT BYTES [TIMEOUT_S]");
	port = atoi(argv[2]);
	bytes = strtoull(argv[3], NULL, 10);
	t0 = now_s();
	fd = connect_to(port, timeout);
	if (fd < 0)
		die("download: connect %d: %s", port, strerror(errno));
	snprintf(req, sizeof(req), "%llu\n", bytes);
	if (send_all(fd, req, strlen(req)) < 0)
		die("download: send: %s", strerror(errno));
	for (;;) {
		n = recv(fd, buf, BIG, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("download: recv after %llu bytes: %s", got, strerror(errno));
		}
		if (n == 0)
			break;
		if (got == 0)
			tfirst = now_s();
		got += (unsigned long long)n;
		if (now_s() - t0 > timeout)
			die("download: timed out after %llu bytes", got);
	}
	t1 = now_s();
	if (got != bytes)
		die("download: got %llu bytes of %llu", got, bytes);
	printf("%llu %.6f %.6f\n", bytes, t1 - t0, t1 - tfirst);
	close(fd);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_pingpong(int argc, char **argv)
{
	int port, fd, n, i;
	double timeout = argc > 4 ? atof(argv[4]) : 120, t0, sum = 0, *rtt;
	char b = 'x';

	if (argc < 4)
		die("usage: pingpong PORT N [TIMEOUT_S]");
	port = atoi(argv[2]);
	n = atoi(argv[3]);
	if (n < 1)
		die("pingpong: N must be positive");
	rtt = calloc((size_t)n, sizeof(*rtt));
	fd = connect_to(port, 10);
	if (fd < 0)
		die("pingpong: connect %d: %s", port, strerror(errno));
	t0 = now_s();
	/* A few untimed rounds first: the channel open and warm caches. */
	for (i = -20; i < n; i++) {
		double t = now_s();

		if (send(fd, &b, 1, MSG_NOSIGNAL) != 1 || recv(fd, &b, 1, MSG_WAITALL) != 1)
			die("pingpong: exchange %d failed: %s", i, strerror(errno));
		if (i >= 0) {
			rtt[i] = (now_s() - t) * 1e6;
			sum += rtt[i];
		}
		if (now_s() - t0 > timeout)
			die("pingpong: timed out after %d exchanges", i);
	}
	close(fd);
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_double);
	printf("%d %.1f %.1f %.1f\n", n, rtt[n / 2], sum / n, rtt[n * 9 / 10]);
	return 0;
}

struct crate {
	int port, count, failures;
	double deadline;
};

static void *crate_thread(void *arg)
{
	struct crate *cr = arg;
	char b = 'x';
	int i, fd;

	for (i = 0; i < cr->count && now_s() < cr->deadline; i++) {
		fd = connect_to(cr->port, 10);
		if (fd < 0 || send(fd, &b, 1, MSG_NOSIGNAL) != 1 ||
		    recv(fd, &b, 1, MSG_WAITALL) != 1)
			cr->failures++;
		if (fd >= 0)
			close(fd);
	}
	cr->count = i;
	return NULL;
}

static int cmd_connrate(int argc, char **argv)
{
	int port, n, conc, i, done = 0, failures = 0;
	double timeout = argc > 5 ? atof(argv[5]) : 120, t0, t1;
	struct crate *cr;
	pthread_t *th;

	if (argc < 5)
		die("usage: connrate PORT N CONC [TIMEOUT_S]");
	port = atoi(argv[2]);
	n = atoi(argv[3]);
	conc = atoi(argv[4]);
	if (n < 1 || conc < 1 || conc > 256)
		die("connrate: bad N or CONC");
	cr = calloc((size_t)conc, sizeof(*cr));
	th = calloc((size_t)conc, sizeof(*th));
	t0 = now_s();
	for (i = 0; i < conc; i++) {
		cr[i].port = port;
		cr[i].count = n / conc + (i < n % conc);
		cr[i].deadline = t0 + timeout;
		pthread_create(&th[i], NULL, crate_thread, &cr[i]);
	}
	for (i = 0; i < conc; i++) {
		pthread_join(th[i], NULL);
		done += cr[i].count;
		failures += cr[i].failures;
	}
	t1 = now_s();
	printf("%d %.6f %.1f %d\n", done, t1 - t0, done / (t1 - t0), failures);
	return failures ? 1 : 0;
}

static int cmd_hold(int argc, char **argv)
{
	int port, n, i, k, batch = 50, *fds;
	int lifetime = argc > 5 ? atoi(argv[5]) : 300;
	int exchange = !(argc > 6 && strcmp(argv[6], "connect") == 0);
	double end;
	char b = 'x';
	FILE *f;

	if (argc < 5)
		die("usage: hold PORT N READYFILE [LIFETIME_S [echo|connect]]");
	port = atoi(argv[2]);
	n = atoi(argv[3]);
	if (n < 1 || n > MAX_CONNS)
		die("hold: bad N");
	install_term();
	fds = calloc((size_t)n, sizeof(*fds));
	/* In batches: OpenSSH's listen backlog is 128. */
	for (i = 0; i < n; i += batch) {
		for (k = i; k < n && k < i + batch; k++) {
			fds[k] = connect_to(port, 20);
			if (fds[k] < 0)
				die("hold: connect %d: %s", k, strerror(errno));
			if (exchange && send(fds[k], &b, 1, MSG_NOSIGNAL) != 1)
				die("hold: send %d: %s", k, strerror(errno));
		}
		for (k = i; k < n && k < i + batch && exchange; k++)
			if (recv(fds[k], &b, 1, MSG_WAITALL) != 1)
				die("hold: no echo on connection %d: %s", k, strerror(errno));
	}
	f = fopen(argv[4], "w");
	if (!f)
		die("%s: %s", argv[4], strerror(errno));
	fprintf(f, "ready %d\n", n);
	fclose(f);
	end = now_s() + lifetime;
	while (!stop_flag && now_s() < end)
		usleep(20000);
	for (i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

/* ---- delay relay ---- */

struct chunk {
	struct chunk *next;
	int64_t due; /* ms, CLOCK_MONOTONIC */
	size_t off, len;
	int eof;
	char data[];
};

struct dir {
	int from, to;
	struct chunk *head, *tail;
	int reading;     /* from is still read */
	int blocked;     /* to is full: waiting for EPOLLOUT */
	int done;        /* EOF passed on */
	long long queued;
};

struct pair {
	int fds[2]; /* 0: accepted client side, 1: target side */
	int registered[2];
	struct dir d[2]; /* 0: client -> target, 1: target -> client */
	int dead;
};

struct tag {
	struct pair *p;
	int side;
};

static long long relay_total;

static void relay_arm(int ep, struct pair *p, struct tag *tags)
{
	int side;

	for (side = 0; side < 2; side++) {
		/* fds[side] is read by d[side] and written by d[1 - side]. */
		struct epoll_event ev = {.events = 0, .data.ptr = &tags[side]};

		if (p->d[side].reading && relay_total < RELAY_CAP)
			ev.events |= EPOLLIN;
		if (p->d[1 - side].blocked)
			ev.events |= EPOLLOUT;
		/* Nothing to wait for: out of the set, or a socket closed both
		 * ways would report EPOLLHUP on every turn. */
		if (p->dead || !ev.events) {
			if (p->registered[side])
				epoll_ctl(ep, EPOLL_CTL_DEL, p->fds[side], NULL);
			p->registered[side] = 0;
			continue;
		}
		epoll_ctl(ep, p->registered[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, p->fds[side], &ev);
		p->registered[side] = 1;
	}
}

static void relay_read(struct dir *d, int delay)
{
	int i;

	for (i = 0; i < 16 && d->reading; i++) {
		struct chunk *c = malloc(sizeof(*c) + BIG);
		ssize_t n;

		if (!c)
			return;
		n = recv(d->from, c->data, BIG, 0);
		if (n < 0) {
			free(c);
			if (errno == EAGAIN || errno == EINTR)
				return;
			n = 0; /* treat a reset as EOF */
		}
		if (n > 0 && n < BIG / 2) {
			struct chunk *s = realloc(c, sizeof(*c) + (size_t)n);

			if (s)
				c = s;
		}
		c->next = NULL;
		c->due = now_ms() + delay;
		c->off = 0;
		c->len = (size_t)n;
		c->eof = n == 0;
		if (d->tail)
			d->tail->next = c;
		else
			d->head = c;
		d->tail = c;
		d->queued += n;
		relay_total += n;
		if (n == 0)
			d->reading = 0;
	}
}

/* Pass on what is due. */
static void relay_write(struct dir *d)
{
	int64_t t = now_ms();
	struct chunk *c;
	ssize_t n;

	while ((c = d->head) != NULL && c->due <= t && !d->blocked) {
		if (c->eof) {
			shutdown(d->to, SHUT_WR);
			d->done = 1;
		} else {
			n = send(d->to, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					d->blocked = 1;
					return;
				}
				d->done = 1; /* the receiver is gone: drop */
				n = (ssize_t)(c->len - c->off);
			}
			c->off += (size_t)n;
			if (c->off < c->len) {
				d->blocked = 1;
				return;
			}
			d->queued -= (long long)c->len;
			relay_total -= (long long)c->len;
		}
		d->head = c->next;
		if (!d->head)
			d->tail = NULL;
		free(c);
	}
}

static void pair_free(int ep, struct pair *p, struct tag *tags)
{
	int i;
	struct chunk *c;

	p->dead = 1;
	relay_arm(ep, p, tags);
	for (i = 0; i < 2; i++) {
		close(p->fds[i]);
		while ((c = p->d[i].head) != NULL) {
			p->d[i].head = c->next;
			relay_total -= (long long)(c->len - 0);
			free(c);
		}
	}
	free(tags);
	free(p);
}

static int cmd_relay(int argc, char **argv)
{
	int lfd, ep, port, target, delay, n, i, lifetime = argc > 5 ? atoi(argv[5]) : 900;
	struct epoll_event ev, evs[64];
	struct pair *pairs[64] = {0};
	struct tag *tagsv[64] = {0};
	double end = now_s() + lifetime;

	if (argc < 5)
		die("usage: relay PORTFILE TARGET_PORT DELAY_MS [LIFETIME_S]");
	target = atoi(argv[3]);
	delay = atoi(argv[4]);
	install_term();
	lfd = listen_any(&port);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	write_portfile(argv[2], port);
	while (!stop_flag && now_s() < end) {
		int64_t next = now_ms() + 1000, t;
		int timeout, k;

		for (k = 0; k < 64; k++) {
			struct pair *p = pairs[k];

			if (!p)
				continue;
			for (i = 0; i < 2; i++)
				if (p->d[i].head && !p->d[i].blocked && p->d[i].head->due < next)
					next = p->d[i].head->due;
		}
		t = now_ms();
		timeout = next > t ? (int)(next - t) : 0;
		n = epoll_wait(ep, evs, 64, timeout);
		for (i = 0; i < n; i++) {
			struct tag *tg = evs[i].data.ptr;

			if (!tg) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), tfd, one = 1;
				struct pair *p;

				if (cfd < 0)
					continue;
				for (k = 0; k < 64 && pairs[k]; k++)
					;
				tfd = connect_to(target, 10);
				if (k == 64 || tfd < 0) {
					close(cfd);
					if (tfd >= 0)
						close(tfd);
					continue;
				}
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				set_nonblock(cfd);
				set_nonblock(tfd);
				p = calloc(1, sizeof(*p));
				tagsv[k] = calloc(2, sizeof(struct tag));
				pairs[k] = p;
				p->fds[0] = cfd;
				p->fds[1] = tfd;
				p->d[0] = (struct dir){.from = cfd, .to = tfd, .reading = 1};
				p->d[1] = (struct dir){.from = tfd, .to = cfd, .reading = 1};
				tagsv[k][0] = (struct tag){p, 0};
				tagsv[k][1] = (struct tag){p, 1};
				relay_arm(ep, p, tagsv[k]);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				relay_read(&tg->p->d[tg->side], delay);
			if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				tg->p->d[1 - tg->side].blocked = 0;
		}
		for (k = 0; k < 64; k++) {
			struct pair *p = pairs[k];

			if (!p)
				continue;
			relay_write(&p->d[0]);
			relay_write(&p->d[1]);
			if (p->d[0].done && p->d[1].done) {
				pair_free(ep, p, tagsv[k]);
				pairs[k] = NULL;
				tagsv[k] = NULL;
				continue;
			}
			relay_arm(ep, p, tagsv[k]);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: benchtool serve|upload|download|pingpong|connrate|hold|relay ...");
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(argv[1], "upload") == 0)
		return cmd_upload(argc, argv);
	if (strcmp(argv[1], "download") == 0)
		return cmd_download(argc, argv);
	if (strcmp(argv[1], "pingpong") == 0)
		return cmd_pingpong(argc, argv);
	if (strcmp(argv[1], "connrate") == 0)
		return cmd_connrate(argc, argv);
	if (strcmp(argv[1], "hold") == 0)
		return cmd_hold(argc, argv);
	if (strcmp(argv[1], "relay") == 0)
		return cmd_relay(argc, argv);
	die("unknown command %s", argv[1]);
}
